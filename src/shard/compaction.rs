//! Compaction: deleting journal segments nothing needs any more.
//!
//! A shard journal's segment may go once (a) every record in it is older than
//! the retention period (so no listing can point into it: the read-path
//! indexes forget entries at the same age), and (b) no pending delivery, on
//! any shard, is for a message created at or before its newest record (so
//! recovery never needs it: a pending delivery's message and attempt records
//! are all at least as new as the message). Rule (b) is checked against the
//! oldest pending message time that every shard publishes each compaction
//! tick; the cutoff keeps a margin of two ticks for values one tick stale.
//! Only a prefix of the log is removed, never the active segment, so the log
//! stays gap-free. Segments of shards that no longer exist (after `--shards`
//! went down) are compacted by shard 0 with the same rule, and their
//! directory removed when empty. The catalog journal is compacted by
//! rewriting it (`catalog::store`), not by this rule.
//!
//! The shard decides what goes and forgets it at once; the files are deleted
//! on a thread of their own (`Removal`): unlinking a written 64 MiB segment
//! took 11 ms on the AMD EPYC machine of `docs/BENCHMARKS.md` (the kernel
//! drops its cached pages and frees its blocks), a stall every delivery of
//! the shard would otherwise wait out, and the shard's blocking pool runs
//! its group commits, which must not queue behind it.

use super::state::Shard;
use crate::commit::{Retired, SegmentTimes};
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

/// The time before which segments may be deleted, or `None` if none may:
/// older than the retention plus a margin of two passes, and than the
/// oldest pending message of every shard (`oldest_pending`, each value
/// published at that shard's last pass, so up to one pass stale).
pub fn cutoff_ms(
    now_ms: u64,
    retention_ms: u64,
    interval_ms: u64,
    oldest_pending: impl IntoIterator<Item = u64>,
) -> Option<u64> {
    let margin = interval_ms.saturating_mul(2);
    let by_age = now_ms.checked_sub(retention_ms.saturating_add(margin))?;
    let oldest_pending = oldest_pending.into_iter().min().unwrap_or(u64::MAX);
    Some(by_age.min(oldest_pending.saturating_sub(1)))
}

/// This shard's cutoff, from the values every shard published.
fn shard_cutoff_ms(shard: &Shard, now_ms: u64) -> Option<u64> {
    let config = &shard.shared.config;
    cutoff_ms(
        now_ms,
        config.retention_ms,
        config.compaction_interval_ms,
        shard
            .shared
            .oldest_pending_ms
            .iter()
            .map(|a| a.load(Ordering::Relaxed)),
    )
}

/// The first segment that must stay: the end of the deletable prefix.
fn keep_from(times: &SegmentTimes, active_seq: u64, cutoff: u64) -> u64 {
    times
        .iter()
        .find(|(seq, newest)| **seq >= active_seq || **newest >= cutoff)
        .map(|(seq, _)| *seq)
        .unwrap_or(active_seq)
}

/// Publishes the oldest pending message time of this shard (`u64::MAX` if none).
pub fn publish_oldest_pending(shard: &Shard) {
    let oldest = shard.delivery.oldest_pending_ms();
    shard.shared.oldest_pending_ms[shard.id].store(oldest, Ordering::Relaxed);
}

/// Deleting the files of one compaction pass: the segments of `dir` before
/// `before_seq`, and then the directory itself if `then_dir` (a retired
/// journal whose segments all go).
pub struct Job {
    dir: PathBuf,
    before_seq: u64,
    then_dir: bool,
}

impl Job {
    /// Runs on the removal thread (`Plan::run`); failures are logged (the
    /// files stay, and the next pass that deletes in `dir` takes them too,
    /// since it deletes by listing).
    pub fn run(&self) {
        if let Err(e) = crate::journal::remove_segments_before(&self.dir, self.before_seq) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "journal compaction failed");
            return;
        }
        if self.then_dir {
            // Every segment is gone: the directory goes too, so recovery
            // stops visiting it.
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove a retired journal's directory");
            }
        }
    }
}

/// The shard's deletion of compacted files, on a thread of its own.
///
/// # Invariants
/// - at most one deletion runs per shard (a pass that finds the last one
///   running skips its turn), so two never list and unlink in one directory
///   at once;
/// - a stopping shard waits for it (`finish`), so no thread of the engine
///   touches the data directory after the shard is gone.
#[derive(Default)]
pub struct Removal {
    running: RefCell<Option<JoinHandle<()>>>,
}

impl Removal {
    /// Whether the last deletion still runs (one that ended is joined).
    fn busy(&self) -> bool {
        let mut running = self.running.borrow_mut();
        if running.as_ref().is_some_and(|h| !h.is_finished()) {
            return true;
        }
        if let Some(done) = running.take() {
            // The job logs its own failures; a panic aborts the process.
            let _ = done.join();
        }
        false
    }

    /// Starts `plan` (its horizon, then its deletions) on a thread; runs it
    /// here, as a stall, if no thread starts (out of threads or memory).
    fn start(&self, shard: usize, plan: Plan) {
        debug_assert!(self.running.borrow().is_none(), "one deletion at a time");
        let plan = std::sync::Arc::new(plan);
        let theirs = plan.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("ringhook-compact-{shard}"))
            .spawn(move || theirs.run());
        match spawned {
            Ok(handle) => *self.running.borrow_mut() = Some(handle),
            Err(e) => {
                tracing::warn!(shard, error = %e, "no thread for compaction; deleting on the shard");
                plan.run();
            }
        }
    }

    /// Waits for a deletion still running.
    pub fn finish(&self) {
        if let Some(handle) = self.running.borrow_mut().take() {
            let _ = handle.join();
        }
    }
}

/// What one pass lets go of, given its cutoff: `commit`'s journal's old
/// prefix (`Plan::live`) and, on shard 0, those of `retired` journals, each
/// forgotten at once (segment times split off; a retired journal with
/// nothing left dropped from the list). The files are `jobs`' to delete.
pub struct Plan {
    /// Segments of the shard's own journal go: open files of them must be
    /// closed, or they keep their space.
    pub live: bool,
    pub jobs: Vec<Job>,
    /// Where and what to write as the engine's compaction horizon before
    /// any file goes (`datadir::write_horizon`).
    horizon: Option<(PathBuf, u64)>,
}

impl Plan {
    /// Writes the horizon, then deletes (on the removal thread; in the
    /// simulator, here). Nothing is deleted if the horizon is not durable.
    pub fn run(&self) {
        if let Some((dir, before_ms)) = &self.horizon {
            if let Err(e) = crate::datadir::write_horizon(dir, *before_ms) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot record the compaction horizon; nothing deleted");
                return;
            }
        }
        self.jobs.iter().for_each(Job::run);
    }
}

/// Plans one pass (pure but for the forgetting; no I/O). `horizon` is the
/// engine's compaction horizon (`Shared::compacted_before_ms`): raised, when
/// anything goes, past the newest record that goes (never past `cutoff`),
/// and written into `commit`'s directory (which stays) before the files go.
pub fn plan(
    commit: &crate::commit::Commit,
    retired: &mut Vec<Retired>,
    cutoff: u64,
    horizon: &std::sync::atomic::AtomicU64,
) -> Plan {
    let mut jobs = Vec::new();
    // The newest record time of every segment that goes.
    let mut newest_gone = None;
    let kept = commit.compact(|times, active| keep_from(times, active, cutoff));
    if let Some((keep, newest)) = kept {
        newest_gone = Some(newest);
        jobs.push(Job {
            dir: commit.dir(),
            before_seq: keep,
            then_dir: false,
        });
    }
    retired.retain_mut(|r| {
        // A retired journal all of whose segments went stays listed until
        // its directory is gone: a deletion that failed (its horizon could
        // not be written, say) is tried again on the next pass.
        if r.times.is_empty() && !r.dir.exists() {
            return false;
        }
        let keep = keep_from(&r.times, u64::MAX, cutoff);
        if r.times.range(..keep).next().is_none() && !r.times.is_empty() {
            return true;
        }
        newest_gone = newest_gone.max(crate::commit::forget_before(&mut r.times, keep));
        let all = r.times.is_empty();
        jobs.push(Job {
            dir: r.dir.clone(),
            before_seq: keep,
            then_dir: all,
        });
        true
    });
    // The horizon covers what goes, no more: every record in it is older
    // than `newest_gone + 1` (≤ `cutoff`). A clock ahead while a pass runs
    // then raises it only as far as records stamped by that clock reached.
    let horizon = (!jobs.is_empty()).then(|| {
        let covers = newest_gone.map_or(0, |n| n.saturating_add(1)).min(cutoff);
        let before = horizon.fetch_max(covers, Ordering::Relaxed).max(covers);
        (commit.dir(), before)
    });
    Plan {
        live: kept.is_some(),
        jobs,
        horizon,
    }
}

/// One compaction pass of this shard's journal (and, on shard 0, of retired ones).
pub fn compact(shard: &Shard, now_ms: u64) {
    // Index entries at least as old as anything deleted (by any shard) go
    // first, so no listing can reach into a removed segment, even on a
    // pass that deletes nothing itself.
    shard.index.borrow_mut().prune(now_ms);
    if shard.removal.busy() {
        tracing::debug!(
            shard = shard.id,
            "compaction skips a pass: the last deletion still runs"
        );
        return;
    }
    let Some(cutoff) = shard_cutoff_ms(shard, now_ms) else {
        return;
    };
    let plan = plan(
        &shard.commit,
        &mut shard.retired.borrow_mut(),
        cutoff,
        &shard.shared.compacted_before_ms,
    );
    if plan.live {
        shard.delivery.close_cold_files();
        shard.read_files.clear();
    }
    if !plan.jobs.is_empty() {
        shard.removal.start(shard.id, plan);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_old_prefix_before_the_active_segment_goes() {
        let times: SegmentTimes = [(1, 100), (2, 200), (3, 150), (4, 400)].into();
        assert_eq!(keep_from(&times, 4, 250), 4, "1-3 are old, 4 is active");
        assert_eq!(
            keep_from(&times, 4, 180),
            2,
            "2 is too new; 3 stays behind it"
        );
        assert_eq!(keep_from(&times, 3, 1_000), 3, "never the active segment");
        assert_eq!(keep_from(&times, 4, 50), 1);
        assert_eq!(keep_from(&SegmentTimes::new(), 7, 1_000), 7);
    }

    /// The deletion runs on its own thread, one at a time, takes only the
    /// prefix asked for, and removes a retired journal's directory.
    #[test]
    fn removal_deletes_the_prefix_and_retired_directories_off_thread() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let live = tmp.path().join("shard-0");
        let retired = tmp.path().join("shard-1");
        for dir in [&live, &retired] {
            std::fs::create_dir(dir).expect("dir");
            for seq in 1..=4 {
                std::fs::write(crate::journal::segment_path(dir, seq), b"x").expect("segment");
            }
        }
        std::fs::write(live.join("notes.txt"), b"kept").expect("other file");
        let removal = Removal::default();
        assert!(!removal.busy());
        let jobs = vec![
            Job {
                dir: live.clone(),
                before_seq: 3,
                then_dir: false,
            },
            Job {
                dir: retired.clone(),
                before_seq: u64::MAX,
                then_dir: true,
            },
        ];
        let horizon = std::sync::atomic::AtomicU64::new(0);
        removal.start(
            0,
            Plan {
                live: true,
                jobs,
                horizon: Some((live.clone(), horizon.fetch_max(7, Ordering::Relaxed).max(7))),
            },
        );
        let name = removal
            .running
            .borrow()
            .as_ref()
            .and_then(|h| h.thread().name().map(str::to_string));
        assert_eq!(name.as_deref(), Some("ringhook-compact-0"));
        removal.finish();
        assert!(!removal.busy());
        let mut left: Vec<u64> = std::fs::read_dir(&live)
            .expect("list")
            .filter_map(|e| {
                let name = e.expect("entry").file_name();
                name.to_str().and_then(crate::journal::parse_segment_name)
            })
            .collect();
        left.sort_unstable();
        assert_eq!(left, vec![3, 4]);
        assert!(live.join("notes.txt").exists());
        assert!(!retired.exists());
        assert_eq!(
            crate::datadir::read_horizon(&live),
            7,
            "the horizon went first"
        );
        assert_eq!(crate::datadir::read_horizon(&retired), 0);
    }
}
