//! The per-shard state: everything one executor owns, behind `Rc`/`RefCell`.
//!
//! Nothing here is `Send`; other shards reach this state only by sending a
//! [`ShardMsg`](super::ShardMsg) over the channel mesh.

use super::commit::Commit;
use super::delivery::EndpointQueue;
use super::index::Index;
use super::notify::Notify;
use super::tasks::Tasks;
use super::{Pending, ShardMsg, Shared};
use crate::journal::Journal;
use crate::wheel::TimerWheel;
use glommio::channels::channel_mesh::Senders;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// One `eventId` window entry: (app id, eventId) → (message id, accepted at ms).
pub type DedupEntry = ((String, String), (String, u64));

/// One shard's state.
///
/// # Invariants
/// - every handle in the timer wheel or a ready queue indexes a live entry of
///   `deliveries`, and appears in exactly one of them (or is being attempted);
/// - `dedup` holds the `eventId`s of applications homed on this shard only.
pub struct Shard {
    pub id: usize,
    pub count: usize,
    pub shared: Arc<Shared>,
    pub commit: Commit,
    /// The `eventId` window of the applications homed here.
    pub dedup: RefCell<super::event_ids::EventIds>,
    pub deliveries: RefCell<slab::Slab<Pending>>,
    pub wheel: RefCell<TimerWheel>,
    pub queues: RefCell<HashMap<String, EndpointQueue>>,
    pub senders: Option<Senders<ShardMsg>>,
    /// The catalog journal; only shard 0 (which serves the API) has it.
    pub catalog_journal: Option<RefCell<Journal>>,
    pub timer_kick: Notify,
    /// Batches inside `accept_local` (appended, not yet answered); a stopping
    /// shard waits for them to finish.
    pub ingest_in_flight: std::cell::Cell<usize>,
    /// Journals of shards that no longer exist; only shard 0 compacts them.
    pub retired: RefCell<Vec<super::compaction::Retired>>,
    /// This shard's counters and histograms, published periodically.
    pub stats: RefCell<crate::metrics::ShardStats>,
    /// Read-path indexes of this shard's messages, deliveries and attempts.
    pub index: RefCell<Index>,
    /// Background tasks (`recover`); only shard 0, which serves the API, uses it.
    pub tasks: RefCell<Tasks>,
}

impl Shard {
    /// Publishes this shard's metrics snapshot for `GET /metrics`.
    pub fn publish_metrics(&self) {
        let mut stats = self.stats.borrow().clone();
        self.commit.fill_stats(&mut stats);
        let queues = self.queues.borrow();
        let snapshot = crate::metrics::Snapshot {
            stats,
            pending_deliveries: self.deliveries.borrow().len() as u64,
            retries_pending: self.wheel.borrow().len() as u64,
            ready_queued: queues.values().map(|q| q.ready.len() as u64).sum(),
            in_flight: queues.values().map(|q| q.in_flight as u64).sum(),
            endpoints: queues.len() as u64,
        };
        self.shared.metrics.publish(self.id, snapshot);
    }

    /// Drops a bounded number of expired `eventId` entries.
    pub fn prune_dedup(&self, now_ms: u64) {
        self.dedup.borrow_mut().expire(now_ms, 10_000);
    }
}
