//! `ringhook serve`: what the engine starts, in order. The data directory
//! is taken (`datadir`), state is rebuilt from the journals (`recovery`), the
//! API listener is bound (so address errors surface before anything starts),
//! and the shard runtime (`shard::runtime`) is started with the HTTP API and
//! the ingest socket as shard 0's services.
//!
//! This is the one module that knows every part: the runtime knows nothing
//! of the API or the ingest socket, and they know nothing of recovery.

use crate::api::Surface;
use crate::config::Config;
use crate::datadir::{self, DataDirError, DirLock};
use crate::delivery::budget::Budget;
use crate::recovery::{self, RecoveryError};
use crate::shard::runtime::{self, RuntimeError, Services, Start, StartError};
use crate::shared::Shared;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::sync::Arc;

/// Why the engine could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Serves the whole API on `shard` from the listener `fd` (`forward`:
/// the way to shard 0, for the other shards).
fn serve_api(
    shard: &std::rc::Rc<crate::shard::state::Shard>,
    fd: std::os::fd::RawFd,
    open: Arc<crate::api::Open>,
    forward: Option<crate::api::forward::Forward>,
) {
    // SAFETY: the descriptor came from a bound std listener whose ownership
    // was released with into_raw_fd, and only this call takes it.
    let listener = unsafe { glommio::net::TcpListener::from_raw_fd(fd) };
    glommio::spawn_local(crate::api::serve(
        shard.clone(),
        listener,
        Surface::Full,
        open,
        forward,
    ))
    .detach();
}

/// Binds `n` listeners on `addr`, all with `SO_REUSEPORT` so that each
/// shard accepts its own connections (the kernel spreads them by their
/// addresses). A port 0 becomes one real port, shared by all. A port in use
/// is refused as before (a plain bind is tried first), so a second engine
/// cannot join this one's group and split its clients. Each address the
/// name resolves to is tried in turn, as `TcpListener::bind` does.
fn bind_shared(addr: &str, n: usize) -> Result<Vec<std::net::TcpListener>, EngineError> {
    use std::net::ToSocketAddrs;
    let failed = |source: std::io::Error| EngineError::Listen {
        addr: addr.to_string(),
        source,
    };
    let mut last = std::io::Error::other("the address resolves to nothing");
    for at in addr.to_socket_addrs().map_err(failed)? {
        if at.port() != 0 {
            // Fails with "address in use" if anything holds the port,
            // another engine's reuse-port group included.
            if let Err(e) = std::net::TcpListener::bind(at) {
                last = e;
                continue;
            }
        }
        match bind_group(at, n) {
            Ok(listeners) => return Ok(listeners),
            Err(e) => last = e,
        }
    }
    Err(failed(last))
}

/// `n` reuse-port listeners on `at` (the first decides a port 0).
fn bind_group(
    mut at: std::net::SocketAddr,
    n: usize,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut listeners = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(at),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.bind(&at.into())?;
        socket.listen(1024)?;
        let listener: std::net::TcpListener = socket.into();
        // The next ones join the port this one got.
        at = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Raises the open-file limit to its hard maximum (the default soft limit,
/// often 1024, would run out long before memory does) and returns the soft
/// limit in force, which sizes the shards' connection budgets.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, owned struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    lim.rlim_cur
}

/// Turns transparent huge pages off for the process. Each first touch of a
/// 2 MiB huge page zeroes it inside one page fault — several milliseconds on
/// a virtual machine — and mimalloc asks for huge pages as the heap grows, so
/// with them a shard stalls for that long at random; with 4 KiB pages the
/// same zeroing is spread thinly (see docs/BENCHMARKS.md, tail latency).
pub fn disable_huge_pages() {
    // SAFETY: prctl with integer arguments only; it changes no memory.
    unsafe {
        let _ = libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Runs the engine until SIGTERM or SIGINT.
pub fn serve(config: Config, tokens: Vec<String>, repair: bool) -> Result<(), EngineError> {
    let data_dir = config.data_dir.clone();
    datadir::create_private(&data_dir)?;
    let _lock = DirLock::acquire(&data_dir)?;
    // Before recovery: a start refused for its socket writes nothing.
    datadir::clear_stale_socket(&config.socket)?;
    let nofile = raise_fd_limit();
    disable_huge_pages();
    let retry_schedule_ms = config
        .retry_schedule_ms()
        .map_err(|e| EngineError::Config(e.to_string()))?;

    crate::delivery::tls::init(&config.tls).map_err(|e| EngineError::Config(e.to_string()))?;
    if !config.proxy_url.is_empty() {
        crate::delivery::proxy::Proxy::parse(&config.proxy_url)
            .map_err(|e| EngineError::Config(format!("proxy_url: {e}")))?;
    }
    let mut recovered = recovery::recover(&config, repair)?;
    let s = &recovered.stats;
    tracing::info!(
        records = s.records,
        journals = s.journals,
        messages = s.messages,
        pending = s.pending,
        ended_by_horizon = s.ended_by_horizon,
        compacted_before_ms = recovered.compacted_before_ms,
        "recovered {} records from {} journals: {} messages, {} pending deliveries ({} of messages older than the compaction horizon taken as ended){}",
        s.records,
        s.journals,
        s.messages,
        s.pending,
        s.ended_by_horizon,
        if s.torn_tails.is_empty() {
            String::new()
        } else {
            format!("; torn tails truncated: {}", s.torn_tails.join(", "))
        }
    );

    // One API listener per shard on the same address (SO_REUSEPORT): the
    // kernel spreads connections over the shards.
    let api_listeners = bind_shared(&config.http_addr, config.shards)?;
    let http_addr = api_listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.to_string())
        .unwrap_or_else(|| config.http_addr.clone());
    // Receive URLs on a listener of their own, when configured.
    let receive_listener = match config.ingest_addr.as_str() {
        "" => None,
        addr => Some(
            std::net::TcpListener::bind(addr).map_err(|source| EngineError::Listen {
                addr: addr.to_string(),
                source,
            })?,
        ),
    };
    let mut config = config;
    // The addresses as bound (a configured port 0 becomes the real one):
    // sources' ingestUrl names them.
    config.http_addr = http_addr.clone();
    if let Some(addr) = receive_listener.as_ref().and_then(|l| l.local_addr().ok()) {
        config.ingest_addr = addr.to_string();
    }
    let receive_banner = match &receive_listener {
        Some(_) => format!(", receive URLs on http://{}", config.ingest_addr),
        None => String::new(),
    };

    let n = config.shards;
    let connection_budget = match config.max_connections_per_shard {
        0 => Budget::auto_limit(nofile, n),
        set => set,
    };
    let socket_path = config.socket.clone();
    let data_dir_for_banner = config.data_dir.clone();
    let shared = Arc::new(Shared::new(
        config,
        retry_schedule_ms,
        std::mem::take(&mut recovered.catalog),
        tokens,
        std::mem::take(&mut recovered.expunged),
    ));
    let answers = std::mem::take(&mut recovered.answers);
    let cron_fired = std::mem::take(&mut recovered.cron_fired);
    let mut api_fds = api_listeners.into_iter().map(|l| l.into_raw_fd());
    let api_fd = api_fds
        .next()
        .ok_or_else(|| EngineError::Config("shards must be at least 1".into()))?;
    let receive_fd = receive_listener.map(|l| l.into_raw_fd());
    let socket = socket_path.clone();
    let api_open = Arc::new(crate::api::Open::default());
    let (forward, inbox) = crate::api::forward::channel();
    let mut services: Vec<Services> = Vec::with_capacity(n);
    let open = api_open.clone();
    services.push(Box::new(move |shard| {
        // The idempotency table is shard 0's thread-local.
        crate::api::idempotency::restore(answers);
        serve_api(shard, api_fd, open, None);
        glommio::spawn_local(crate::api::forward::answer(shard.clone(), inbox)).detach();
        if let Some(fd) = receive_fd {
            // SAFETY: a bound std listener released with into_raw_fd, taken once.
            let listener = unsafe { glommio::net::TcpListener::from_raw_fd(fd) };
            glommio::spawn_local(crate::api::serve(
                shard.clone(),
                listener,
                Surface::ReceiveOnly,
                Arc::new(crate::api::Open::default()),
                None,
            ))
            .detach();
        }
        let ingest = glommio::net::UnixListener::bind(&socket).map_err(|e| StartError::Bind {
            path: socket.clone(),
            source: e.into(),
        })?;
        // Whoever may connect may submit messages: the owner only.
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::Permissions::from_mode(crate::journal::FILE_MODE);
            std::fs::set_permissions(&socket, mode).map_err(|source| StartError::Restrict {
                path: socket.clone(),
                source,
            })?;
        }
        glommio::spawn_local(crate::ingest::server::serve(shard.clone(), ingest)).detach();
        glommio::spawn_local(crate::ticker::run(shard.clone(), cron_fired)).detach();
        glommio::spawn_local(crate::api::dashboard::run(shard.clone())).detach();
        glommio::spawn_local(crate::rules::evaluator::run(shard.clone())).detach();
        glommio::spawn_local(crate::shard::outbox::run(shard.clone())).detach();
        Ok(())
    }));
    for fd in api_fds {
        let (open, forward) = (api_open.clone(), forward.clone());
        services.push(Box::new(move |shard| {
            serve_api(shard, fd, open, Some(forward));
            Ok(())
        }));
    }
    drop(forward);
    let result = runtime::run(Start {
        shared,
        recovered,
        connection_budget,
        services,
        banner: format!(
            "serving http://{http_addr}{receive_banner} and {} with {n} shard(s)\nconsole at http://{http_addr}/console/ (sign in with a token from {})",
            socket_path.display(),
            datadir::tokens_file(&data_dir_for_banner).display()
        ),
    });
    let _ = std::fs::remove_file(&socket_path);
    result?;
    tracing::info!("stopped");
    Ok(())
}
