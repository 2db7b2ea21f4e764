//! Reading one record back by its position: the read path's access to the log.
//!
//! Listings keep only positions in memory (`shard::index`) and fetch bodies
//! here on demand. A read opens the segment file read-only and `pread`s the
//! header and body ([`RecordAt`] holds the checks, for the shards' io_uring
//! reads of cold retries), so it works for any journal directory — including the
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

/// The checks of one record read at a position, for any way of fetching
/// its bytes: [`read_record`] `pread`s them, the shards read them through
/// io_uring (`shard::manual::read_message_async`) so a page-cache miss never
/// blocks a shard thread.
#[derive(Debug, Clone)]
pub struct RecordAt {
    pub path: PathBuf,
    pub pos: Position,
    segment_bytes: u64,
}

/// A record header that passed its checks: where its body is and how long.
#[derive(Debug, Clone, Copy)]
pub struct CheckedHeader {
    raw: [u8; RECORD_HEADER_BYTES as usize],
    pub body_at: u64,
    pub body_len: usize,
}

impl RecordAt {
    /// The record at `pos` of the journal in `dir`, if `pos` can name one.
    pub fn new(dir: &Path, segment_bytes: u64, pos: Position) -> Result<RecordAt, ReadError> {
        let at = RecordAt {
            path: segment_path(dir, pos.segment_seq),
            pos,
            segment_bytes,
        };
        if pos.offset < SEGMENT_HEADER_BYTES
            || !pos.offset.is_multiple_of(16)
            || pos.offset + RECORD_HEADER_BYTES > segment_bytes
        {
            return Err(at.invalid("offset outside the segment's record area".into()));
        }
        Ok(at)
    }

    pub fn invalid(&self, reason: String) -> ReadError {
        ReadError::Invalid {
            path: self.path.clone(),
            offset: self.pos.offset,
            reason,
        }
    }

    pub fn io(&self, source: io::Error) -> ReadError {
        ReadError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Checks the header read at `pos.offset`: magic, reserved bits and a
    /// body length that fits the segment.
    pub fn header(
        &self,
        raw: [u8; RECORD_HEADER_BYTES as usize],
    ) -> Result<CheckedHeader, ReadError> {
        let header = decode_record_header(&raw);
        if header.magic != RECORD_MAGIC || header.reserved != 0 {
            return Err(self.invalid("bad record header".into()));
        }
        let body_at = self.pos.offset + RECORD_HEADER_BYTES;
        if u64::from(header.body_len) > self.segment_bytes - body_at {
            return Err(self.invalid(format!("body_len {} out of range", header.body_len)));
        }
        Ok(CheckedHeader {
            raw,
            body_at,
            body_len: header.body_len as usize,
        })
    }

    /// Checks the body read at `header.body_at` against the header's CRC.
    pub fn record(
        &self,
        header: &CheckedHeader,
        body: rkyv::util::AlignedVec,
    ) -> Result<OwnedRecord, ReadError> {
        let h = decode_record_header(&header.raw);
        let computed = record_crc(&header.raw[0..8], &body);
        if computed != h.crc {
            return Err(self.invalid(format!(
                "crc mismatch (stored {:#010x}, computed {computed:#010x})",
                h.crc
            )));
        }
        Ok(OwnedRecord {
            kind: h.kind,
            version: h.version,
            body,
        })
    }
}

/// Reads the record at `pos` from the journal in `dir` (segments of
/// `segment_bytes`), checking magic, length and CRC.
pub fn read_record(
    dir: &Path,
    segment_bytes: u64,
    pos: Position,
) -> Result<OwnedRecord, ReadError> {
    let at = RecordAt::new(dir, segment_bytes, pos)?;
    let file = File::open(&at.path).map_err(|e| at.io(e))?;
    let mut raw = [0u8; RECORD_HEADER_BYTES as usize];
    file.read_exact_at(&mut raw, pos.offset)
        .map_err(|e| at.io(e))?;
    let header = at.header(raw)?;
    let mut body = rkyv::util::AlignedVec::with_capacity(header.body_len);
    body.resize(header.body_len, 0);
    file.read_exact_at(&mut body, header.body_at)
        .map_err(|e| at.io(e))?;
    at.record(&header, body)
}
