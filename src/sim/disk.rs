//! The simulated disk: what a crash does to the journal files.
//!
//! The engine writes its journals through real files in a temporary
//! directory; at a simulated crash the simulator rewrites what a power loss
//! could have left of the bytes no sync covered, and flips bits in records
//! that were durable long ago. Everything is chosen by the seed's generator.
//!
//! - [`Loss::Kept`]: the page cache survived (a `kill -9`): every byte stays;
//! - [`Loss::Dropped`]: nothing unsynced reached the disk: zeros from the
//!   durable position on;
//! - [`Loss::Torn`]: a prefix of the unsynced bytes reached the disk, cut at
//!   any byte; the rest reads as before (zeros, written or past the file's
//!   end).
//!
//! With a loss, a segment file may also come back shorter, at any length
//! down to the last synced byte (never into its header) and never below the
//! length it had at its journal's last sync: the writer grows files as they
//! fill, and a growth only becomes durable with the next sync (which
//! persists the file's size with the data). Unsynced bytes cut off this way
//! are a tear at the file's new end.
//!
//! Not modelled: unsynced pages reaching the disk out of order, and garbage
//! in sectors being written. The journal's decision table treats both as
//! corruption (`docs/journal-format.md`, known limitations).
//!
//! Segment headers are never touched: a segment is created and its header
//! synced before any record goes into it.

use crate::journal::{Lsn, SEGMENT_HEADER_BYTES};
use rand::rngs::StdRng;
use rand::Rng;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// What a crash did to one journal's unsynced bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    Kept,
    Dropped,
    Torn,
}

/// Why the simulated disk could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("simulated disk: {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DiskError + '_ {
    move |source| DiskError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// (segment seq, offset) of a log position.
fn split(lsn: u64, segment_bytes: u64) -> (u64, u64) {
    (lsn / segment_bytes + 1, lsn % segment_bytes)
}

/// Overwrites `[from, to)` of the log in `dir` with `fill(i)` for the i-th
/// byte, segment headers, missing segment files and bytes past a file's end
/// (which read as zero) left alone.
fn rewrite(
    dir: &Path,
    segment_bytes: u64,
    from: u64,
    to: u64,
    mut fill: impl FnMut(u64) -> u8,
) -> Result<(), DiskError> {
    let mut lsn = from;
    while lsn < to {
        let (seq, offset) = split(lsn, segment_bytes);
        let seg_end = (seq * segment_bytes).min(to);
        let path = crate::journal::segment_path(dir, seq);
        if let Ok(meta) = std::fs::metadata(&path) {
            let start = offset.max(SEGMENT_HEADER_BYTES);
            let end = (seg_end - (seq - 1) * segment_bytes).min(meta.len());
            if start < end {
                let bytes: Vec<u8> = (start..end)
                    .map(|o| fill(o - offset + lsn - from))
                    .collect();
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io(&path))?;
                file.write_all_at(&bytes, start).map_err(io(&path))?;
            }
        }
        lsn = seg_end;
    }
    Ok(())
}

/// Segment number → the length its file had at its journal's last sync.
pub type SyncedLengths = std::collections::BTreeMap<u64, u64>;

/// The lengths of the segment files of `dir` now (after a sync or a
/// recovery: durable).
pub fn lengths(dir: &Path) -> Result<SyncedLengths, DiskError> {
    let mut out = SyncedLengths::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        if let Some(seq) = name.to_str().and_then(crate::journal::parse_segment_name) {
            out.insert(seq, entry.metadata().map_err(io(dir))?.len());
        }
    }
    Ok(out)
}

/// Applies a crash to the unsynced bytes `[durable, written)` of one
/// journal, whose segment files had `synced` lengths at its last sync.
pub fn crash(
    rng: &mut StdRng,
    dir: &Path,
    segment_bytes: u64,
    (durable, written): (Lsn, Lsn),
    synced: &SyncedLengths,
) -> Result<Loss, DiskError> {
    let (durable, written) = (durable.0, written.0);
    if written <= durable {
        return Ok(Loss::Kept);
    }
    let loss = match rng.gen_range(0..10) {
        0..=3 => Loss::Kept,
        4..=6 => Loss::Dropped,
        _ => Loss::Torn,
    };
    match loss {
        Loss::Kept => {}
        Loss::Dropped => {
            rewrite(dir, segment_bytes, durable, written, |_| 0)?;
            shorten(rng, dir, segment_bytes, (durable, written), synced)?;
        }
        Loss::Torn => {
            let cut = rng.gen_range(durable..written);
            rewrite(dir, segment_bytes, cut, written, |_| 0)?;
            shorten(rng, dir, segment_bytes, (durable, written), synced)?;
        }
    }
    Ok(loss)
}

/// Cuts, each with even odds, the segment files holding log bytes in
/// `[durable, written)` to a length between the last durable byte (or the
/// end of the header) and their length: growths no sync made durable.
fn shorten(
    rng: &mut StdRng,
    dir: &Path,
    segment_bytes: u64,
    (durable, written): (u64, u64),
    synced: &SyncedLengths,
) -> Result<(), DiskError> {
    let (first, durable_offset) = split(durable, segment_bytes);
    let (last, _) = split(written, segment_bytes);
    for seq in first..=last {
        let path = crate::journal::segment_path(dir, seq);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let floor = if seq == first { durable_offset } else { 0 }
            .max(SEGMENT_HEADER_BYTES)
            .max(synced.get(&seq).copied().unwrap_or(0));
        if floor < meta.len() && rng.gen_bool(0.5) {
            let len = rng.gen_range(floor..=meta.len());
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(len))
                .map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Flips bit `bit` of the byte at `offset` of segment `seq` in `dir`.
pub fn flip(dir: &Path, seq: u64, offset: u64, bit: u8) -> Result<(), DiskError> {
    let path = crate::journal::segment_path(dir, seq);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    let mut b = [0u8; 1];
    file.read_exact_at(&mut b, offset).map_err(io(&path))?;
    b[0] ^= 1 << (bit % 8);
    file.write_all_at(&b, offset).map_err(io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_dropped_tail_is_zeroed_across_segments_and_headers_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sb = 4096u64;
        for seq in 1..=2 {
            std::fs::write(
                crate::journal::segment_path(dir.path(), seq),
                vec![7u8; sb as usize],
            )
            .expect("write");
        }
        rewrite(dir.path(), sb, 1000, sb + 500, |_| 0).expect("rewrite");
        let one = std::fs::read(crate::journal::segment_path(dir.path(), 1)).expect("read");
        let two = std::fs::read(crate::journal::segment_path(dir.path(), 2)).expect("read");
        assert!(one[..1000].iter().all(|&b| b == 7));
        assert!(one[1000..].iter().all(|&b| b == 0));
        assert!(
            two[..SEGMENT_HEADER_BYTES as usize].iter().all(|&b| b == 7),
            "header kept"
        );
        assert!(two[SEGMENT_HEADER_BYTES as usize..500]
            .iter()
            .all(|&b| b == 0));
        assert!(two[500..].iter().all(|&b| b == 7));
        // A short file is not extended: past its end it reads as zero.
        let short = crate::journal::segment_path(dir.path(), 3);
        std::fs::write(&short, vec![7u8; 1000]).expect("write");
        rewrite(dir.path(), sb, 2 * sb + 100, 3 * sb, |_| 0).expect("rewrite");
        let three = std::fs::read(&short).expect("read");
        assert_eq!(three.len(), 1000, "not extended");
        assert!(three[100..].iter().all(|&b| b == 0));
        // Nothing unsynced: nothing changes.
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            crash(
                &mut rng,
                dir.path(),
                sb,
                (Lsn(10), Lsn(10)),
                &SyncedLengths::new()
            )
            .expect("crash"),
            Loss::Kept
        );
    }

    #[test]
    fn a_shortened_file_keeps_every_synced_byte_and_its_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sb = 8192u64;
        for seed in 0..64 {
            for seq in 1..=2 {
                std::fs::write(
                    crate::journal::segment_path(dir.path(), seq),
                    vec![7u8; sb as usize],
                )
                .expect("write");
            }
            let mut rng = StdRng::seed_from_u64(seed);
            // Synced up to 5000 of segment 1; written into segment 2; at the
            // last sync segment 1's file was 6000 bytes long and segment 2
            // did not exist.
            let synced = SyncedLengths::from([(1, 6000)]);
            shorten(&mut rng, dir.path(), sb, (5000, sb + 3000), &synced).expect("shorten");
            let one = std::fs::metadata(crate::journal::segment_path(dir.path(), 1));
            let two = std::fs::metadata(crate::journal::segment_path(dir.path(), 2));
            assert!(one.expect("stat").len() >= 6000, "seed {seed}");
            assert!(
                two.expect("stat").len() >= SEGMENT_HEADER_BYTES,
                "seed {seed}"
            );
        }
    }
}
