//! A worker's steps that wait for nothing: taking a run off an endpoint's
//! ready queue, claiming a delivery for its attempt, marking a run sent
//! and learning from its answers, judging an answer,
//! recording the attempt (then freeing or re-arming the delivery) and
//! ending the worker. The worker task (`worker`) runs them around its
//! awaits (cold reads, the exchange, notices, throttle sleeps); the
//! simulator (`sim`) runs the same steps around its simulated receivers, so
//! what it checks is the engine's own bookkeeping and decisions.
//!
//! Every handle a run takes is settled exactly once, by [`record`] or by
//! [`claim`] / [`admit`] / [`Deliveries::unreadable`]: invariant 1 of
//! [`Deliveries`] counts it in `in_attempt` until then.

use super::decision::{self, AttemptFacts};
use super::exchange::{Answer, AttemptError};
use super::{conn::Conn, Deliveries, Delivery};
use crate::message::{Loc, Message};
use crate::reads::index::AttemptEntry;
use crate::records::{self, AttemptRecord, EndpointRecord, Kind, Outcome};
use std::rc::Rc;
use std::sync::Arc;

/// A retry due at least this far ahead drops its in-memory message.
pub const COLD_AFTER_MS: u64 = 1_000;

/// A delivery loaded for its attempt (its message in memory), with the slab
/// handle the worker owns meanwhile.
pub type Loaded = (usize, Delivery<Arc<Message>>);

/// What a worker does next ([`next_run`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Attempt the handles put in the caller's list.
    Run,
    /// The endpoint's throttle asks it to wait this long first.
    Wait(u64),
    /// Nothing is ready: the worker ends ([`end_worker`]).
    End,
}

/// Takes the endpoint's next run off its ready queue into `handles` (at
/// most `decision::run_length`), after its throttle allows it; a worker
/// without a connection takes one from the endpoint's idle pool. Also
/// returns the endpoint's current version (`None`: deleted), which the
/// run's deliveries are attempted against.
pub fn next_run(
    d: &Deliveries,
    endpoint_id: &str,
    conn: &mut Option<Conn>,
    handles: &mut Vec<usize>,
) -> (Next, Option<Arc<EndpointRecord>>) {
    let endpoint = d
        .ports
        .shared
        .catalog
        .load()
        .endpoint_by_id(endpoint_id)
        .cloned();
    let next = take_run(
        d,
        endpoint_id,
        endpoint.as_ref().and_then(|e| e.rate_limit),
        conn,
        handles,
    );
    (next, endpoint)
}

/// `next_run` for an endpoint with throttle `rate`.
fn take_run(
    d: &Deliveries,
    endpoint_id: &str,
    rate: Option<u32>,
    conn: &mut Option<Conn>,
    handles: &mut Vec<usize>,
) -> Next {
    let mut queues = d.queues.borrow_mut();
    let Some(q) = queues.get_mut(endpoint_id) else {
        return Next::End;
    };
    if let Some(rate) = rate.filter(|_| !q.ready.is_empty()) {
        if let Some(wait_ms) = q.bucket.take(rate, crate::time::now_ms()) {
            return Next::Wait(wait_ms);
        }
    }
    if conn.is_none() {
        *conn = q.idle.pop().map(|(c, _)| c);
        if conn.is_some() {
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
    let from = handles.len();
    handles.extend(q.ready.drain(..n));
    d.left_ready(&handles[from..]);
    d.in_attempt.set(d.in_attempt.get() + n);
    match handles.is_empty() {
        true => Next::End,
        false => Next::Run,
    }
}

/// The delivery at `handle` as its attempt begins: its message (in memory,
/// or where to read it), endpoint and attempt number; `None` (settled) if
/// the handle holds nothing.
pub fn claim(d: &Deliveries, handle: usize) -> Option<Delivery> {
    let claimed = d.slots.borrow().get(handle).map(|p| Delivery {
        msg: p.msg.clone(),
        endpoint_id: p.endpoint_id.clone(),
        attempt_no: p.attempt_no,
    });
    if claimed.is_none() {
        d.settled();
    }
    claimed
}

impl Deliveries {
    /// A claimed delivery whose message cannot be read now (an I/O error,
    /// not damage): it waits `wait_ms` and tries again, without counting an
    /// attempt.
    pub fn unreadable(&self, handle: usize, wait_ms: u64) {
        self.arm(crate::time::now_ms() + wait_ms, handle);
        self.settled();
    }

    /// A claimed delivery whose message record is damaged: dropped rather
    /// than retried forever (compaction never deletes a record a pending
    /// delivery needs).
    pub fn damaged(&self, handle: usize) {
        self.free(handle);
        self.settled();
    }
}

/// A claimed delivery with its message loaded goes to its attempt
/// (`Ok`), unless its endpoint was deleted or the message expunged
/// (cancelled) or the endpoint is disabled (failed, so that "recover" can
/// send it once enabled again): those are recorded and settled here, and
/// the outcome returned.
pub fn admit(
    d: &Rc<Deliveries>,
    handle: usize,
    claimed: Delivery<Arc<Message>>,
    endpoint: Option<&Arc<EndpointRecord>>,
) -> Result<Loaded, Outcome> {
    let msg = claimed.msg;
    let expunged = d.ports.shared.expunged.contains_key(&msg.id);
    let (outcome, note) = match endpoint {
        Some(_) if expunged => (Outcome::Cancelled, &b"payload expunged"[..]),
        Some(e) if !e.disabled => {
            return Ok((
                handle,
                Delivery {
                    msg,
                    endpoint_id: claimed.endpoint_id,
                    attempt_no: claimed.attempt_no,
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
        attempt_no: claimed.attempt_no,
        at_ms: now,
        status_code: 0,
        duration_us: 0,
        outcome,
        next_attempt_ms: 0,
        response: note.to_vec(),
        error_kind: records::ERROR_KIND_NONE,
    };
    record(d, handle, &msg, &claimed.endpoint_id, done);
    Err(outcome)
}

/// A run's deliveries are being sent (the read path shows them so).
pub fn sending(d: &Deliveries, run: &[Loaded]) {
    let mut index = d.ports.index.borrow_mut();
    for (_, p) in run {
        index.set_sending(&p.endpoint_id, &p.msg.id);
    }
}

/// A run's answers, in order, teach the endpoint's queue its receiver's
/// speed; a receiver that answered the first request of a run but not
/// the ones behind it does not handle pipelining (one that answered none
/// is down), and gets one request at a time from then on. Requests that
/// never went out (`NotSent`: expunged meanwhile; `Encode`: refused by the
/// sender) say nothing about the receiver.
pub fn answered(d: &Deliveries, endpoint_id: &str, answers: &[Answer]) {
    let lost = answers.first().is_some_and(|a| a.result.is_ok())
        && answers.iter().any(|a| {
            matches!(
                &a.result,
                Err(e) if !matches!(e, AttemptError::NotSent | AttemptError::Encode(_))
            )
        });
    if let Some(q) = d.queues.borrow_mut().get_mut(endpoint_id) {
        decision::note_speed(q, answers);
        if lost && !q.no_pipelining {
            q.no_pipelining = true;
            tracing::info!(
                shard = d.ports.shard,
                endpoint = %endpoint_id,
                "a pipelined request failed; sending one at a time from now on"
            );
        }
    }
}

/// How an attempt (or a decision without one) settles its delivery.
#[derive(Debug)]
pub struct Settlement {
    /// The attempt record's id.
    pub id: String,
    pub attempt_no: u32,
    pub at_ms: u64,
    /// HTTP status, 0 when no response arrived.
    pub status_code: u16,
    pub duration_us: u32,
    pub outcome: Outcome,
    pub next_attempt_ms: u64,
    /// The kept start of the response body, or the error text.
    pub response: Vec<u8>,
    /// `AttemptRecord::error_kind`.
    pub error_kind: u8,
}

/// Judges one attempt's answer: stats, the endpoint's failure streak, the
/// retry decision (`jitter` is drawn only for a failure) and the failure
/// log; returns the settlement and the operational notice it makes, if
/// any, which must be durable before [`record`] (see `Ports::notices`).
pub fn judge(
    d: &Deliveries,
    p: &Delivery<Arc<Message>>,
    at_ms: u64,
    answer: Answer,
    endpoint_changed_ms: u64,
    jitter: impl FnOnce() -> f64,
) -> (Settlement, Option<crate::operational::Notice>) {
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
    // A request that never went out tells nothing of the endpoint's health.
    let sent = !matches!(result, Err(AttemptError::NotSent));
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
    if sent {
        note_health(d, &p.endpoint_id, status, now, endpoint_changed_ms);
    }
    let shared = &d.ports.shared;
    let verdict = decision::verdict(&AttemptFacts {
        status,
        attempt_no: p.attempt_no,
        schedule_ms: &shared.retry_schedule_ms,
        jitter_percent: shared.config.retry_jitter_percent,
        // Drawn only for a failure: a success has no next delay to jitter.
        jitter_unit: match (200..300).contains(&status) {
            true => 0.5,
            false => jitter(),
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
    let notice = match crate::operational::attempt_kind(outcome, p.attempt_no) {
        Some(_) => crate::operational::attempt_notice(
            outcome,
            p.attempt_no,
            &p.msg.app_id,
            &p.msg.id.to_string(),
            p.msg.event_id.as_deref(),
            &p.endpoint_id,
            &id,
            status,
            at_ms,
        ),
        None => None,
    };
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
    (done, notice)
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
        // Most endpoints are not failing: no hashing of the id then.
        if !failing.is_empty() {
            failing.remove(endpoint_id);
        }
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

/// Appends the attempt record, then frees or re-arms the delivery.
pub fn record(
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
    // Copied as `str`s: `to_string` on an `IdKey` or an `Arc<str>` goes
    // through the formatting machinery (1 % of a pipelined profile).
    let rec = AttemptRecord {
        id,
        msg_id: msg.id.as_str().to_owned(),
        endpoint_id: String::from(&**endpoint_id),
        app_id: String::from(&*msg.app_id),
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
        Err(e) => {
            d.ports.stats.borrow_mut().attempt_records_refused += 1;
            tracing::error!(shard = d.ports.shard, error = %e, "cannot journal an attempt");
        }
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

/// Whether a worker that has run for `ran` hands its room on after its
/// current run: endpoints wait for connections and its turn
/// (`budget::TURN`) is over.
pub fn turn_over(d: &Deliveries, ran: std::time::Duration) -> bool {
    ran >= super::budget::TURN && d.conns.borrow().contended()
}

/// A worker's end: its connection pooled (unless endpoints wait for room in
/// the budget, or the pool is full: then closed), and its room handed to
/// the endpoints waiting; `handed_on` when it ended its turn with
/// deliveries left (it goes to the back of the line). Returns the workers
/// to start next, for [`Deliveries::start_worker`].
pub fn end_worker(
    d: &Deliveries,
    endpoint_id: &Arc<str>,
    conn: Option<Conn>,
    handed_on: bool,
) -> Vec<(Arc<str>, Option<Conn>)> {
    let mut starts = Vec::new();
    let mut queues = d.queues.borrow_mut();
    let mut conns = d.conns.borrow_mut();
    // With endpoints waiting for room the connection is closed, not pooled.
    let may_pool = conns.worker_ended();
    if let Some(q) = queues.get_mut(endpoint_id) {
        q.in_flight -= 1;
        if let Some(conn) = conn {
            let max_idle = d.ports.shared.config.max_idle_connections_per_endpoint;
            if may_pool && q.idle.len() < max_idle {
                q.idle.push((conn, crate::time::now_ms()));
                conns.pooled(&queues, endpoint_id);
            }
        }
    }
    // It handed its room on with deliveries left and no other worker:
    // back of the line. (Not after other exits: a stopping shard's
    // workers end with deliveries left, and must not start again.)
    if handed_on {
        conns.requeue(&mut queues, endpoint_id);
    }
    while let Some(next) = conns.next_waiting(&mut queues) {
        starts.push(next);
    }
    starts
}
