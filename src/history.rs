//! The last hour of the engine's metrics, for the console's dashboard: a
//! ring of samples taken every `dashboard_sample_ms` from the shards'
//! published snapshots (`metrics::Published`), each the change since the
//! sample before (deliveries, failed attempts, errors by kind, end-to-end
//! latency percentiles over the interval) and the state at the time
//! (pending deliveries, the deepest endpoint queue).
//!
//! # Invariants
//! - at most `SAMPLES_MAX` samples, oldest dropped first, in time order;
//! - a sample's counts are differences of monotonic totals (never negative:
//!   a total that went down, which cannot happen, counts as zero).

use crate::metrics::{latency_histogram, Snapshot};
use crate::records::ATTEMPT_ERROR_KINDS;
use hdrhistogram::Histogram;
use std::collections::VecDeque;

/// An hour of samples at the finest interval the configuration allows.
pub const SAMPLES_MAX: usize = 3_600;

/// One interval of the engine's life.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    pub at_ms: u64,
    pub interval_ms: u64,
    pub messages: u64,
    pub delivered: u64,
    pub failed_attempts: u64,
    /// Attempts without a usable response, by `records::ATTEMPT_ERROR_KINDS`.
    pub errors: Vec<u64>,
    pub e2e_p50_us: u64,
    pub e2e_p99_us: u64,
    pub pending: u64,
    pub deepest_queue: u64,
    /// The longest endpoint backlogs at the time, over every shard, longest
    /// first: `[endpoint id, deliveries queued or in flight]`.
    pub longest_queues: Vec<(String, u64)>,
}

/// Totals read from the snapshots, to take differences of.
#[derive(Clone)]
struct Totals {
    at_ms: u64,
    messages: u64,
    delivered: u64,
    failed_attempts: u64,
    errors: [u64; ATTEMPT_ERROR_KINDS.len()],
    e2e: Histogram<u64>,
}

impl Totals {
    fn of(snaps: &[std::sync::Arc<Snapshot>], at_ms: u64) -> Totals {
        let mut t = Totals {
            at_ms,
            messages: 0,
            delivered: 0,
            failed_attempts: 0,
            errors: [0; ATTEMPT_ERROR_KINDS.len()],
            e2e: latency_histogram(),
        };
        for s in snaps {
            t.messages += s.stats.messages_ingested;
            t.delivered += s.stats.deliveries_succeeded;
            t.failed_attempts += s.stats.attempts_failed;
            for (a, b) in t.errors.iter_mut().zip(s.stats.attempt_errors) {
                *a += b;
            }
            let _ = t.e2e.add(&s.stats.e2e_us);
        }
        t
    }
}

/// The ring of samples and the totals of the last one.
pub struct History {
    samples: VecDeque<Sample>,
    last: Option<Totals>,
    max: usize,
}

impl History {
    /// A history keeping `max` samples (at most `SAMPLES_MAX`).
    pub fn new(max: usize) -> History {
        History {
            samples: VecDeque::new(),
            last: None,
            max: max.clamp(1, SAMPLES_MAX),
        }
    }

    /// Takes a sample from the shards' snapshots at `now_ms`.
    pub fn sample(&mut self, snaps: &[std::sync::Arc<Snapshot>], now_ms: u64) {
        let now = Totals::of(snaps, now_ms);
        let pending = snaps.iter().map(|s| s.pending_deliveries).sum();
        let deepest_queue = snaps.iter().map(|s| s.deepest_queue).max().unwrap_or(0);
        let mut longest_queues: Vec<(String, u64)> = snaps
            .iter()
            .flat_map(|s| s.longest_queues.iter().map(|(id, d)| (id.to_string(), *d)))
            .collect();
        longest_queues.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        longest_queues.truncate(crate::limits::LONGEST_QUEUES_MAX);
        if let Some(before) = &self.last {
            let mut e2e = now.e2e.clone();
            // Subtracting an earlier state of the same monotonic histogram
            // cannot fail; if it ever did, the interval shows no latency.
            if e2e.subtract(&before.e2e).is_err() {
                e2e.reset();
            }
            let pct = |q: f64| {
                if e2e.is_empty() {
                    0
                } else {
                    e2e.value_at_quantile(q)
                }
            };
            self.samples.push_back(Sample {
                at_ms: now_ms,
                interval_ms: now_ms.saturating_sub(before.at_ms),
                messages: now.messages.saturating_sub(before.messages),
                delivered: now.delivered.saturating_sub(before.delivered),
                failed_attempts: now.failed_attempts.saturating_sub(before.failed_attempts),
                errors: now
                    .errors
                    .iter()
                    .zip(before.errors)
                    .map(|(a, b)| a.saturating_sub(b))
                    .collect(),
                e2e_p50_us: pct(0.5),
                e2e_p99_us: pct(0.99),
                pending,
                deepest_queue,
                longest_queues,
            });
            while self.samples.len() > self.max {
                self.samples.pop_front();
            }
        }
        self.last = Some(now);
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn snap(delivered: u64, failed: u64, e2e: &[u64], pending: u64) -> Arc<Snapshot> {
        let mut s = Snapshot::default();
        s.stats.deliveries_succeeded = delivered;
        s.stats.attempts_failed = failed;
        s.stats.attempt_errors[0] = failed;
        for us in e2e {
            crate::metrics::record_us(&mut s.stats.e2e_us, *us);
        }
        s.pending_deliveries = pending;
        Arc::new(s)
    }

    #[test]
    fn samples_are_differences_over_their_interval() {
        let mut h = History::new(2);
        h.sample(&[snap(10, 1, &[100], 5)], 1_000);
        assert_eq!(
            h.samples().count(),
            0,
            "the first look only sets the baseline"
        );
        h.sample(
            &[snap(30, 1, &[100, 5_000, 5_000], 2), snap(5, 0, &[], 1)],
            2_000,
        );
        let s = h.samples().last().cloned().expect("a sample");
        assert_eq!(
            (s.delivered, s.failed_attempts, s.pending, s.interval_ms),
            (25, 0, 3, 1_000)
        );
        // Only this interval's latencies: two of 5 ms.
        assert!((4_900..=5_100).contains(&s.e2e_p50_us), "{}", s.e2e_p50_us);
        h.sample(
            &[snap(30, 4, &[100, 5_000, 5_000], 0), snap(5, 0, &[], 0)],
            3_000,
        );
        h.sample(
            &[snap(31, 4, &[100, 5_000, 5_000], 0), snap(5, 0, &[], 0)],
            4_000,
        );
        let all: Vec<&Sample> = h.samples().collect();
        assert_eq!(all.len(), 2, "bounded");
        assert_eq!(
            (all[0].failed_attempts, all[0].errors[0], all[0].e2e_p99_us),
            (3, 3, 0)
        );
        assert_eq!(all[1].delivered, 1);
    }
}
