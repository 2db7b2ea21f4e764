//! The workers, played: each worker start a shard's deliveries made
//! (`Deliveries::next_played`) runs the worker's own steps
//! (`delivery::steps`: take a run, claim, admit, judge, record, end) as
//! `delivery::worker::run` does, with a simulated receiver answering each
//! request after a random latency instead of an exchange on a socket, and a cold retry's message
//! read back with a blocking read instead of io_uring. Shard 0's handling
//! of disable requests follows (`Shard::disable_endpoint`).

use super::{Receiver, World};
use crate::delivery::exchange::{Answer, AttemptError};
use crate::delivery::steps::{self, Next};
use crate::delivery::{Deliveries, Delivery, MsgRef};
use crate::http_wire::Response;
use crate::message::{Loc, Message};
use crate::records::{self, Kind, Outcome};
use crate::sim::oracle::Violation;
use rand::Rng;
use std::rc::Rc;
use std::sync::Arc;

/// How a played worker ended.
#[derive(Debug, PartialEq, Eq)]
enum Played {
    Ended,
    /// Its endpoint is throttled: it goes on at a later time (`throttled`),
    /// as the engine's worker sleeps.
    Waits,
    /// A group commit the worker waited for (a FIFO endpoint's outcome, an
    /// operational notice) failed: the engine aborts.
    SyncFailed,
}

/// The slowest a receiver answers (simulated ms), timeouts aside.
const LATENCY_MS_MAX: u64 = 40;

impl World {
    /// Plays every started worker of every shard, in the order they were
    /// started, until none is left (each run moves the clock on by its
    /// slowest answer), then carries the disable requests they made to
    /// shard 0.
    pub(super) fn play_workers(&mut self) -> Result<(), Violation> {
        loop {
            let mut played = false;
            // Throttled workers whose wait is over go on first, in the order
            // they started waiting.
            let now = self.now_ms;
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.throttled)
                .into_iter()
                .partition(|t| t.due_ms <= now);
            self.throttled = later;
            for t in due {
                played = true;
                let d = self.cores[t.shard].deliveries.clone();
                match self.play_worker(t.shard, &d, t.endpoint_id, t.turn_from)? {
                    Played::SyncFailed => {
                        drop(d);
                        return self.crash();
                    }
                    Played::Ended | Played::Waits => {}
                }
            }
            for shard in 0..self.cores.len() {
                let d = self.cores[shard].deliveries.clone();
                while let Some(endpoint_id) = d.next_played() {
                    played = true;
                    let now = self.now_ms;
                    match self.play_worker(shard, &d, endpoint_id, now)? {
                        // The engine aborts: nothing of this core may
                        // outlive the crash.
                        Played::SyncFailed => {
                            drop(d);
                            return self.crash();
                        }
                        Played::Ended | Played::Waits => {}
                    }
                }
            }
            self.carry_disable_requests()?;
            if !played {
                return Ok(());
            }
        }
    }

    /// One worker, from its start (its turn began at `turn_from`) to its
    /// end, to a wait for its throttled endpoint's next token, or to a
    /// failed sync, which aborts the engine.
    fn play_worker(
        &mut self,
        shard: usize,
        d: &Rc<Deliveries>,
        endpoint_id: Arc<str>,
        turn_from: u64,
    ) -> Result<Played, Violation> {
        let mut conn = None;
        let mut handed_on = false;
        let mut handles = Vec::new();
        loop {
            let (next, endpoint) = steps::next_run(d, &endpoint_id, &mut conn, &mut handles);
            match next {
                Next::Run => {}
                Next::End => break,
                Next::Wait(ms) => {
                    if endpoint.as_ref().and_then(|e| e.rate_limit).is_none() {
                        return Err(format!("{endpoint_id} waits {ms} ms but has no rate"));
                    }
                    self.note(&format!("throttled {endpoint_id} {ms} ms"));
                    self.throttled.push(super::Throttled {
                        due_ms: self.now_ms + ms.max(1),
                        shard,
                        endpoint_id,
                        turn_from,
                    });
                    return Ok(Played::Waits);
                }
            }
            let mut run = Vec::new();
            for h in std::mem::take(&mut handles) {
                let Some(claimed) = steps::claim(d, h) else {
                    continue;
                };
                let msg = match &claimed.msg {
                    MsgRef::Hot(m) => m.clone(),
                    MsgRef::Cold(c) => Arc::new(self.read_back(c.loc())?),
                };
                let msg_id = msg.id.to_string();
                let loaded = Delivery {
                    msg,
                    endpoint_id: claimed.endpoint_id.clone(),
                    attempt_no: claimed.attempt_no,
                };
                match steps::admit(d, h, loaded, endpoint.as_ref()) {
                    Ok(loaded) => run.push(loaded),
                    Err(outcome) => {
                        self.note(&format!(
                            "settled {msg_id} {} {outcome:?} without an attempt",
                            claimed.endpoint_id
                        ));
                        self.ended(&msg_id, &claimed.endpoint_id, outcome, 0);
                    }
                }
            }
            let Some(endpoint) = endpoint else {
                continue;
            };
            // The run's requests go out together; the clock moves on by the
            // slowest answer (a timeout takes the whole request timeout).
            // On one connection, a request without a usable answer takes the
            // ones behind it down with it, as the exchange's are.
            let at_ms = self.now_ms;
            steps::sending(d, &run);
            let mut answers: Vec<Answer> = Vec::with_capacity(run.len());
            for (_, p) in &run {
                self.oracle.attempt(&p.msg.id.to_string(), &p.endpoint_id)?;
                let broken = answers.iter().find_map(|a| a.result.as_ref().err());
                let answer = match broken {
                    Some(e) => Answer {
                        result: Err(AttemptError::NotAnswered(Box::new(e.clone()))),
                        duration_us: 0,
                    },
                    None => self.answer(&p.endpoint_id),
                };
                answers.push(answer);
            }
            steps::answered(d, &endpoint.id, &answers);
            let slowest_us = answers.iter().map(|a| a.duration_us).max().unwrap_or(0);
            self.advance_to(at_ms + u64::from(slowest_us) / 1000);
            // The run's attempt records in one journal write, as the
            // engine's settling writes them (`delivery::settling`, which
            // also joins other workers' runs: batches of one here).
            let commit = self.cores[shard].commit.clone();
            let mut noticed = Vec::new();
            commit.held(|| -> Result<(), Violation> {
                for ((h, p), answer) in run.into_iter().zip(answers) {
                    let msg_id = p.msg.id.to_string();
                    let rng = &mut self.rng;
                    let (done, notice) =
                        steps::judge(d, &p, at_ms, answer, endpoint.updated_ms, || rng.gen());
                    let (outcome, status, attempt_no) =
                        (done.outcome, done.status_code, done.attempt_no);
                    self.note(&format!(
                        "attempt {msg_id} {} {status} {outcome:?}",
                        p.endpoint_id
                    ));
                    if outcome == Outcome::Failed && status != 410 {
                        let left = self.config.retry_schedule.len() as u32;
                        if attempt_no + 1 < left {
                            return Err(format!(
                                "{msg_id} to {} failed after {attempt_no} retries of {left}",
                                p.endpoint_id
                            ));
                        }
                    }
                    match notice {
                        None => {
                            steps::record(d, h, &p.msg, &p.endpoint_id, done);
                            if outcome.is_final() {
                                self.ended(&msg_id, &p.endpoint_id, outcome, status);
                            }
                        }
                        // Settled after the hold, once its notice is durable.
                        Some(notice) => noticed.push((h, p, done, notice)),
                    }
                }
                Ok(())
            })?;
            // An attempt with an operational notice: the notice's message is
            // accepted into the operational application and made durable
            // before the attempt's record, as `worker::finish` does (a crash
            // between them repeats both, the notice under the repeated
            // attempt's new id).
            for (h, p, done, notice) in noticed {
                let catalog = self.shared.catalog.load_full();
                if let Some(message) = notice.message(&catalog) {
                    drop(catalog);
                    self.note(&format!("notice {}", message.event_type));
                    if !self.accept_events(crate::operational::APP_ID, vec![message])? {
                        return Ok(Played::SyncFailed);
                    }
                }
                let msg_id = p.msg.id.to_string();
                let (outcome, status) = (done.outcome, done.status_code);
                steps::record(d, h, &p.msg, &p.endpoint_id, done);
                if outcome.is_final() {
                    self.ended(&msg_id, &p.endpoint_id, outcome, status);
                }
            }
            // A FIFO endpoint's next message goes once this one's outcome is
            // durable, as `worker::run` waits for it.
            if endpoint.fifo && !commit.is_durable(commit.written_lsn()) && !self.sync(shard)? {
                return Ok(Played::SyncFailed);
            }
            // Endpoints wait for connections: after a turn (on the
            // simulated clock), the room goes on, as `worker::run` hands it.
            let ran = std::time::Duration::from_millis(self.now_ms - turn_from);
            if steps::turn_over(d, ran) {
                self.note(&format!("turn over {endpoint_id}"));
                handed_on = true;
                break;
            }
        }
        for (next, conn) in steps::end_worker(d, &endpoint_id, conn, handed_on) {
            d.start_worker(next, conn, true);
        }
        Ok(Played::Ended)
    }

    /// Shard 0 disables the endpoints the workers asked it to (410 Gone,
    /// or failing for `auto_disable_after_ms`), as `Shard::disable_endpoint`
    /// does: an endpoint deleted or disabled meanwhile stays as it is.
    fn carry_disable_requests(&mut self) -> Result<(), Violation> {
        let requests: Vec<_> = self
            .cores
            .iter()
            .flat_map(|c| c.deliveries.take_disable_requests())
            .collect();
        for req in requests {
            let live = self.shared.catalog.load();
            let enabled = live
                .endpoint_by_id(&req.endpoint_id)
                .is_some_and(|e| !e.disabled);
            drop(live);
            if enabled {
                self.note(&format!("auto-disable {}: {}", req.endpoint_id, req.reason));
                self.set_disabled(&req.endpoint_id, true)?;
            }
        }
        Ok(())
    }

    /// A cold retry's message, read back from its record (a blocking read
    /// where the worker reads through io_uring): it must be the message the
    /// accept path journaled at that position.
    fn read_back(&mut self, loc: Loc) -> Result<Message, Violation> {
        let rec = crate::reads::record::read_record_at(&self.config, loc, Kind::Message)
            .map_err(|e| format!("cold read at {loc:?}: {e}"))?;
        let m = records::decode_message(&rec.body).map_err(|e| e.to_string())?;
        let key = (loc.journal, loc.pos.segment_seq, loc.pos.offset);
        match self.ids_at.get(&key) {
            Some(id) if *id == m.id => Ok(Message::from_record(m, loc).0),
            other => Err(format!(
                "the record at {loc:?} holds {}, the accept path wrote {other:?} there",
                m.id
            )),
        }
    }

    /// What the endpoint's receiver answers, after a random latency (up to
    /// `LATENCY_MS_MAX`): a status (with `Retry-After` on some), or no
    /// usable response (a timeout, after the whole request timeout; a
    /// reset; a response cut off half-way).
    fn answer(&mut self, endpoint: &str) -> Answer {
        let r = self
            .receivers
            .get(endpoint)
            .copied()
            .unwrap_or(Receiver { ok: 50, gone: 0 });
        let roll = self.rng.gen_range(0..100);
        let latency_us = self.rng.gen_range(0..=LATENCY_MS_MAX) as u32 * 1000;
        let status = |status: u16, retry_after_secs: Option<u64>| Answer {
            result: Ok(Response {
                status,
                keep_alive: true,
                retry_after_secs,
                body_prefix: Vec::new(),
                body_len: 0,
            }),
            duration_us: latency_us,
        };
        let error = |e: AttemptError| Answer {
            result: Err(e),
            duration_us: latency_us,
        };
        let timeout_ms = self.config.request_timeout_ms;
        let timeout = Answer {
            result: Err(AttemptError::Timeout { ms: timeout_ms }),
            duration_us: u32::try_from(timeout_ms * 1000).unwrap_or(u32::MAX),
        };
        if roll < r.ok {
            return status([200, 201, 204][self.rng.gen_range(0..3)], None);
        }
        if roll < r.ok + r.gone {
            return status(410, None);
        }
        match self.rng.gen_range(0..7) {
            0 => timeout,
            1 => error(AttemptError::Closed("reset by peer".into())),
            2 => error(AttemptError::Malformed(
                "a response cut off half-way".into(),
            )),
            3 => status(500, None),
            4 => status(429, Some(self.rng.gen_range(1..5))),
            5 => status(503, Some(self.rng.gen_range(1..60))),
            _ => status(404, None),
        }
    }
}
