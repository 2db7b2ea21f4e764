//! The per-shard write-ahead journal: the engine's ground truth on disk.
//!
//! A journal is a directory of fixed-size, memory-mapped segments holding
//! opaque, CRC-protected record bodies tagged with a `kind`. A segment's
//! file starts small and grows, blocks reserved, ahead of the writer.
//! Appends are copied into a staging buffer and written into the active
//! segment's file with `pwrite` (one per record, or one per batch inside a
//! hold: `Journal::hold`); durability comes from
//! group commit (`take_sync_job` / `SyncJob::run` / `complete_sync`), which
//! lets the blocking msync run on another thread while the shard keeps
//! appending. Recovery (`Journal::open`) and offline verification (`check`)
//! share one scanner so they always agree. `read_record` / `Journal::read_at`
//! fetch one record back by position (CRC re-checked) for the read path. The byte layout and the recovery
//! decision table are documented in `docs/journal-format.md`.

mod check;
mod error;
pub mod faults;
mod format;
mod read;
mod recovery;
mod scan;
mod segment;
mod sync;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;

pub use check::{check, check_with, CheckReport};
pub use scan::EndVerdict;

/// What recovery and `check` make of one segment's bytes (its header, its
/// records, and the decision table's verdict on its end), without a file:
/// pure and total, for the fuzzer and tests.
pub fn judge_segment(
    bytes: &[u8],
    seq: u64,
    newest: bool,
) -> Result<(u64, EndVerdict), HeaderProblem> {
    format::decode_segment_header(bytes, seq)?;
    let scan = scan::scan_records(scan::SegmentBytes::whole(bytes), seq, 0, &mut |_| Ok(()));
    Ok((scan.records, scan::classify(&scan.end, newest)))
}
pub use error::{AppendError, JournalIoError, OpenError, ScanError, SyncError};
pub use format::{
    max_body_bytes, parse_segment_name, record_footprint_bytes, segment_path, HeaderProblem,
    RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
pub use read::{read_record, CheckedHeader, OwnedRecord, Position, ReadError, RecordAt};
pub use segment::{create_dir, sync_dir, DIR_MODE, FILE_MODE};
pub use sync::SyncJob;
pub use writer::{remove_segments_before, Journal};

/// Tunables fixed when a journal is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    /// Size of every segment (its mapping, its Lsn span, the size in its
    /// header; its file grows up to it); a positive multiple of 4096.
    /// Existing segments must have been created with the same size.
    pub segment_bytes: u64,
    /// Truncate the log at the first corruption instead of refusing to open
    /// (the `--repair` flag). Records after that point are lost.
    pub repair: bool,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 64 * 1024 * 1024,
            repair: false,
        }
    }
}

/// A position in the log: the number of log bytes before it, counting every
/// earlier segment in full, so positions compare correctly across segments.
///
/// `(seq - 1) * segment_bytes + offset_in_segment`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A recovery or check visitor: sees every valid record in log order and may
/// refuse one (its body is invalid) with the visitor's own error, which makes
/// it corruption at that record (reported with the error's text).
pub type Visit<'v> = dyn FnMut(RecordRef<'_>) -> Result<(), Refusal> + 'v;

/// Why a visitor refused a record: the visitor's own error.
pub type Refusal = Box<dyn std::error::Error + Send + Sync>;

/// One valid record as seen by the recovery visitor.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub kind: u8,
    /// The caller's body schema version (`append` writes 0).
    pub version: u8,
    /// The body, borrowed from the mapping and 16-byte aligned so that rkyv
    /// can access it in place.
    pub body: &'a [u8],
    pub segment_seq: u64,
    /// Offset of the record header within its segment file.
    pub offset: u64,
    /// Lsn at the end of this record, comparable with `Journal::durable_lsn`.
    pub lsn: Lsn,
}

/// A partially written record at the end of the newest segment that
/// recovery removed (or, in `check`, would remove).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    /// Offset of the torn record (the new end of the log) within the segment.
    pub offset: u64,
    /// How many bytes starting at `offset` were zeroed.
    pub bytes_discarded: u64,
    pub reason: String,
}

impl fmt::Display for TornTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "torn tail in {} at offset {}: {} ({} bytes)",
            self.path.display(),
            self.offset,
            self.reason,
            self.bytes_discarded
        )
    }
}

/// A problem that recovery will not fix on its own, because valid data may
/// follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    pub path: PathBuf,
    pub offset: u64,
    pub reason: String,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "journal corruption in {} at offset {}: {}",
            self.path.display(),
            self.offset,
            self.reason
        )
    }
}

/// What `JournalConfig::repair` threw away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repair {
    /// The corruption the log was truncated at.
    pub corruption: Corruption,
    /// Bytes zeroed in the segment that now ends the log.
    pub bytes_discarded: u64,
    /// Whole segment files deleted (the corrupt one, if its header was bad,
    /// and every later one).
    pub segments_removed: Vec<PathBuf>,
}

/// What `Journal::open` found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments in the log after recovery.
    pub segments: usize,
    /// Valid records handed to the visitor.
    pub records: u64,
    /// Where the writer will append next.
    pub end_lsn: Lsn,
    pub torn_tail: Option<TornTail>,
    pub repaired: Option<Repair>,
    /// The newest segment was entirely zero (a crash right after creating
    /// it) and got a fresh header.
    pub reinitialized: Option<PathBuf>,
}
