//! Reading one record back by its position: the read path's access to the log.
//!
//! Listings keep only positions in memory (`shard::index`) and fetch bodies
//! here on demand. A read opens the segment file read-only and `pread`s the
//! header and body, so it works for any journal directory — including the
//! active segment another shard is appending to (the page cache is coherent
//! with the writer's shared mapping) and journals of shards beyond the
//! current count. Every read re-checks the record's CRC: a position that no
//! longer names a valid record is an error, never garbage.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::{
    decode_record_header, record_crc, segment_path, RECORD_HEADER_BYTES, RECORD_MAGIC,
    SEGMENT_HEADER_BYTES,
};

/// Where a record starts: its segment and the offset of its header in it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub segment_seq: u64,
    pub offset: u64,
}

/// One record read back from disk, its CRC verified.
#[derive(Debug)]
pub struct OwnedRecord {
    pub kind: u8,
    pub version: u8,
    /// 16-byte aligned so rkyv can validate and access it in place.
    pub body: rkyv::util::AlignedVec,
}

/// Why a record could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("read {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("no valid record at offset {offset} of {}: {reason}", .path.display())]
    Invalid {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
}

/// Reads the record at `pos` from the journal in `dir` (segments of
/// `segment_bytes`), checking magic, length and CRC.
pub fn read_record(
    dir: &Path,
    segment_bytes: u64,
    pos: Position,
) -> Result<OwnedRecord, ReadError> {
    let path = segment_path(dir, pos.segment_seq);
    let invalid = |reason: String| ReadError::Invalid {
        path: path.clone(),
        offset: pos.offset,
        reason,
    };
    if pos.offset < SEGMENT_HEADER_BYTES
        || !pos.offset.is_multiple_of(16)
        || pos.offset + RECORD_HEADER_BYTES > segment_bytes
    {
        return Err(invalid("offset outside the segment's record area".into()));
    }
    let io_err = |source| ReadError::Io {
        path: path.clone(),
        source,
    };
    let file = File::open(&path).map_err(io_err)?;
    let mut raw = [0u8; RECORD_HEADER_BYTES as usize];
    file.read_exact_at(&mut raw, pos.offset).map_err(io_err)?;
    let header = decode_record_header(&raw);
    if header.magic != RECORD_MAGIC || header.reserved != 0 {
        return Err(invalid("bad record header".into()));
    }
    let body_at = pos.offset + RECORD_HEADER_BYTES;
    if u64::from(header.body_len) > segment_bytes - body_at {
        return Err(invalid(format!(
            "body_len {} out of range",
            header.body_len
        )));
    }
    let mut body = rkyv::util::AlignedVec::with_capacity(header.body_len as usize);
    body.resize(header.body_len as usize, 0);
    file.read_exact_at(&mut body, body_at).map_err(io_err)?;
    let computed = record_crc(&raw[0..8], &body);
    if computed != header.crc {
        return Err(invalid(format!(
            "crc mismatch (stored {:#010x}, computed {computed:#010x})",
            header.crc
        )));
    }
    Ok(OwnedRecord {
        kind: header.kind,
        version: header.version,
        body,
    })
}
