//! Recovery: rebuilds every piece of in-memory state from the journals at start
//! (`scan` gathers compact state while reading, `rebuild` turns it into pending
//! deliveries, `eventId` windows and indexes).
//!
//! The catalog journal is replayed first. Then every shard journal found in the
//! data directory is read — whatever shard count wrote it — and each message's
//! deliveries are matched with the attempt records (which may live in another
//! shard's journal). Deliveries without a final outcome become pending again
//! and are re-homed to `hash(endpoint) % N` for the *current* N, so changing
//! `--shards` between restarts loses nothing. Journals of shards beyond N are
//! kept on disk, read-only, so their records stay part of the history.

mod rebuild;
mod scan;
pub mod streaks;
mod versions;

use crate::accept::event_ids::DedupEntry;
use crate::catalog::store::{CatalogStore, StoreOpenError, StoreSettings};
use crate::commit::{Retired, SegmentTimes};
use crate::config::Config;
use crate::datadir::{existing_shards, shard_dir, DataDirError};
use crate::delivery::Due;
use crate::journal::Position;
use crate::journal::{Journal, JournalConfig, OpenError};
use crate::message::Loc;
use crate::placement::Placement;
use crate::reads::index::Index;
use crate::records;

/// Why the engine cannot start from this data directory.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    Journal(#[from] OpenError),
    #[error("cannot read back the record at {loc:?}: {reason}")]
    Reread { loc: Loc, reason: String },
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Catalog(#[from] StoreOpenError),
}

/// Everything recovered, ready to hand to the shards.
pub struct Recovered {
    pub catalog: crate::catalog::Catalog,
    pub catalog_store: CatalogStore,
    /// Writable journals of shards `0..N`.
    pub journals: Vec<Journal>,
    /// Pending deliveries per owner shard.
    pub pending: Vec<Vec<Due>>,
    /// (app, eventId) → (message id, accepted ms), per home shard.
    pub dedup: Vec<Vec<DedupEntry>>,
    /// Read-path indexes, per shard.
    pub indexes: Vec<Index>,
    /// Newest record time per segment, per shard `0..N`.
    pub segment_times: Vec<SegmentTimes>,
    /// Journals of shards `>= N` (after `--shards` went down).
    pub retired: Vec<Retired>,
    /// Stored `idempotency-key` answers, oldest first (shard 0 replays them).
    pub answers: Vec<records::IdempotentAnswerRecord>,
    /// Endpoint id → start of its failure streak, per owner shard.
    pub failing_since: Vec<std::collections::HashMap<String, u64>>,
    /// The engine's compaction horizon (`shard::compaction`): deliveries of
    /// messages created before it were taken as ended.
    pub compacted_before_ms: u64,
    /// The newest cron tick fired, per cron source.
    pub cron_fired: std::collections::HashMap<String, u64>,
    /// Expunged message and attempt ids (`expunge`).
    pub expunged: std::collections::HashMap<String, u64>,
    pub stats: RecoveryStats,
}

/// What recovery found, for the start-up log line.
#[derive(Debug, Default, Clone)]
pub struct RecoveryStats {
    pub journals: usize,
    pub records: u64,
    pub messages: u64,
    pub pending: u64,
    pub torn_tails: Vec<String>,
    /// Deliveries taken as ended for the compaction horizon alone.
    pub ended_by_horizon: u64,
}

/// What the journals say about one delivery. A `Resend` record starts a new
/// generation: only attempts at or after the latest resend count, whatever
/// order the journals are read in.
#[derive(Default, Clone, Copy)]
struct DeliveryState {
    /// Latest `Resend` of this (message, endpoint).
    resend_ms: Option<u64>,
    /// Latest final attempt.
    final_ms: Option<u64>,
    /// Latest retrying attempt: (at_ms, next attempt number, due).
    retrying: Option<(u64, u32, u64)>,
}

impl DeliveryState {
    fn generation_ms(&self) -> u64 {
        self.resend_ms.unwrap_or(0)
    }

    fn ended(&self) -> bool {
        self.final_ms.is_some_and(|f| f >= self.generation_ms())
    }

    /// (next attempt number, due) of the current generation.
    fn next(&self) -> (u32, u64) {
        match self.retrying {
            Some((at, no, due)) if at >= self.generation_ms() => (no, due),
            _ => (0, 0),
        }
    }
}

fn journal_config(config: &Config, repair: bool) -> JournalConfig {
    JournalConfig {
        segment_bytes: config.segment_bytes,
        repair,
    }
}

/// Opens every journal under the data directory and rebuilds the engine state.
pub fn recover(config: &Config, repair: bool) -> Result<Recovered, RecoveryError> {
    let data_dir = &config.data_dir;
    let n = config.shards;
    let placement = Placement::new(n);
    let jc = journal_config(config, repair);
    let mut stats = RecoveryStats::default();

    let (catalog_store, catalog, report) = CatalogStore::open(
        StoreSettings {
            data_dir: data_dir.clone(),
            segment_bytes: config.catalog_segment_bytes,
            compact_min_bytes: config.catalog_compact_min_bytes,
        },
        repair,
    )?;
    stats.records += report.records;
    if let Some(t) = report.torn_tail {
        stats.torn_tails.push(format!("{t:?}"));
    }

    let now = crate::time::now_ms();
    let mut scan = scan::Scan::new(now.saturating_sub(config.idempotency_window_ms));
    let mut shard_ids = existing_shards(data_dir)?;
    for i in 0..n {
        if !shard_ids.contains(&i) {
            shard_ids.push(i);
        }
    }
    shard_ids.sort_unstable();
    let mut journals: Vec<Option<Journal>> = (0..n).map(|_| None).collect();
    let mut segment_times: Vec<SegmentTimes> = (0..n).map(|_| SegmentTimes::new()).collect();
    let mut retired = Vec::new();
    let mut compacted_before_ms = 0;
    for i in shard_ids {
        let dir = shard_dir(data_dir, i);
        compacted_before_ms = compacted_before_ms.max(crate::datadir::read_horizon(&dir));
        let mut times = SegmentTimes::new();
        let (journal, report) = Journal::open_checked(&dir, jc.clone(), &mut |r| {
            let loc = Loc {
                journal: i as u32,
                pos: Position {
                    segment_seq: r.segment_seq,
                    offset: r.offset,
                },
            };
            records::check_version(r.version)
                .and_then(|()| scan.visit(r.kind, r.version, r.body, loc))
                .map(|at_ms| {
                    let newest = times.entry(r.segment_seq).or_insert(at_ms);
                    *newest = (*newest).max(at_ms);
                })
                .map_err(Into::into)
        })?;
        stats.journals += 1;
        stats.records += report.records;
        if let Some(t) = report.torn_tail {
            stats.torn_tails.push(format!("{t:?}"));
        }
        if i < n {
            journals[i] = Some(journal);
            segment_times[i] = times;
        } else {
            retired.push(Retired { dir, times });
        }
    }

    // A clock behind the horizon (a host without a set clock, a data
    // directory moved): messages accepted now would count as older than
    // it. Deliveries may then repeat, never be dropped.
    if compacted_before_ms > now {
        tracing::warn!(
            horizon_ms = compacted_before_ms,
            now_ms = now,
            "the clock is behind the journals' compaction horizon; it is not applied"
        );
        compacted_before_ms = 0;
    }
    scan.sort_events();
    stats.messages = scan.msgs.iter().flatten().count() as u64;
    let rebuild::Deliveries {
        pending,
        count,
        ended_by_horizon,
        newest,
    } = rebuild::deliveries(&scan, &catalog, config, now, compacted_before_ms);
    stats.pending = count;
    stats.ended_by_horizon = ended_by_horizon;
    let mut dedup: Vec<Vec<DedupEntry>> = (0..n).map(|_| Vec::new()).collect();
    for entry in std::mem::take(&mut scan.event_ids) {
        dedup[placement.home_of_app(&entry.0 .0)].push(entry);
    }
    let mut indexes = rebuild::indexes(&scan, config, now, newest)?;
    // The request log is shard 0's (the API and receive URLs run there).
    if let Some(first) = indexes.first_mut() {
        let cutoff = now.saturating_sub(config.retention_ms);
        for (source, entry) in std::mem::take(&mut scan.requests) {
            if entry.at_ms >= cutoff {
                first.add_request(&source, entry);
            }
        }
    }
    let cron_fired = std::mem::take(&mut scan.cron_fired);
    let expunged = std::mem::take(&mut scan.expunged);
    let mut failing_since: Vec<std::collections::HashMap<String, u64>> =
        (0..n).map(|_| Default::default()).collect();
    let tries: Vec<streaks::Try> = scan
        .events
        .iter()
        .filter(|e| e.kind == scan::EventKind::Attempt)
        .filter_map(|e| match records::Outcome::from_u8(e.outcome) {
            Some(records::Outcome::Succeeded) => Some((e, true)),
            Some(records::Outcome::Retrying | records::Outcome::Failed) => Some((e, false)),
            _ => None,
        })
        .map(|(e, ok)| streaks::Try {
            endpoint: e.endpoint,
            at_ms: e.at_ms,
            ok,
        })
        .collect();
    let found = streaks::streaks(&tries, |ep| {
        catalog
            .endpoint_by_id(scan.endpoints.name(ep))
            .map(|e| e.updated_ms)
    });
    for (ep, since) in found {
        let name = scan.endpoints.name(ep);
        failing_since[placement.owner_of_endpoint(name)].insert(name.to_string(), since);
    }
    let mut answers = std::mem::take(&mut scan.answers);
    answers.sort_by_key(|a| a.at_ms);
    drop(scan);
    let journals = journals.into_iter().flatten().collect::<Vec<_>>();
    debug_assert_eq!(journals.len(), n);
    Ok(Recovered {
        catalog,
        catalog_store,
        journals,
        pending,
        dedup,
        indexes,
        segment_times,
        retired,
        answers,
        cron_fired,
        expunged,
        failing_since,
        compacted_before_ms,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::DeliveryState;

    #[test]
    fn a_resend_starts_a_new_generation_whatever_the_record_order() {
        // Final attempt at 10, resend at 20: pending again, from attempt 0.
        let st = DeliveryState {
            resend_ms: Some(20),
            final_ms: Some(10),
            retrying: Some((5, 1, 500)),
        };
        assert!(!st.ended());
        assert_eq!(st.next(), (0, 0));
        // The resend's own attempt failed and is retrying: its schedule counts.
        let st = DeliveryState {
            retrying: Some((25, 1, 900)),
            ..st
        };
        assert_eq!(st.next(), (1, 900));
        // ...and once it ends, the delivery has ended.
        let st = DeliveryState {
            final_ms: Some(30),
            ..st
        };
        assert!(st.ended());
        // Without resends, any final attempt ends the delivery.
        let plain = DeliveryState {
            resend_ms: None,
            final_ms: Some(1),
            retrying: None,
        };
        assert!(plain.ended());
    }
}
