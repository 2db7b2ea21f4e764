//! Reading one record back from a shard journal at a known position (API
//! listings, recovery's index rebuild), with the journal's checks (magic,
//! length, CRC) and the record kind the caller expects.
//!
//! These are blocking `pread`s, for recovery (before any shard runs) and
//! the simulator; code on a shard reads through io_uring instead
//! (`reads::files`).

use crate::config::Config;
use crate::journal::{OwnedRecord, ReadError};
use crate::message::Loc;
use crate::records::Kind;

/// Why a record could not be read back at a `Loc`.
#[derive(Debug, thiserror::Error)]
pub enum RecordAtError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("record at {loc:?} is of kind {found}, not {expected:?}")]
    WrongKind { loc: Loc, found: u8, expected: Kind },
    #[error("record at {loc:?}: {source}")]
    Body {
        loc: Loc,
        source: crate::records::RecordError,
    },
}

impl RecordAtError {
    /// An I/O error other than a missing file (out of descriptors, say): the
    /// same read may work later. Anything else is damage.
    pub fn is_transient(&self) -> bool {
        matches!(self, RecordAtError::Read(ReadError::Io { source, .. })
            if source.kind() != std::io::ErrorKind::NotFound)
    }
}

/// Reads back the record of `kind` at `loc` from its shard journal (the CRC
/// is checked by `journal::read_record`).
pub fn read_record_at(config: &Config, loc: Loc, kind: Kind) -> Result<OwnedRecord, RecordAtError> {
    let dir = crate::datadir::shard_dir(&config.data_dir, loc.journal as usize);
    let rec = crate::journal::read_record(&dir, config.segment_bytes, loc.pos)?;
    of_kind(rec, loc, kind)
}

/// The record read at `loc`, if it is of the `kind` expected there and of
/// a version this build reads.
pub fn of_kind(rec: OwnedRecord, loc: Loc, kind: Kind) -> Result<OwnedRecord, RecordAtError> {
    crate::records::check_version(rec.version)
        .map_err(|source| RecordAtError::Body { loc, source })?;
    if rec.kind != kind as u8 {
        return Err(RecordAtError::WrongKind {
            loc,
            found: rec.kind,
            expected: kind,
        });
    }
    Ok(rec)
}
