//! The HTTP API in the Svix `/api/v1` dialect, served by every shard (what
//! a shard other than 0 does not serve itself it hands to shard 0: see
//! `forward`).
//!
//! `http` reads requests and writes responses, `routes` maps paths to
//! handlers, `views` renders records as Svix-shaped JSON. The API changes the
//! catalog only through the catalog journal (append, sync, then swap the
//! snapshot), and accepts messages only through `shard::route::submit`, the
//! same path the Unix-socket ingest uses.

pub mod apps;
pub mod attempts;
pub mod auth;
pub mod dashboard;
pub mod deadline;
pub mod endpoints;
pub mod environment;
pub mod event_types;
pub mod expunge;
pub mod forward;
pub mod headers;
pub mod http;
pub mod idempotency;
pub mod listing;
pub mod manual;
pub mod messages;
pub mod openapi;
pub mod openapi_import;
pub mod operational;
pub mod params;
pub mod poller;
pub mod receive;
pub mod replay;
pub mod routes;
pub mod rules;
pub mod sources;
pub mod table;
pub mod usage;
pub mod views;

use crate::limits::{API_LINGER_BYTES_MAX, API_REJECTIONS_IN_FLIGHT_MAX};
use crate::shard::state::Shard;
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The open connections of one surface on every shard, in all and per
/// client address (bounded by `api_connections_max` entries): the limits
/// hold for the engine, whichever shard's listener a connection reaches.
#[derive(Default)]
pub struct Open {
    counts: Mutex<Counts>,
    /// Tasks answering a refused connection with a 503.
    rejecting: AtomicUsize,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

impl Open {
    /// Takes a slot for a connection from `client`, or says why not.
    fn admit(
        &self,
        client: Option<IpAddr>,
        max: usize,
        per_client_max: usize,
    ) -> Result<(), &'static str> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= max {
            return Err("the API has as many connections open as it allows");
        }
        if let Some(ip) = client {
            let n = c.per_client.entry(ip).or_insert(0);
            if *n >= per_client_max {
                return Err("this client has as many connections open as one client may");
            }
            *n += 1;
        }
        c.total += 1;
        Ok(())
    }

    fn release(&self, client: Option<IpAddr>) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total -= 1;
        if let Some(ip) = client {
            if let Some(n) = c.per_client.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    c.per_client.remove(&ip);
                }
            }
        }
    }
}

/// A connection's place in its surface's counts (`Open`), given back once:
/// as soon as the connection's last answer is decided, before it is
/// written, when that answer is small (an error, or a body of at most
/// `EARLY_RELEASE_BODY_BYTES_MAX`, which the socket's buffer takes at once):
/// a client that reconnects on reading an answer that closes its
/// connection, as a load generator at its per-client limit does, finds its
/// place free whichever shard its new connection reaches. Otherwise when
/// the connection's task ends.
const EARLY_RELEASE_BODY_BYTES_MAX: usize = 16 * 1024;

struct Slot {
    open: Arc<Open>,
    client: Option<IpAddr>,
    held: std::cell::Cell<bool>,
}

impl Slot {
    fn give_back(&self) {
        if self.held.replace(false) {
            self.open.release(self.client);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.give_back();
    }
}

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The whole API, receive URLs included.
    Full,
    /// Receive URLs (`/ingest/{token}`) and health only (`--ingest-addr`);
    /// everything else is a 404, so the API is not reachable through it.
    ReceiveOnly,
}

/// Accepts API connections on one shard's listener until the engine stops.
/// `open` is the surface's count on every shard; `forward` is `None` on
/// shard 0 and the way to it on the others (see `forward`).
pub async fn serve(
    shard: Rc<Shard>,
    listener: glommio::net::TcpListener,
    surface: Surface,
    open: Arc<Open>,
    forward: Option<forward::Forward>,
) {
    let config = &shard.shared().config;
    let (max, per_client_max) = (
        config.api_connections_max,
        config.api_connections_per_client_max,
    );
    let forward = forward.map(Rc::new);
    while !shard.shared().is_stopping() {
        let Ok(stream) = listener.accept().await else {
            // Out of descriptors or a transient error: back off rather than
            // spin, and let connections close meanwhile.
            glommio::timer::sleep(Duration::from_millis(10)).await;
            continue;
        };
        shard.note_api_connection();
        let client = stream.peer_addr().ok().map(|a| a.ip());
        if let Err(why) = open.admit(client, max, per_client_max) {
            reject(&open, stream, why);
            continue;
        }
        let shard = shard.clone();
        let slot = Slot {
            open: open.clone(),
            client,
            held: std::cell::Cell::new(true),
        };
        let forward = forward.clone();
        glommio::spawn_local(async move {
            let mut stream = stream;
            let ended = connection(&shard, &mut stream, surface, forward.as_deref(), &slot).await;
            // Given back, at the latest, before the socket closes (or
            // lingers closing).
            slot.give_back();
            if let Ended::Refused = ended {
                linger(&mut stream).await;
            }
            drop(stream);
        })
        .detach();
    }
}

/// Answers a connection over a limit with a 503 and closes it, within a
/// second; at most `API_REJECTIONS_IN_FLIGHT_MAX` at once (past that, the
/// connection is closed without an answer).
fn reject(open: &Arc<Open>, mut stream: glommio::net::TcpStream, why: &'static str) {
    if open.rejecting.fetch_add(1, Ordering::Relaxed) >= API_REJECTIONS_IN_FLIGHT_MAX {
        open.rejecting.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    let open = open.clone();
    glommio::spawn_local(async move {
        let resp = http::error(503, "too_many_connections", why);
        let write = http::write_response(&mut stream, &resp, false, false);
        let _ = futures_lite::future::or(async { write.await.map(|_| ()) }, async {
            glommio::timer::sleep(Duration::from_secs(1)).await;
            Ok(())
        })
        .await;
        open.rejecting.fetch_sub(1, Ordering::Relaxed);
    })
    .detach();
}

/// Runs `f` until `deadline`; `None` if it passes first.
async fn until<T>(deadline: Instant, f: impl std::future::Future<Output = T>) -> Option<T> {
    let left = deadline.saturating_duration_since(Instant::now());
    futures_lite::future::or(async { Some(f.await) }, async {
        glommio::timer::sleep(left).await;
        None
    })
    .await
}

/// Serves one connection. Its deadlines (`api_*` in the configuration): the
/// first request head must arrive within the header timeout of the
/// connection opening, a later one within the keep-alive idle time plus the
/// header timeout; each request (the rest of its head, its body, handling
/// and writing the answer) has the request timeout in all, so a client that
/// never reads its answers cannot hold the connection. A passed deadline
/// closes the connection (`deadline`: one watchdog for all its phases). The
/// token is checked right after the head, before any body byte is read.
async fn connection(
    shard: &Rc<Shard>,
    stream: &mut glommio::net::TcpStream,
    surface: Surface,
    forward: Option<&forward::Forward>,
    slot: &Slot,
) -> Ended {
    let config = &shard.shared().config;
    let ms = Duration::from_millis;
    let phases = Phases {
        first_head: ms(config.api_header_timeout_ms),
        later_head: ms(config.api_keepalive_idle_ms) + ms(config.api_header_timeout_ms),
        request: ms(config.api_request_timeout_ms),
    };
    let deadline =
        deadline::Deadline::new(phases.first_head, phases.first_head.min(phases.request));
    futures_lite::future::or(
        requests(shard, stream, surface, forward, (&deadline, &phases), slot),
        async {
            deadline.watchdog().await;
            Ended::Closed
        },
    )
    .await
}

/// How long each phase of a connection may take (see `connection`).
struct Phases {
    first_head: Duration,
    later_head: Duration,
    request: Duration,
}

/// The requests of one connection, each phase within its deadline (see
/// `connection`).
async fn requests(
    shard: &Rc<Shard>,
    stream: &mut glommio::net::TcpStream,
    surface: Surface,
    forward: Option<&forward::Forward>,
    (deadline, phases): (&deadline::Deadline, &Phases),
    slot: &Slot,
) -> Ended {
    let config = &shard.shared().config;
    let max_body = config.max_body_bytes;
    let mut buf = Vec::new();
    for served in 1..=config.api_requests_per_connection_max.max(1) {
        if served > 1 {
            deadline.set(phases.later_head);
        }
        let head = match http::read_head(stream, &mut buf, max_body).await {
            Err(http::RequestReadError::Closed) => return Ended::Closed,
            Err(http::RequestReadError::Reply(resp)) => {
                deadline.set(phases.request);
                slot.give_back();
                let _ = http::write_response(stream, &resp, false, false).await;
                return Ended::Refused;
            }
            Ok(head) => head,
        };
        deadline.set(phases.request);
        let refused = match forward {
            None => routes::refuse_unauthorized(shard, &head.request, surface),
            // Asked of shard 0 within nine tenths of the request's
            // deadline; an answer that does not come in time is a 503 (the
            // rest of the phase is for writing it), not a silent close.
            Some(f) => until(
                Instant::now() + phases.request * 9 / 10,
                f.refuse_unauthorized(shard, &head.request, surface),
            )
            .await
            .unwrap_or_else(|| {
                Some(http::error(
                    503,
                    "unavailable",
                    "the engine is shutting down or overloaded; retry",
                ))
            }),
        };
        let head_only = head.request.method == "HEAD";
        if let Some(resp) = refused {
            slot.give_back();
            let _ = http::write_response(stream, &resp, false, head_only).await;
            return Ended::Refused;
        }
        let last = served == config.api_requests_per_connection_max;
        let req = match http::read_body(stream, &mut buf, head).await {
            Ok(req) => req,
            Err(_) => return Ended::Closed,
        };
        let keep_alive = req.keep_alive && !last;
        let resp = match forward {
            None => routes::handle(shard, req, surface).await,
            Some(f) => f.handle(shard, req, surface).await,
        };
        // An answer the socket takes at once: the place is free before
        // the client can read it. A larger one keeps its place until
        // written, so clients that do not read cannot hold more sockets
        // than the limits.
        if !keep_alive && resp.body.len() <= EARLY_RELEASE_BODY_BYTES_MAX {
            slot.give_back();
        }
        if http::write_response(stream, &resp, keep_alive, head_only)
            .await
            .is_err()
            || !keep_alive
        {
            return Ended::Closed;
        }
    }
    Ended::Closed
}

/// How a connection's requests ended.
enum Ended {
    /// Done: close it.
    Closed,
    /// A request was refused unread: linger (see `linger`) before closing.
    Refused,
}

/// After answering a request we refuse to read (too large, malformed), read
/// and discard what the client is still sending for a bounded time, so that
/// closing with unread data does not reset the connection and destroy the
/// error response before the client reads it.
async fn linger(stream: &mut glommio::net::TcpStream) {
    use futures_lite::AsyncReadExt;
    let _ = stream.shutdown(std::net::Shutdown::Write).await;
    let drain = async {
        // On the heap: an array here would make every connection's task
        // carry it, lingering or not.
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0;
        while total < API_LINGER_BYTES_MAX {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    futures_lite::future::or(
        drain,
        glommio::timer::sleep(std::time::Duration::from_secs(2)),
    )
    .await;
}
