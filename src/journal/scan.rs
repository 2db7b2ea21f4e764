//! Pure, read-only walk over the records of one segment's bytes.
//!
//! Both recovery (`Journal::open`) and the offline checker (`check`) call the
//! same walk, so the two can never disagree about what is a valid record, a
//! clean end of data, a torn tail or corruption. The walk never writes and
//! never panics on any byte content: every length read from disk is checked
//! against the slice before it is used.

use std::fmt;

use super::format::{
    decode_record_header, record_crc, record_footprint_bytes, RECORD_HEADER_BYTES, RECORD_MAGIC,
    SEGMENT_HEADER_BYTES,
};
use super::{Lsn, RecordRef};

/// Why the walk stopped before a clean end of data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadRecord {
    BadMagic(u16),
    ReservedNonZero(u32),
    BodyLenOutOfRange {
        body_len: u32,
        room_bytes: u64,
    },
    CrcMismatch {
        stored: u32,
        computed: u32,
    },
    /// The end-of-data marker is followed by non-zero bytes starting at this offset.
    StrayBytes {
        first_nonzero: u64,
    },
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic(magic) => write!(f, "bad record magic {magic:#06x}"),
            Self::ReservedNonZero(value) => {
                write!(f, "reserved record header field is {value:#010x}, not zero")
            }
            Self::BodyLenOutOfRange {
                body_len,
                room_bytes,
            } => write!(
                f,
                "body_len {body_len} exceeds the {room_bytes} bytes left in the segment"
            ),
            Self::CrcMismatch { stored, computed } => write!(
                f,
                "crc mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            Self::StrayBytes { first_nonzero } => write!(
                f,
                "non-zero bytes at offset {first_nonzero} after the end-of-data marker"
            ),
        }
    }
}

/// How the walk over one segment ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentEnd {
    /// An all-zero record header (or the physical end of the segment) at
    /// `end_offset`, with nothing but zeros after it.
    Clean { end_offset: u64 },
    /// Something that is not a valid record starts at `offset`.
    Bad {
        offset: u64,
        problem: BadRecord,
        /// End of the bytes the bad record claims (its header, plus its body
        /// when the length field is in range); zeroing `offset..extent_end`
        /// removes it.
        extent_end: u64,
        /// Whether every byte from `extent_end` to the end of the segment is zero.
        zeros_after: bool,
    },
}

/// Summary of one segment's walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentScan {
    pub records: u64,
    /// Bytes occupied by valid records, headers and padding included.
    pub record_bytes: u64,
    pub end: SegmentEnd,
}

/// Walks the records of segment `seq`, whose full (zero-extended) contents are
/// `bytes`, calling `visit` for every record whose CRC matches.
///
/// `lsn_base` is the Lsn of byte 0 of this segment, so that each visited
/// record can carry the Lsn at its end.
pub fn scan_records(
    bytes: &[u8],
    seq: u64,
    lsn_base: u64,
    visit: &mut dyn FnMut(RecordRef<'_>),
) -> SegmentScan {
    let header_bytes = RECORD_HEADER_BYTES as usize;
    let mut offset = SEGMENT_HEADER_BYTES as usize;
    let mut records = 0u64;
    let mut record_bytes = 0u64;
    loop {
        // Offsets stay 16-aligned and the segment length is a multiple of 16,
        // so a header either fits completely or we are exactly at the end.
        let Some(raw) = bytes
            .get(offset..offset + header_bytes)
            .and_then(|s| <&[u8; 16]>::try_from(s).ok())
        else {
            return finish(records, record_bytes, clean_end(bytes, offset));
        };
        if raw.iter().all(|&b| b == 0) {
            return finish(records, record_bytes, clean_end(bytes, offset));
        }
        let header = decode_record_header(raw);
        let body_start = offset + header_bytes;
        let room_bytes = (bytes.len() - body_start) as u64;
        let problem = if header.magic != RECORD_MAGIC {
            Some(BadRecord::BadMagic(header.magic))
        } else if header.reserved != 0 {
            Some(BadRecord::ReservedNonZero(header.reserved))
        } else if u64::from(header.body_len) > room_bytes {
            Some(BadRecord::BodyLenOutOfRange {
                body_len: header.body_len,
                room_bytes,
            })
        } else {
            None
        };
        if let Some(problem) = problem {
            return finish(
                records,
                record_bytes,
                bad_end(bytes, offset, header_bytes, problem),
            );
        }
        // The length was checked against the slice above, so this range is in bounds.
        let body_end = body_start + header.body_len as usize;
        let body = &bytes[body_start..body_end];
        let footprint = record_footprint_bytes(u64::from(header.body_len)) as usize;
        let computed = record_crc(&raw[0..8], body);
        if computed != header.crc {
            let problem = BadRecord::CrcMismatch {
                stored: header.crc,
                computed,
            };
            let claimed = footprint.min(bytes.len() - offset);
            return finish(
                records,
                record_bytes,
                bad_end(bytes, offset, claimed, problem),
            );
        }
        let end_offset = (offset + footprint).min(bytes.len());
        visit(RecordRef {
            kind: header.kind,
            version: header.version,
            body,
            segment_seq: seq,
            offset: offset as u64,
            lsn: Lsn(lsn_base + end_offset as u64),
        });
        records += 1;
        record_bytes += footprint as u64;
        offset += footprint;
    }
}

fn finish(records: u64, record_bytes: u64, end: SegmentEnd) -> SegmentScan {
    SegmentScan {
        records,
        record_bytes,
        end,
    }
}

/// An end-of-data marker at `offset`: clean unless stray bytes follow it.
fn clean_end(bytes: &[u8], offset: usize) -> SegmentEnd {
    let after_marker = (offset + RECORD_HEADER_BYTES as usize).min(bytes.len());
    match find_nonzero(bytes, after_marker) {
        None => SegmentEnd::Clean {
            end_offset: offset as u64,
        },
        Some(first_nonzero) => SegmentEnd::Bad {
            offset: offset as u64,
            problem: BadRecord::StrayBytes {
                first_nonzero: first_nonzero as u64,
            },
            extent_end: last_nonzero_end(bytes, first_nonzero) as u64,
            zeros_after: true,
        },
    }
}

fn bad_end(bytes: &[u8], offset: usize, claimed_bytes: usize, problem: BadRecord) -> SegmentEnd {
    let extent_end = offset + claimed_bytes;
    SegmentEnd::Bad {
        offset: offset as u64,
        problem,
        extent_end: extent_end as u64,
        zeros_after: find_nonzero(bytes, extent_end).is_none(),
    }
}

/// Index of the first non-zero byte at or after `from`.
///
/// Whole chunks are OR-reduced first because that loop vectorises, which
/// matters when recovery checks the zero tail of a 64 MiB segment.
pub fn find_nonzero(bytes: &[u8], from: usize) -> Option<usize> {
    const CHUNK: usize = 256;
    let tail = bytes.get(from..)?;
    let mut base = from;
    for chunk in tail.chunks(CHUNK) {
        if chunk.iter().fold(0u8, |acc, &b| acc | b) != 0 {
            return chunk.iter().position(|&b| b != 0).map(|i| base + i);
        }
        base += chunk.len();
    }
    None
}

/// One past the last non-zero byte at or after `from`, or `from` if there is none.
pub fn last_nonzero_end(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|tail| tail.iter().rposition(|&b| b != 0))
        .map_or(from, |i| from + i + 1)
}
