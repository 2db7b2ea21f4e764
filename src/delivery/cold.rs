//! Reading a message back from the journal, for cold retries and manual
//! resends: a waiting retry keeps only its message's record position
//! (`ColdRef`); its attempt reads the record back through the shard's
//! io_uring reader (`reads::files`).

use crate::config::Config;
use crate::message::Loc;
use crate::reads::files::Files;
use crate::reads::record::RecordAtError;
use crate::records::{self, Kind, RecordError};
use std::sync::Arc;

/// Why a cold message could not be read back (`Clone`: a manual task keeps
/// its outcome, so the causes are shared).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ColdReadError {
    /// An I/O error (out of descriptors, say): the same read may work later.
    #[error("cannot read the message from the journal: {0}")]
    Transient(Arc<RecordAtError>),
    /// The record is gone or fails its checks: reading again will not help.
    #[error("the message's journal record is damaged or missing: {0}")]
    Damaged(Arc<RecordAtError>),
    /// The record reads back but its body is not a message.
    #[error("the message's journal record is damaged or missing: {0}")]
    Undecodable(Arc<RecordError>),
}

/// Reads the message record `loc` names, keeping its segment file open in
/// `files` for the next read.
pub async fn read_message(
    files: &Files,
    config: &Config,
    loc: Loc,
) -> Result<records::MessageRecord, ColdReadError> {
    let rec = files
        .read(config, loc, Kind::Message)
        .await
        .map_err(|e| match e.is_transient() {
            true => ColdReadError::Transient(Arc::new(e)),
            false => ColdReadError::Damaged(Arc::new(e)),
        })?;
    records::decode_message(&rec.body).map_err(|e| ColdReadError::Undecodable(Arc::new(e)))
}
