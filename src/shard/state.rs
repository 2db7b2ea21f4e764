//! The per-shard state: the rooms one executor owns, behind `Rc`/`RefCell`.
//!
//! Nothing here is `Send`; other shards reach this state only by sending a
//! [`ShardMsg`](super::ShardMsg) over the channel mesh. Each room keeps its
//! own state private and is changed through its methods: [`Accept`] (the
//! `eventId` window, batches in flight), [`Deliveries`] (pending deliveries,
//! wheel, queues, connections), the read path's [`Index`], and the journal's
//! group [`Commit`].

use super::tasks::Tasks;
use super::ShardMsg;
use crate::accept::Accept;
use crate::commit::{Commit, Retired};
use crate::delivery::Deliveries;
use crate::journal::Journal;
use crate::metrics::ShardStats;
use crate::reads::index::Index;
use crate::shared::Shared;
use glommio::channels::channel_mesh::Senders;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// One shard's state.
///
/// # Invariants
/// - `id < count`; `accept` holds the `eventId`s of applications homed on
///   this shard only, and `delivery` the deliveries of endpoints it owns
///   (see `placement`);
/// - only shard 0 holds `catalog_journal`, `retired` journals and `tasks`.
pub struct Shard {
    pub(super) id: usize,
    pub(super) count: usize,
    pub(super) shared: Arc<Shared>,
    pub(super) commit: Rc<Commit>,
    pub(super) accept: Accept,
    pub(super) delivery: Rc<Deliveries>,
    pub(super) senders: Option<Senders<ShardMsg>>,
    /// The catalog journal; only shard 0 (which serves the API) has it.
    pub(super) catalog_journal: Option<RefCell<Journal>>,
    /// Journals of shards that no longer exist; only shard 0 compacts them.
    pub(super) retired: RefCell<Vec<Retired>>,
    /// This shard's counters and histograms, published periodically.
    pub(super) stats: Rc<RefCell<ShardStats>>,
    /// Read-path indexes of this shard's messages, deliveries and attempts.
    pub(super) index: Rc<RefCell<Index>>,
    /// Background tasks (`recover`); only shard 0, which serves the API, uses it.
    pub(super) tasks: RefCell<Tasks>,
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
    /// This shard's number.
    pub fn id(&self) -> usize {
        self.id
    }

    /// How many shards run.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The engine-wide state every shard reads.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The read path's index of this shard (other modules reach it only
    /// through `query`'s typed requests).
    pub(super) fn index(&self) -> &RefCell<Index> {
        &self.index
    }

    /// The id of the message accepted with this `eventId`, while it is in
    /// the window (on the application's home shard).
    pub(super) fn accepted_as(&self, app_id: &str, event_id: &str) -> Option<String> {
        self.accept
            .accepted_as(app_id, event_id, crate::time::now_ms())
    }

    /// The background-task table (used on shard 0).
    pub fn tasks(&self) -> &RefCell<Tasks> {
        &self.tasks
    }

    /// Appends a record to this shard's journal without waiting for a sync
    /// (the API's stored `idempotency-key` answers, like attempt records).
    pub fn append_record<T: crate::records::Body>(
        &self,
        kind: crate::records::Kind,
        value: &T,
    ) -> Result<crate::journal::Lsn, crate::commit::CommitError> {
        self.commit.append_record(kind, value)
    }

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
        let mut snapshot = crate::metrics::Snapshot {
            stats,
            ..Default::default()
        };
        self.delivery.fill_snapshot(&mut snapshot);
        self.shared.metrics.publish(self.id, snapshot);
    }
}
