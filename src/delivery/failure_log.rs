//! One log event per failed attempt, but at most one per endpoint every
//! `EVERY_MS`: a dead endpoint with a deep backlog cannot flood the log.
//! Attempts held back are counted and reported with the next event.
//!
//! # Invariants
//! - at most `ENDPOINTS_MAX` endpoints are tracked; past it, those whose
//!   window has passed are forgotten (they would log at once anyway).

use std::collections::HashMap;
use std::sync::Arc;

/// The shortest time between two failure events of one endpoint.
pub const EVERY_MS: u64 = 10_000;
/// Endpoints tracked at once per shard.
pub const ENDPOINTS_MAX: usize = 10_000;

/// Per endpoint: when its last event was logged, and how many were held
/// back since.
#[derive(Debug, Default)]
pub struct FailureLog {
    last: HashMap<Arc<str>, (u64, u64)>,
}

/// The decision for one failure: `Some(held back before it)` to log now.
pub fn decide(prev: Option<(u64, u64)>, now_ms: u64) -> (Option<u64>, (u64, u64)) {
    match prev {
        Some((at, held)) if now_ms < at.saturating_add(EVERY_MS) => (None, (at, held + 1)),
        Some((_, held)) => (Some(held), (now_ms, 0)),
        None => (Some(0), (now_ms, 0)),
    }
}

impl FailureLog {
    /// Whether a failure of `endpoint` at `now_ms` is logged, and how many
    /// were held back before it.
    pub fn note(&mut self, endpoint: &Arc<str>, now_ms: u64) -> Option<u64> {
        if self.last.len() >= ENDPOINTS_MAX && !self.last.contains_key(endpoint) {
            self.last
                .retain(|_, (at, _)| now_ms < at.saturating_add(EVERY_MS));
        }
        let (verdict, state) = decide(self.last.get(endpoint).copied(), now_ms);
        self.last.insert(endpoint.clone(), state);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decide_table() {
        // (previous, now) → (log with held back, new state)
        let rows = [
            ((None, 5), (Some(0), (5, 0))),
            ((Some((5, 0)), 6), (None, (5, 1))),
            ((Some((5, 1)), 5 + EVERY_MS - 1), (None, (5, 2))),
            ((Some((5, 2)), 5 + EVERY_MS), (Some(2), (5 + EVERY_MS, 0))),
        ];
        for (i, ((prev, now), want)) in rows.into_iter().enumerate() {
            assert_eq!(decide(prev, now), want, "row {i}");
        }
    }

    #[test]
    fn stays_bounded() {
        let mut log = FailureLog::default();
        for i in 0..ENDPOINTS_MAX + 5 {
            let id: Arc<str> = Arc::from(format!("ep_{i}").as_str());
            log.note(&id, i as u64 * EVERY_MS);
        }
        assert!(log.last.len() <= ENDPOINTS_MAX);
    }
}
