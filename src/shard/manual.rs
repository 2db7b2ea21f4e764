//! Manually requested deliveries: `resend` of one message to one endpoint,
//! `recover` (resend every failed delivery of an endpoint since a time), and
//! `replay` (`replay-missing`: the messages never sent to it; `bulk-replay`:
//! those sent to it, by delivery status).
//!
//! Both run on the endpoint's owner shard. The message body is read back from
//! the journal (the index holds only its position), a `Resend` record is
//! appended and made durable, and only then does the delivery start, so an
//! acknowledged resend survives a crash: recovery turns the record into a
//! pending delivery again. Attempts made after the record are manual
//! (`triggerType` 1).

use super::state::Shard;
use crate::delivery::cold::ColdReadError;
use crate::delivery::{Delivery, MsgRef};
use crate::limits::RECOVER_BATCH_MAX;
use crate::message::{Message, MsgMeta};
use crate::reads::index::Status;
use crate::records::{Kind, ResendRecord};
use std::rc::Rc;
use std::sync::Arc;

/// Why a manual delivery was not started.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ManualError {
    #[error("engine is shutting down or overloaded")]
    Unavailable,
    /// The message could not be read back from the journal.
    #[error(transparent)]
    Read(#[from] ColdReadError),
    #[error("journal append failed: {0}")]
    Journal(Arc<crate::commit::CommitError>),
    #[error(transparent)]
    Expunge(Arc<super::state::ExpungeError>),
}

impl From<super::state::ExpungeError> for ManualError {
    fn from(e: super::state::ExpungeError) -> Self {
        ManualError::Expunge(Arc::new(e))
    }
}

/// Starts a manual delivery of `meta` to `endpoint_id` (owned by this shard)
/// once its `Resend` record is durable.
pub async fn resend(
    shard: &Rc<Shard>,
    meta: Arc<MsgMeta>,
    endpoint_id: String,
) -> Result<(), ManualError> {
    resend_all(shard, vec![meta], &endpoint_id).await
}

/// Journals one `Resend` record per message, waits once for all of them to
/// be durable, then starts the deliveries.
async fn resend_all(
    shard: &Rc<Shard>,
    metas: Vec<Arc<MsgMeta>>,
    endpoint_id: &str,
) -> Result<(), ManualError> {
    if shard.shared.is_stopping() || shard.shared.is_overloaded() {
        return Err(ManualError::Unavailable);
    }
    let now = crate::time::now_ms();
    let mut started = Vec::with_capacity(metas.len());
    let mut last_lsn = None;
    // A message whose payload was expunged cannot be sent again.
    for meta in metas
        .into_iter()
        .filter(|m| !shard.shared.expunged.contains(m.id.as_str()))
    {
        let m = shard.delivery.read_message(meta.loc).await?;
        let rec = ResendRecord {
            msg_id: m.id.clone(),
            app_id: m.app_id.clone(),
            endpoint_id: endpoint_id.to_string(),
            at_ms: now,
            msg_journal: meta.loc.journal,
            msg_segment: meta.loc.pos.segment_seq,
            msg_offset: meta.loc.pos.offset,
        };
        let lsn = shard
            .commit
            .append_record(Kind::Resend, &rec)
            .map_err(|e| ManualError::Journal(Arc::new(e)))?;
        last_lsn = Some(lsn);
        let msg = Arc::new(Message::from_record(m, meta.loc).0);
        started.push((meta, msg));
    }
    if let Some(lsn) = last_lsn {
        shard.commit.durable(lsn).await;
    }
    let mut batch = Vec::with_capacity(started.len());
    let name = shard.shared.catalog.load().endpoint_name(endpoint_id);
    for (meta, msg) in started {
        shard.index.borrow_mut().resend(&name, &meta, now);
        batch.push(Delivery::new(MsgRef::Hot(msg), name.clone()).due(0));
    }
    shard.delivery.accept(batch);
    Ok(())
}

/// Resends every message whose delivery to `endpoint_id` ended failed and
/// which was created in `since_ms..until_ms`; returns how many.
pub async fn recover(
    shard: &Rc<Shard>,
    endpoint_id: String,
    since_ms: u64,
    until_ms: u64,
) -> Result<u64, ManualError> {
    let failed = shard
        .index
        .borrow()
        .failed_since(&endpoint_id, since_ms, until_ms);
    let mut count = 0;
    for chunk in failed.chunks(RECOVER_BATCH_MAX) {
        // Another request may have resent some meanwhile.
        let still_failed: Vec<Arc<MsgMeta>> = {
            let index = shard.index.borrow();
            chunk
                .iter()
                .filter(|m| {
                    index
                        .delivery(&endpoint_id, &m.id)
                        .is_some_and(|d| d.status == Status::Fail)
                })
                .cloned()
                .collect()
        };
        count += still_failed.len() as u64;
        resend_all(shard, still_failed, &endpoint_id).await?;
    }
    Ok(count)
}

/// Which of `candidates` (messages of the endpoint's application that its
/// filters take) to replay to `endpoint_id`: with `only_missing`, those
/// never sent to it (no delivery at all, `replay-missing`); else those
/// sent to it whose delivery `filter` takes (`bulk-replay`). Resends them
/// in batches, as `recover` does; returns how many.
pub async fn replay(
    shard: &Rc<Shard>,
    endpoint_id: String,
    candidates: Vec<Arc<MsgMeta>>,
    only_missing: bool,
    status: Option<u8>,
) -> Result<u64, ManualError> {
    let chosen: Vec<Arc<MsgMeta>> = {
        let index = shard.index.borrow();
        candidates
            .into_iter()
            .filter(|m| match index.delivery(&endpoint_id, &m.id) {
                None => only_missing,
                Some(d) => !only_missing && status.is_none_or(|s| d.status as u8 == s),
            })
            .collect()
    };
    let mut count = 0;
    for chunk in chosen.chunks(RECOVER_BATCH_MAX) {
        count += chunk.len() as u64;
        resend_all(shard, chunk.to_vec(), &endpoint_id).await?;
    }
    Ok(count)
}
