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

use super::state::Shard;
use crate::commit::SegmentTimes;
use std::sync::atomic::Ordering;

/// The time before which segments may be deleted, or `None` if none may.
fn cutoff_ms(shard: &Shard, now_ms: u64) -> Option<u64> {
    let config = &shard.shared.config;
    let margin = 2 * config.compaction_interval_ms;
    let by_age = now_ms.checked_sub(config.retention_ms.saturating_add(margin))?;
    let oldest_pending = shard
        .shared
        .oldest_pending_ms
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .min()
        .unwrap_or(u64::MAX);
    Some(by_age.min(oldest_pending.saturating_sub(1)))
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

/// One compaction pass of this shard's journal (and, on shard 0, of retired ones).
pub fn compact(shard: &Shard, now_ms: u64) {
    let Some(cutoff) = cutoff_ms(shard, now_ms) else {
        return;
    };
    // Index entries at least as old as anything deleted go first, so no
    // listing can reach into a removed segment.
    shard.index.borrow_mut().prune(now_ms);
    match shard
        .commit
        .compact(|times, active| keep_from(times, active, cutoff))
    {
        Ok(0) => {}
        // Open files of deleted segments would keep their space.
        Ok(_) => {
            shard.delivery.close_cold_files();
            shard.read_files.clear();
        }
        Err(e) => tracing::warn!(shard = shard.id, error = %e, "journal compaction failed"),
    }
    let mut retired = shard.retired.borrow_mut();
    retired.retain_mut(|r| {
        let keep = keep_from(&r.times, u64::MAX, cutoff);
        match crate::journal::remove_segments_before(&r.dir, keep) {
            Ok(_) => r.times = r.times.split_off(&keep),
            Err(e) => tracing::warn!(dir = %r.dir.display(), error = %e, "compaction of a retired journal failed"),
        }
        if r.times.is_empty() {
            // Every segment is gone: the directory goes too, so recovery
            // stops visiting it.
            let _ = std::fs::remove_dir_all(&r.dir);
            return false;
        }
        true
    });
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
}
