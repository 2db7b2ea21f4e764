//! Typed errors, one enum per public operation.
//!
//! Each enum names only what can go wrong in its operation, so callers can
//! match exhaustively on, for example, `AppendError::RecordTooLarge` without
//! wading through recovery failures. Every variant that touches a file names
//! that file, because "No such file or directory" alone is useless to an
//! operator looking at a shard directory.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// A failed system call on a journal file or directory.
#[derive(Debug, Error)]
#[error("{op} {}: {source}", .path.display())]
pub struct JournalIoError {
    /// What the journal was doing, e.g. "create segment" or "msync".
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl JournalIoError {
    pub(crate) fn new(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Why `Journal::open` refused to start.
#[derive(Debug, Error)]
pub enum OpenError {
    #[error("invalid journal config: segment_bytes must be a positive multiple of 4096, got {segment_bytes}")]
    InvalidSegmentBytes { segment_bytes: u64 },
    #[error("journal directory {} is locked by another writer", .path.display())]
    Locked { path: PathBuf },
    #[error(
        "segment {} was created with segment_bytes = {found_bytes}, but the journal is configured with {configured_bytes}",
        .path.display()
    )]
    SegmentSizeMismatch {
        path: PathBuf,
        found_bytes: u64,
        configured_bytes: u64,
    },
    #[error(
        "journal corruption in {} at offset {offset}: {reason}; refusing to start (use --repair to truncate)",
        .path.display()
    )]
    Corruption {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error(transparent)]
    Io(#[from] JournalIoError),
}

/// Why `Journal::append` did not write a record.
#[derive(Debug, Error)]
pub enum AppendError {
    #[error("record body of {body_bytes} bytes exceeds the maximum of {max_body_bytes} bytes")]
    RecordTooLarge {
        body_bytes: u64,
        max_body_bytes: u64,
    },
    /// The next segment would be number 2^32 (see `shard::ColdRef`) or its Lsn would overflow a `u64`.
    #[error("journal has reached the largest representable segment sequence number")]
    LogFull,
    /// Creating the next segment failed; the journal is unchanged and the
    /// append may be retried (for example after freeing disk space).
    #[error("cannot roll to a new segment: {0}")]
    Roll(#[source] JournalIoError),
    /// Growing the active segment's file to hold the record failed (a full
    /// disk); the journal is unchanged and the append may be retried.
    #[error("cannot grow the segment file: {0}")]
    Grow(#[source] JournalIoError),
    /// Writing records to the segment's file failed: the journal is broken
    /// for good (every later append and sync fails; see `Journal::hold`).
    #[error("cannot write to the segment file: {0}")]
    Write(#[source] JournalIoError),
}

/// Why a group commit did not make its bytes durable.
///
/// After a failed msync the kernel may have dropped the dirty pages, so the
/// caller must treat this as fatal for the shard rather than retry.
#[derive(Debug, Error)]
pub enum SyncError {
    #[error(transparent)]
    Io(#[from] JournalIoError),
}

/// Why the offline `check` could not scan the directory at all.
///
/// Problems found in the data are not errors: they are reported in
/// `CheckReport`, because finding them is the purpose of `check`.
#[derive(Debug, Error)]
pub enum ScanError {
    #[error(transparent)]
    Io(#[from] JournalIoError),
}
