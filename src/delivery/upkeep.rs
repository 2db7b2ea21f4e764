//! The upkeep of a shard's deliveries that the runtime's timer loop and
//! compaction ask for: the once-a-second sweep (idle connections, queues
//! of endpoints with nothing left, the streaks and counts of deleted
//! endpoints and applications, cold-read files), the oldest pending
//! message (compaction's bound), and closing the cold-read files.

use super::{Deliveries, IDLE_CONNECTION_MS};

impl Deliveries {
    /// Closes connections idle for longer than `IDLE_CONNECTION_MS` and forgets
    /// endpoints with nothing queued, in flight or pooled, so neither descriptors
    /// nor queue entries (of deleted endpoints, say) pile up. Called about once a
    /// second from the shard's timer loop.
    pub fn sweep(&self, now_ms: u64) {
        let catalog = self.ports.shared.catalog.load();
        self.failing_since
            .borrow_mut()
            .retain(|id, _| catalog.endpoint_by_id(id).is_some());
        self.app_counts
            .borrow_mut()
            .retain(|app, _| catalog.app(app).is_some());
        let mut closed = 0;
        self.queues.borrow_mut().retain(|_, q| {
            let before = q.idle.len();
            q.idle
                .retain(|(_, since)| now_ms.saturating_sub(*since) < IDLE_CONNECTION_MS);
            closed += before - q.idle.len();
            let line_empty = q.fifo.as_ref().is_none_or(|l| l.is_empty());
            !(q.ready.is_empty() && q.in_flight == 0 && q.idle.is_empty() && line_empty)
        });
        self.conns.borrow_mut().closed_idle(closed);
        self.cold_files.expire(now_ms);
        self.check();
    }

    /// The oldest pending message's creation time (`u64::MAX` if none), for
    /// compaction's bound.
    pub fn oldest_pending_ms(&self) -> u64 {
        self.slots
            .borrow()
            .iter()
            .map(|(_, p)| p.msg.created_ms())
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Closes every segment file kept open for cold reads (after compaction
    /// deleted segments, whose space open files would keep).
    pub fn close_cold_files(&self) {
        self.cold_files.clear();
    }
}
