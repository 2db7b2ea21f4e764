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
use crate::journal::{Journal, JournalConfig, OpenError};
use crate::records::{self, Kind, Outcome, RecordError};
use crate::shard::state::DedupEntry;
use crate::shard::{shard_of, Message, Pending};
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

/// The last known state of one delivery.
#[derive(Default, Clone, Copy)]
struct DeliveryState {
    ended: bool,
    next_attempt_no: u32,
    due_ms: u64,
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
    let mut shard_ids = existing_shards(data_dir)?;
    for i in 0..n {
        if !shard_ids.contains(&i) {
            shard_ids.push(i);
        }
    }
    shard_ids.sort_unstable();
    let mut journals: Vec<Option<Journal>> = (0..n).map(|_| None).collect();
    for i in shard_ids {
        let dir = shard_dir(data_dir, i);
        let mut first_err = None;
        let (journal, report) = Journal::open(&dir, jc.clone(), |r| {
            if first_err.is_some() {
                return;
            }
            if let Err(e) = visit(r.kind, r.body, &mut messages, &mut states) {
                first_err = Some(e);
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
        }
    }

    let now = crate::time::now_ms();
    let mut pending: Vec<Vec<Pending>> = (0..n).map(|_| Vec::new()).collect();
    let mut dedup: Vec<Vec<_>> = (0..n).map(|_| Vec::new()).collect();
    stats.messages = messages.len() as u64;
    for (msg, destinations) in messages.into_values() {
        if let Some(eid) = &msg.event_id {
            if now.saturating_sub(msg.created_ms) < config.idempotency_window_ms {
                dedup[shard_of(&msg.app_id, n)].push((
                    (msg.app_id.clone(), eid.clone()),
                    (msg.id.clone(), msg.created_ms),
                ));
            }
        }
        for endpoint_id in destinations {
            let st = states
                .get(&(msg.id.clone(), endpoint_id.clone()))
                .copied()
                .unwrap_or_default();
            if st.ended {
                continue;
            }
            stats.pending += 1;
            pending[shard_of(&endpoint_id, n)].push(Pending {
                msg: msg.clone(),
                endpoint_id,
                attempt_no: st.next_attempt_no,
                due_ms: st.due_ms,
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
        stats,
    })
}

/// Folds one shard-journal record into the recovery maps.
fn visit(
    kind: u8,
    body: &[u8],
    messages: &mut HashMap<String, (Arc<Message>, Vec<String>)>,
    states: &mut HashMap<(String, String), DeliveryState>,
) -> Result<(), RecordError> {
    match Kind::from_u8(kind) {
        Some(Kind::Message) => {
            let m = records::decode_message(body)?;
            let msg = Arc::new(Message {
                id: m.id.clone(),
                app_id: m.app_id,
                event_type: m.event_type,
                event_id: m.event_id,
                channels: m.channels,
                payload: m.payload.into_boxed_slice(),
                created_ms: m.created_ms,
            });
            messages.insert(m.id, (msg, m.destinations));
        }
        Some(Kind::Attempt) => {
            let a = records::decode_attempt(body)?;
            let outcome = Outcome::from_u8(a.outcome).ok_or(RecordError::Invalid {
                kind,
                reason: format!("unknown outcome {}", a.outcome),
            })?;
            let st = states.entry((a.msg_id, a.endpoint_id)).or_default();
            if outcome.is_final() {
                st.ended = true;
            } else if a.attempt_no + 1 >= st.next_attempt_no {
                st.next_attempt_no = a.attempt_no + 1;
                st.due_ms = a.next_attempt_ms;
            }
        }
        _ => return Err(RecordError::UnknownKind(kind)),
    }
    Ok(())
}
