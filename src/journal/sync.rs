//! Group-commit jobs: the msync half of a sync, detached from the writer.
//!
//! A `SyncJob` holds `SegmentSync` handles of the mappings it flushes, so it
//! is `Send + 'static` and can run on a blocking thread while the shard keeps
//! appending. A `SegmentSync` cannot read or write the mapped bytes (the
//! types say so: only the writer's non-`Clone` `MappedSegment` can); it only
//! asks the kernel to write back a byte range, which is why it can share the
//! mapping with the writer without any locking.

use super::error::SyncError;
use super::segment::SegmentSync;
use super::Lsn;

/// A byte range of one segment that was written but not yet handed to a job.
#[derive(Debug)]
pub(super) struct SyncRange {
    pub segment: SegmentSync,
    pub start: u64,
    pub end: u64,
}

/// Makes every byte written before it was taken durable.
///
/// Ranges are in log order; a job taken after a segment roll holds the tail of
/// the old segment and the head of the new one.
#[derive(Debug)]
#[must_use = "a sync job does nothing until it is run"]
pub struct SyncJob {
    pub(super) ranges: Vec<SyncRange>,
    pub(super) lsn: Lsn,
    /// The staged records could not be written to the file: the job fails.
    pub(super) failure: Option<super::JournalIoError>,
    /// The writer's active segment when the job was taken: every other
    /// segment among `ranges` was rolled away from and is dropped whole
    /// from the page cache (the active one may be absent from `ranges`: a
    /// job taken right after a roll, before anything went into the new
    /// segment).
    pub(super) active_seq: u64,
}

impl SyncJob {
    /// Blocks until the job's ranges are on stable storage; returns the Lsn
    /// to pass to `Journal::complete_sync`.
    pub fn run(self) -> Result<Lsn, SyncError> {
        debug_assert!(
            self.ranges
                .windows(2)
                .all(|w| w[0].segment.seq < w[1].segment.seq),
            "a sync job's ranges are in log order, one per segment"
        );
        if let Some(e) = self.failure {
            return Err(e.into());
        }
        for range in &self.ranges {
            range.segment.flush(range.start, range.end)?;
        }
        uncache_behind(&self.ranges, self.active_seq);
        Ok(self.lsn)
    }

    /// The Lsn that is durable once this job has run.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }
}

/// Once a job's ranges are durable, lets the kernel drop the page cache
/// of the journal behind the newest `JOURNAL_CACHED_BEHIND_BYTES`: the rest
/// of each rolled segment (every range but the one of `active_seq`), and
/// the active segment's bytes that fell out of the window with this job, in whole
/// blocks of `JOURNAL_UNCACHE_STEP_BYTES`. Consecutive jobs' ranges tile
/// the log, so every durable block but the window's is dropped exactly
/// once.
///
/// A journal is written once and read back seldom (hot deliveries carry
/// their messages; cold reads and API reads of old messages read the
/// file), but every page the page cache grows by is a page of memory the
/// kernel must find, and zero-fill, and on a virtual machine whose balloon
/// takes free memory back, fault in from the host: 10 µs per 4 KiB here,
/// 19 % of the engine's CPU in a pipelined run whose memory was cold
/// (`docs/BENCHMARKS.md`, thirteenth session, "The journal's page
/// cache"). Dropped pages are free again at once, and the writer's next
/// pages reuse them.
fn uncache_behind(ranges: &[SyncRange], active_seq: u64) {
    let window = crate::limits::JOURNAL_CACHED_BEHIND_BYTES;
    let step = crate::limits::JOURNAL_UNCACHE_STEP_BYTES;
    for r in ranges {
        if r.segment.seq == active_seq {
            r.segment.uncache(
                r.start.saturating_sub(window),
                r.end.saturating_sub(window),
                step,
            );
        } else {
            // All of the old segment: nothing is written to it again.
            let end = r.end.next_multiple_of(step);
            r.segment.uncache(r.start.saturating_sub(window), end, step);
        }
    }
}

/// Compile-time proof that jobs can move to another thread.
const _: fn() = || {
    fn assert_send_static<T: Send + 'static>() {}
    assert_send_static::<SyncJob>();
};
