//! Delivery: per-endpoint ready queues, workers, attempts and retry decisions.
//!
//! Each endpoint the shard owns has a ready queue and at most
//! `max_in_flight_per_endpoint` workers. A worker is a task that pops up to
//! `pipeline_depth` handles off the queue at a time and attempts them over one
//! pooled keep-alive connection (one write for the run, responses read in
//! order, see `exchange`), reusing its buffers across runs. Waiting retries
//! are not tasks: they are handles in the shard's timer wheel.
//!
//! # Invariants
//! - `in_flight` counts live workers of the queue and never exceeds the cap;
//! - an attempt's record is appended before the delivery is freed or re-armed.

use super::exchange::{Answer, Limits, Wire};
use super::guard::Target;
use super::index::{AttemptEntry, Loc, MsgMeta};
use super::state::Shard;
use super::{Message, MsgRef, Pending, Slot};
use crate::http_wire::encode_request;
use crate::records::{AttemptRecord, EndpointRecord, Kind, Outcome};
use crate::signing;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Header names the engine owns; endpoint headers cannot override them.
pub const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
];
/// A retry due at least this far ahead drops its in-memory message.
const COLD_AFTER_MS: u64 = 1_000;
/// How long a delivery waits when its message could not be read back for an
/// I/O reason (not damage) before it tries again.
const UNREADABLE_RETRY_MS: u64 = 1_000;
/// Time per request under which a receiver counts as fast (see `run_length`).
const FAST_RECEIVER_US: u32 = 5_000;
/// Longest honoured `Retry-After`.
const RETRY_AFTER_MAX_MS: u64 = 3_600_000;

/// One endpoint's queue and pool on its owner shard.
#[derive(Default)]
pub struct EndpointQueue {
    pub ready: VecDeque<usize>,
    pub in_flight: usize,
    /// Idle keep-alive connections with the time they went idle.
    pub idle: Vec<(super::conn::Conn, u64)>,
    /// Paces attempts when the endpoint has a throttle rate.
    pub bucket: super::throttle::TokenBucket,
    /// Set when a pipelined run to the endpoint got its first answer but lost a
    /// later request (timeout, broken connection): from then on the endpoint
    /// gets one request at a time (until the engine restarts).
    pub no_pipelining: bool,
    /// Recent time per answered request in µs (moving average over runs;
    /// 0 until the first run): a fast receiver gets full runs.
    pub per_request_us: u32,
    /// In line for room in the shard's connection budget (`budget`).
    pub waiting: bool,
}

/// Takes deliveries for endpoints this shard owns.
pub fn accept(shard: &Rc<Shard>, batch: Vec<Pending>) {
    let now = crate::time::now_ms();
    let mut armed = false;
    let mut last: Option<(Arc<Message>, Arc<MsgMeta>)> = None;
    for p in batch {
        // Fresh deliveries enter the index here (recovered, cold ones were
        // indexed by recovery). Consecutive deliveries of one message share
        // its index entry.
        if let MsgRef::Hot(m) = &p.msg {
            let meta = match &last {
                Some((lm, meta)) if Arc::ptr_eq(lm, m) => meta.clone(),
                _ => {
                    let meta = m.meta();
                    last = Some((m.clone(), meta.clone()));
                    meta
                }
            };
            shard
                .index
                .borrow_mut()
                .delivery_pending(&p.endpoint_id, &meta, p.due_ms);
        }
        let due = p.due_ms;
        let handle = shard.deliveries.borrow_mut().insert(Slot {
            msg: p.msg,
            endpoint_id: p.endpoint_id,
            attempt_no: p.attempt_no,
        });
        shard.shared.pending[shard.id].fetch_add(1, Ordering::Relaxed);
        if due <= now {
            enqueue(shard, handle);
        } else {
            shard.wheel.borrow_mut().insert(due, handle as u32);
            armed = true;
        }
    }
    if armed {
        shard.timer_kick.notify();
    }
}

/// Puts a delivery on its endpoint's ready queue, starting a worker if allowed.
pub fn enqueue(shard: &Rc<Shard>, handle: usize) {
    let Some(endpoint_id) = shard
        .deliveries
        .borrow()
        .get(handle)
        .map(|p| p.endpoint_id.clone())
    else {
        return;
    };
    let config = &shard.shared.config;
    let mut queues = shard.queues.borrow_mut();
    let q = queues.entry(endpoint_id.clone()).or_default();
    q.ready.push_back(handle);
    // A receiver whose speed is not known yet gets one connection until
    // its first answer (a slow start: ten thousand new endpoints must not
    // open a hundred thousand connections at once). A fast one gets as
    // few connections as take the queue in full runs (fewer writes and
    // wake-ups); a slow one up to the cap, for parallelism.
    let wanted = match (q.per_request_us, is_fast(q)) {
        (0, _) => 1,
        (_, true) => q.ready.len().div_ceil(config.pipeline_depth),
        (_, false) => usize::MAX,
    };
    if q.in_flight >= config.max_in_flight_per_endpoint || q.in_flight >= wanted {
        return;
    }
    let start = shard.conns.borrow_mut().start(&mut queues, &endpoint_id);
    drop(queues);
    if let super::budget::Start::Go(conn) = start {
        glommio::spawn_local(worker(shard.clone(), endpoint_id, conn)).detach();
    }
}

/// How long an idle keep-alive connection is kept.
pub const IDLE_CONNECTION_MS: u64 = 15_000;

/// Closes connections idle for longer than `IDLE_CONNECTION_MS` and forgets
/// endpoints with nothing queued, in flight or pooled, so neither descriptors
/// nor queue entries (of deleted endpoints, say) pile up. Called about once a
/// second from the shard's timer loop.
pub fn sweep(shard: &Shard, now_ms: u64) {
    let catalog = shard.shared.catalog.load();
    shard
        .failing_since
        .borrow_mut()
        .retain(|id, _| catalog.endpoint_by_id(id).is_some());
    let mut closed = 0;
    shard.queues.borrow_mut().retain(|_, q| {
        let before = q.idle.len();
        q.idle
            .retain(|(_, since)| now_ms.saturating_sub(*since) < IDLE_CONNECTION_MS);
        closed += before - q.idle.len();
        !(q.ready.is_empty() && q.in_flight == 0 && q.idle.is_empty())
    });
    shard.conns.borrow_mut().closed_idle(closed);
    shard.cold_files.borrow_mut().expire(now_ms);
}

/// Buffers and caches one worker reuses across attempts.
struct Worker {
    wire: Wire,
    signature: String,
    timestamp: String,
    /// The parsed URL of the endpoint version it was parsed from; catalog
    /// snapshots share unchanged endpoints, so pointer equality detects edits.
    target: Option<(Arc<EndpointRecord>, Rc<Target>)>,
}

impl Worker {
    fn target(&mut self, endpoint: &Arc<EndpointRecord>) -> Result<Rc<Target>, String> {
        if let Some((ep, t)) = &self.target {
            if Arc::ptr_eq(ep, endpoint) {
                return Ok(t.clone());
            }
        }
        let t = Rc::new(Target::parse(&endpoint.url).map_err(|e| e.to_string())?);
        self.target = Some((endpoint.clone(), t.clone()));
        Ok(t)
    }
}

/// A delivery about to be attempted.
struct Prepared {
    handle: usize,
    msg: Arc<Message>,
    endpoint_id: Arc<str>,
    attempt_no: u32,
}

async fn worker(shard: Rc<Shard>, endpoint_id: Arc<str>, conn: Option<super::conn::Conn>) {
    let mut wire = Wire::default();
    wire.conn = conn;
    let mut w = Worker {
        wire,
        signature: String::with_capacity(128),
        timestamp: String::with_capacity(16),
        target: None,
    };
    let mut handles = Vec::new();
    let mut run = Vec::new();
    let turn = std::time::Instant::now();
    let mut handed_on = false;
    loop {
        if shard.shared.is_stopping() {
            break;
        }
        let endpoint = shard
            .shared
            .catalog
            .load()
            .endpoint_by_id(&endpoint_id)
            .cloned();
        let rate = endpoint.as_ref().and_then(|e| e.rate_limit);
        let throttled = {
            let mut queues = shard.queues.borrow_mut();
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
            let mut queues = shard.queues.borrow_mut();
            let Some(q) = queues.get_mut(&endpoint_id) else {
                break;
            };
            if w.wire.conn.is_none() {
                w.wire.conn = q.idle.pop().map(|(c, _)| c);
                if w.wire.conn.is_some() {
                    shard.conns.borrow_mut().reused_idle();
                }
            }
            let n = run_length(&shard.shared.config, q, rate.is_some());
            handles.extend(q.ready.drain(..n));
        }
        if handles.is_empty() {
            break;
        }
        for h in handles.drain(..) {
            if let Some(p) = prepare(&shard, h, endpoint.as_ref()).await {
                run.push(p);
            }
        }
        if let Some(endpoint) = endpoint.filter(|_| !run.is_empty()) {
            attempt_run(&shard, &endpoint, &mut run, &mut w).await;
        }
        run.clear();
        // Endpoints wait for connections: after a turn, hand this one on
        // (see `budget`).
        if shard.conns.borrow().contended() && turn.elapsed() >= super::budget::TURN {
            handed_on = true;
            break;
        }
    }
    let mut starts = Vec::new();
    {
        let mut queues = shard.queues.borrow_mut();
        let mut conns = shard.conns.borrow_mut();
        // With endpoints waiting for room the connection is closed, not pooled.
        let may_pool = conns.worker_ended();
        if let Some(q) = queues.get_mut(&endpoint_id) {
            q.in_flight -= 1;
            if let Some(conn) = w.wire.conn.take() {
                let max_idle = shard.shared.config.max_idle_connections_per_endpoint;
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
        let shard = shard.clone();
        glommio::spawn_local(async move {
            futures_lite::future::yield_now().await;
            worker(shard, next, conn).await;
        })
        .detach();
    }
}

/// How many queued deliveries a worker takes for its next run. A receiver
/// that answers within `FAST_RECEIVER_US` a request gets full runs of up to
/// `pipeline_depth` (fewer writes and wake-ups), over as few connections as
/// that needs (see `enqueue`). Otherwise, and until its
/// speed is known, the queue is first shared among the endpoint's possible
/// workers (a slow receiver that serves connections in parallel keeps its
/// parallelism), and only a longer backlog is pipelined. A throttled endpoint
/// takes one token per request, so it goes one at a time.
fn run_length(config: &crate::config::Config, q: &EndpointQueue, throttled: bool) -> usize {
    let depth = match throttled || q.no_pipelining {
        true => 1,
        false => config.pipeline_depth,
    };
    let share = match is_fast(q) {
        true => depth,
        false => q.ready.len().div_ceil(config.max_in_flight_per_endpoint),
    };
    share.clamp(1, depth).min(q.ready.len())
}

/// Whether the endpoint answers pipelined runs quickly (see `run_length`).
fn is_fast(q: &EndpointQueue) -> bool {
    !q.no_pipelining && q.per_request_us > 0 && q.per_request_us < FAST_RECEIVER_US
}

/// Folds a run's answers into the endpoint's time per request: the spacing
/// of its answers when there are several (the receiver's own time per
/// request, without the round trip or this shard's delay in reading them),
/// the whole exchange for a single one.
fn note_speed(q: &mut EndpointQueue, answers: &[Answer]) {
    let mut ok = answers.iter().filter(|a| a.result.is_ok());
    let Some(first) = ok.next() else {
        return;
    };
    let (n, last) = ok.fold((1u32, first), |(n, _), a| (n + 1, a));
    let sample = match n {
        1 => first.duration_us,
        n => last.duration_us.saturating_sub(first.duration_us) / (n - 1),
    };
    q.per_request_us = match q.per_request_us {
        0 => sample.max(1),
        old => ((u64::from(old) * 7 + u64::from(sample)) / 8).max(1) as u32,
    };
}

/// Loads the delivery at `handle` for an attempt (a cold one reads its
/// message back through io_uring; the worker owns the handle meanwhile, so
/// nothing else settles or moves it). A delivery whose endpoint was deleted
/// or disabled, or whose message is unreadable, is settled here without one
/// (`None`).
async fn prepare(
    shard: &Rc<Shard>,
    handle: usize,
    endpoint: Option<&Arc<EndpointRecord>>,
) -> Option<Prepared> {
    let (msg, endpoint_id, attempt_no) = shard
        .deliveries
        .borrow()
        .get(handle)
        .map(|p| (p.msg.clone(), p.endpoint_id.clone(), p.attempt_no))?;
    let msg = match msg {
        MsgRef::Hot(m) => m,
        MsgRef::Cold(c) => match super::cold::read_message(shard, c.loc()).await {
            Ok(m) => Arc::new(Message::from_record(m, c.loc()).0),
            Err(e @ super::manual::ManualError::Read(_)) => {
                // An I/O error (out of descriptors, say) passes: the delivery
                // waits and tries again, without counting an attempt. Logged
                // once per 10,000, as it comes in floods.
                static SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                if SEEN.fetch_add(1, Ordering::Relaxed).is_multiple_of(10_000) {
                    eprintln!(
                        "ringhook: shard {}: delivery to {endpoint_id} waits {UNREADABLE_RETRY_MS} ms: {e}",
                        shard.id
                    );
                }
                let due = crate::time::now_ms() + UNREADABLE_RETRY_MS;
                shard.wheel.borrow_mut().insert(due, handle as u32);
                shard.timer_kick.notify();
                return None;
            }
            Err(e) => {
                // Compaction never deletes a record a pending delivery
                // needs, so this is damage: report it and drop the delivery
                // rather than retry forever.
                eprintln!(
                    "ringhook: shard {}: delivery to {endpoint_id} dropped: its message record is unreadable: {e}",
                    shard.id
                );
                if shard.deliveries.borrow_mut().try_remove(handle).is_some() {
                    shard.shared.pending[shard.id].fetch_sub(1, Ordering::Relaxed);
                }
                return None;
            }
        },
    };
    // A deleted endpoint's deliveries are cancelled. A disabled endpoint's
    // end as failed without an attempt, so that "recover" can send them once
    // it is enabled again (messages sent while it was disabled never had a
    // delivery to it at all).
    let (outcome, note) = match endpoint {
        Some(e) if !e.disabled => {
            return Some(Prepared {
                handle,
                msg,
                endpoint_id,
                attempt_no,
            })
        }
        None => (Outcome::Cancelled, &b"endpoint deleted"[..]),
        Some(_) => (Outcome::Failed, &b"endpoint disabled"[..]),
    };
    {
        let mut stats = shard.stats.borrow_mut();
        match outcome {
            Outcome::Cancelled => stats.deliveries_cancelled += 1,
            _ => stats.deliveries_failed += 1,
        }
    }
    let done = Done {
        attempt_no,
        at_ms: crate::time::now_ms(),
        status_code: 0,
        duration_us: 0,
        outcome,
        next_attempt_ms: 0,
        response: note.to_vec(),
    };
    record(shard, handle, &msg, &endpoint_id, done);
    None
}

/// Runs one attempt of each delivery in `run` (all to `endpoint`, sent
/// together on one connection) and records their outcomes.
async fn attempt_run(
    shard: &Rc<Shard>,
    endpoint: &Arc<EndpointRecord>,
    run: &mut [Prepared],
    w: &mut Worker,
) {
    let at_ms = crate::time::now_ms();
    {
        let mut index = shard.index.borrow_mut();
        for p in run.iter() {
            index.set_sending(&p.endpoint_id, &p.msg.id);
        }
    }
    let answers = send(shard, endpoint, run, w).await;
    // A receiver that answered the first request of a run but not the ones
    // behind it does not handle pipelining (one that answered none is down).
    let lost = answers.first().is_some_and(|a| a.result.is_ok())
        && answers.iter().any(|a| a.result.is_err());
    if let Some(q) = shard.queues.borrow_mut().get_mut(&endpoint.id[..]) {
        note_speed(q, &answers);
        if lost && !q.no_pipelining {
            q.no_pipelining = true;
            eprintln!(
                "ringhook: shard {}: endpoint {}: a pipelined request failed; sending one at a time from now on",
                shard.id, endpoint.id
            );
        }
    }
    for (p, answer) in run.iter().zip(answers) {
        finish(shard, p, at_ms, answer);
    }
}

/// Settles one attempt: stats, health, the retry decision and its record.
fn finish(shard: &Rc<Shard>, p: &Prepared, at_ms: u64, answer: Answer) {
    let Answer {
        result,
        duration_us,
    } = answer;
    {
        let mut stats = shard.stats.borrow_mut();
        stats.attempts += 1;
        crate::metrics::record_us(&mut stats.attempt_us, u64::from(duration_us));
    }
    let (status, body, retry_after) = match result {
        Ok(r) => (r.status, r.body_prefix, r.retry_after_secs),
        Err(e) => (0, e.into_bytes(), None),
    };
    let gone = note_health(shard, &p.endpoint_id, status);
    let (outcome, next_attempt_ms) = if (200..300).contains(&status) {
        let mut stats = shard.stats.borrow_mut();
        stats.deliveries_succeeded += 1;
        let e2e_ms = crate::time::now_ms().saturating_sub(p.msg.created_ms);
        crate::metrics::record_us(&mut stats.e2e_us, e2e_ms.saturating_mul(1000));
        (Outcome::Succeeded, 0)
    } else {
        shard.stats.borrow_mut().attempts_failed += 1;
        // 410 Gone: the receiver says the endpoint is gone for good; no retry.
        let next_delay = match gone {
            true => None,
            false => shard
                .shared
                .retry_schedule_ms
                .get(p.attempt_no as usize + 1),
        };
        match next_delay {
            Some(&delay) => {
                let mut delay = jitter(delay, shard.shared.config.retry_jitter_percent);
                if let Some(secs) = retry_after {
                    delay = delay.max(secs.saturating_mul(1000).min(RETRY_AFTER_MAX_MS));
                }
                (Outcome::Retrying, crate::time::now_ms() + delay)
            }
            None => {
                shard.stats.borrow_mut().deliveries_failed += 1;
                (Outcome::Failed, 0)
            }
        }
    };
    let done = Done {
        attempt_no: p.attempt_no,
        at_ms,
        status_code: status,
        duration_us,
        outcome,
        next_attempt_ms,
        response: body,
    };
    record(shard, p.handle, &p.msg, &p.endpoint_id, done);
}

/// Tracks the endpoint's failure streak; asks shard 0 to disable it on a
/// 410 Gone or when it has failed without a success for
/// `auto_disable_after_ms`. Returns whether the answer was 410.
fn note_health(shard: &Rc<Shard>, endpoint_id: &str, status: u16) -> bool {
    let now = crate::time::now_ms();
    if (200..300).contains(&status) {
        shard.failing_since.borrow_mut().remove(endpoint_id);
        return false;
    }
    let after = shard.shared.config.auto_disable_after_ms;
    let since = *shard
        .failing_since
        .borrow_mut()
        .entry(endpoint_id.to_string())
        .or_insert(now);
    let reason = if status == 410 {
        "it answered 410 Gone".to_string()
    } else if after > 0 && now.saturating_sub(since) >= after {
        format!("every attempt failed for {} ms", now - since)
    } else {
        return false;
    };
    // A new streak starts after the disable, so it is requested once.
    shard.failing_since.borrow_mut().remove(endpoint_id);
    let (s, id) = (shard.clone(), endpoint_id.to_string());
    glommio::spawn_local(async move {
        super::query::on(&s, 0, move |s0| s0.disable_endpoint(&id, &reason)).await;
    })
    .detach();
    status == 410
}

/// Applies ±`percent` jitter to a delay.
fn jitter(delay_ms: u64, percent: u64) -> u64 {
    if delay_ms == 0 || percent == 0 {
        return delay_ms;
    }
    use rand::Rng;
    let span = delay_ms * percent.min(100) / 100;
    let low = delay_ms - span;
    rand::thread_rng().gen_range(low..=delay_ms + span)
}

/// What one attempt (or a decision without one) came to.
struct Done {
    attempt_no: u32,
    at_ms: u64,
    /// HTTP status, 0 when no response arrived.
    status_code: u16,
    duration_us: u32,
    outcome: Outcome,
    next_attempt_ms: u64,
    /// The kept start of the response body, or the error text.
    response: Vec<u8>,
}

/// Appends the attempt record, then frees or re-arms the delivery.
fn record(
    shard: &Rc<Shard>,
    handle: usize,
    msg: &Arc<Message>,
    endpoint_id: &Arc<str>,
    done: Done,
) {
    let Done {
        attempt_no,
        at_ms,
        status_code,
        duration_us,
        outcome,
        next_attempt_ms,
        mut response,
    } = done;
    response.truncate(shard.shared.config.response_keep_bytes);
    let rec = AttemptRecord {
        id: crate::ids::new_id_at("atmpt", at_ms),
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
    };
    // An attempt record that cannot be written only costs a duplicate attempt
    // after a restart (the delivery is still pending in the journal).
    match shard.commit.append_record_at(Kind::Attempt, &rec) {
        Ok((_, pos)) => index_attempt(shard, msg, endpoint_id, rec, pos, outcome),
        Err(e) => eprintln!("ringhook: shard {}: cannot journal attempt: {e}", shard.id),
    }
    if outcome.is_final() {
        if shard.deliveries.borrow_mut().try_remove(handle).is_some() {
            shard.shared.pending[shard.id].fetch_sub(1, Ordering::Relaxed);
        }
        return;
    }
    if let Some(p) = shard.deliveries.borrow_mut().get_mut(handle) {
        p.attempt_no = attempt_no + 1;
        // A delivery that will wait a while lets go of the message: its next
        // attempt reads it back from the journal (see `MsgRef`).
        if next_attempt_ms.saturating_sub(crate::time::now_ms()) >= COLD_AFTER_MS {
            p.msg = p.msg.cold();
        }
    }
    shard
        .wheel
        .borrow_mut()
        .insert(next_attempt_ms, handle as u32);
    shard.timer_kick.notify();
}

/// Adds a journaled attempt to the shard's read-path index.
fn index_attempt(
    shard: &Shard,
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
            journal: shard.id as u32,
            pos,
        },
    };
    shard
        .index
        .borrow_mut()
        .add_attempt(entry, rec.next_attempt_ms);
}

/// The delivered body: the payload, with the endpoint's extra JSON merged in.
fn body_for<'a>(endpoint: &EndpointRecord, msg: &'a Message) -> std::borrow::Cow<'a, [u8]> {
    if endpoint.extra_json.is_empty() {
        return std::borrow::Cow::Borrowed(&msg.payload);
    }
    let merged = serde_json::from_slice::<serde_json::Value>(&msg.payload)
        .ok()
        .zip(serde_json::from_str::<serde_json::Value>(&endpoint.extra_json).ok())
        .and_then(|(mut body, extra)| {
            let (Some(obj), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra)
            else {
                return None;
            };
            for (k, v) in extra {
                obj.insert(k, v);
            }
            serde_json::to_vec(&body).ok()
        });
    match merged {
        Some(b) => std::borrow::Cow::Owned(b),
        None => std::borrow::Cow::Borrowed(&msg.payload),
    }
}

/// Signs and encodes the run's requests, sends them on one connection and
/// returns one answer per delivery, in order.
async fn send(
    shard: &Rc<Shard>,
    endpoint: &Arc<EndpointRecord>,
    run: &[Prepared],
    w: &mut Worker,
) -> Vec<Answer> {
    let failed = |e: String| Answer {
        result: Err(e),
        duration_us: 0,
    };
    let target = match w.target(endpoint) {
        Ok(t) => t,
        Err(e) => return run.iter().map(|_| failed(e.clone())).collect(),
    };
    // Requests that cannot be encoded are answered at once; the rest go out.
    let mut answers: Vec<Option<Answer>> = Vec::with_capacity(run.len());
    w.wire.clear();
    for p in run {
        match encode(endpoint, &target, &p.msg, w) {
            Ok(()) => {
                w.wire.ends.push(w.wire.request.len());
                answers.push(None);
            }
            Err(e) => answers.push(Some(failed(e))),
        }
    }
    let config = &shard.shared.config;
    let limits = Limits {
        allow_private: config.allow_private_targets,
        connect_timeout: Duration::from_millis(config.connect_timeout_ms),
        request_timeout: Duration::from_millis(config.request_timeout_ms),
        keep_bytes: config.response_keep_bytes,
    };
    let mut sent = match w.wire.ends.is_empty() {
        true => Vec::new(),
        false => w.wire.exchange(&target, &limits).await,
    }
    .into_iter();
    answers
        .into_iter()
        .map(|a| a.or_else(|| sent.next()))
        .map(|a| a.unwrap_or_else(|| failed("not sent".into())))
        .collect()
}

/// Signs and encodes one request, appending it to the worker's run.
fn encode(
    endpoint: &EndpointRecord,
    target: &Target,
    msg: &Message,
    w: &mut Worker,
) -> Result<(), String> {
    let body = body_for(endpoint, msg);
    let now = crate::time::now_ms();
    let timestamp_s = now / 1000;
    w.signature.clear();
    for k in endpoint
        .secrets
        .iter()
        .filter(|k| k.expires_ms == 0 || k.expires_ms > now)
    {
        signing::sign_into(&mut w.signature, &k.key, &msg.id, timestamp_s, &body);
    }
    w.timestamp.clear();
    {
        use std::fmt::Write;
        let _ = write!(w.timestamp, "{timestamp_s}");
    }
    let mut headers: Vec<(&str, &str)> = Vec::with_capacity(5 + endpoint.headers.len());
    headers.extend_from_slice(&[
        ("content-type", "application/json"),
        ("user-agent", "ringhook/0.1"),
        ("webhook-id", &msg.id),
        ("webhook-timestamp", &w.timestamp),
        ("webhook-signature", &w.signature),
    ]);
    for h in &endpoint.headers {
        let owned = h
            .name
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("webhook-"))
            || RESERVED_HEADERS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&h.name));
        if !owned {
            headers.push((&h.name, &h.value));
        }
    }
    encode_request(
        &mut w.wire.request,
        &endpoint.method,
        &target.authority,
        &target.path_and_query,
        &headers,
        &body,
    )
    .map_err(|e| e.to_string())
}
