//! The per-shard state: everything one executor owns, behind `Rc`/`RefCell`.
//!
//! Nothing here is `Send`; other shards reach this state only by sending a
//! [`ShardMsg`](super::ShardMsg) over the channel mesh.

use super::commit::Commit;
use super::delivery::EndpointQueue;
use super::index::Index;
use super::notify::Notify;
use super::tasks::Tasks;
use super::{ShardMsg, Shared};
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
    pub deliveries: RefCell<slab::Slab<super::Slot>>,
    pub wheel: RefCell<TimerWheel>,
    pub queues: RefCell<HashMap<std::sync::Arc<str>, EndpointQueue>>,
    /// Outbound connections held by workers and idle pools, within a bound.
    pub conns: RefCell<super::budget::Budget>,
    /// Segment files kept open for cold reads (`cold`).
    pub cold_files: RefCell<super::cold::Files>,
    pub senders: Option<Senders<ShardMsg>>,
    /// The catalog journal; only shard 0 (which serves the API) has it.
    pub catalog_journal: Option<RefCell<Journal>>,
    pub timer_kick: Notify,
    /// Batches inside `accept_local` (appended, not yet answered); a stopping
    /// shard waits for them to finish.
    pub ingest_in_flight: std::cell::Cell<usize>,
    /// Endpoint id → start of its current failure streak (auto-disable);
    /// entries go on success, on disable, or when the endpoint is deleted.
    pub failing_since: RefCell<HashMap<String, u64>>,
    /// Journals of shards that no longer exist; only shard 0 compacts them.
    pub retired: RefCell<Vec<super::compaction::Retired>>,
    /// This shard's counters and histograms, published periodically.
    pub stats: RefCell<crate::metrics::ShardStats>,
    /// Read-path indexes of this shard's messages, deliveries and attempts.
    pub index: RefCell<Index>,
    /// Background tasks (`recover`); only shard 0, which serves the API, uses it.
    pub tasks: RefCell<Tasks>,
}

/// Why a catalog change could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CatalogWriteError {
    #[error("the catalog journal is not on this shard")]
    NotHere,
    #[error(transparent)]
    Record(#[from] crate::records::RecordError),
    #[error(transparent)]
    Append(#[from] crate::journal::AppendError),
}

impl Shard {
    /// Appends a catalog record, syncs it, then publishes the new snapshot.
    /// Only shard 0 holds the catalog journal.
    pub fn commit_catalog(
        &self,
        kind: crate::records::Kind,
        body: &[u8],
    ) -> Result<(), CatalogWriteError> {
        let journal = self
            .catalog_journal
            .as_ref()
            .ok_or(CatalogWriteError::NotHere)?;
        // Apply to a copy first: a record the catalog cannot apply never
        // reaches the journal, so replay at start reproduces the live catalog.
        let mut next = (**self.shared.catalog.load()).clone();
        next.apply(kind as u8, body)?;
        {
            let mut j = journal.borrow_mut();
            j.append_versioned(kind as u8, crate::records::RECORD_VERSION, body)?;
            // Catalog changes are rare; a blocking sync here keeps the order
            // of catalog records and snapshot swaps trivially the same. A
            // failed sync is fatal, as for shard journals: the record is in
            // the mapping and would be replayed at the next start, so going
            // on would let the live catalog and the journal disagree.
            let written = j.written_lsn();
            match j.sync() {
                Ok(durable) if durable >= written => {}
                Ok(_) | Err(_) => {
                    eprintln!("ringhook: catalog journal sync failed; aborting to keep the journal and the catalog in agreement");
                    std::process::abort();
                }
            }
        }
        self.shared.catalog.store(std::sync::Arc::new(next));
        Ok(())
    }

    /// Disables an endpoint (auto-disable, 410 Gone); only on shard 0.
    /// Returns whether it changed anything.
    pub fn disable_endpoint(&self, endpoint_id: &str, reason: &str) -> bool {
        let Some(ep) = self
            .shared
            .catalog
            .load()
            .endpoint_by_id(endpoint_id)
            .cloned()
        else {
            return false;
        };
        if ep.disabled {
            return false;
        }
        let mut rec = (*ep).clone();
        rec.disabled = true;
        rec.updated_ms = crate::time::now_ms().max(rec.created_ms);
        let result = crate::records::encode(&rec)
            .map_err(CatalogWriteError::from)
            .and_then(|body| self.commit_catalog(crate::records::Kind::EndpointPut, &body));
        match result {
            Ok(()) => {
                eprintln!("ringhook: endpoint {endpoint_id} disabled: {reason}");
                true
            }
            Err(e) => {
                eprintln!("ringhook: cannot disable endpoint {endpoint_id}: {e}");
                false
            }
        }
    }

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
            deepest_queue: queues
                .values()
                .map(|q| q.ready.len() as u64)
                .max()
                .unwrap_or(0),
            in_flight: queues.values().map(|q| q.in_flight as u64).sum(),
            endpoints: queues.len() as u64,
            connections: self.conns.borrow().used() as u64,
            connection_waiters: self.conns.borrow().waiting() as u64,
        };
        self.shared.metrics.publish(self.id, snapshot);
    }

    /// Drops a bounded number of expired `eventId` entries.
    pub fn prune_dedup(&self, now_ms: u64) {
        self.dedup.borrow_mut().expire(now_ms, 10_000);
    }
}
