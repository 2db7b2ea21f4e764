//! The workers, played: each worker start a shard's deliveries made
//! (`Deliveries::next_played`) runs the worker's own steps
//! (`delivery::steps`: take a run, claim, admit, judge, record, end) as
//! `delivery::worker::run` does, in rounds whose answered runs settle
//! together as `delivery::settling` gathers them, with a simulated
//! receiver answering each request after a random latency instead of an
//! exchange on a socket, and a cold retry's message read back with a
//! blocking read instead of io_uring. Shard 0's handling of disable
//! requests follows (`Shard::disable_endpoint`).

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

/// A played worker between two of its runs.
struct Worker {
    shard: usize,
    endpoint_id: Arc<str>,
    /// When its turn began (`steps::turn_over`).
    turn_from: u64,
}

/// A worker's run, answered, to be settled with the other runs of its
/// round.
struct Answered {
    worker: Worker,
    endpoint: Arc<records::EndpointRecord>,
    run: Vec<steps::Loaded>,
    answers: Vec<Answer>,
}

/// What a worker's next run came to.
enum Took {
    /// It ended (its endpoint has nothing ready) or waits for a token.
    Stopped,
    Answered(Answered),
}

/// The slowest a receiver answers (simulated ms), timeouts aside.
const LATENCY_MS_MAX: u64 = 40;

impl World {
    /// Plays the started workers of every shard in rounds, as a shard's
    /// executor interleaves them: in a round each worker takes a run and
    /// gets its answers (the clock moves on by the round's slowest), then
    /// every shard settles all of its round's runs together, their attempt
    /// records in one journal write (`delivery::settling`); a worker whose
    /// turn is not over goes on in the next round, with the workers started
    /// meanwhile and the throttled ones whose wait is over. Then the
    /// disable requests the workers made go to shard 0.
    pub(super) fn play_workers(&mut self) -> Result<(), Violation> {
        loop {
            let mut active = self.joining();
            let played = !active.is_empty();
            while !active.is_empty() {
                let at_ms = self.now_ms;
                let mut answered = Vec::new();
                for worker in active {
                    let d = self.cores[worker.shard].deliveries.clone();
                    if let Took::Answered(a) = self.take_run(&d, worker)? {
                        answered.push(a);
                    }
                }
                let slowest_us = answered
                    .iter()
                    .flat_map(|a| a.answers.iter().map(|x| x.duration_us))
                    .max()
                    .unwrap_or(0);
                let until = at_ms + u64::from(slowest_us) / 1000;
                // The runtime's compaction ticks go on while attempts wait
                // for their answers: each shard publishes its oldest pending
                // time as it is meanwhile (the round's deliveries still
                // pending), so a pass after a long wait does not use values
                // from before it.
                if until.saturating_sub(self.last_compaction_ms)
                    > self.config.compaction_interval_ms
                {
                    self.publish_oldest_pending();
                }
                self.advance_to(until);
                // `None`: a group commit a worker waited for failed, and the
                // engine aborts (nothing of the old cores is held here).
                let Some(going_on) = self.settle_round(answered, at_ms)? else {
                    return self.crash();
                };
                active = going_on;
                active.extend(self.joining());
            }
            self.carry_disable_requests()?;
            if !played {
                return Ok(());
            }
        }
    }

    /// The workers that join the next round: throttled ones whose wait is
    /// over (in the order they began to wait), then those started since,
    /// shard by shard in the order they were started.
    fn joining(&mut self) -> Vec<Worker> {
        let now = self.now_ms;
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.throttled)
            .into_iter()
            .partition(|t| t.due_ms <= now);
        self.throttled = later;
        let mut joining: Vec<Worker> = due
            .into_iter()
            .map(|t| Worker {
                shard: t.shard,
                endpoint_id: t.endpoint_id,
                turn_from: t.turn_from,
            })
            .collect();
        for (shard, core) in self.cores.iter().enumerate() {
            while let Some(endpoint_id) = core.deliveries.next_played() {
                joining.push(Worker {
                    shard,
                    endpoint_id,
                    turn_from: now,
                });
            }
        }
        joining
    }

    /// The worker's next run with its answers, or its end (`end_worker`,
    /// whose starts join the next round) or its wait for a token.
    fn take_run(&mut self, d: &Rc<Deliveries>, worker: Worker) -> Result<Took, Violation> {
        // The simulator pools no connections.
        let mut conn = None;
        let mut handles = Vec::new();
        let endpoint_id = worker.endpoint_id.clone();
        loop {
            let (next, endpoint) = steps::next_run(d, &endpoint_id, &mut conn, &mut handles);
            match next {
                Next::Run => {}
                Next::End => {
                    for (next, conn) in steps::end_worker(d, &endpoint_id, conn, false) {
                        d.start_worker(next, conn, true);
                    }
                    return Ok(Took::Stopped);
                }
                Next::Wait(ms) => {
                    if endpoint.as_ref().and_then(|e| e.rate_limit).is_none() {
                        return Err(format!("{endpoint_id} waits {ms} ms but has no rate"));
                    }
                    self.note(&format!("throttled {endpoint_id} {ms} ms"));
                    self.throttled.push(super::Throttled {
                        due_ms: self.now_ms + ms.max(1),
                        shard: worker.shard,
                        endpoint_id,
                        turn_from: worker.turn_from,
                    });
                    return Ok(Took::Stopped);
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
            // Nothing left to attempt (every delivery settled without one):
            // the next run, as `worker::run` skips an empty batch.
            let Some(endpoint) = endpoint.filter(|_| !run.is_empty()) else {
                continue;
            };
            // The run's requests go out together. On one connection, a
            // request without a usable answer takes the ones behind it down
            // with it, as the exchange's are.
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
            return Ok(Took::Answered(Answered {
                worker,
                endpoint,
                run,
                answers,
            }));
        }
    }

    /// Settles a round's answered runs: each shard's in one hold, in round
    /// order (`delivery::settling`); then the attempts with an operational
    /// notice, each once its notice is durable (`worker::finish`); then each
    /// FIFO endpoint's outcome made durable before its next message
    /// (`worker::run`). Returns the workers that go on (a worker whose turn
    /// is over hands its room on and ends), or `None` when a group commit
    /// failed: the engine aborts.
    fn settle_round(
        &mut self,
        mut answered: Vec<Answered>,
        at_ms: u64,
    ) -> Result<Option<Vec<Worker>>, Violation> {
        let mut noticed = Vec::new();
        for shard in 0..self.cores.len() {
            let mine: Vec<usize> = (0..answered.len())
                .filter(|&i| answered[i].worker.shard == shard)
                .collect();
            if mine.is_empty() {
                continue;
            }
            if mine.len() > 1 {
                self.note(&format!("settle {} runs together on {shard}", mine.len()));
            }
            let d = self.cores[shard].deliveries.clone();
            let commit = self.cores[shard].commit.clone();
            commit.held(|| -> Result<(), Violation> {
                for i in mine {
                    let a = &mut answered[i];
                    let changed_ms = a.endpoint.updated_ms;
                    let runs = std::mem::take(&mut a.run).into_iter();
                    for ((h, p), answer) in runs.zip(std::mem::take(&mut a.answers)) {
                        let msg_id = p.msg.id.to_string();
                        let rng = &mut self.rng;
                        let (done, notice) =
                            steps::judge(&d, &p, at_ms, answer, changed_ms, || rng.gen());
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
                                steps::record(&d, h, &p.msg, &p.endpoint_id, done);
                                if outcome.is_final() {
                                    self.ended(&msg_id, &p.endpoint_id, outcome, status);
                                }
                            }
                            // Settled after the hold, once its notice is
                            // durable.
                            Some(notice) => noticed.push((shard, h, p, done, notice)),
                        }
                    }
                }
                Ok(())
            })?;
        }
        // An attempt with an operational notice: the notice's message is
        // accepted into the operational application and made durable before
        // the attempt's record (a crash between them repeats both, the
        // notice under the repeated attempt's new id).
        for (shard, h, p, done, notice) in noticed {
            let catalog = self.shared.catalog.load_full();
            if let Some(message) = notice.message(&catalog) {
                drop(catalog);
                self.note(&format!("notice {}", message.event_type));
                if !self.accept_events(crate::operational::APP_ID, vec![message])? {
                    return Ok(None);
                }
            }
            let msg_id = p.msg.id.to_string();
            let (outcome, status) = (done.outcome, done.status_code);
            let d = self.cores[shard].deliveries.clone();
            steps::record(&d, h, &p.msg, &p.endpoint_id, done);
            if outcome.is_final() {
                self.ended(&msg_id, &p.endpoint_id, outcome, status);
            }
        }
        let mut going_on = Vec::new();
        for a in answered {
            let shard = a.worker.shard;
            // A FIFO endpoint's next message goes once this one's outcome
            // is durable.
            let commit = self.cores[shard].commit.clone();
            if a.endpoint.fifo && !commit.is_durable(commit.written_lsn()) && !self.sync(shard)? {
                return Ok(None);
            }
            // Endpoints wait for connections: after a turn (on the
            // simulated clock), the room goes on, as `worker::run` hands it.
            let d = self.cores[shard].deliveries.clone();
            let ran = std::time::Duration::from_millis(self.now_ms - a.worker.turn_from);
            if steps::turn_over(&d, ran) {
                self.note(&format!("turn over {}", a.worker.endpoint_id));
                for (next, conn) in steps::end_worker(&d, &a.worker.endpoint_id, None, true) {
                    d.start_worker(next, conn, true);
                }
            } else {
                going_on.push(a.worker);
            }
        }
        Ok(Some(going_on))
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
