//! Pure, read-only walk over the records of one segment's bytes.
//!
//! Both recovery (`Journal::open`) and the offline checker (`check`) call the
//! same walk, so the two can never disagree about what is a valid record, a
//! clean end of data, a torn tail or corruption. The walk never writes and
//! never panics on any byte content: every length read from disk is checked
//! against the segment before it is used. It reads a segment through
//! [`SegmentBytes`], which ends the file's bytes with zeros up to the
//! segment's size without reading past the file's end.

use std::fmt;

use super::format::{
    decode_record_header, record_crc, record_footprint_bytes, RECORD_HEADER_BYTES, RECORD_MAGIC,
    SEGMENT_HEADER_BYTES,
};
use super::{Lsn, RecordRef};

/// One segment's bytes as the walk sees them: what its file holds, then
/// zeros up to the segment's size.
///
/// The zeros exist nowhere. A segment's file grows as it fills, so it is
/// normally shorter than its segment, and a crash (or an operator) can
/// leave it shorter still, at any length; bytes past the file's end are
/// never read, since through a mapping a page wholly past it faults with
/// SIGBUS. A short file reads exactly as the same file extended with zeros
/// would, which is what recovery did before files grew.
#[derive(Clone, Copy, Debug)]
pub struct SegmentBytes<'a> {
    file: &'a [u8],
    len: usize,
}

impl<'a> SegmentBytes<'a> {
    /// The segment of `segment_bytes` whose file holds `file`.
    pub fn new(file: &'a [u8], segment_bytes: usize) -> Self {
        assert!(
            file.len() <= segment_bytes,
            "a longer file is refused before its segment is walked"
        );
        Self {
            file,
            len: segment_bytes,
        }
    }

    /// A segment whose file holds all of it (the fuzzer, tests).
    pub fn whole(bytes: &'a [u8]) -> Self {
        Self::new(bytes, bytes.len())
    }

    /// The segment's size.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The 16 bytes at `at`, or `None` if they do not fit in the segment.
    fn header(&self, at: usize) -> Option<[u8; 16]> {
        let end = at.checked_add(RECORD_HEADER_BYTES as usize)?;
        if end > self.len {
            return None;
        }
        let mut raw = [0u8; 16];
        if let Some(held) = self.file.get(at..end.min(self.file.len())) {
            raw[..held.len()].copy_from_slice(held);
        }
        Some(raw)
    }

    /// The record CRC of `header_prefix` and the body at `from..to`, which
    /// must lie in the segment; the zeros past the file's end are fed to
    /// the CRC without being allocated.
    fn record_crc(&self, header_prefix: &[u8], from: usize, to: usize) -> u32 {
        const ZEROS: [u8; 4096] = [0; 4096];
        let held = &self.file[from.min(self.file.len())..to.min(self.file.len())];
        let mut crc = record_crc(header_prefix, held);
        let mut zeros = to - from - held.len();
        while zeros > 0 {
            let n = zeros.min(ZEROS.len());
            crc = crc32c::crc32c_append(crc, &ZEROS[..n]);
            zeros -= n;
        }
        crc
    }

    /// The bytes at `from..to` (in the segment) as one 16-byte-aligned
    /// buffer: only for a valid record that runs past the file's end.
    fn padded(&self, from: usize, to: usize) -> rkyv::util::AlignedVec {
        let held = &self.file[from.min(self.file.len())..to.min(self.file.len())];
        // At least one byte, so even an empty body points into an aligned
        // allocation rather than at a dangling address.
        let mut out = rkyv::util::AlignedVec::with_capacity((to - from).max(1));
        out.extend_from_slice(held);
        out.resize(to - from, 0);
        out
    }

    fn find_nonzero(&self, from: usize) -> Option<usize> {
        find_nonzero(self.file, from)
    }

    fn last_nonzero_end(&self, from: usize) -> usize {
        last_nonzero_end(self.file, from)
    }
}

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
    /// The record's CRC matches but the caller's visitor refused its body
    /// (an unknown version, a body that fails validation): written by
    /// software, so never a torn write.
    InvalidBody(String),
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
            Self::InvalidBody(reason) => write!(f, "record with a valid crc is invalid: {reason}"),
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
        /// A valid record (magic, zero reserved field, length in range, CRC)
        /// that starts inside the bad record's claimed extent: the bad
        /// record's length was corrupted and swallows durable records, so
        /// this is corruption, never a torn tail.
        swallowed: Option<u64>,
    },
}

/// What recovery and `check` do with the end of one segment's walk: the
/// rows of the decision table in `docs/journal-format.md` that a walk
/// decides (the segment-level rows 1, 6, 6a and 6b are decided before
/// the walk; row 3, a file shorter than its segment, is [`SegmentBytes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndVerdict {
    /// Row 2: the data of this segment ends at `end_offset`.
    EndOfData { end_offset: u64 },
    /// Rows 4 and 4a: a write that never completed, in the newest segment:
    /// cut `offset..extent_end` off.
    TornTail {
        offset: u64,
        extent_end: u64,
        reason: String,
    },
    /// Row 5: corruption of data that may have been durable.
    Corrupt { offset: u64, reason: String },
}

/// Decides what a segment's end means; `newest` says whether it is the
/// newest segment of the log. Used by both `Journal::open` and `check`.
pub fn classify(end: &SegmentEnd, newest: bool) -> EndVerdict {
    match end {
        // Row 2.
        SegmentEnd::Clean { end_offset } => EndVerdict::EndOfData {
            end_offset: *end_offset,
        },
        // Row 5: a record the caller refused (valid CRC, invalid body).
        SegmentEnd::Bad {
            offset,
            problem: problem @ BadRecord::InvalidBody(_),
            ..
        } => EndVerdict::Corrupt {
            offset: *offset,
            reason: problem.to_string(),
        },
        // Row 5: a bad record whose claimed extent holds a valid record.
        SegmentEnd::Bad {
            offset,
            problem,
            swallowed: Some(at),
            ..
        } => EndVerdict::Corrupt {
            offset: *offset,
            reason: format!("{problem}, and a valid record starts at offset {at} inside it"),
        },
        // Rows 4 and 4a: only zeros after it, in the newest segment.
        SegmentEnd::Bad {
            offset,
            problem,
            extent_end,
            zeros_after: true,
            swallowed: None,
        } if newest => EndVerdict::TornTail {
            offset: *offset,
            extent_end: *extent_end,
            reason: problem.to_string(),
        },
        // Row 5: data after it, or an older segment.
        SegmentEnd::Bad {
            offset, problem, ..
        } => EndVerdict::Corrupt {
            offset: *offset,
            reason: problem.to_string(),
        },
    }
}

/// Summary of one segment's walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentScan {
    pub records: u64,
    /// Bytes occupied by valid records, headers and padding included.
    pub record_bytes: u64,
    pub end: SegmentEnd,
}

/// Walks the records of segment `seq`, whose contents are `bytes`, calling
/// `visit` for every record whose CRC matches; a record the visitor refuses
/// ends the walk as [`BadRecord::InvalidBody`].
///
/// `lsn_base` is the Lsn of byte 0 of this segment, so that each visited
/// record can carry the Lsn at its end.
pub fn scan_records(
    bytes: SegmentBytes<'_>,
    seq: u64,
    lsn_base: u64,
    visit: &mut super::Visit<'_>,
) -> SegmentScan {
    let header_bytes = RECORD_HEADER_BYTES as usize;
    let mut offset = SEGMENT_HEADER_BYTES as usize;
    let mut records = 0u64;
    let mut record_bytes = 0u64;
    loop {
        // Offsets stay 16-aligned and the segment length is a multiple of 16,
        // so a header either fits completely or we are exactly at the end.
        let Some(raw) = bytes.header(offset) else {
            return finish(records, record_bytes, clean_end(bytes, offset));
        };
        if raw.iter().all(|&b| b == 0) {
            return finish(records, record_bytes, clean_end(bytes, offset));
        }
        let header = decode_record_header(&raw);
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
        // The length was checked against the segment above, so this range is in bounds.
        let body_end = body_start + header.body_len as usize;
        let footprint = record_footprint_bytes(u64::from(header.body_len)) as usize;
        let computed = bytes.record_crc(&raw[0..8], body_start, body_end);
        if computed != header.crc {
            let problem = BadRecord::CrcMismatch {
                stored: header.crc,
                computed,
            };
            let claimed = footprint.min(bytes.len() - offset);
            let mut end = bad_end(bytes, offset, claimed, problem);
            if let SegmentEnd::Bad { swallowed, .. } = &mut end {
                *swallowed = first_valid_record(bytes, body_start, offset + claimed);
            }
            return finish(records, record_bytes, end);
        }
        let end_offset = (offset + footprint).min(bytes.len());
        // A valid record that runs past the file's end (its last bytes are
        // zeros a crash cut off) is handed out from a copy.
        let padded;
        let body = match bytes.file.get(body_start..body_end) {
            Some(body) => body,
            None => {
                padded = bytes.padded(body_start, body_end);
                &padded[..]
            }
        };
        let visited = visit(RecordRef {
            kind: header.kind,
            version: header.version,
            body,
            segment_seq: seq,
            offset: offset as u64,
            lsn: Lsn(lsn_base + end_offset as u64),
        });
        if let Err(reason) = visited {
            let end = SegmentEnd::Bad {
                offset: offset as u64,
                problem: BadRecord::InvalidBody(reason.to_string()),
                extent_end: end_offset as u64,
                zeros_after: bytes.find_nonzero(end_offset).is_none(),
                swallowed: None,
            };
            return finish(records, record_bytes, end);
        }
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
fn clean_end(bytes: SegmentBytes<'_>, offset: usize) -> SegmentEnd {
    let after_marker = (offset + RECORD_HEADER_BYTES as usize).min(bytes.len());
    match bytes.find_nonzero(after_marker) {
        None => SegmentEnd::Clean {
            end_offset: offset as u64,
        },
        Some(first_nonzero) => SegmentEnd::Bad {
            offset: offset as u64,
            problem: BadRecord::StrayBytes {
                first_nonzero: first_nonzero as u64,
            },
            extent_end: bytes.last_nonzero_end(first_nonzero) as u64,
            zeros_after: true,
            swallowed: None,
        },
    }
}

fn bad_end(
    bytes: SegmentBytes<'_>,
    offset: usize,
    claimed_bytes: usize,
    problem: BadRecord,
) -> SegmentEnd {
    let extent_end = offset + claimed_bytes;
    SegmentEnd::Bad {
        offset: offset as u64,
        problem,
        extent_end: extent_end as u64,
        zeros_after: bytes.find_nonzero(extent_end).is_none(),
        swallowed: None,
    }
}

/// The offset of the first valid record that starts at a record boundary
/// in `from..to` (16-byte aligned), if any. A torn write leaves no valid
/// record inside its own extent (its body is its own bytes or zeros); one
/// there means the length field that claimed it was corrupted.
fn first_valid_record(bytes: SegmentBytes<'_>, from: usize, to: usize) -> Option<u64> {
    let header_bytes = RECORD_HEADER_BYTES as usize;
    let mut at = from.next_multiple_of(16);
    // Past the file's end every header is zero: no record starts there.
    while at + header_bytes <= to.min(bytes.len()) && at < bytes.file.len() {
        let raw = bytes.header(at)?;
        let h = decode_record_header(&raw);
        if h.magic == RECORD_MAGIC && h.reserved == 0 {
            let body_start = at + header_bytes;
            let body_end = body_start + h.body_len as usize;
            if body_end <= bytes.len()
                && bytes.record_crc(&raw[0..8], body_start, body_end) == h.crc
            {
                return Some(at as u64);
            }
        }
        at += 16;
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(zeros_after: bool, swallowed: Option<u64>) -> SegmentEnd {
        SegmentEnd::Bad {
            offset: 64,
            problem: BadRecord::BadMagic(7),
            extent_end: 80,
            zeros_after,
            swallowed,
        }
    }

    fn invalid_body() -> SegmentEnd {
        SegmentEnd::Bad {
            offset: 64,
            problem: BadRecord::InvalidBody("version 9".into()),
            extent_end: 96,
            zeros_after: true,
            swallowed: None,
        }
    }

    #[test]
    fn classify_table() {
        let torn = EndVerdict::TornTail {
            offset: 64,
            extent_end: 80,
            reason: "bad record magic 0x0007".into(),
        };
        let corrupt = EndVerdict::Corrupt {
            offset: 64,
            reason: "bad record magic 0x0007".into(),
        };
        let swallowing = EndVerdict::Corrupt {
            offset: 64,
            reason: "bad record magic 0x0007, and a valid record starts at offset 96 inside it"
                .into(),
        };
        // (segment end, newest) -> verdict; the row of the table in the comment.
        let rows: Vec<(SegmentEnd, bool, EndVerdict)> = vec![
            (
                SegmentEnd::Clean { end_offset: 64 },
                true,
                EndVerdict::EndOfData { end_offset: 64 },
            ), // 2
            (
                SegmentEnd::Clean { end_offset: 64 },
                false,
                EndVerdict::EndOfData { end_offset: 64 },
            ), // 2
            (bad(true, None), true, torn),                   // 4
            (bad(true, None), false, corrupt.clone()),       // 5: older segment
            (bad(false, None), true, corrupt.clone()),       // 5: data after it
            (bad(true, Some(96)), true, swallowing.clone()), // 5: swallows a record
            (bad(false, Some(96)), false, swallowing),       // 5
            // 5: refused by the caller (valid crc), even at the tail.
            (
                invalid_body(),
                true,
                EndVerdict::Corrupt {
                    offset: 64,
                    reason: "record with a valid crc is invalid: version 9".into(),
                },
            ),
        ];
        for (i, (end, newest, want)) in rows.into_iter().enumerate() {
            assert_eq!(classify(&end, newest), want, "row {i}");
        }
    }

    /// Writes a record at `at` of `bytes`; returns where the next one goes.
    fn put(bytes: &mut [u8], at: usize, body: &[u8]) -> usize {
        let mut header = super::super::format::encode_record_header(1, 0, body.len() as u32);
        super::super::format::seal_record_header(&mut header, body);
        bytes[at..at + 16].copy_from_slice(&header);
        bytes[at + 16..at + 16 + body.len()].copy_from_slice(body);
        at + record_footprint_bytes(body.len() as u64) as usize
    }

    #[test]
    fn a_short_file_reads_as_the_same_file_extended_with_zeros() {
        let len = 8192;
        let mut full = rkyv::util::AlignedVec::<16>::new();
        full.resize(len, 0);
        let mut at = SEGMENT_HEADER_BYTES as usize;
        for (i, body_len) in [10usize, 0, 200, 33, 1000].into_iter().enumerate() {
            let mut body: Vec<u8> = (0..body_len).map(|j| (i * 31 + j) as u8 | 1).collect();
            if body_len == 1000 {
                // Valid when the file ends among these zeros.
                body[500..].fill(0);
            }
            at = put(&mut full, at, &body);
        }
        // A torn record whose claimed extent holds a valid one.
        let torn_at = at;
        at = put(&mut full, at, &[5u8; 1500]);
        full[torn_at + 100] ^= 1;
        put(&mut full, torn_at + 512, &[6u8; 64]);
        let walk = |view: SegmentBytes<'_>| {
            let mut seen = Vec::new();
            let scan = scan_records(view, 1, 0, &mut |r| {
                assert_eq!(r.body.as_ptr() as usize % 16, 0, "aligned body");
                seen.push((r.offset, r.lsn, r.body.to_vec()));
                Ok(())
            });
            (scan, seen)
        };
        for cut in 0..=at + 64 {
            let mut extended = rkyv::util::AlignedVec::<16>::new();
            extended.extend_from_slice(&full[..cut]);
            extended.resize(len, 0);
            assert_eq!(
                walk(SegmentBytes::new(&full[..cut], len)),
                walk(SegmentBytes::whole(&extended)),
                "file cut at {cut}"
            );
        }
    }

    #[test]
    fn a_valid_record_is_found_only_at_a_record_boundary() {
        let mut bytes = vec![0u8; 256];
        let body = b"hello, journal!!";
        let mut header = super::super::format::encode_record_header(1, 0, body.len() as u32);
        super::super::format::seal_record_header(&mut header, body);
        bytes[96..112].copy_from_slice(&header);
        bytes[112..128].copy_from_slice(body);
        let whole = |b: &[u8]| first_valid_record(SegmentBytes::whole(b), 64, 256);
        assert_eq!(whole(&bytes), Some(96));
        let view = SegmentBytes::whole(&bytes);
        assert_eq!(first_valid_record(view, 64, 100), None, "past the range");
        assert_eq!(
            first_valid_record(view, 97, 256),
            None,
            "97 rounds up to 112"
        );
        bytes[120] ^= 1;
        assert_eq!(whole(&bytes), None, "crc must match");
    }
}
