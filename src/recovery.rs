//! Recovery: rebuilds every piece of in-memory state from the journals at start.
//!
//! The catalog journal is replayed first. Then every shard journal found in the
//! data directory is read — whatever shard count wrote it — and each message's
//! deliveries are matched with the attempt records (which may live in another
//! shard's journal). Deliveries without a final outcome become pending again
//! and are re-homed to `hash(endpoint) % N` for the *current* N, so changing
//! `--shards` between restarts loses nothing. Journals of shards beyond N are
//! kept on disk, read-only, so their records stay part of the history.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::journal::Position;
use crate::journal::{Journal, JournalConfig, OpenError};
use crate::records::{self, Kind, Outcome, RecordError, ResendRecord};
use crate::shard::compaction::{Retired, SegmentTimes};
use crate::shard::index::{AttemptEntry, Index, Loc, MsgMeta};
use crate::shard::state::DedupEntry;
use crate::shard::{shard_of, ColdRef, Message, MsgRef, Pending};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the engine cannot start from this data directory.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    Journal(#[from] OpenError),
    #[error("journal {dir}: {source}")]
    Record { dir: PathBuf, source: RecordError },
    #[error("cannot list data directory {dir}: {source}")]
    List {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Everything recovered, ready to hand to the shards.
pub struct Recovered {
    pub catalog: Catalog,
    pub catalog_journal: Journal,
    /// Writable journals of shards `0..N`.
    pub journals: Vec<Journal>,
    /// Pending deliveries per owner shard.
    pub pending: Vec<Vec<Pending>>,
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

/// Records the index needs, gathered during the scan and applied in time
/// order once every journal is read.
#[derive(Default)]
struct IndexEvents {
    attempts: Vec<(records::AttemptRecord, Loc)>,
    resends: Vec<ResendRecord>,
    answers: Vec<records::IdempotentAnswerRecord>,
}

/// The directory of shard `i`'s journal.
pub fn shard_dir(data_dir: &Path, i: usize) -> PathBuf {
    data_dir.join(format!("shard-{i}"))
}

/// The catalog journal's directory.
pub fn catalog_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("catalog")
}

fn journal_config(config: &Config, repair: bool) -> JournalConfig {
    JournalConfig {
        segment_bytes: config.segment_bytes,
        repair,
    }
}

/// Existing shard journal directories, by shard number.
fn existing_shards(data_dir: &Path) -> Result<Vec<usize>, RecoveryError> {
    let list = |source| RecoveryError::List {
        dir: data_dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(data_dir).map_err(list)? {
        let entry = entry.map_err(list)?;
        let name = entry.file_name();
        if let Some(n) = name.to_str().and_then(|s| s.strip_prefix("shard-")) {
            if let Ok(i) = n.parse::<usize>() {
                out.push(i);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Opens every journal under the data directory and rebuilds the engine state.
pub fn recover(config: &Config, repair: bool) -> Result<Recovered, RecoveryError> {
    let data_dir = &config.data_dir;
    let n = config.shards;
    let jc = journal_config(config, repair);
    let mut stats = RecoveryStats::default();

    let mut catalog = Catalog::default();
    let mut first_err = None;
    let cdir = catalog_dir(data_dir);
    let (catalog_journal, report) = Journal::open(&cdir, jc.clone(), |r| {
        if first_err.is_none() {
            if let Err(e) = catalog.apply(r.kind, r.body) {
                first_err = Some(e);
            }
        }
    })?;
    if let Some(source) = first_err {
        return Err(RecoveryError::Record { dir: cdir, source });
    }
    stats.records += report.records;
    if let Some(t) = report.torn_tail {
        stats.torn_tails.push(format!("{t:?}"));
    }

    let mut messages: HashMap<String, (Arc<Message>, Vec<String>)> = HashMap::new();
    let mut states: HashMap<(String, String), DeliveryState> = HashMap::new();
    let mut events = IndexEvents::default();
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
    for i in shard_ids {
        let dir = shard_dir(data_dir, i);
        let mut first_err = None;
        let mut times = SegmentTimes::new();
        let (journal, report) = Journal::open(&dir, jc.clone(), |r| {
            if first_err.is_some() {
                return;
            }
            let loc = Loc {
                journal: i as u32,
                pos: Position {
                    segment_seq: r.segment_seq,
                    offset: r.offset,
                },
            };
            match visit(r.kind, r.body, loc, &mut messages, &mut states, &mut events) {
                Ok(at_ms) => {
                    let newest = times.entry(r.segment_seq).or_insert(at_ms);
                    *newest = (*newest).max(at_ms);
                }
                Err(e) => first_err = Some(e),
            }
        })?;
        if let Some(source) = first_err {
            return Err(RecoveryError::Record { dir, source });
        }
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

    let now = crate::time::now_ms();
    let mut pending: Vec<Vec<Pending>> = (0..n).map(|_| Vec::new()).collect();
    let mut dedup: Vec<Vec<_>> = (0..n).map(|_| Vec::new()).collect();
    stats.messages = messages.len() as u64;
    // A resend may name an endpoint outside the original fan-out.
    let mut resent: HashMap<String, Vec<String>> = HashMap::new();
    for r in &events.resends {
        resent
            .entry(r.msg_id.clone())
            .or_default()
            .push(r.endpoint_id.clone());
    }
    let mut answers = std::mem::take(&mut events.answers);
    answers.sort_by_key(|a| a.at_ms);
    let indexes = build_indexes(config, &messages, events, now);
    for (msg, mut destinations) in messages.into_values() {
        for ep in resent.remove(&*msg.id).unwrap_or_default() {
            if !destinations.contains(&ep) {
                destinations.push(ep);
            }
        }
        if let Some(eid) = &msg.event_id {
            if now.saturating_sub(msg.created_ms) < config.idempotency_window_ms {
                dedup[shard_of(&msg.app_id, n)].push((
                    (msg.app_id.clone(), eid.clone()),
                    (msg.id.to_string(), msg.created_ms),
                ));
            }
        }
        for endpoint_id in destinations {
            let st = states
                .get(&(msg.id.to_string(), endpoint_id.clone()))
                .copied()
                .unwrap_or_default();
            if st.ended() {
                continue;
            }
            let (attempt_no, due_ms) = st.next();
            stats.pending += 1;
            // Recovered deliveries are cold: their attempts read the
            // message back from the journal, so recovery keeps no payload.
            pending[shard_of(&endpoint_id, n)].push(Pending {
                msg: MsgRef::Cold(ColdRef::new(msg.loc, msg.created_ms)),
                endpoint_id: catalog.endpoint_name(&endpoint_id),
                attempt_no,
                due_ms,
            });
        }
    }
    let journals = journals.into_iter().flatten().collect::<Vec<_>>();
    debug_assert_eq!(journals.len(), n);
    Ok(Recovered {
        catalog,
        catalog_journal,
        journals,
        pending,
        dedup,
        indexes,
        segment_times,
        retired,
        answers,
        stats,
    })
}

/// Builds every shard's read-path index: messages on their home shard,
/// deliveries and attempts on the endpoint's owner shard, then applies
/// attempts and resends in time order so each delivery ends in its latest
/// status.
fn build_indexes(
    config: &Config,
    messages: &HashMap<String, (Arc<Message>, Vec<String>)>,
    mut events: IndexEvents,
    now_ms: u64,
) -> Vec<Index> {
    let n = config.shards;
    let mut indexes: Vec<Index> = (0..n)
        .map(|_| Index::new(config.retention_ms, config.index_max_per_key))
        .collect();
    let cutoff = now_ms.saturating_sub(config.retention_ms);
    let mut metas: HashMap<&str, Arc<MsgMeta>> = HashMap::new();
    // One shared id per endpoint, as the catalog interns them at run time.
    let mut names: HashMap<String, Arc<str>> = HashMap::new();
    let mut intern = |ep: &str| -> Arc<str> {
        if let Some(a) = names.get(ep) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(ep);
        names.insert(ep.to_string(), a.clone());
        a
    };
    let mut sorted: Vec<&(Arc<Message>, Vec<String>)> = messages
        .values()
        .filter(|(m, _)| m.created_ms >= cutoff)
        .collect();
    sorted.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    for (msg, destinations) in sorted {
        let meta = msg.meta();
        indexes[shard_of(&msg.app_id, n)].add_message(meta.clone());
        for ep in destinations {
            indexes[shard_of(ep, n)].delivery_pending(&intern(ep), &meta, 0);
        }
        metas.insert(&msg.id, meta);
    }
    enum Event {
        Attempt(records::AttemptRecord, Loc),
        Resend(ResendRecord),
    }
    let mut timeline: Vec<(u64, Event)> = Vec::new();
    timeline.extend(
        events
            .attempts
            .drain(..)
            .map(|(a, loc)| (a.at_ms, Event::Attempt(a, loc))),
    );
    timeline.extend(
        events
            .resends
            .drain(..)
            .map(|r| (r.at_ms, Event::Resend(r))),
    );
    // A resend and its first attempt can share a millisecond; the resend
    // comes first so that attempt counts as manual.
    timeline.sort_by_key(|(at, e)| (*at, matches!(e, Event::Attempt(..))));
    for (_, event) in timeline {
        match event {
            Event::Resend(r) => {
                if let Some(meta) = metas.get(r.msg_id.as_str()) {
                    indexes[shard_of(&r.endpoint_id, n)].resend(
                        &intern(&r.endpoint_id),
                        meta,
                        r.at_ms,
                    );
                }
            }
            Event::Attempt(a, loc) => {
                let (Some(meta), Some(outcome)) =
                    (metas.get(a.msg_id.as_str()), Outcome::from_u8(a.outcome))
                else {
                    continue;
                };
                let index = &mut indexes[shard_of(&a.endpoint_id, n)];
                let entry = AttemptEntry {
                    manual: false,
                    id: Arc::from(a.id),
                    msg: meta.clone(),
                    endpoint_id: intern(&a.endpoint_id),
                    status_code: a.status_code,
                    outcome,
                    at_ms: a.at_ms,
                    duration_us: a.duration_us,
                    loc,
                };
                index.add_attempt(entry, a.next_attempt_ms);
            }
        }
    }
    for index in &mut indexes {
        index.prune(now_ms);
    }
    indexes
}

/// Folds one shard-journal record into the recovery maps.
fn visit(
    kind: u8,
    body: &[u8],
    loc: Loc,
    messages: &mut HashMap<String, (Arc<Message>, Vec<String>)>,
    states: &mut HashMap<(String, String), DeliveryState>,
    events: &mut IndexEvents,
) -> Result<u64, RecordError> {
    let at_ms;
    match Kind::from_u8(kind) {
        Some(Kind::Message) => {
            let m = records::decode_message(body)?;
            at_ms = m.created_ms;
            let (mut msg, destinations) = Message::from_record(m, loc);
            // Not kept: recovered deliveries read it back when they run.
            msg.payload = Box::new([]);
            messages.insert(msg.id.to_string(), (Arc::new(msg), destinations));
        }
        Some(Kind::Attempt) => {
            let a = records::decode_attempt(body)?;
            at_ms = a.at_ms;
            let outcome = Outcome::from_u8(a.outcome).ok_or(RecordError::Invalid {
                kind,
                reason: format!("unknown outcome {}", a.outcome),
            })?;
            let st = states
                .entry((a.msg_id.clone(), a.endpoint_id.clone()))
                .or_default();
            if outcome.is_final() {
                st.final_ms = st.final_ms.max(Some(a.at_ms));
            } else if st.retrying.is_none_or(|(at, _, _)| a.at_ms >= at) {
                st.retrying = Some((a.at_ms, a.attempt_no + 1, a.next_attempt_ms));
            }
            // The index needs the attempt's metadata, not its response text.
            let mut a = a;
            a.response = Vec::new();
            events.attempts.push((a, loc));
        }
        Some(Kind::IdempotentAnswer) => {
            let a = records::decode_answer(body)?;
            at_ms = a.at_ms;
            events.answers.push(a);
        }
        Some(Kind::Resend) => {
            let r = records::decode_resend(body)?;
            at_ms = r.at_ms;
            let st = states
                .entry((r.msg_id.clone(), r.endpoint_id.clone()))
                .or_default();
            st.resend_ms = st.resend_ms.max(Some(r.at_ms));
            events.resends.push(r);
        }
        _ => return Err(RecordError::UnknownKind(kind)),
    }
    Ok(at_ms)
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
