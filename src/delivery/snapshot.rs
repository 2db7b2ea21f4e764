//! What a shard's deliveries tell `GET /metrics` and the dashboard: the
//! gauges of a snapshot (pending, queued, in flight, connections, FIFO
//! lines, the longest backlogs) and the per-application counts.

use super::Deliveries;
use std::sync::Arc;

/// The `LONGEST_QUEUES_MAX` longest non-empty backlogs, longest first
/// (ties by id, so the answer does not depend on map order).
fn longest<'a>(queues: impl Iterator<Item = (&'a Arc<str>, u64)>) -> Vec<(Arc<str>, u64)> {
    let max = crate::limits::LONGEST_QUEUES_MAX;
    let mut top: Vec<(Arc<str>, u64)> = Vec::with_capacity(max + 1);
    for (id, depth) in queues.filter(|(_, d)| *d > 0) {
        if top.len() == max && top.last().is_some_and(|(_, d)| *d >= depth) {
            continue;
        }
        top.push((id.clone(), depth));
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(max);
    }
    top
}

impl Deliveries {
    /// Counts something for an application.
    pub(super) fn count_app(&self, app: &Arc<str>, f: impl FnOnce(&mut crate::metrics::AppCounts)) {
        let mut counts = self.app_counts.borrow_mut();
        match counts.get_mut(app) {
            Some(c) => f(c),
            None => f(counts.entry(app.clone()).or_default()),
        }
    }

    /// A copy of the per-application counts when `APP_PUBLISH_INTERVAL`
    /// has passed since the last one.
    pub fn app_counts_due(&self, now_ms: u64) -> Option<crate::metrics::AppCountsMap> {
        let every = crate::metrics::APP_PUBLISH_INTERVAL.as_millis() as u64;
        if now_ms < self.app_counts_published_ms.get().saturating_add(every) {
            return None;
        }
        self.app_counts_published_ms.set(now_ms);
        Some(self.app_counts.borrow().clone())
    }

    /// The gauges of `GET /metrics` this room knows.
    pub fn fill_snapshot(&self, s: &mut crate::metrics::Snapshot) {
        let queues = self.queues.borrow();
        s.pending_deliveries = self.slots.borrow().len() as u64;
        s.retries_pending = self.wheel.borrow().len() as u64;
        s.ready_queued = queues.values().map(|q| q.ready.len() as u64).sum();
        s.hot_ready_bytes = self.hot_ready_bytes.get();
        s.deepest_queue = queues
            .values()
            .map(|q| q.ready.len() as u64)
            .max()
            .unwrap_or(0);
        s.in_flight = queues.values().map(|q| q.in_flight as u64).sum();
        s.longest_queues = longest(
            queues
                .iter()
                .map(|(id, q)| (id, (q.ready.len() + q.in_flight) as u64)),
        );
        s.endpoints = queues.len() as u64;
        s.connections = self.conns.borrow().used() as u64;
        s.connection_waiters = self.conns.borrow().waiting() as u64;
        let lines = queues.values().filter_map(|q| q.fifo.as_ref());
        s.fifo_held = lines.clone().map(|l| l.held() as u64).sum();
        let now = crate::time::now_ms();
        s.fifo_blocked_s_max = lines
            .filter_map(|l| l.blocked_since_ms())
            .map(|since| now.saturating_sub(since) / 1000)
            .max()
            .unwrap_or(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_backlogs_are_the_deepest_five_longest_first() {
        let ids: Vec<Arc<str>> = (0..8)
            .map(|i| Arc::from(format!("ep_{i}").as_str()))
            .collect();
        let depths = [3, 0, 9, 1, 9, 7, 2, 5];
        let top = longest(ids.iter().zip(depths));
        let got: Vec<(&str, u64)> = top.iter().map(|(id, d)| (&**id, *d)).collect();
        assert_eq!(
            got,
            [
                ("ep_2", 9),
                ("ep_4", 9),
                ("ep_5", 7),
                ("ep_7", 5),
                ("ep_0", 3)
            ]
        );
        assert!(
            longest(ids.iter().zip([0; 8])).is_empty(),
            "empty queues are not backlogs"
        );
    }
}
