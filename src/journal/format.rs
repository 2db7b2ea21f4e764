//! On-disk layout of segments and records: constants, encoders and decoders.
//!
//! Everything that knows a byte offset inside a segment lives here so that the
//! writer, the recovery scan and the offline checker cannot disagree about the
//! format. All integers are little-endian and fixed-width; nothing on disk
//! depends on the width of `usize`. `journal-format.md` documents the same
//! layout with byte diagrams.

use std::fmt;
use std::path::{Path, PathBuf};

/// Magic bytes that open every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"RHJSEG01";
/// Version of the segment and record layout described in this file.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes reserved for the segment header; records start right after it.
pub const SEGMENT_HEADER_BYTES: u64 = 64;
/// Bytes of the fixed record header that precedes every body.
pub const RECORD_HEADER_BYTES: u64 = 16;
/// Records start, and bodies therefore start, on multiples of this.
pub const RECORD_ALIGN_BYTES: u64 = 16;
/// Non-zero marker in the first two bytes of a record header ("RJ" on disk).
///
/// It must be non-zero so that an all-zero header can unambiguously mean
/// "end of data" in a zero-filled segment (zeros reserved with its file,
/// or past the file's end).
pub const RECORD_MAGIC: u16 = u16::from_le_bytes(*b"RJ");
/// Segment sizes (and the sizes a segment's file grows through) are whole
/// pages, so a file ends at a page boundary of its mapping.
pub const SEGMENT_SIZE_GRANULE_BYTES: u64 = 4096;

/// Byte offset of the CRC inside the segment header; the CRC covers every byte before it.
const SEGMENT_CRC_OFFSET: usize = 60;

/// Rounds `bytes` up to the record alignment.
///
/// Callers only pass lengths bounded by the segment size, so the addition
/// cannot overflow a `u64`.
pub fn align_up(bytes: u64) -> u64 {
    bytes.div_ceil(RECORD_ALIGN_BYTES) * RECORD_ALIGN_BYTES
}

/// Total footprint of a record with `body_bytes` of body, padding included.
pub fn record_footprint_bytes(body_bytes: u64) -> u64 {
    RECORD_HEADER_BYTES + align_up(body_bytes)
}

/// Largest body that fits into an otherwise empty segment of `segment_bytes`.
///
/// It is also capped by the `u32` length field of the record header.
pub fn max_body_bytes(segment_bytes: u64) -> u64 {
    segment_bytes
        .saturating_sub(SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES)
        .min(u64::from(u32::MAX))
}

/// The file name of segment `seq`: 16 lower-case hex digits, so that a plain
/// lexical sort of the directory is also the log order.
pub fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016x}.seg"))
}

/// Parses a segment file name back into its sequence number.
///
/// Anything that is not exactly 16 lower-case hex digits plus `.seg` is not a
/// segment, which lets operators keep unrelated files (notes, lock files) in
/// the directory.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".seg")?;
    let well_formed = stem.len() == 16
        && stem
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return None;
    }
    u64::from_str_radix(stem, 16).ok()
}

/// Decoded contents of a valid segment header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub seq: u64,
    pub segment_bytes: u64,
}

/// Why a segment header was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    /// All 64 bytes are zero: the file was created but its header never reached disk.
    AllZero,
    BadMagic,
    UnsupportedVersion(u16),
    CrcMismatch {
        stored: u32,
        computed: u32,
    },
    SeqMismatch {
        stored: u64,
        expected: u64,
    },
    BadSegmentSize(u64),
}

impl fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AllZero => write!(f, "segment header is all zero"),
            Self::BadMagic => write!(f, "bad segment magic"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported segment format version {v}"),
            Self::CrcMismatch { stored, computed } => write!(
                f,
                "segment header crc mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            Self::SeqMismatch { stored, expected } => write!(
                f,
                "segment header names seq {stored} but the file name says {expected}"
            ),
            Self::BadSegmentSize(bytes) => write!(
                f,
                "segment header declares an invalid segment size of {bytes} bytes"
            ),
        }
    }
}

/// Encodes the 64-byte header of segment `seq`.
pub fn encode_segment_header(seq: u64, segment_bytes: u64) -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut out = [0u8; SEGMENT_HEADER_BYTES as usize];
    out[0..8].copy_from_slice(&SEGMENT_MAGIC);
    out[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    // Bytes 10..16 are reserved and stay zero.
    out[16..24].copy_from_slice(&seq.to_le_bytes());
    out[24..32].copy_from_slice(&segment_bytes.to_le_bytes());
    // Bytes 32..60 are reserved and stay zero.
    let crc = crc32c::crc32c(&out[..SEGMENT_CRC_OFFSET]);
    out[SEGMENT_CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Validates a segment header read from the file named `expected_seq`.
///
/// `bytes` may be shorter than a header (a truncated file); the missing bytes
/// are treated as zero, which is what re-extending the file would produce.
pub fn decode_segment_header(
    bytes: &[u8],
    expected_seq: u64,
) -> Result<SegmentHeader, HeaderProblem> {
    let mut raw = [0u8; SEGMENT_HEADER_BYTES as usize];
    let present = bytes.len().min(raw.len());
    raw[..present].copy_from_slice(&bytes[..present]);
    if raw.iter().all(|&b| b == 0) {
        return Err(HeaderProblem::AllZero);
    }
    if raw[0..8] != SEGMENT_MAGIC {
        return Err(HeaderProblem::BadMagic);
    }
    let stored_crc = read_u32(&raw, SEGMENT_CRC_OFFSET);
    let computed_crc = crc32c::crc32c(&raw[..SEGMENT_CRC_OFFSET]);
    if stored_crc != computed_crc {
        return Err(HeaderProblem::CrcMismatch {
            stored: stored_crc,
            computed: computed_crc,
        });
    }
    let version = u16::from_le_bytes([raw[8], raw[9]]);
    if version != FORMAT_VERSION {
        return Err(HeaderProblem::UnsupportedVersion(version));
    }
    let seq = read_u64(&raw, 16);
    if seq != expected_seq {
        return Err(HeaderProblem::SeqMismatch {
            stored: seq,
            expected: expected_seq,
        });
    }
    let segment_bytes = read_u64(&raw, 24);
    if !valid_segment_bytes(segment_bytes) {
        return Err(HeaderProblem::BadSegmentSize(segment_bytes));
    }
    Ok(SegmentHeader { seq, segment_bytes })
}

/// Whether a segment size is usable: whole pages, and mappable on this machine.
pub fn valid_segment_bytes(segment_bytes: u64) -> bool {
    segment_bytes >= SEGMENT_SIZE_GRANULE_BYTES
        && segment_bytes.is_multiple_of(SEGMENT_SIZE_GRANULE_BYTES)
        && usize::try_from(segment_bytes).is_ok_and(|b| b <= isize::MAX as usize)
}

/// Encodes a record header; `crc` must already cover the first 8 header bytes and the body.
pub fn encode_record_header(
    kind: u8,
    version: u8,
    body_len: u32,
) -> [u8; RECORD_HEADER_BYTES as usize] {
    let mut out = [0u8; RECORD_HEADER_BYTES as usize];
    out[0..2].copy_from_slice(&RECORD_MAGIC.to_le_bytes());
    out[2] = kind;
    out[3] = version;
    out[4..8].copy_from_slice(&body_len.to_le_bytes());
    out
}

/// Computes the record CRC and stores it into an encoded header.
pub fn seal_record_header(header: &mut [u8; RECORD_HEADER_BYTES as usize], body: &[u8]) {
    let crc = record_crc(&header[0..8], body);
    header[8..12].copy_from_slice(&crc.to_le_bytes());
}

/// The record CRC covers the first 8 header bytes (magic, kind, version,
/// length) so that a corrupted length or kind is caught, not just a corrupted body.
pub fn record_crc(header_prefix: &[u8], body: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(header_prefix), body)
}

/// Decoded record header fields, not yet validated against the body.
#[derive(Copy, Clone, Debug)]
pub struct RecordHeader {
    pub magic: u16,
    pub kind: u8,
    pub version: u8,
    pub body_len: u32,
    pub crc: u32,
    pub reserved: u32,
}

/// Splits 16 header bytes into fields.
pub fn decode_record_header(raw: &[u8; RECORD_HEADER_BYTES as usize]) -> RecordHeader {
    RecordHeader {
        magic: u16::from_le_bytes([raw[0], raw[1]]),
        kind: raw[2],
        version: raw[3],
        body_len: read_u32(raw, 4),
        crc: read_u32(raw, 8),
        reserved: read_u32(raw, 12),
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(raw)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(raw)
}

/// Lsn of byte 0 of segment `seq`: every earlier segment counts in full.
///
/// Returns `None` for seq 0 (never written) and for sequence numbers whose
/// segment would end beyond `u64::MAX`, so Lsn arithmetic can never overflow.
pub fn segment_base_lsn(seq: u64, segment_bytes: u64) -> Option<u64> {
    let base = seq.checked_sub(1)?.checked_mul(segment_bytes)?;
    base.checked_add(segment_bytes)?;
    Some(base)
}

/// Checks that segment `seq` may directly follow `previous_seq` in a log of
/// `segment_bytes`-sized segments; returns why not otherwise.
pub fn segment_order_problem(
    previous_seq: Option<u64>,
    seq: u64,
    segment_bytes: u64,
) -> Option<String> {
    if segment_base_lsn(seq, segment_bytes).is_none() {
        return Some(format!("segment sequence number {seq} is out of range"));
    }
    match previous_seq {
        Some(previous) if previous.checked_add(1) != Some(seq) => Some(format!(
            "segment {seq:016x} follows {previous:016x}; the segments in between are missing"
        )),
        _ => None,
    }
}
