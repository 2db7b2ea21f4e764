//! Tests for the journal, on real files in temporary directories.
//!
//! Shared helpers live here; the cases are split by concern so each file stays
//! readable: API round trips, segment files growing, staged records,
//! recovery decisions, and property tests.

mod cache;
mod growth;
mod props;
mod recovery;
mod roundtrip;
mod staging;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::segment_path;
pub use super::segment::initial_file_bytes;
use super::{Journal, JournalConfig, OpenError, RecoveryReport};

/// Small segments so that tests roll often.
pub const SMALL_SEGMENT_BYTES: u64 = 16 * 1024;

/// A record as the caller sees it: (kind, body).
pub type Rec = (u8, Vec<u8>);

pub fn config(segment_bytes: u64) -> JournalConfig {
    JournalConfig {
        segment_bytes,
        repair: false,
    }
}

pub fn repair_config(segment_bytes: u64) -> JournalConfig {
    JournalConfig {
        segment_bytes,
        repair: true,
    }
}

/// Deterministic body bytes that differ per record, never all zero.
pub fn body(index: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (index.wrapping_mul(31).wrapping_add(i.wrapping_mul(7)) % 251) as u8 + 1)
        .collect()
}

/// Opens the journal and collects every visited record.
pub fn open_collect(
    dir: &Path,
    config: JournalConfig,
) -> Result<(Journal, RecoveryReport, Vec<Rec>), OpenError> {
    let mut seen = Vec::new();
    let (journal, report) = Journal::open(dir, config, |r| {
        assert_eq!(r.body.as_ptr() as usize % 16, 0, "body not 16-byte aligned");
        seen.push((r.kind, r.body.to_vec()));
    })?;
    Ok((journal, report, seen))
}

/// Like `open_collect` but also returns each record's (segment seq, offset).
pub fn open_positions(
    dir: &Path,
    config: JournalConfig,
) -> Result<(Journal, Vec<(u64, u64)>), OpenError> {
    let mut positions = Vec::new();
    let (journal, _) = Journal::open(dir, config, |r| positions.push((r.segment_seq, r.offset)))?;
    Ok((journal, positions))
}

/// Appends every record and syncs.
pub fn append_all(journal: &mut Journal, records: &[Rec]) {
    for (kind, body) in records {
        journal.append(*kind, body).expect("append");
    }
    journal.sync().expect("sync");
}

pub fn seg(dir: &Path, seq: u64) -> PathBuf {
    segment_path(dir, seq)
}

/// Overwrites bytes of a file in place.
pub fn poke(path: &Path, offset: u64, bytes: &[u8]) {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for poke");
    file.write_all_at(bytes, offset).expect("poke");
}

pub fn read_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let file = File::open(path).expect("open for read");
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset).expect("read");
    buf
}

pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("stat").len()
}
