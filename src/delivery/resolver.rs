//! DNS resolution off the shard threads, on a small pool of its own.
//!
//! `getaddrinfo` blocks, sometimes for many seconds when a name server does
//! not answer. Running it on glommio's blocking pool would queue the journal's
//! msync jobs behind it and stall every acknowledgement of the shard, so names
//! are resolved here instead: `RESOLVER_THREADS` plain threads fed by a
//! bounded queue (`RESOLVER_QUEUE_MAX`; when it is full a lookup fails at once and the
//! attempt is retried on schedule), answering through one-shot channels
//! (a lookup whose asker gave up is skipped), with
//! a small per-process cache of recent answers (`RESOLVER_CACHE_MAX` names for
//! `CACHE_TTL`), so a busy endpoint does not resolve on every new connection.
//! The SSRF check runs on every answer, cached or not.

use super::guard::{Target, TargetError};
use crate::limits::{RESOLVER_CACHE_MAX, RESOLVER_QUEUE_MAX};
use crossbeam::channel::{bounded, Sender, TrySendError};
use futures_channel::oneshot;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Threads resolving names for the whole process.
pub const RESOLVER_THREADS: usize = 4;
/// How long an answer is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(30);

type Answer = Result<Vec<SocketAddr>, TargetError>;
type Job = (String, u16, oneshot::Sender<Answer>);
/// Host and port → when resolved and the addresses (before the SSRF filter).
type Cache = HashMap<(String, u16), (Instant, Vec<SocketAddr>)>;

struct Resolver {
    jobs: Sender<Job>,
    /// Touched once per new connection, never per delivery.
    cache: Mutex<Cache>,
}

fn resolver() -> &'static Resolver {
    static RESOLVER: OnceLock<Resolver> = OnceLock::new();
    RESOLVER.get_or_init(|| {
        let (tx, rx) = bounded::<Job>(RESOLVER_QUEUE_MAX);
        for i in 0..RESOLVER_THREADS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("ringhook-dns-{i}"))
                .spawn(move || {
                    for job in rx {
                        serve(job, lookup);
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(thread = i, error = %e, "cannot start a DNS thread");
            }
        }
        Resolver {
            jobs: tx,
            cache: Mutex::new(HashMap::new()),
        }
    })
}

/// `getaddrinfo`, blocking.
fn lookup(host: &str, port: u16) -> Answer {
    use std::net::ToSocketAddrs;
    (host, port)
        .to_socket_addrs()
        .map(|a| a.collect::<Vec<_>>())
        .map_err(|_| TargetError::Resolve(host.to_string()))
}

/// Answers one job with `lookup`, unless its asker gave up meanwhile (its
/// connect's time limit passed): a name server that never answers holds a
/// thread for seconds per lookup, and a queue of lookups nobody waits for
/// would keep every later one waiting long after.
fn serve(job: Job, lookup: impl Fn(&str, u16) -> Answer) {
    let (host, port, reply) = job;
    if reply.is_canceled() {
        return;
    }
    let _ = reply.send(lookup(&host, port));
}

/// Resolves the target's host and keeps only permitted addresses.
pub async fn resolve(target: &Target, allow_private: bool) -> Result<Vec<SocketAddr>, TargetError> {
    let r = resolver();
    let key = (target.host.clone(), target.port);
    let cached = r.cache.lock().ok().and_then(|c| {
        c.get(&key)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, a)| a.clone())
    });
    let addrs = match cached {
        Some(a) => a,
        None => {
            let (tx, rx) = oneshot::channel();
            match r.jobs.try_send((key.0.clone(), key.1, tx)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    return Err(TargetError::Resolve(format!(
                        "{} (resolver busy)",
                        target.host
                    )))
                }
            }
            let addrs = rx
                .await
                .map_err(|_| TargetError::Resolve(target.host.clone()))??;
            if let Ok(mut c) = r.cache.lock() {
                if c.len() >= RESOLVER_CACHE_MAX {
                    c.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
                    if c.len() >= RESOLVER_CACHE_MAX {
                        c.clear();
                    }
                }
                c.insert(key, (Instant::now(), addrs.clone()));
            }
            addrs
        }
    };
    target.permitted(addrs, allow_private)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_lookup_nobody_waits_for_is_skipped() {
        let looked = Cell::new(0);
        let lookup = |_: &str, _: u16| {
            looked.set(looked.get() + 1);
            Ok(Vec::new())
        };
        let (tx, rx) = oneshot::channel();
        drop(rx);
        serve(("gone.example".into(), 443, tx), lookup);
        assert_eq!(looked.get(), 0, "its asker gave up: no lookup");
        let (tx, mut rx) = oneshot::channel();
        serve(("here.example".into(), 443, tx), lookup);
        assert_eq!(looked.get(), 1);
        assert!(matches!(rx.try_recv(), Ok(Some(Ok(_)))), "answered");
    }
}
