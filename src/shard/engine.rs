//! Engine start-up and shutdown: recovery, listeners, executors, signals.
//!
//! The main thread recovers state, binds the HTTP listener (so address errors
//! surface before anything starts), spawns one glommio executor per shard and
//! then only waits for SIGTERM/SIGINT or a shard's exit. On a signal it sets
//! `stopping`; shards stop taking work, sync their journals and return.

use super::commit::Commit;
use super::state::Shard;
use super::{delivery, ingest, ShardMsg, Shared};
use crate::config::Config;
use crate::recovery::{self, Recovered, RecoveryError};
use crate::wheel::TimerWheel;
use arc_swap::ArcSwap;
use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::RefCell;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Why the engine could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot prepare data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("data directory {0} is in use by another ringhook process")]
    Locked(String),
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("ingest socket {0} is in use by a running process")]
    SocketInUse(String),
    #[error("shard {0} failed to start: {1}")]
    Shard(usize, String),
    #[error("signal handling: {0}")]
    Signals(std::io::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Holds an exclusive `flock` on `<data_dir>/LOCK` for the engine's lifetime.
struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    fn acquire(data_dir: &Path) -> Result<DirLock, EngineError> {
        let path = data_dir.join("LOCK");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| EngineError::DataDir(path.display().to_string(), e))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a valid, owned descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(EngineError::Locked(data_dir.display().to_string()));
        }
        Ok(DirLock { _file: file })
    }
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

/// Hands memory the allocator holds free back to the system. Recovery's
/// working state is several times what it leaves behind; without this the
/// allocator would keep it (see docs/BENCHMARKS.md, restart).
fn release_free_memory() {
    // SAFETY: mi_collect only walks the allocator's own free lists.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Removes a socket file left by a crashed engine; refuses a live one.
fn clear_stale_socket(path: &Path) -> Result<(), EngineError> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(EngineError::SocketInUse(path.display().to_string()));
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::DataDir(path.display().to_string(), e)),
    }
}

/// Runs the engine until SIGTERM or SIGINT.
pub fn run(config: Config, tokens: Vec<String>, repair: bool) -> Result<(), EngineError> {
    let data_dir = config.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| EngineError::DataDir(data_dir.display().to_string(), e))?;
    let _lock = DirLock::acquire(&data_dir)?;
    let nofile = raise_fd_limit();
    disable_huge_pages();
    let retry_schedule_ms = config
        .retry_schedule_ms()
        .map_err(|e| EngineError::Config(e.to_string()))?;

    let recovered = recovery::recover(&config, repair)?;
    release_free_memory();
    let s = &recovered.stats;
    eprintln!(
        "ringhook: recovered {} records from {} journals: {} messages, {} pending deliveries{}",
        s.records,
        s.journals,
        s.messages,
        s.pending,
        if s.torn_tails.is_empty() {
            String::new()
        } else {
            format!("; torn tails truncated: {}", s.torn_tails.join(", "))
        }
    );

    let api_listener =
        std::net::TcpListener::bind(&config.http_addr).map_err(|source| EngineError::Listen {
            addr: config.http_addr.clone(),
            source,
        })?;
    let http_addr = api_listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| config.http_addr.clone());
    clear_stale_socket(&config.socket)?;

    let Recovered {
        catalog,
        catalog_journal,
        journals,
        pending,
        dedup,
        indexes,
        segment_times,
        retired,
        answers,
        ..
    } = recovered;
    let mut answers = Some(answers);
    let mut retired = Some(retired);
    let n = config.shards;
    let connection_budget = match config.max_connections_per_shard {
        0 => super::budget::Budget::auto_limit(nofile, n),
        set => set,
    };
    let socket_path = config.socket.clone();
    let shared = Arc::new(Shared {
        retry_schedule_ms,
        catalog: ArcSwap::from_pointee(catalog),
        tokens,
        stopping: AtomicBool::new(false),
        metrics: crate::metrics::Published::new(config.shards),
        pending: (0..config.shards).map(|_| Default::default()).collect(),
        oldest_pending_ms: (0..config.shards).map(|_| AtomicU64::new(0)).collect(),
        config,
    });
    let mesh =
        (n > 1).then(|| MeshBuilder::<ShardMsg, _>::full(n, shared.config.shard_channel_capacity));
    let exited = Arc::new(AtomicUsize::new(0));
    let (ready_tx, ready_rx) = mpsc::channel::<Result<usize, String>>();

    let mut api_fd = Some(api_listener.into_raw_fd());
    let mut catalog_journal = Some(catalog_journal);
    let mut handles = Vec::with_capacity(n);
    for (i, ((((journal, pending), dedup), index), times)) in journals
        .into_iter()
        .zip(pending)
        .zip(dedup)
        .zip(indexes)
        .zip(segment_times)
        .enumerate()
    {
        let placement = match shared.config.cpus.get(i) {
            Some(&cpu) => Placement::Fixed(cpu),
            None => Placement::Unbound,
        };
        let shared = shared.clone();
        let mesh = mesh.clone();
        let ready = ready_tx.clone();
        let exited = exited.clone();
        let api_fd = if i == 0 { api_fd.take() } else { None };
        let catalog_journal = if i == 0 { catalog_journal.take() } else { None };
        let retired = if i == 0 {
            retired.take().unwrap_or_default()
        } else {
            Vec::new()
        };
        let answers = if i == 0 {
            answers.take().unwrap_or_default()
        } else {
            Vec::new()
        };
        let socket_path = socket_path.clone();
        let handle = LocalExecutorBuilder::new(placement)
            .name(&format!("ringhook-shard-{i}"))
            .spawn(move || async move {
                let _guard = ExitGuard(exited);
                let mode = shared.config.durability;
                let interval = shared.config.batch_sync_interval_ms;
                let senders = match mesh {
                    Some(mesh) => match mesh.join().await {
                        Ok((s, r)) => Some((s, r)),
                        Err(_) => {
                            let _ = ready.send(Err(format!("shard {i}: cannot join channel mesh")));
                            return;
                        }
                    },
                    None => None,
                };
                let (senders, receivers) = match senders {
                    Some((s, r)) => (Some(s), Some(r)),
                    None => (None, None),
                };
                let shard = Rc::new(Shard {
                    id: i,
                    count: n,
                    commit: {
                        let commit = Commit::new(journal, mode, interval);
                        commit.set_segment_times(times);
                        commit
                    },
                    dedup: RefCell::new({
                        let mut ids = super::event_ids::EventIds::new(
                            shared.config.idempotency_window_ms,
                            shared.config.max_event_ids_per_shard,
                        );
                        for ((app, eid), (msg, at)) in dedup {
                            ids.insert(&app, &eid, &msg, at);
                        }
                        ids
                    }),
                    deliveries: RefCell::new(slab::Slab::new()),
                    wheel: RefCell::new(TimerWheel::new(crate::time::now_ms())),
                    queues: RefCell::new(Default::default()),
                    conns: RefCell::new(super::budget::Budget::new(connection_budget)),
                    cold_files: Default::default(),
                    senders,
                    catalog_journal: catalog_journal.map(RefCell::new),
                    timer_kick: Default::default(),
                    ingest_in_flight: Default::default(),
                    retired: RefCell::new(retired),
                    failing_since: Default::default(),
                    stats: Default::default(),
                    index: RefCell::new(index),
                    tasks: RefCell::new(Default::default()),
                    shared,
                });
                if let Some(mut receivers) = receivers {
                    for (_, rx) in receivers.streams() {
                        glommio::spawn_local(receive(shard.clone(), rx)).detach();
                    }
                }
                let flusher = shard.clone();
                glommio::spawn_local(async move {
                    let s = flusher.clone();
                    flusher.commit.flusher(move || s.shared.is_stopping()).await
                })
                .detach();
                // The idempotency table is shard 0's thread-local.
                crate::api::idempotency::restore(answers);
                if let Some(fd) = api_fd {
                    // SAFETY: the descriptor came from a bound std listener whose
                    // ownership was released with into_raw_fd.
                    let listener = unsafe { glommio::net::TcpListener::from_raw_fd(fd) };
                    glommio::spawn_local(crate::api::serve(shard.clone(), listener)).detach();
                    match glommio::net::UnixListener::bind(&socket_path) {
                        Ok(l) => {
                            glommio::spawn_local(crate::ingest::server::serve(shard.clone(), l))
                                .detach();
                        }
                        Err(e) => {
                            let _ = ready
                                .send(Err(format!("cannot bind {}: {e}", socket_path.display())));
                            return;
                        }
                    }
                }
                delivery::accept(&shard, pending);
                release_free_memory();
                let _ = ready.send(Ok(i));
                timer_loop(&shard).await;
                drain(&shard).await;
                shard.publish_metrics();
                shard.commit.sync_blocking();
                if let Some(j) = &shard.catalog_journal {
                    let _ = j.borrow_mut().sync();
                }
            })
            .map_err(|e| EngineError::Shard(i, e.to_string()))?;
        handles.push(handle);
    }
    drop(ready_tx);
    for _ in 0..n {
        match ready_rx.recv() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(EngineError::Shard(0, e)),
            Err(_) => {
                return Err(EngineError::Shard(
                    0,
                    "a shard exited during start-up".into(),
                ))
            }
        }
    }
    println!(
        "ringhook: serving http://{http_addr} and {} with {n} shard(s)",
        socket_path.display()
    );

    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .map_err(EngineError::Signals)?;
    loop {
        if signals.pending().next().is_some() {
            eprintln!("ringhook: stopping: draining shards");
            break;
        }
        if exited.load(Ordering::Relaxed) > 0 {
            eprintln!("ringhook: a shard exited unexpectedly; stopping");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    shared.stopping.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    let _ = std::fs::remove_file(&socket_path);
    eprintln!("ringhook: stopped");
    Ok(())
}

/// Counts a shard's exit, including by panic.
struct ExitGuard(Arc<AtomicUsize>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Drains one peer's queue. Delivery hand-offs are applied inline (they never
/// wait); ingest requests get their own task so that a receiver never blocks
/// on a send, which could otherwise deadlock two shards sending to each other.
async fn receive(
    shard: Rc<Shard>,
    rx: glommio::channels::shared_channel::ConnectedReceiver<ShardMsg>,
) {
    while let Some(msg) = rx.recv().await {
        match msg {
            ShardMsg::Deliver(batch) => delivery::accept(&shard, batch),
            ShardMsg::Query(run) => run(&shard),
            ShardMsg::Ingest { events, reply } => {
                let s = shard.clone();
                glommio::spawn_local(async move {
                    let results = ingest::accept_local(&s, events).await;
                    let _ = reply.send(results);
                })
                .detach();
            }
        }
    }
}

/// Longest a stopping shard waits for accepted-but-unacknowledged batches.
const DRAIN_MAX: Duration = Duration::from_secs(5);

/// Lets batches that were already being accepted finish: their records are
/// synced and their producers answered, so a clean stop never leaves a
/// producer without an answer for work the journal already holds.
async fn drain(shard: &Rc<Shard>) {
    let deadline = std::time::Instant::now() + DRAIN_MAX;
    while shard.ingest_in_flight.get() > 0 && std::time::Instant::now() < deadline {
        shard.commit.sync_once().await;
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}

/// Fires due retries until the engine stops; prunes old eventIds and
/// read-path index entries now and then.
async fn timer_loop(shard: &Rc<Shard>) {
    let mut expired = Vec::new();
    let mut last_prune_ms = 0;
    let mut last_publish_ms = 0;
    let mut last_sweep_ms = 0;
    let mut last_compaction_ms = 0;
    while !shard.shared.is_stopping() {
        let now = crate::time::now_ms();
        shard.wheel.borrow_mut().advance(now, &mut expired);
        for handle in expired.drain(..) {
            delivery::enqueue(shard, handle as usize);
        }
        if now.saturating_sub(last_publish_ms)
            >= crate::metrics::PUBLISH_INTERVAL.as_millis() as u64
        {
            shard.publish_metrics();
            last_publish_ms = now;
        }
        if now.saturating_sub(last_sweep_ms) >= 1_000 {
            delivery::sweep(shard, now);
            last_sweep_ms = now;
        }
        if now.saturating_sub(last_compaction_ms) >= shard.shared.config.compaction_interval_ms {
            super::compaction::publish_oldest_pending(shard);
            // The first tick only publishes: other shards' values are not in yet.
            if last_compaction_ms != 0 {
                super::compaction::compact(shard, now);
            }
            last_compaction_ms = now;
        }
        if now.saturating_sub(last_prune_ms) > 60_000 {
            shard.prune_dedup(now);
            shard.index.borrow_mut().prune(now);
            last_prune_ms = now;
        }
        let wait_ms = match shard.wheel.borrow().next_wake_ms() {
            Some(t) => t.saturating_sub(now).clamp(1, 50),
            None => 50,
        };
        futures_lite::future::or(
            shard.timer_kick.wait(),
            glommio::timer::sleep(Duration::from_millis(wait_ms)),
        )
        .await;
    }
}
