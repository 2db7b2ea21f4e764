//! The decisions of delivery, as pure functions tested by tables: how many
//! workers an endpoint wants, how long a worker's run is, how a run's answers
//! update the endpoint's speed, and what an attempt's answer means for the
//! delivery (done, retry when, failed; disable the endpoint?).
//!
//! No I/O, no clock and no randomness of their own: the caller passes the
//! time and the jitter, so the simulator and the tables drive them exactly.

use super::exchange::Answer;
use super::EndpointQueue;
use crate::limits::RETRY_AFTER_MS_MAX;
use crate::records::Outcome;

/// Time per request under which a receiver counts as fast (see `run_length`).
pub const FAST_RECEIVER_US: u32 = 5_000;

/// How many workers an endpoint wants for its ready queue (before the
/// `max_in_flight_per_endpoint` cap). A receiver whose speed is not known yet
/// gets one connection until its first answer (a slow start: ten thousand
/// new endpoints must not open a hundred thousand connections at once). A
/// fast one gets as few connections as take the queue in full runs (fewer
/// writes and wake-ups); a slow one as many as allowed, for parallelism.
pub fn workers_wanted(q: &EndpointQueue, pipeline_depth: usize) -> usize {
    // A FIFO endpoint has one delivery under way at a time.
    if q.fifo.is_some() {
        return 1;
    }
    match (q.per_request_us, is_fast(q)) {
        (0, _) => 1,
        (_, true) => q.ready.len().div_ceil(pipeline_depth),
        (_, false) => usize::MAX,
    }
}

/// How many queued deliveries a worker takes for its next run. A receiver
/// that answers within `FAST_RECEIVER_US` a request gets full runs of up to
/// `pipeline_depth` (fewer writes and wake-ups), over as few connections as
/// that needs (see `workers_wanted`). Otherwise, and until its speed is
/// known, the queue is first shared among the endpoint's possible workers (a
/// slow receiver that serves connections in parallel keeps its parallelism),
/// and only a longer backlog is pipelined. A throttled endpoint takes one
/// token per request, so it goes one at a time.
pub fn run_length(
    q: &EndpointQueue,
    pipeline_depth: usize,
    max_in_flight: usize,
    throttled: bool,
) -> usize {
    let depth = match throttled || q.no_pipelining {
        true => 1,
        false => pipeline_depth,
    };
    let share = match is_fast(q) {
        true => depth,
        false => q.ready.len().div_ceil(max_in_flight),
    };
    share.clamp(1, depth).min(q.ready.len())
}

/// Whether the endpoint answers pipelined runs quickly (see `run_length`).
pub fn is_fast(q: &EndpointQueue) -> bool {
    !q.no_pipelining && q.per_request_us > 0 && q.per_request_us < FAST_RECEIVER_US
}

/// Folds a run's answers into the endpoint's time per request: the spacing
/// of its answers when there are several (the receiver's own time per
/// request, without the round trip or this shard's delay in reading them),
/// the whole exchange for a single one.
pub fn note_speed(q: &mut EndpointQueue, answers: &[Answer]) {
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

/// ±`percent` jitter around `delay_ms`: the delay for a uniform `unit` in
/// [0, 1] (0 gives the shortest, 1 the longest).
pub fn jitter(delay_ms: u64, percent: u64, unit: f64) -> u64 {
    if delay_ms == 0 || percent == 0 {
        return delay_ms;
    }
    let span = delay_ms * percent.min(100) / 100;
    let low = delay_ms - span;
    let offset = ((2 * span) as f64 * unit.clamp(0.0, 1.0)).round() as u64;
    low + offset.min(2 * span)
}

/// What an attempt's answer means for its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// When the next attempt is due (0 unless `outcome` is `Retrying`).
    pub next_attempt_ms: u64,
}

/// The facts an attempt ended with.
#[derive(Debug, Clone, Copy)]
pub struct AttemptFacts<'a> {
    /// HTTP status, 0 when no response arrived.
    pub status: u16,
    /// The attempt's number (0 for the first).
    pub attempt_no: u32,
    /// The retry schedule: the delay before attempt `i` is `schedule[i]`.
    pub schedule_ms: &'a [u64],
    pub jitter_percent: u64,
    /// Uniform in [0, 1]: where in the jitter range the delay falls.
    pub jitter_unit: f64,
    /// The receiver's `Retry-After`, in seconds, if it sent one.
    pub retry_after_secs: Option<u64>,
    pub now_ms: u64,
}

/// The retry decision: any 2xx succeeds; 410 Gone fails at once (the
/// endpoint is gone for good); anything else retries after the schedule's
/// next delay (jittered, and at least the receiver's `Retry-After`, up to
/// `RETRY_AFTER_MS_MAX`), or fails once the schedule is exhausted.
pub fn verdict(f: &AttemptFacts<'_>) -> Verdict {
    if (200..300).contains(&f.status) {
        return Verdict {
            outcome: Outcome::Succeeded,
            next_attempt_ms: 0,
        };
    }
    let next_delay = match f.status {
        410 => None,
        _ => f.schedule_ms.get(f.attempt_no as usize + 1),
    };
    match next_delay {
        Some(&delay) => {
            let mut delay = jitter(delay, f.jitter_percent, f.jitter_unit);
            if let Some(secs) = f.retry_after_secs {
                delay = delay.max(secs.saturating_mul(1000).min(RETRY_AFTER_MS_MAX));
            }
            Verdict {
                outcome: Outcome::Retrying,
                next_attempt_ms: f.now_ms + delay,
            }
        }
        None => Verdict {
            outcome: Outcome::Failed,
            next_attempt_ms: 0,
        },
    }
}

/// Whether an endpoint should be disabled after an answer, given when its
/// current failure streak started (`streak_since_ms`, the attempt's own time
/// for a new streak) and `auto_disable_after_ms` (0: never for failing).
pub fn should_disable(
    status: u16,
    streak_since_ms: u64,
    now_ms: u64,
    auto_disable_after_ms: u64,
) -> Option<super::DisableReason> {
    if (200..300).contains(&status) {
        return None;
    }
    if status == 410 {
        return Some(super::DisableReason::Gone);
    }
    let failing = now_ms.saturating_sub(streak_since_ms);
    (auto_disable_after_ms > 0 && failing >= auto_disable_after_ms)
        .then_some(super::DisableReason::FailingFor { ms: failing })
}

#[cfg(test)]
mod tests {
    use super::super::DisableReason;
    use super::*;

    const SCHEDULE: &[u64] = &[0, 5_000, 300_000];

    fn facts(status: u16, attempt_no: u32, retry_after_secs: Option<u64>) -> AttemptFacts<'static> {
        AttemptFacts {
            status,
            attempt_no,
            schedule_ms: SCHEDULE,
            jitter_percent: 0,
            jitter_unit: 0.5,
            retry_after_secs,
            now_ms: 1_000,
        }
    }

    #[test]
    fn verdict_table() {
        use Outcome::*;
        // (status, attempt, Retry-After s) -> (outcome, next attempt at)
        let rows: &[(u16, u32, Option<u64>, Outcome, u64)] = &[
            (200, 0, None, Succeeded, 0),
            (204, 2, None, Succeeded, 0),
            (299, 0, Some(60), Succeeded, 0),
            (500, 0, None, Retrying, 6_000),
            (0, 0, None, Retrying, 6_000),
            (429, 1, None, Retrying, 301_000),
            (301, 0, None, Retrying, 6_000),
            (500, 2, None, Failed, 0),
            (410, 0, None, Failed, 0),
            (503, 0, Some(60), Retrying, 61_000),
            (503, 0, Some(2), Retrying, 6_000),
            (503, 0, Some(u64::MAX), Retrying, 1_000 + RETRY_AFTER_MS_MAX),
        ];
        for (i, &(status, no, ra, outcome, next)) in rows.iter().enumerate() {
            let v = verdict(&facts(status, no, ra));
            assert_eq!((v.outcome, v.next_attempt_ms), (outcome, next), "row {i}");
        }
    }

    #[test]
    fn jitter_table() {
        // (delay, percent, unit) -> delay
        let rows: &[(u64, u64, f64, u64)] = &[
            (1_000, 20, 0.0, 800),
            (1_000, 20, 1.0, 1_200),
            (1_000, 20, 0.5, 1_000),
            (1_000, 0, 1.0, 1_000),
            (0, 20, 1.0, 0),
            (1_000, 500, 1.0, 2_000),
            (1_000, 20, 7.0, 1_200),
        ];
        for (i, &(delay, pct, unit, want)) in rows.iter().enumerate() {
            assert_eq!(jitter(delay, pct, unit), want, "row {i}");
        }
    }

    #[test]
    fn disable_table() {
        let day = 86_400_000;
        // (status, streak since, now, after) -> reason
        let rows: &[(u16, u64, u64, u64, Option<DisableReason>)] = &[
            (200, 0, 10 * day, day, None),
            (410, 5, 5, 0, Some(DisableReason::Gone)),
            (500, 0, day - 1, day, None),
            (
                500,
                0,
                day,
                day,
                Some(DisableReason::FailingFor { ms: day }),
            ),
            (500, 0, 10 * day, 0, None),
            (0, 10, 10, 1, None),
        ];
        for (i, (status, since, now, after, want)) in rows.iter().enumerate() {
            assert_eq!(
                &should_disable(*status, *since, *now, *after),
                want,
                "row {i}"
            );
        }
    }

    fn queue(ready: usize, per_request_us: u32, no_pipelining: bool) -> EndpointQueue {
        EndpointQueue {
            ready: (0..ready).collect(),
            per_request_us,
            no_pipelining,
            ..EndpointQueue::default()
        }
    }

    #[test]
    fn workers_and_run_length_table() {
        // (ready, µs per request, no pipelining, throttled) -> (workers wanted, run)
        // with pipeline depth 16 and 16 workers at most.
        let rows: &[(usize, u32, bool, bool, usize, usize)] = &[
            (100, 0, false, false, 1, 7),    // unknown speed: slow start, shared run
            (100, 100, false, false, 7, 16), // fast: full runs over few connections
            (100, 50_000, false, false, usize::MAX, 7), // slow: parallel, shared queue
            (100, 100, true, false, usize::MAX, 1), // lost a pipelined request: one at a time
            (100, 100, false, true, 7, 1),   // throttled: one token per request
            (3, 100, false, false, 1, 3),
            (1, 50_000, false, false, usize::MAX, 1),
            (400, 50_000, false, false, usize::MAX, 16),
        ];
        for (i, &(ready, us, nop, throttled, wanted, run)) in rows.iter().enumerate() {
            let q = queue(ready, us, nop);
            assert_eq!(workers_wanted(&q, 16), wanted, "row {i}: workers");
            assert_eq!(run_length(&q, 16, 16, throttled), run, "row {i}: run");
        }
    }
}
