//! Compaction's passes, played as the runtime's timer loop runs them
//! (`shard::compaction`): on each pass every shard in turn publishes its
//! oldest pending message time and then compacts its journal with the
//! values the others published (theirs up to one pass stale, as between
//! the runtime's shards), shard 0 also the journals of shards that no
//! longer exist. The cutoff and the plan are the engine's own; the
//! deletion runs here, where the runtime starts a thread for it. The model
//! learns which messages the retention lets go of (`Oracle::compaction`),
//! so that a record deleted too early (one a pending delivery, a restart or
//! a cold retry still needs) breaks an invariant.

use super::World;
use crate::shard::compaction;

impl World {
    /// Every shard's tick publishing its oldest pending message time as it
    /// is now (the ticks of a stretch the simulator's clock jumps over;
    /// the first pass after a restart still only publishes).
    pub(super) fn publish_oldest_pending(&mut self) {
        if self.published.len() != self.cores.len() {
            return;
        }
        for (i, core) in self.cores.iter().enumerate() {
            self.published[i] = core.deliveries.oldest_pending_ms();
        }
    }

    /// One pass of every shard (the first only publishes, as the runtime's
    /// first tick: the others' values are not in yet).
    pub(super) fn compaction_pass(&mut self) {
        let first = self.published.len() != self.cores.len();
        if first {
            self.published = vec![u64::MAX; self.cores.len()];
        }
        let retention = self.config.retention_ms;
        let interval = self.config.compaction_interval_ms;
        for i in 0..self.cores.len() {
            self.published[i] = self.cores[i].deliveries.oldest_pending_ms();
            if first {
                continue;
            }
            // As `compaction::compact`: the index is pruned on every pass.
            self.cores[i].index.borrow_mut().prune(self.now_ms);
            // The deliberate bug: pending deliveries do not hold segments.
            let ignore_pending = self.bug == Some(crate::sim::Bug::CompactPending);
            let cutoff = compaction::cutoff_ms(
                self.now_ms,
                retention,
                interval,
                self.published.iter().copied().filter(|_| !ignore_pending),
            );
            let Some(cutoff) = cutoff else {
                continue;
            };
            let core = &self.cores[i];
            let mut retired = match i {
                0 => std::mem::take(&mut self.retired),
                _ => Vec::new(),
            };
            let plan = compaction::plan(
                &core.commit,
                &mut retired,
                cutoff,
                &self.shared.compacted_before_ms,
            );
            if i == 0 {
                self.retired = retired;
            }
            if plan.live {
                core.deliveries.close_cold_files();
            }
            plan.run();
            if !plan.jobs.is_empty() {
                self.counters.compactions += 1;
                self.note(&format!(
                    "compact journal {i} before {}: {} deletions",
                    cutoff.saturating_sub(self.start_ms),
                    plan.jobs.len()
                ));
            }
        }
        // Directories of retired journals whose segments all went are gone.
        self.dirs.retain(|d| d.exists());
        // By age the engine's rule lets go of messages older than the
        // retention plus two passes (`cutoff_ms`); no looser here.
        self.oracle.compaction(
            self.now_ms
                .saturating_sub(retention.saturating_add(interval.saturating_mul(2))),
        );
        self.last_compaction_ms = self.now_ms;
    }
}
