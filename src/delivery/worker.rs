//! The delivery worker: a task that takes runs of an endpoint's ready
//! deliveries, attempts each run over one pooled keep-alive connection, and
//! settles every attempt (record, index, retry or free).
//!
//! Each endpoint has at most `max_in_flight_per_endpoint` workers. A worker
//! pops up to `pipeline_depth` handles off the queue at a time (see
//! `decision::run_length`) and sends them in one write (`exchange`), reusing
//! its buffers across runs. Waiting retries are not tasks: they are handles
//! in the owner's timer wheel.

use super::exchange::{Answer, AttemptError, Limits, Wire};
use super::guard::Target;
use super::steps::{self, Loaded, Next};
use super::{cold::ColdReadError, conn::Conn, settling, Deliveries, Delivery, MsgRef};
use crate::message::Message;
use crate::records::EndpointRecord;
use crate::signing;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How long a delivery waits when its message could not be read back for an
/// I/O reason (not damage) before it tries again.
const UNREADABLE_RETRY_MS: u64 = 1_000;
/// An endpoint version with its parsed URL, TLS configuration, egress
/// proxy and readied signing keys, kept on the endpoint's queue
/// (`EndpointQueue::prepared`) so that a worker start neither parses the
/// URL, builds a rustls configuration (which also lets TLS sessions resume
/// across workers) nor keys an HMAC again.
pub(super) struct Prepared {
    endpoint: Arc<EndpointRecord>,
    target: Target,
    tls: Option<Arc<rustls::ClientConfig>>,
    proxy: Option<Arc<super::proxy::Proxy>>,
    keys: signing::Keyed,
    /// What every request to this version starts with.
    head: super::request::Head,
}

/// The buffers one worker reuses across runs (from the shard's spares).
struct Worker {
    wire: Wire,
    signer: signing::Signer,
}

/// The prepared target of `endpoint`'s current version: the queue's, or
/// made now and kept there (catalog snapshots share unchanged endpoints, so
/// pointer equality detects edits).
fn prepared(
    d: &Deliveries,
    endpoint: &Arc<EndpointRecord>,
    engine_proxy: &str,
) -> Result<Rc<Prepared>, AttemptError> {
    if let Some(p) = d
        .queues
        .borrow()
        .get(&endpoint.id[..])
        .and_then(|q| q.prepared.as_ref())
        .filter(|p| Arc::ptr_eq(&p.endpoint, endpoint))
    {
        return Ok(p.clone());
    }
    let mut target =
        Target::parse(&endpoint.url).map_err(|e| AttemptError::Target(e.to_string()))?;
    let own_settings =
        !super::tls::EndpointTls::of(endpoint).is_default() || !endpoint.proxy_url.is_empty();
    if own_settings {
        // Connections made before an edit of these settings are not reused.
        target.pool_tag = endpoint.updated_ms.max(1);
    }
    let tls = super::tls::for_endpoint(super::tls::EndpointTls::of(endpoint)).map_err(|e| {
        AttemptError::Tls {
            failure: super::tls::Failure::Handshake,
            reason: e.to_string(),
        }
    })?;
    // The endpoint's proxy, or the engine's (both checked when set).
    let proxy_url = match endpoint.proxy_url.is_empty() {
        true => engine_proxy,
        false => endpoint.proxy_url.as_str(),
    };
    let proxy = match proxy_url.is_empty() {
        true => None,
        false => {
            let mut p = super::proxy::Proxy::parse(proxy_url)
                .map_err(|e| AttemptError::Proxy(e.to_string()))?;
            // Only the operator's proxy may sit on a private address.
            p.trusted = endpoint.proxy_url.is_empty();
            Some(Arc::new(p))
        }
    };
    let head = super::request::Head::new(endpoint, &target)?;
    let prepared = Rc::new(Prepared {
        endpoint: endpoint.clone(),
        head,
        target,
        tls,
        proxy,
        keys: signing::Keyed::new(&endpoint.secrets),
    });
    if let Some(q) = d.queues.borrow_mut().get_mut(&endpoint.id[..]) {
        q.prepared = Some(prepared.clone());
    }
    Ok(prepared)
}

pub(super) async fn run(d: Rc<Deliveries>, endpoint_id: Arc<str>, conn: Option<Conn>) {
    let mut wire = d.spare_wires.take();
    wire.conn = conn;
    let mut w = Worker {
        wire,
        signer: signing::Signer::default(),
    };
    let mut handles = Vec::new();
    let mut batch = Vec::new();
    let turn = std::time::Instant::now();
    let mut handed_on = false;
    loop {
        if d.ports.shared.is_stopping() {
            break;
        }
        let (next, endpoint) = steps::next_run(&d, &endpoint_id, &mut w.wire.conn, &mut handles);
        match next {
            Next::Run => {}
            Next::Wait(wait_ms) => {
                glommio::timer::sleep(Duration::from_millis(wait_ms)).await;
                continue;
            }
            Next::End => break,
        }
        for h in handles.drain(..) {
            if let Some(p) = prepare(&d, h, endpoint.as_ref()).await {
                batch.push(p);
            }
        }
        if let Some(endpoint) = endpoint.filter(|_| !batch.is_empty()) {
            attempt_run(&d, &endpoint, &mut batch, &mut w).await;
            // A FIFO endpoint's next message goes once this one's outcome
            // is durable: a crash then repeats at most the one in flight.
            if endpoint.fifo {
                d.ports.commit.durable(d.ports.commit.written_lsn()).await;
            }
        }
        batch.clear();
        // Endpoints wait for connections: after a turn, hand this one on
        // (see `budget`).
        if steps::turn_over(&d, turn.elapsed()) {
            handed_on = true;
            break;
        }
    }
    let conn = w.wire.conn.take();
    d.spare_wires.keep(w.wire);
    let starts = steps::end_worker(&d, &endpoint_id, conn, handed_on);
    // glommio runs a spawned task at once: no borrow may be held here, and
    // the new worker first yields, so a chain of workers that end at once
    // (a stopping shard, deleted endpoints) never nests on this stack.
    for (next, conn) in starts {
        d.start_worker(next, conn, true);
    }
}

/// Loads the delivery at `handle` for an attempt (a cold one reads its
/// message back through io_uring; the worker owns the handle meanwhile, so
/// nothing else settles or moves it). A delivery whose endpoint was deleted
/// or disabled, or whose message is unreadable, is settled without one
/// (`None`).
async fn prepare(
    d: &Rc<Deliveries>,
    handle: usize,
    endpoint: Option<&Arc<EndpointRecord>>,
) -> Option<Loaded> {
    let claimed = steps::claim(d, handle)?;
    let msg = match claimed.msg {
        MsgRef::Hot(m) => m,
        MsgRef::Cold(c) => match d.read_message(c.loc()).await {
            Ok(m) => Arc::new(Message::from_record(m, c.loc()).0),
            Err(e @ ColdReadError::Transient(_)) => {
                // An I/O error (out of descriptors, say) passes: the delivery
                // waits and tries again, without counting an attempt. Logged
                // once per 10,000, as it comes in floods.
                static SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                if SEEN.fetch_add(1, Ordering::Relaxed).is_multiple_of(10_000) {
                    tracing::warn!(
                        shard = d.ports.shard,
                        endpoint = %claimed.endpoint_id,
                        error = %e,
                        "delivery waits {UNREADABLE_RETRY_MS} ms: its message cannot be read now"
                    );
                }
                d.unreadable(handle, UNREADABLE_RETRY_MS);
                return None;
            }
            Err(e) => {
                tracing::error!(
                    shard = d.ports.shard,
                    endpoint = %claimed.endpoint_id,
                    error = %e,
                    "delivery dropped: its message record is unreadable"
                );
                d.damaged(handle);
                return None;
            }
        },
    };
    let claimed = Delivery {
        msg,
        endpoint_id: claimed.endpoint_id,
        attempt_no: claimed.attempt_no,
    };
    steps::admit(d, handle, claimed, endpoint).ok()
}

/// Runs one attempt of each delivery in `run` (all to `endpoint`, sent
/// together on one connection) and records their outcomes.
async fn attempt_run(
    d: &Rc<Deliveries>,
    endpoint: &Arc<EndpointRecord>,
    run: &mut Vec<Loaded>,
    w: &mut Worker,
) {
    let at_ms = crate::time::now_ms();
    steps::sending(d, run);
    for (_, p) in run.iter() {
        crate::failpoint::panic_before_attempt(&p.msg.event_type);
    }
    let answers = send(d, endpoint, run, at_ms, w).await;
    steps::answered(d, &endpoint.id, &answers);
    // Attempts without a notice settle in run order with the runs other
    // workers got answers for meanwhile, their records in one journal write
    // (`settling`). A run's operational notices (failures that end a
    // delivery, say) ride one group commit instead of one each, and their
    // attempts settle after them.
    let settled =
        settling::settle(d, std::mem::take(run), answers, at_ms, endpoint.updated_ms).await;
    *run = settled.run;
    let finishing = settled
        .noticed
        .into_iter()
        .map(|(i, done, notice)| finish(d, &run[i], done, notice));
    futures_util::future::join_all(finishing).await;
}

/// Settles one judged attempt (`steps::judge`) whose operational notice
/// must be durable before its record.
async fn finish(
    d: &Rc<Deliveries>,
    (handle, p): &Loaded,
    done: steps::Settlement,
    notice: crate::operational::Notice,
) {
    // Durable before the attempt record (see `Ports::notices`). A refusal
    // (an overloaded or stopping engine) is tried again a few times before
    // the attempt is recorded without it.
    for wait_ms in NOTICE_RETRY_MS {
        if (d.ports.notices)(notice.clone()).await || d.ports.shared.is_stopping() {
            break;
        }
        if wait_ms == 0 {
            tracing::error!(endpoint = %p.endpoint_id, event = %notice.event_type(), "an operational notice could not be made durable; it is lost");
            break;
        }
        glommio::timer::sleep(Duration::from_millis(wait_ms)).await;
    }
    steps::record(d, *handle, &p.msg, &p.endpoint_id, done);
}

/// Signs and encodes the run's requests (attempts made at `at_ms`), sends
/// them on one connection and returns one answer per delivery, in order.
async fn send(
    d: &Rc<Deliveries>,
    endpoint: &Arc<EndpointRecord>,
    run: &[Loaded],
    at_ms: u64,
    w: &mut Worker,
) -> Vec<Answer> {
    let failed = |e: AttemptError| Answer {
        result: Err(e),
        duration_us: 0,
    };
    let p = match prepared(d, endpoint, &d.ports.shared.config.proxy_url) {
        Ok(p) => p,
        Err(e) => return run.iter().map(|_| failed(e.clone())).collect(),
    };
    // Requests that cannot be encoded are answered at once; the rest go out.
    let mut answers: Vec<Option<Answer>> = Vec::with_capacity(run.len());
    w.wire.clear();
    let expunged = &d.ports.shared.expunged;
    for (_, delivery) in run {
        // Expunged while the run was being prepared: not sent (the next
        // look at the delivery cancels it).
        if expunged.contains_key(&delivery.msg.id) {
            answers.push(Some(failed(AttemptError::NotSent)));
            continue;
        }
        let request = super::request::encode(
            &p.head,
            endpoint,
            &delivery.msg,
            (&p.keys, &mut w.signer),
            at_ms,
            &mut w.wire.request,
        );
        match request {
            Ok(()) => {
                w.wire.ends.push(w.wire.request.len());
                answers.push(None);
            }
            Err(e) => answers.push(Some(failed(e))),
        }
    }
    let config = &d.ports.shared.config;
    let limits = Limits {
        deadlines: &d.deadlines,
        allow_private: config.allow_private_targets,
        connect_timeout: Duration::from_millis(config.connect_timeout_ms),
        request_timeout: Duration::from_millis(config.request_timeout_ms),
        keep_bytes: config.response_keep_bytes,
        tls: p.tls.clone(),
        proxy: p.proxy.clone(),
    };
    let mut sent = match w.wire.ends.is_empty() {
        true => Vec::new(),
        false => w.wire.exchange(&p.target, &limits).await,
    }
    .into_iter();
    answers
        .into_iter()
        .map(|a| a.or_else(|| sent.next()))
        .map(|a| a.unwrap_or_else(|| failed(AttemptError::NotSent)))
        .collect()
}

/// Waits between tries to make an attempt's operational notice durable
/// (the last, 0, gives up).
const NOTICE_RETRY_MS: [u64; 5] = [10, 100, 1_000, 5_000, 0];

#[cfg(test)]
mod tests {
    /// Every worker start allocates a task of this future's size and moves
    /// the future into it (one per run for slow receivers): a connection's
    /// TLS handshake, kilobytes, is boxed in `Wire::exchange` so it does not
    /// size every task (6,368 bytes before, 2,272 after), and the time
    /// limits (`deadlines::within`) are plain futures, not `async fn`s that
    /// would hold the response's read twice (3,440 bytes with them, 1,696
    /// without).
    #[test]
    fn a_worker_task_stays_small() {
        fn size<F>(
            _: fn(std::rc::Rc<super::Deliveries>, std::sync::Arc<str>, Option<super::Conn>) -> F,
        ) -> usize {
            std::mem::size_of::<F>()
        }
        let bytes = size(super::run);
        assert!(bytes <= 3 * 1024, "worker::run's future is {bytes} bytes");
    }
}
