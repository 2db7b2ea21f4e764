//! The journal's page cache after group commits: durable bytes behind the
//! newest `JOURNAL_CACHED_BEHIND_BYTES` are dropped, the window's stay, and
//! a rolled segment leaves whole (`sync::uncache_behind`).

use super::*;
use crate::journal::record_footprint_bytes;
use crate::limits::{JOURNAL_CACHED_BEHIND_BYTES as WINDOW, JOURNAL_UNCACHE_STEP_BYTES as STEP};

const PAGE: u64 = 4096;
const MIB: u64 = 1024 * 1024;

/// Which pages of `path` are in the page cache (`mincore` of a mapping
/// that is never read, so it faults nothing in).
fn resident(path: &Path) -> Vec<bool> {
    let file = File::open(path).expect("open");
    let len = file.metadata().expect("stat").len() as usize;
    // SAFETY: a read-only mapping handed to mincore only, never read.
    let map = unsafe { memmap2::Mmap::map(&file) }.expect("map");
    let mut pages = vec![0u8; len.div_ceil(PAGE as usize)];
    // SAFETY: `pages` has one byte per page of the mapping.
    let rc = unsafe { libc::mincore(map.as_ptr() as *mut libc::c_void, len, pages.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    pages.iter().map(|b| b & 1 == 1).collect()
}

/// Syncs what was written, if anything, as the group commit does.
fn sync(journal: &mut Journal) {
    if let Some(job) = journal.take_sync_job() {
        let lsn = job.run().expect("sync");
        journal.complete_sync(lsn);
    }
}

#[test]
fn durable_bytes_behind_the_window_leave_the_page_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("j");
    let (mut journal, _, _) = open_collect(&dir, JournalConfig::default()).expect("open");
    // Records of 64 KiB on disk, a sync every 16 (1 MiB), 25 MiB in all.
    let record = vec![7u8; 64 * 1024 - 16];
    for i in 0..400 {
        journal.append(1, &record).expect("append");
        if i % 16 == 15 {
            sync(&mut journal);
        }
    }
    sync(&mut journal);
    let written = journal.written_lsn().0;
    assert!(written > WINDOW + 8 * MIB, "wrote {written}");
    let pages = resident(&seg(&dir, 1));
    // Dropped in whole steps: up to the step holding the window's start.
    let dropped = ((written - WINDOW) / STEP * STEP / PAGE) as usize;
    let behind = ((written - WINDOW) / PAGE) as usize;
    let end = (written / PAGE) as usize;
    // Page 0, the header, is written through the writer's mapping and stays.
    let kept_behind = pages[1..dropped].iter().filter(|r| **r).count();
    assert_eq!(kept_behind, 0, "pages behind the window still cached");
    let in_window = pages[behind..end].iter().filter(|r| **r).count();
    assert!(
        in_window * 10 >= (end - behind) * 9,
        "the window is cached: {in_window} of {} pages",
        end - behind
    );
}

#[test]
fn a_rolled_segment_leaves_the_page_cache_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(64 * 1024)).expect("open");
    let record = body(1, 6000);
    // A sync after every record: each roll comes right after one, so the
    // old segment has nothing left to sync, and the roll still hands it
    // to the next job.
    for _ in 0..40 {
        journal.append(1, &record).expect("append");
        sync(&mut journal);
    }
    let active = journal.active_segment_seq();
    assert!(active >= 4, "rolled to segment {active}");
    for seq in 1..active {
        let pages = resident(&seg(tmp.path(), seq));
        let cached = pages.iter().skip(1).filter(|r| **r).count();
        assert_eq!(cached, 0, "segment {seq} still cached: {pages:?}");
    }
}

#[test]
fn a_segment_rolled_away_from_leaves_even_before_the_next_one_has_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(64 * 1024)).expect("open");
    let record = body(1, 6000);
    for _ in 0..8 {
        journal.append(1, &record).expect("append");
    }
    assert_eq!(journal.active_segment_seq(), 1);
    // A batch that does not fit rolls at its reservation; a job taken
    // before its first record covers only the old segment's tail.
    journal
        .reserve(record_footprint_bytes(record.len() as u64) * 4)
        .expect("reserve");
    assert_eq!(journal.active_segment_seq(), 2);
    sync(&mut journal);
    let pages = resident(&seg(tmp.path(), 1));
    let cached = pages.iter().skip(1).filter(|r| **r).count();
    assert_eq!(cached, 0, "segment 1 still cached: {pages:?}");
}
