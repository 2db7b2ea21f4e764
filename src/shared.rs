//! Engine-wide state that every shard reads: the configuration, the catalog
//! snapshot, API tokens, the placement rule, the stopping flag and the few
//! counters shards publish to each other (pending deliveries, oldest pending
//! message, metrics snapshots).
//!
//! Read-mostly and lock-free (`ArcSwap`, relaxed atomics): nothing here is
//! on a path that waits for another shard.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::placement::Placement;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Engine-wide state shared by every shard (read-mostly, lock-free).
pub struct Shared {
    pub config: Config,
    pub retry_schedule_ms: Vec<u64>,
    pub catalog: ArcSwap<Catalog>,
    pub tokens: Vec<String>,
    /// Which shard is whose home or owner (see `placement`).
    pub placement: Placement,
    pub stopping: AtomicBool,
    /// Each shard's latest published metrics snapshot.
    pub metrics: crate::metrics::Published,
    /// Pending deliveries per shard, published for ingest's back-pressure check.
    pub pending: Vec<AtomicU64>,
    /// Oldest pending message time per shard (`u64::MAX` if none), published
    /// each compaction tick.
    pub oldest_pending_ms: Vec<AtomicU64>,
    /// Expunged message payloads and attempt responses.
    pub expunged: crate::expunge::Expunged,
    /// The engine's compaction horizon: no delivery was pending for a
    /// message created before it when a compaction deleted segments
    /// (recovered from every journal directory's record of it, raised by
    /// each pass that deletes; `shard::compaction`).
    pub compacted_before_ms: AtomicU64,
}

impl Shared {
    /// The shared state of an engine of `config.shards` shards, with the
    /// catalog and expunged ids recovery found; nothing pending yet.
    pub fn new(
        config: Config,
        retry_schedule_ms: Vec<u64>,
        catalog: Catalog,
        tokens: Vec<String>,
        expunged: std::collections::HashMap<String, u64>,
    ) -> Shared {
        let n = config.shards;
        Shared {
            retry_schedule_ms,
            catalog: ArcSwap::from_pointee(catalog),
            tokens,
            placement: Placement::new(n),
            stopping: AtomicBool::new(false),
            metrics: crate::metrics::Published::new(n),
            pending: (0..n).map(|_| AtomicU64::new(0)).collect(),
            oldest_pending_ms: (0..n).map(|_| AtomicU64::new(0)).collect(),
            expunged: crate::expunge::Expunged::new(expunged),
            compacted_before_ms: AtomicU64::new(0),
            config,
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// True while some shard holds `max_pending_per_shard` deliveries.
    pub fn is_overloaded(&self) -> bool {
        let max = self.config.max_pending_per_shard as u64;
        self.pending
            .iter()
            .any(|p| p.load(Ordering::Relaxed) >= max)
    }
}
