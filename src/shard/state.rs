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
use crate::catalog::store::{CatalogStore, CatalogWriteError};
use crate::commit::{Commit, Retired};
use crate::delivery::Deliveries;
use crate::metrics::ShardStats;
use crate::reads::index::Index;
use crate::shared::Shared;
use glommio::channels::channel_mesh::Senders;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Why contents could not be expunged.
#[derive(Debug, thiserror::Error)]
pub enum ExpungeError {
    /// The journal refused a record: what came before it is journaled.
    #[error("cannot journal the expunge: {0}")]
    Journal(#[from] crate::commit::CommitError),
    /// The records are journaled (a restart hides their contents, as far
    /// as the set's bound allows) but the set of expunged ids took no more.
    #[error(transparent)]
    Full(#[from] crate::expunge::Full),
}

/// One shard's state.
///
/// # Invariants
/// - `id < count`; `accept` holds the `eventId`s of applications homed on
///   this shard only, and `delivery` the deliveries of endpoints it owns
///   (see `placement`);
/// - only shard 0 holds `catalog_store`, `retired` journals and `tasks`.
pub struct Shard {
    pub(super) id: usize,
    pub(super) count: usize,
    pub(super) shared: Arc<Shared>,
    pub(super) commit: Rc<Commit>,
    pub(super) accept: Accept,
    pub(super) delivery: Rc<Deliveries>,
    pub(super) senders: Option<Senders<ShardMsg>>,
    /// The catalog journal; only shard 0 (which serves the API) has it.
    pub(super) catalog_store: Option<RefCell<CatalogStore>>,
    /// Journals of shards that no longer exist; only shard 0 compacts them.
    pub(super) retired: RefCell<Vec<Retired>>,
    /// This shard's counters and histograms, published periodically.
    pub(super) stats: Rc<RefCell<ShardStats>>,
    /// Read-path indexes of this shard's messages, deliveries and attempts.
    pub(super) index: Rc<RefCell<Index>>,
    /// Background tasks (`recover`); only shard 0, which serves the API, uses it.
    pub(super) tasks: RefCell<Tasks>,
    /// Operational events of catalog changes waiting to be submitted (shard 0).
    pub(super) outbox: super::outbox::Outbox,
    /// Single messages of API and receive requests gathered into batches.
    pub(super) gathered: super::gather::Gathered,
    /// Segment files kept open for the API's record reads on this shard.
    pub(super) read_files: crate::reads::files::Files,
    /// Compacted segment files being deleted, on a thread of their own.
    pub(super) removal: super::compaction::Removal,
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

    /// Reads back the record of `kind` at `loc` (a payload, a response
    /// text, a logged request) through io_uring: a listing never blocks
    /// this shard on the disk.
    pub async fn read_record(
        &self,
        loc: crate::message::Loc,
        kind: crate::records::Kind,
    ) -> Result<crate::journal::OwnedRecord, crate::reads::record::RecordAtError> {
        self.read_files.read(&self.shared.config, loc, kind).await
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

    /// Journals a logged incoming request (not waited on: it rides the next
    /// group commit) and indexes it for its source's request log.
    pub fn log_request(
        &self,
        rec: &crate::records::IncomingRequestRecord,
    ) -> Result<(), crate::commit::CommitError> {
        let (_, pos) = self
            .commit
            .append_record_at(crate::records::Kind::IncomingRequest, rec)?;
        if let Some(id) = crate::message::IdKey::new(&rec.id) {
            let loc = crate::message::Loc {
                journal: self.id as u32,
                pos,
            };
            let entry = crate::reads::index::RequestEntry {
                id,
                at_ms: rec.at_ms,
                loc,
            };
            self.index.borrow_mut().add_request(&rec.source_id, entry);
        }
        Ok(())
    }

    /// A page of a source's request log (this shard's; shard 0 keeps it).
    pub fn list_requests(
        &self,
        source_id: &str,
        page: &crate::reads::index::PageReq,
    ) -> crate::reads::index::Page<crate::reads::index::RequestEntry> {
        self.index.borrow().list_requests(source_id, page)
    }

    /// Forgets a deleted source's request log.
    pub fn forget_requests(&self, source_id: &str) {
        self.index.borrow_mut().forget_requests(source_id);
    }

    /// Appends a catalog record, syncs it, then publishes the new snapshot;
    /// compacts the catalog journal when it is due. Only shard 0 holds the
    /// catalog journal. A change asked for through the API.
    pub fn commit_catalog(
        &self,
        kind: crate::records::Kind,
        body: &[u8],
    ) -> Result<(), CatalogWriteError> {
        self.commit_catalog_for(kind, body, crate::operational::Cause::Api)
    }

    /// `commit_catalog` with the change's cause. The operational events the
    /// change makes (`operational::change_notices`) are journaled in the
    /// same sync as the change and then submitted (`outbox`).
    pub fn commit_catalog_for(
        &self,
        kind: crate::records::Kind,
        body: &[u8],
        cause: crate::operational::Cause,
    ) -> Result<(), CatalogWriteError> {
        self.commit_catalog_telling(kind, body, cause, Vec::new())
    }

    /// `commit_catalog_for`, with operational events of the caller's own
    /// (a rule's change of state) journaled in the same sync.
    pub fn commit_catalog_telling(
        &self,
        kind: crate::records::Kind,
        body: &[u8],
        cause: crate::operational::Cause,
        mut also: Vec<crate::accept::NewMessage>,
    ) -> Result<(), CatalogWriteError> {
        use crate::records::Kind;
        let store = self
            .catalog_store
            .as_ref()
            .ok_or(CatalogWriteError::NotHere)?;
        // Apply to a copy first: a record the catalog cannot apply never
        // reaches the journal, so replay at start reproduces the live catalog.
        let old = self.shared.catalog.load_full();
        let mut next = (*old).clone();
        next.apply(kind as u8, body)?;
        let now = crate::time::now_ms();
        let mut told = crate::operational::change_notices(&old, &next, kind, body, cause);
        told.append(&mut also);
        let mut batch = vec![(kind, body.to_vec())];
        for m in &told {
            let rec = crate::operational::notice_record(m, now);
            let b = crate::records::encode(&rec)?;
            next.apply(Kind::Notice as u8, &b)?;
            batch.push((Kind::Notice, b.to_vec()));
        }
        let mut store = store.borrow_mut();
        store.append_all_synced(&batch)?;
        if !told.is_empty() {
            crate::failpoint::crash_at("change-journaled");
        }
        let next = std::sync::Arc::new(next);
        self.shared.catalog.store(next.clone());
        self.outbox.put(told);
        // The change is durable and published; a compaction that fails
        // leaves the old journal in use and is tried again later.
        match store.compact_if_due(&next) {
            Ok(Some(done)) => tracing::info!(
                records = done.records,
                before_bytes = done.before_bytes,
                after_bytes = done.after_bytes,
                "catalog journal compacted"
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "catalog compaction failed, the journal stays as it is")
            }
        }
        Ok(())
    }

    /// Commits many catalog records (an environment import), in as few
    /// syncs as fit: each part of at most `batch_bytes_max` is applied,
    /// appended, synced and published together, so what is live is always
    /// what is durable (a failure leaves the parts before it in place).
    /// They make no operational events.
    pub fn commit_catalog_batch(
        &self,
        batch: &[(crate::records::Kind, Vec<u8>)],
    ) -> Result<(), CatalogWriteError> {
        let store = self
            .catalog_store
            .as_ref()
            .ok_or(CatalogWriteError::NotHere)?;
        let mut store = store.borrow_mut();
        let max = store.batch_bytes_max();
        let mut rest = batch;
        while !rest.is_empty() {
            let mut bytes = 0;
            let n = rest
                .iter()
                .take_while(|(_, body)| {
                    bytes += crate::journal::record_footprint_bytes(body.len() as u64);
                    bytes <= max
                })
                .count()
                .max(1);
            let (part, later) = rest.split_at(n);
            let mut next = (**self.shared.catalog.load()).clone();
            for (kind, body) in part {
                next.apply(*kind as u8, body)?;
            }
            store.append_all_synced(part)?;
            let next = std::sync::Arc::new(next);
            self.shared.catalog.store(next.clone());
            if let Err(e) = store.compact_if_due(&next) {
                tracing::warn!(error = %e, "catalog compaction failed, the journal stays as it is");
            }
            rest = later;
        }
        Ok(())
    }

    /// Journals expunges in this shard's journal, waits until they are
    /// durable, then hides the contents from every read (`expunge`).
    pub async fn expunge(
        &self,
        recs: &[crate::records::ExpungeRecord],
    ) -> Result<(), ExpungeError> {
        let id = |r: &crate::records::ExpungeRecord| match r.attempt_id.is_empty() {
            true => r.msg_id.clone(),
            false => r.attempt_id.clone(),
        };
        let mut last = None;
        for rec in recs
            .iter()
            .filter(|r| !self.shared.expunged.contains(&id(r)))
        {
            let lsn = self
                .commit
                .append_record(crate::records::Kind::Expunge, rec)?;
            last = Some(lsn);
        }
        if let Some(lsn) = last {
            self.commit.durable(lsn).await;
        }
        for rec in recs {
            self.shared.expunged.insert(&id(rec), rec.at_ms)?;
        }
        Ok(())
    }

    /// The catalog journal's size and compactions since start (shard 0).
    /// Whether this shard writes the catalog (shard 0 alone).
    pub fn writes_catalog(&self) -> bool {
        self.catalog_store.is_some()
    }

    /// Counts an API connection this shard's listener accepted (metrics).
    pub fn note_api_connection(&self) {
        self.stats.borrow_mut().api_connections += 1;
    }

    pub fn catalog_journal_stats(&self) -> Option<(u64, u64)> {
        self.catalog_store.as_ref().map(|s| {
            let s = s.borrow();
            (s.journal_bytes(), s.compactions())
        })
    }

    /// Disables an endpoint (auto-disable, 410 Gone); only on shard 0. The
    /// change's `endpoint.disabled` event (trigger `automatic`, with the
    /// streak's start) is journaled with it. Returns whether it changed
    /// anything.
    pub fn disable_endpoint(&self, endpoint_id: &str, reason: &str, fail_since_ms: u64) -> bool {
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
            .and_then(|body| {
                let cause = crate::operational::Cause::AutoDisable { fail_since_ms };
                self.commit_catalog_for(crate::records::Kind::EndpointPut, &body, cause)
            });
        match result {
            Ok(()) => {
                tracing::warn!(endpoint = %endpoint_id, reason, "endpoint disabled");
                true
            }
            Err(e) => {
                tracing::error!(endpoint = %endpoint_id, error = %e, "cannot disable the endpoint");
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
        if let Some(apps) = self.delivery.app_counts_due(crate::time::now_ms()) {
            self.shared.metrics.publish_apps(self.id, apps);
        }
    }
}
