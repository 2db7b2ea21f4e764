//! The delivery worker: a task that takes runs of an endpoint's ready
//! deliveries, attempts each run over one pooled keep-alive connection, and
//! settles every attempt (record, index, retry or free).
//!
//! Each endpoint has at most `max_in_flight_per_endpoint` workers. A worker
//! pops up to `pipeline_depth` handles off the queue at a time (see
//! `decision::run_length`) and sends them in one write (`exchange`), reusing
//! its buffers across runs. Waiting retries are not tasks: they are handles
//! in the owner's timer wheel.

use super::decision::{self, AttemptFacts};
use super::exchange::{Answer, AttemptError, Limits, Wire};
use super::guard::Target;
use super::{budget, cold::ColdReadError, conn::Conn, Deliveries, Delivery, MsgRef};
use crate::message::{Loc, Message};
use crate::reads::index::AttemptEntry;
use crate::records::{self, AttemptRecord, EndpointRecord, Kind, Outcome};
use crate::signing;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// A retry due at least this far ahead drops its in-memory message.
const COLD_AFTER_MS: u64 = 1_000;
/// How long a delivery waits when its message could not be read back for an
/// I/O reason (not damage) before it tries again.
const UNREADABLE_RETRY_MS: u64 = 1_000;
/// An endpoint version with its parsed URL, TLS configuration and egress
/// proxy, kept on the endpoint's queue (`EndpointQueue::prepared`) so that
/// a worker start neither parses the URL nor builds a rustls configuration
/// again (which also lets TLS sessions resume across workers).
pub(super) struct Prepared {
    endpoint: Arc<EndpointRecord>,
    target: Rc<Target>,
    tls: Option<Arc<rustls::ClientConfig>>,
    proxy: Option<Arc<super::proxy::Proxy>>,
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
) -> Result<(Rc<Target>, Limits2), AttemptError> {
    if let Some(p) = d
        .queues
        .borrow()
        .get(&endpoint.id[..])
        .and_then(|q| q.prepared.as_ref())
        .filter(|p| Arc::ptr_eq(&p.endpoint, endpoint))
    {
        return Ok((p.target.clone(), (p.tls.clone(), p.proxy.clone())));
    }
    let mut t = Target::parse(&endpoint.url).map_err(|e| AttemptError::Target(e.to_string()))?;
    let own_settings =
        !super::tls::EndpointTls::of(endpoint).is_default() || !endpoint.proxy_url.is_empty();
    if own_settings {
        // Connections made before an edit of these settings are not reused.
        t.pool_tag = endpoint.updated_ms.max(1);
    }
    let target = Rc::new(t);
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
    if let Some(q) = d.queues.borrow_mut().get_mut(&endpoint.id[..]) {
        q.prepared = Some(Box::new(Prepared {
            endpoint: endpoint.clone(),
            target: target.clone(),
            tls: tls.clone(),
            proxy: proxy.clone(),
        }));
    }
    Ok((target, (tls, proxy)))
}

/// The TLS configuration and egress proxy that go with a prepared target.
type Limits2 = (
    Option<Arc<rustls::ClientConfig>>,
    Option<Arc<super::proxy::Proxy>>,
);

/// A delivery loaded for its attempt (its message in memory), with the slab
/// handle the worker owns meanwhile.
type Loaded = (usize, Delivery<Arc<Message>>);

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
        let endpoint = d
            .ports
            .shared
            .catalog
            .load()
            .endpoint_by_id(&endpoint_id)
            .cloned();
        let rate = endpoint.as_ref().and_then(|e| e.rate_limit);
        let throttled = {
            let mut queues = d.queues.borrow_mut();
            match (queues.get_mut(&endpoint_id), rate) {
                (Some(q), Some(rate)) if !q.ready.is_empty() => {
                    q.bucket.take(rate, crate::time::now_ms())
                }
                _ => None,
            }
        };
        if let Some(wait_ms) = throttled {
            glommio::timer::sleep(Duration::from_millis(wait_ms)).await;
            continue;
        }
        {
            let mut queues = d.queues.borrow_mut();
            let Some(q) = queues.get_mut(&endpoint_id) else {
                break;
            };
            if w.wire.conn.is_none() {
                w.wire.conn = q.idle.pop().map(|(c, _)| c);
                if w.wire.conn.is_some() {
                    d.conns.borrow_mut().reused_idle();
                }
            }
            let config = &d.ports.shared.config;
            let n = decision::run_length(
                q,
                config.pipeline_depth,
                config.max_in_flight_per_endpoint,
                rate.is_some(),
            );
            handles.extend(q.ready.drain(..n));
            d.in_attempt.set(d.in_attempt.get() + n);
        }
        if handles.is_empty() {
            break;
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
        if d.conns.borrow().contended() && turn.elapsed() >= budget::TURN {
            handed_on = true;
            break;
        }
    }
    let mut starts = Vec::new();
    let conn = w.wire.conn.take();
    d.spare_wires.keep(w.wire);
    {
        let mut queues = d.queues.borrow_mut();
        let mut conns = d.conns.borrow_mut();
        // With endpoints waiting for room the connection is closed, not pooled.
        let may_pool = conns.worker_ended();
        if let Some(q) = queues.get_mut(&endpoint_id) {
            q.in_flight -= 1;
            if let Some(conn) = conn {
                let max_idle = d.ports.shared.config.max_idle_connections_per_endpoint;
                if may_pool && q.idle.len() < max_idle {
                    q.idle.push((conn, crate::time::now_ms()));
                    conns.pooled(&queues, &endpoint_id);
                }
            }
        }
        // It handed its room on with deliveries left and no other worker:
        // back of the line. (Not after other exits: a stopping shard's
        // workers end with deliveries left, and must not start again.)
        if handed_on {
            conns.requeue(&mut queues, &endpoint_id);
        }
        while let Some(next) = conns.next_waiting(&mut queues) {
            starts.push(next);
        }
    }
    // glommio runs a spawned task at once: no borrow may be held here, and
    // the new worker first yields, so a chain of workers that end at once
    // (a stopping shard, deleted endpoints) never nests on this stack.
    for (next, conn) in starts {
        let d = d.clone();
        glommio::spawn_local(async move {
            futures_lite::future::yield_now().await;
            run(d, next, conn).await;
        })
        .detach();
    }
}

/// Loads the delivery at `handle` for an attempt (a cold one reads its
/// message back through io_uring; the worker owns the handle meanwhile, so
/// nothing else settles or moves it). A delivery whose endpoint was deleted
/// or disabled, or whose message is unreadable, is settled here without one
/// (`None`).
async fn prepare(
    d: &Rc<Deliveries>,
    handle: usize,
    endpoint: Option<&Arc<EndpointRecord>>,
) -> Option<Loaded> {
    let Some((msg, endpoint_id, attempt_no)) = d
        .slots
        .borrow()
        .get(handle)
        .map(|p| (p.msg.clone(), p.endpoint_id.clone(), p.attempt_no))
    else {
        d.settled();
        return None;
    };
    let msg = match msg {
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
                        endpoint = %endpoint_id,
                        error = %e,
                        "delivery waits {UNREADABLE_RETRY_MS} ms: its message cannot be read now"
                    );
                }
                d.arm(crate::time::now_ms() + UNREADABLE_RETRY_MS, handle);
                d.settled();
                return None;
            }
            Err(e) => {
                // Compaction never deletes a record a pending delivery
                // needs, so this is damage: report it and drop the delivery
                // rather than retry forever.
                tracing::error!(
                    shard = d.ports.shard,
                    endpoint = %endpoint_id,
                    error = %e,
                    "delivery dropped: its message record is unreadable"
                );
                d.free(handle);
                d.settled();
                return None;
            }
        },
    };
    // A deleted endpoint's deliveries are cancelled, and so are those of a
    // message whose payload was expunged. A disabled endpoint's end as
    // failed without an attempt, so that "recover" can send them once it is
    // enabled again (messages sent while it was disabled never had a
    // delivery to it at all).
    let expunged = d.ports.shared.expunged.contains(msg.id.as_str());
    let (outcome, note) = match endpoint {
        Some(_) if expunged => (Outcome::Cancelled, &b"payload expunged"[..]),
        Some(e) if !e.disabled => {
            return Some((
                handle,
                Delivery {
                    msg,
                    endpoint_id,
                    attempt_no,
                },
            ))
        }
        None => (Outcome::Cancelled, &b"endpoint deleted"[..]),
        Some(_) => (Outcome::Failed, &b"endpoint disabled"[..]),
    };
    {
        let mut stats = d.ports.stats.borrow_mut();
        match outcome {
            Outcome::Cancelled => stats.deliveries_cancelled += 1,
            _ => stats.deliveries_failed += 1,
        }
    }
    d.count_app(&msg.app_id, |c| match outcome {
        Outcome::Cancelled => c.cancelled += 1,
        _ => c.failed += 1,
    });
    let now = crate::time::now_ms();
    let done = Settlement {
        id: crate::ids::new_id_at("atmpt", now),
        attempt_no,
        at_ms: now,
        status_code: 0,
        duration_us: 0,
        outcome,
        next_attempt_ms: 0,
        response: note.to_vec(),
        error_kind: records::ERROR_KIND_NONE,
    };
    record(d, handle, &msg, &endpoint_id, done);
    None
}

/// Runs one attempt of each delivery in `run` (all to `endpoint`, sent
/// together on one connection) and records their outcomes.
async fn attempt_run(
    d: &Rc<Deliveries>,
    endpoint: &Arc<EndpointRecord>,
    run: &mut [Loaded],
    w: &mut Worker,
) {
    let at_ms = crate::time::now_ms();
    {
        let mut index = d.ports.index.borrow_mut();
        for (_, p) in run.iter() {
            index.set_sending(&p.endpoint_id, &p.msg.id);
        }
    }
    for (_, p) in run.iter() {
        crate::failpoint::panic_before_attempt(&p.msg.event_type);
    }
    let answers = send(d, endpoint, run, w).await;
    // A receiver that answered the first request of a run but not the ones
    // behind it does not handle pipelining (one that answered none is down).
    let lost = answers.first().is_some_and(|a| a.result.is_ok())
        && answers.iter().any(|a| a.result.is_err());
    if let Some(q) = d.queues.borrow_mut().get_mut(&endpoint.id[..]) {
        decision::note_speed(q, &answers);
        if lost && !q.no_pipelining {
            q.no_pipelining = true;
            tracing::info!(
                shard = d.ports.shard,
                endpoint = %endpoint.id,
                "a pipelined request failed; sending one at a time from now on"
            );
        }
    }
    // Settled together: a run's operational notices (failures that end a
    // delivery, say) ride one group commit instead of one each. Attempts
    // without a notice settle on the first poll, in run order.
    let settling = run
        .iter()
        .zip(answers)
        .map(|(p, answer)| finish(d, p, at_ms, answer, endpoint.updated_ms));
    futures_util::future::join_all(settling).await;
}

/// Settles one attempt: stats, health, the retry decision and its record.
async fn finish(
    d: &Rc<Deliveries>,
    (handle, p): &Loaded,
    at_ms: u64,
    answer: Answer,
    endpoint_changed_ms: u64,
) {
    let Answer {
        result,
        duration_us,
    } = answer;
    {
        let mut stats = d.ports.stats.borrow_mut();
        stats.attempts += 1;
        crate::metrics::record_us(&mut stats.attempt_us, u64::from(duration_us));
    }
    let mut error_kind = "status";
    let mut error_code = records::ERROR_KIND_NONE;
    let (status, body, retry_after) = match result {
        Ok(r) => (r.status, r.body_prefix, r.retry_after_secs),
        Err(e) => {
            d.ports.stats.borrow_mut().attempt_errors[e.kind_index()] += 1;
            d.count_app(&p.msg.app_id, |c| c.errors[e.kind_index()] += 1);
            error_kind = e.kind();
            error_code = records::error_kind_code(e.kind_index());
            (0, e.to_string().into_bytes(), None)
        }
    };
    let now = crate::time::now_ms();
    note_health(d, &p.endpoint_id, status, now, endpoint_changed_ms);
    let shared = &d.ports.shared;
    let verdict = decision::verdict(&AttemptFacts {
        status,
        attempt_no: p.attempt_no,
        schedule_ms: &shared.retry_schedule_ms,
        jitter_percent: shared.config.retry_jitter_percent,
        // Drawn only for a failure: a success has no next delay to jitter.
        jitter_unit: match (200..300).contains(&status) {
            true => 0.5,
            false => rand::random::<f64>(),
        },
        retry_after_secs: retry_after,
        now_ms: now,
    });
    {
        let mut stats = d.ports.stats.borrow_mut();
        match verdict.outcome {
            Outcome::Succeeded => {
                d.count_app(&p.msg.app_id, |c| c.succeeded += 1);
                stats.deliveries_succeeded += 1;
                let e2e_ms = now.saturating_sub(p.msg.created_ms);
                crate::metrics::record_us(&mut stats.e2e_us, e2e_ms.saturating_mul(1000));
            }
            Outcome::Failed => {
                d.count_app(&p.msg.app_id, |c| c.failed += 1);
                stats.attempts_failed += 1;
                stats.deliveries_failed += 1;
            }
            _ => stats.attempts_failed += 1,
        }
    }
    let (outcome, next_attempt_ms) = (verdict.outcome, verdict.next_attempt_ms);
    if outcome != Outcome::Succeeded {
        log_failure(d, p, status, error_kind, &body, outcome, now);
    }
    let id = crate::ids::new_id_at("atmpt", at_ms);
    // Most attempts make no notice: decide that before building one.
    if crate::operational::attempt_kind(outcome, p.attempt_no).is_some() {
        let notice = crate::operational::attempt_notice(
            outcome,
            p.attempt_no,
            &p.msg.app_id,
            &p.msg.id.to_string(),
            p.msg.event_id.as_deref(),
            &p.endpoint_id,
            &id,
            status,
            at_ms,
        );
        if let Some(notice) = notice {
            // Durable before the attempt record (see `Ports::notices`). A
            // refusal (an overloaded or stopping engine) is tried again a
            // few times before the attempt is recorded without it.
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
        }
    }
    let done = Settlement {
        id,
        attempt_no: p.attempt_no,
        at_ms,
        status_code: status,
        duration_us,
        outcome,
        next_attempt_ms,
        response: body,
        error_kind: error_code,
    };
    record(d, *handle, &p.msg, &p.endpoint_id, done);
}

/// One `warn` event per failed attempt, at most one per endpoint every
/// 10 s (`failure_log`). It names the endpoint, message and attempt, the
/// error kind and status, and the error (an address and a reason, never a
/// URL, header or body: those may carry credentials).
fn log_failure(
    d: &Deliveries,
    p: &Delivery<Arc<Message>>,
    status: u16,
    error_kind: &'static str,
    body: &[u8],
    outcome: Outcome,
    now_ms: u64,
) {
    let Some(held_back) = d.failure_log.borrow_mut().note(&p.endpoint_id, now_ms) else {
        return;
    };
    let error = match error_kind {
        "status" => String::new(),
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    tracing::warn!(
        shard = d.ports.shard,
        endpoint = %p.endpoint_id,
        msg = %p.msg.id,
        attempt = p.attempt_no + 1,
        kind = error_kind,
        status,
        error = %error,
        outcome = ?outcome,
        held_back,
        "attempt failed"
    );
}

/// Tracks the endpoint's failure streak; asks shard 0 to disable it on a
/// 410 Gone or when it has failed without a success for
/// `auto_disable_after_ms` (`decision::should_disable`).
fn note_health(
    d: &Deliveries,
    endpoint_id: &str,
    status: u16,
    now_ms: u64,
    endpoint_changed_ms: u64,
) {
    let mut failing = d.failing_since.borrow_mut();
    if (200..300).contains(&status) {
        failing.remove(endpoint_id);
        return;
    }
    // A change to the endpoint (re-enabling it, say) starts a new streak,
    // as recovery counts it (`recovery::streaks`).
    let since = match failing.get(endpoint_id) {
        Some(&since) if since > endpoint_changed_ms => since,
        _ => {
            failing.insert(endpoint_id.to_string(), now_ms);
            now_ms
        }
    };
    let after = d.ports.shared.config.auto_disable_after_ms;
    if let Some(reason) = decision::should_disable(status, since, now_ms, after) {
        // A new streak starts after the disable, so it is requested once.
        failing.remove(endpoint_id);
        drop(failing);
        d.request_disable(endpoint_id, reason, since);
    }
}

/// How an attempt (or a decision without one) settles its delivery.
struct Settlement {
    /// The attempt record's id.
    id: String,
    attempt_no: u32,
    at_ms: u64,
    /// HTTP status, 0 when no response arrived.
    status_code: u16,
    duration_us: u32,
    outcome: Outcome,
    next_attempt_ms: u64,
    /// The kept start of the response body, or the error text.
    response: Vec<u8>,
    /// `AttemptRecord::error_kind`.
    error_kind: u8,
}

/// Appends the attempt record, then frees or re-arms the delivery.
fn record(
    d: &Rc<Deliveries>,
    handle: usize,
    msg: &Arc<Message>,
    endpoint_id: &Arc<str>,
    done: Settlement,
) {
    let Settlement {
        id,
        attempt_no,
        at_ms,
        status_code,
        duration_us,
        outcome,
        next_attempt_ms,
        mut response,
        error_kind,
    } = done;
    response.truncate(d.ports.shared.config.response_keep_bytes);
    let rec = AttemptRecord {
        id,
        msg_id: msg.id.to_string(),
        endpoint_id: endpoint_id.to_string(),
        app_id: msg.app_id.to_string(),
        attempt_no,
        at_ms,
        status_code,
        duration_us,
        outcome: outcome as u8,
        next_attempt_ms,
        response,
        error_kind,
    };
    // An attempt record that cannot be written only costs a duplicate attempt
    // after a restart (the delivery is still pending in the journal).
    match d.ports.commit.append_record_at(Kind::Attempt, &rec) {
        Ok((_, pos)) => index_attempt(d, msg, endpoint_id, rec, pos, outcome),
        Err(e) => tracing::error!(shard = d.ports.shard, error = %e, "cannot journal an attempt"),
    }
    if outcome.is_final() {
        d.free(handle);
        d.settled();
        return;
    }
    if let Some(p) = d.slots.borrow_mut().get_mut(handle) {
        p.attempt_no = attempt_no + 1;
        // A delivery that will wait a while lets go of the message: its next
        // attempt reads it back from the journal (see `MsgRef`).
        if next_attempt_ms.saturating_sub(crate::time::now_ms()) >= COLD_AFTER_MS {
            p.msg = p.msg.cold();
        }
    }
    d.arm(next_attempt_ms, handle);
    d.settled();
}

/// Adds a journaled attempt to the shard's read-path index.
fn index_attempt(
    d: &Deliveries,
    msg: &Message,
    endpoint_id: &Arc<str>,
    rec: AttemptRecord,
    pos: crate::journal::Position,
    outcome: Outcome,
) {
    let entry = AttemptEntry {
        manual: false,
        id: Arc::from(rec.id),
        msg: msg.meta(),
        endpoint_id: endpoint_id.clone(),
        status_code: rec.status_code,
        outcome,
        at_ms: rec.at_ms,
        duration_us: rec.duration_us,
        loc: Loc {
            journal: d.ports.shard as u32,
            pos,
        },
    };
    d.ports
        .index
        .borrow_mut()
        .add_attempt(entry, rec.next_attempt_ms);
}

/// Signs and encodes the run's requests, sends them on one connection and
/// returns one answer per delivery, in order.
async fn send(
    d: &Rc<Deliveries>,
    endpoint: &Arc<EndpointRecord>,
    run: &[Loaded],
    w: &mut Worker,
) -> Vec<Answer> {
    let failed = |e: AttemptError| Answer {
        result: Err(e),
        duration_us: 0,
    };
    let (target, (tls, proxy)) = match prepared(d, endpoint, &d.ports.shared.config.proxy_url) {
        Ok(t) => t,
        Err(e) => return run.iter().map(|_| failed(e.clone())).collect(),
    };
    // Requests that cannot be encoded are answered at once; the rest go out.
    let mut answers: Vec<Option<Answer>> = Vec::with_capacity(run.len());
    w.wire.clear();
    let expunged = &d.ports.shared.expunged;
    for (_, p) in run {
        // Expunged while the run was being prepared: not sent (the next
        // look at the delivery cancels it).
        if expunged.contains(p.msg.id.as_str()) {
            answers.push(Some(failed(AttemptError::NotSent)));
            continue;
        }
        match super::request::encode(
            endpoint,
            &target,
            &p.msg,
            &mut w.signer,
            &mut w.wire.request,
        ) {
            Ok(()) => {
                w.wire.ends.push(w.wire.request.len());
                answers.push(None);
            }
            Err(e) => answers.push(Some(failed(e))),
        }
    }
    let config = &d.ports.shared.config;
    let limits = Limits {
        allow_private: config.allow_private_targets,
        connect_timeout: Duration::from_millis(config.connect_timeout_ms),
        request_timeout: Duration::from_millis(config.request_timeout_ms),
        keep_bytes: config.response_keep_bytes,
        tls,
        proxy,
    };
    let mut sent = match w.wire.ends.is_empty() {
        true => Vec::new(),
        false => w.wire.exchange(&target, &limits).await,
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
