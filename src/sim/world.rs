//! The simulated world: one engine's core on a simulated clock, with
//! simulated receivers and a simulated disk, driven by one seed.
//!
//! What runs is the engine's own code: the accept path (`accept::Accept`:
//! the `eventId` window, fan-out, the message records) on each home
//! shard's group commit (`commit::Commit`, on the journal's real files,
//! real appends and syncs), the fan-out to owner shards
//! (`shard::route::by_owner`, `placement`), each shard's deliveries
//! (`delivery::Deliveries`: slab, timer wheel, ready queues, connection
//! budget, failure streaks, with its invariants asserted in debug builds),
//! the worker's steps (`delivery::steps`: taking runs, claiming, the
//! retry decision and auto-disable, the attempt record, freeing or
//! re-arming), the catalog and its journal, and recovery
//! (`recovery::recover`, the same call `serve` makes, on the same
//! directory, with a shard count that changes on some restarts). Time is
//! the simulator's (`time::simulate`), and so are ids (`ids::simulate`).
//! What the simulator plays itself: the receivers (answers instead of an
//! exchange on a socket), reading a cold retry's message back (a blocking
//! read instead of io_uring), the flusher (a group commit every few
//! simulated milliseconds, `Commit::sync_here`), shard 0's handling of
//! disable requests, and the order things happen in (one thread, worker
//! starts played in the order they were made). Disk errors are the
//! journal's own (`journal::faults`, armed by the seed): a failed sync is
//! an abort and a restart, as in the engine; a refused roll refuses the
//! message (not acknowledged), the attempt record (a repeat after a
//! restart) or the catalog change (nothing changes).

use super::oracle::{EndpointModel, EndpointState, Oracle, Stand, Violation};
use super::{Bug, Counters};
use crate::accept::{Accept, IngestError, NewMessage};
use crate::catalog::store::{CatalogStore, CatalogWriteError};
use crate::catalog::Catalog;
use crate::commit::Commit;
use crate::config::{Config, Durability};
use crate::delivery::Deliveries;
use crate::journal::{faults, AppendError};
use crate::reads::index::Index;
use crate::records::{self, EndpointRecord, Kind, Outcome};
use crate::shared::Shared;
use rand::rngs::StdRng;
use rand::Rng;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

/// A group commit of every shard journal runs this often (simulated ms).
const FLUSH_MS: u64 = 5;
/// Each shard's deliveries are swept this often (simulated ms), as the
/// runtime's timer loop does.
const SWEEP_MS: u64 = 1_000;
const EVENT_TYPES: [&str; 3] = ["order.paid", "order.shipped", "user.deleted"];
const APPS: [&str; 2] = ["app_sim_a", "app_sim_b"];
/// Where the simulated clock starts: 2026-01-01T00:00:00Z.
const SIMULATION_START_MS: u64 = 1_767_225_600_000;
/// Producers' `eventId`s are drawn from this many per application, so
/// that some repeat.
const EVENT_IDS: u32 = 16;

mod compact;
mod play;
mod restart;
mod waiting;

use waiting::Batch;

/// How one endpoint's receiver behaves (chances out of 100).
#[derive(Debug, Clone, Copy)]
struct Receiver {
    ok: u32,
    gone: u32,
}

/// A played worker waiting for its throttled endpoint's next token.
struct Throttled {
    /// When it goes on.
    due_ms: u64,
    shard: usize,
    endpoint_id: Arc<str>,
    /// When its turn began (`steps::turn_over`): the wait counts.
    turn_from: u64,
}

/// One simulated shard's core, built from recovery's output as the runtime
/// builds a shard's.
struct Core {
    stats: Rc<RefCell<crate::metrics::ShardStats>>,
    commit: Rc<Commit>,
    accept: Accept,
    deliveries: Rc<Deliveries>,
    index: Rc<RefCell<Index>>,
}

/// The world of one seed.
pub struct World {
    pub rng: StdRng,
    config: Config,
    now_ms: u64,
    start_ms: u64,
    last_flush_ms: u64,
    last_sweep_ms: u64,
    /// Compaction's passes (`compact`): the last one, and the oldest
    /// pending message time each shard published at its last pass.
    last_compaction_ms: u64,
    published: Vec<u64>,
    /// Journals of shards that no longer exist (shard 0 compacts them).
    retired: Vec<crate::commit::Retired>,
    /// The engine-wide state the cores share (the live catalog).
    shared: Arc<Shared>,
    catalog_store: Option<CatalogStore>,
    cores: Vec<Core>,
    /// Every journal directory written (shards and catalog), for bit flips.
    dirs: BTreeSet<PathBuf>,
    /// The lengths of each shard journal's segment files at its last sync
    /// (or recovery): a crash never brings a file back shorter.
    synced_lengths: BTreeMap<PathBuf, super::disk::SyncedLengths>,
    receivers: BTreeMap<String, Receiver>,
    /// Workers waiting for their throttled endpoint's next token
    /// (`Next::Wait`), in the order they began to wait. They die with the
    /// process at a crash.
    throttled: Vec<Throttled>,
    /// Each shard's connection budget, drawn per seed: one or two
    /// connections make endpoints wait in line and take turns.
    connections: usize,
    /// Which message id the accept path journaled at each position.
    ids_at: BTreeMap<(u32, u64, u64), String>,
    /// Ids the simulator makes (endpoints) are numbered, not random.
    next_id: u64,
    /// Bytes of padding in each payload: a few KiB in the seeds that
    /// compact, so that journals roll segments for compaction to delete.
    payload_pad: usize,
    /// A deliberate bug of the core, to see the simulator catch it.
    bug: Option<Bug>,
    /// Producers' batches waiting for the flusher's group commit (half the
    /// seeds); `None`: each batch is made durable at once.
    waiting: Option<waiting::Waiting>,
    /// A shard journal refused an attempt record (a full disk;
    /// `ringhook_attempt_records_refused_total`): the engine ended that
    /// delivery all the same, and a restart repeats it.
    pub attempts_may_repeat: bool,
    pub oracle: Oracle,
    pub counters: Counters,
    trace: u64,
}

impl Drop for World {
    /// The thread reads the system clock and mints its own ids again.
    fn drop(&mut self) {
        crate::time::simulate(0);
        crate::ids::simulate(None);
    }
}

fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

impl World {
    /// A fresh engine on an empty data directory.
    pub fn new(mut rng: StdRng, data_dir: PathBuf, bug: Option<Bug>) -> Result<World, Violation> {
        let mut config = Config::load(None).map_err(|e| e.to_string())?;
        config.data_dir = data_dir;
        config.shards = 2;
        config.segment_bytes = 64 * 1024;
        // A small catalog journal, compacted often, so that restarts read
        // compacted ones.
        config.max_body_bytes = 64 * 1024;
        config.catalog_segment_bytes = 128 * 1024;
        config.catalog_compact_min_bytes = 1024;
        config.retry_schedule = ["0s", "1s", "5s", "30s", "2m"].map(String::from).to_vec();
        config.auto_disable_after_ms = 120_000;
        // Half the seeds keep journal segments for a few seconds only, so
        // that compaction deletes them while deliveries retry, crashes
        // strike and the shard count changes; their `eventId`s hold for
        // half as long (the window may not outlast the retention).
        if rng.gen_range(0..2) == 0 || bug == Some(Bug::CompactPending) {
            config.retention_ms = rng.gen_range(3_000..=10_000);
            config.idempotency_window_ms = config.retention_ms / 2;
            config.compaction_interval_ms = rng.gen_range(200..=2_000);
        }
        // The budget for messages in ready queues: none (every waiting
        // delivery cold), a few messages' worth, or the default.
        config.max_hot_ready_bytes_per_shard =
            [0, 8 * 1024, 256 * 1024 * 1024][rng.gen_range(0..3)];
        // The deliberate bug: acknowledgements that do not wait for the
        // group commit.
        if bug == Some(Bug::AckBeforeSync) {
            config.durability = Durability::None;
        }
        let config = config.finish().map_err(|e| e.to_string())?;
        let connections = [1, 2, 256][rng.gen_range(0..3)];
        let event_id_window_ms =
            (config.retention_ms < 60_000).then_some(config.idempotency_window_ms);
        let waiting = (rng.gen_range(0..2) == 0).then(waiting::Waiting::default);
        let payload_pad = match event_id_window_ms {
            Some(_) => rng.gen_range(1_000..=4_000),
            None => 0,
        };
        // Every clock the core reads is the simulated one, so a fixed start
        // keeps the trace (ids carry times) independent of the date.
        let start_ms = SIMULATION_START_MS;
        crate::time::simulate(start_ms);
        crate::ids::simulate(Some(rng.gen()));
        let shared = World::shared_for(&config, Catalog::default(), Default::default())?;
        let mut w = World {
            rng,
            config,
            now_ms: start_ms,
            start_ms,
            last_flush_ms: start_ms,
            last_sweep_ms: start_ms,
            last_compaction_ms: start_ms,
            published: Vec::new(),
            retired: Vec::new(),
            shared,
            catalog_store: None,
            cores: Vec::new(),
            dirs: BTreeSet::new(),
            synced_lengths: BTreeMap::new(),
            receivers: BTreeMap::new(),
            throttled: Vec::new(),
            connections,
            ids_at: BTreeMap::new(),
            next_id: 0,
            payload_pad,
            bug,
            waiting,
            attempts_may_repeat: false,
            oracle: Oracle {
                event_id_window_ms,
                ..Oracle::default()
            },
            counters: Counters::default(),
            trace: 0xcbf2_9ce4_8422_2325,
        };
        faults::disarm_all();
        crate::datadir::create(&w.config.data_dir).map_err(|e| e.to_string())?;
        w.restart()?;
        // The producers' applications, and the operational application
        // (no endpoints here): the notices of attempts are journaled into it.
        for app in APPS.into_iter().chain([crate::operational::APP_ID]) {
            let rec = records::AppRecord {
                id: app.to_string(),
                uid: None,
                name: app.to_string(),
                metadata: "{}".into(),
                rate_limit: None,
                created_ms: w.now_ms,
                updated_ms: w.now_ms,
            };
            w.commit_catalog(
                Kind::AppPut,
                &records::encode(&rec).map_err(|e| e.to_string())?,
            )?;
        }
        for _ in 0..3 {
            w.create_endpoint()?;
        }
        Ok(w)
    }

    /// The engine-wide state for `config` (its shard count) and a catalog.
    fn shared_for(
        config: &Config,
        catalog: Catalog,
        expunged: std::collections::HashMap<String, u64>,
    ) -> Result<Arc<Shared>, Violation> {
        let schedule = config.retry_schedule_ms().map_err(|e| e.to_string())?;
        Ok(Arc::new(Shared::new(
            config.clone(),
            schedule,
            catalog,
            Vec::new(),
            expunged,
        )))
    }

    /// Digest of everything that happened, for replay checks.
    pub fn trace(&self) -> u64 {
        self.trace
    }

    fn note(&mut self, event: &str) {
        let rel = self.now_ms - self.start_ms;
        if std::env::var_os("RINGHOOK_SIM_VERBOSE").is_some() {
            eprintln!("{rel:>10} {event}");
        }
        self.trace = fnv(fnv(self.trace, &rel.to_le_bytes()), event.as_bytes());
    }

    /// Moves the simulated clock (the engine's `time::now_ms` with it).
    fn advance_to(&mut self, ms: u64) {
        self.now_ms = self.now_ms.max(ms);
        crate::time::simulate(self.now_ms);
    }

    /// One step: time passes, something happens, due retries run.
    pub fn step(&mut self, quiet: bool) -> Result<(), Violation> {
        let by = self.rng.gen_range(0..200);
        self.advance_to(self.now_ms + by);
        let roll = self.rng.gen_range(0..100);
        match roll {
            0..=44 => {
                // Where batches wait for the flusher, one to three
                // producers' batches share its next group commit.
                let producers = match self.waiting {
                    Some(_) => self.rng.gen_range(1..=3),
                    None => 1,
                };
                for _ in 0..producers {
                    self.accept()?;
                }
                // A crash right after an acknowledgement (or, where
                // batches wait, before their group commit), before the
                // flusher's next group commit.
                if !quiet && self.rng.gen_range(0..25) == 0 {
                    self.crash()?;
                }
            }
            45..=52 if !quiet => self.catalog_change()?,
            53..=55 if !quiet => self.crash()?,
            56 if !quiet => self.arm_disk_fault(),
            _ => {}
        }
        self.run_due()
    }

    /// Whether nothing is pending (no delivery, no batch waiting to be
    /// acknowledged).
    pub fn idle(&self) -> bool {
        self.waiting.as_ref().is_none_or(waiting::Waiting::is_empty)
            && self
                .cores
                .iter()
                .all(|c| c.deliveries.oldest_pending_ms() == u64::MAX)
    }

    /// Runs until nothing is pending (no more crashes or catalog changes).
    pub fn drain(&mut self) -> Result<(), Violation> {
        faults::disarm_all();
        for _ in 0..1_000_000 {
            self.run_due()?;
            if self.idle() {
                self.flush()?;
                return Ok(());
            }
            let next = self
                .cores
                .iter()
                .filter_map(|c| c.deliveries.next_wake_ms())
                .chain(self.throttled.iter().map(|t| t.due_ms))
                // The runtime's shards publish their oldest pending time on
                // every compaction tick, quiet or not: a pass never uses
                // values staler than one tick.
                .chain([self.last_compaction_ms + self.config.compaction_interval_ms])
                .min()
                .unwrap_or(self.now_ms + 1);
            self.advance_to(next.max(self.now_ms + 1));
        }
        Err("deliveries still pending after draining".into())
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!(
            "{prefix}_{:010}{:06}",
            self.now_ms - self.start_ms,
            self.next_id
        )
    }

    /// Appends a catalog record and syncs it before the catalog changes,
    /// then compacts the catalog journal when due, as
    /// `Shard::commit_catalog` does. False when the journal refused the
    /// record (a full disk): the change is refused and nothing changes.
    fn commit_catalog(&mut self, kind: Kind, body: &[u8]) -> Result<bool, Violation> {
        let mut next = (**self.shared.catalog.load()).clone();
        next.apply(kind as u8, body).map_err(|e| e.to_string())?;
        let store = self.catalog_store.as_mut().ok_or("no catalog journal")?;
        match store.append_synced(kind, body) {
            Ok(_) => {}
            Err(CatalogWriteError::Append(AppendError::Roll(_) | AppendError::Grow(_))) => {
                self.note("catalog change refused: a full disk");
                self.counters.disk_errors += 1;
                return Ok(false);
            }
            Err(e) => return Err(format!("catalog append: {e}")),
        };
        self.dirs.insert(store.dir());
        let compacted = store
            .compact_if_due(&next)
            .map_err(|e| format!("catalog compaction: {e}"))?;
        if let Some(done) = compacted {
            self.counters.catalog_compactions += 1;
            self.note(&format!(
                "catalog compacted {} records {} -> {} bytes",
                done.records, done.before_bytes, done.after_bytes
            ));
        }
        self.shared.catalog.store(Arc::new(next));
        Ok(true)
    }

    fn create_endpoint(&mut self) -> Result<(), Violation> {
        let id = self.next_id("ep");
        let app = APPS[self.rng.gen_range(0..APPS.len())].to_string();
        let types: Vec<String> = match self.rng.gen_range(0..3) {
            0 => vec![],
            _ => vec![EVENT_TYPES[self.rng.gen_range(0..EVENT_TYPES.len())].to_string()],
        };
        // A quarter are FIFO endpoints; a fifth are throttled to 1 or 2
        // requests a second (their burst), so workers wait for tokens.
        let fifo = self.rng.gen_range(0..4) == 0;
        let rate_limit = (self.rng.gen_range(0..5) == 0).then(|| self.rng.gen_range(1..=2));
        let rec = EndpointRecord {
            event_types: types.clone(),
            fifo,
            rate_limit,
            ..EndpointRecord::new(
                id.clone(),
                app.clone(),
                format!("https://{id}.example/hook"),
                self.now_ms,
            )
        };
        if !self.commit_catalog(
            Kind::EndpointPut,
            &records::encode(&rec).map_err(|e| e.to_string())?,
        )? {
            return Ok(());
        }
        let receiver = Receiver {
            ok: self.rng.gen_range(30..95),
            gone: self.rng.gen_range(0..2),
        };
        self.receivers.insert(id.clone(), receiver);
        self.oracle.endpoints.insert(
            id.clone(),
            EndpointModel {
                app,
                types,
                state: EndpointState::Enabled,
                fifo,
            },
        );
        self.note(&format!("create {id} fifo {fifo} rate {rate_limit:?}"));
        Ok(())
    }

    /// Disables or enables an endpoint, as the API or auto-disable does.
    fn set_disabled(&mut self, id: &str, disabled: bool) -> Result<(), Violation> {
        let Some(ep) = self.shared.catalog.load().endpoint_by_id(id).cloned() else {
            return Ok(());
        };
        let mut rec = (*ep).clone();
        rec.disabled = disabled;
        rec.updated_ms = self.now_ms;
        if !self.commit_catalog(
            Kind::EndpointPut,
            &records::encode(&rec).map_err(|e| e.to_string())?,
        )? {
            return Ok(());
        }
        if let Some(e) = self.oracle.endpoints.get_mut(id) {
            e.state = match disabled {
                true => EndpointState::Disabled,
                false => EndpointState::Enabled,
            };
        }
        self.note(&format!("disabled {id} {disabled}"));
        Ok(())
    }

    fn catalog_change(&mut self) -> Result<(), Violation> {
        let live: Vec<String> = self
            .oracle
            .endpoints
            .iter()
            .filter(|(_, e)| e.state != EndpointState::Deleted)
            .map(|(id, _)| id.clone())
            .collect();
        let pick = |rng: &mut StdRng| live.get(rng.gen_range(0..live.len().max(1))).cloned();
        match self.rng.gen_range(0..4) {
            0 => self.create_endpoint(),
            1 => match pick(&mut self.rng) {
                Some(id) => self.set_disabled(&id, true),
                None => Ok(()),
            },
            2 => match pick(&mut self.rng) {
                Some(id) => self.set_disabled(&id, false),
                None => Ok(()),
            },
            _ => match pick(&mut self.rng) {
                Some(id) => {
                    let rec = records::DeleteRecord {
                        id: id.clone(),
                        at_ms: self.now_ms,
                    };
                    let body = records::encode(&rec).map_err(|e| e.to_string())?;
                    if !self.commit_catalog(Kind::EndpointDelete, &body)? {
                        return Ok(());
                    }
                    if let Some(e) = self.oracle.endpoints.get_mut(&id) {
                        e.state = EndpointState::Deleted;
                    }
                    self.note(&format!("delete {id}"));
                    Ok(())
                }
                None => Ok(()),
            },
        }
    }

    /// A producer's batch, through the accept path of the application's
    /// home shard: journaled, made durable by a group commit, acknowledged,
    /// then fanned out to the owner shards.
    fn accept(&mut self) -> Result<(), Violation> {
        let app = APPS[self.rng.gen_range(0..APPS.len())];
        let n = self.rng.gen_range(1..=4);
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            self.next_id += 1;
            let event_type = EVENT_TYPES[self.rng.gen_range(0..EVENT_TYPES.len())];
            let event_id = (self.rng.gen_range(0..4) == 0)
                .then(|| format!("evt_{}", self.rng.gen_range(0..EVENT_IDS)));
            events.push(NewMessage {
                app_id: app.to_string(),
                event_type: event_type.to_string(),
                event_id,
                channels: vec![],
                payload: format!(
                    "{{\"n\":{},\"pad\":\"{}\"}}",
                    self.next_id,
                    "x".repeat(self.payload_pad)
                )
                .into_bytes(),
            });
        }
        if self.waiting.is_some() {
            // As the runtime's accept task: journaled now, acknowledged
            // when a group commit of the flusher covers it.
            let batch = self.journal_batch(app, events)?;
            return self.wait_for_commit(batch);
        }
        if !self.accept_events(app, events)? {
            return self.crash();
        }
        Ok(())
    }

    /// `events` of `app` through the accept path of the application's home
    /// shard, as `accept` describes (also an operational notice's message),
    /// made durable at once. False when the group commit failed: the engine
    /// aborts, and the caller crashes the world once it holds nothing of
    /// the old cores.
    pub(super) fn accept_events(
        &mut self,
        app: &str,
        events: Vec<NewMessage>,
    ) -> Result<bool, Violation> {
        let batch = self.journal_batch(app, events)?;
        // A failed group commit aborts the engine: nothing of the batch is
        // acknowledged, and recovery decides what of it survived.
        if let Some(lsn) = batch.wait_for {
            if !self.cores[batch.home].commit.is_durable(lsn) && !self.sync(batch.home)? {
                return Ok(false);
            }
        }
        self.acknowledge(batch);
        // Batches its group commit covered go on too.
        self.acknowledge_woken()?;
        Ok(true)
    }

    /// The first half of the accept path (`Accept::journal`): checks and
    /// journals `events` on the application's home shard, and tells the
    /// model what was journaled or refused.
    fn journal_batch(&mut self, app: &str, events: Vec<NewMessage>) -> Result<Batch, Violation> {
        let home = self.shared.placement.home_of_app(app);
        let catalog = self.shared.catalog.load_full();
        let core = &self.cores[home];
        let journaled = core
            .accept
            .journal(&catalog, &core.index, events.clone(), None);
        let mut fan = journaled.fan.iter();
        let mut ids = Vec::new();
        for (ev, result) in events.iter().zip(&journaled.results) {
            match result {
                Ok(msg) => {
                    let Some((_, destinations)) = fan.next() else {
                        return Err(format!("{} accepted without a fan-out", msg.id));
                    };
                    let mut chosen = destinations.clone();
                    chosen.sort();
                    let expected = self.oracle.expected_destinations(app, &ev.event_type);
                    if chosen != expected {
                        return Err(format!(
                            "fan-out of {} from {app} chose {chosen:?}, the model {expected:?}",
                            ev.event_type
                        ));
                    }
                    let id = msg.id.to_string();
                    let pos = msg.loc.pos;
                    self.ids_at
                        .insert((home as u32, pos.segment_seq, pos.offset), id.clone());
                    let eid = ev.event_id.as_deref().map(|e| (app, e));
                    self.oracle
                        .journaled(&id, destinations, eid, msg.created_ms)?;
                    self.oracle.ordered(&id, msg.created_ms, msg.loc);
                    ids.push(id);
                }
                Err(IngestError::Duplicate(first)) => {
                    let eid = ev.event_id.as_deref().unwrap_or_default();
                    self.oracle.duplicate(first, app, eid, self.now_ms)?;
                    self.note(&format!("duplicate {eid} of {first}"));
                }
                // Refused, not acknowledged: the producer hears of it.
                Err(IngestError::Journal(_)) => {
                    self.note(&format!("message refused by journal {home}"));
                    self.counters.disk_errors += 1;
                }
                Err(e) => return Err(format!("the accept path refused a message: {e}")),
            }
        }
        Ok(Batch {
            home,
            wait_for: journaled.wait_for,
            ids,
            fan: journaled.fan,
        })
    }

    /// The second half, once the batch is durable: acknowledged to its
    /// producer, then its deliveries handed to their owner shards
    /// (`route::fan_out`).
    fn acknowledge(&mut self, batch: Batch) {
        for id in &batch.ids {
            self.oracle.acknowledged(id);
            let dests = self
                .oracle
                .messages
                .get(id)
                .map_or(0, |m| m.destinations.len());
            self.note(&format!("ack {id} {dests}"));
        }
        let catalog = self.shared.catalog.load_full();
        let per = crate::shard::route::by_owner(batch.fan, &catalog, &self.shared.placement);
        for (owner, due) in per.into_iter().enumerate() {
            if !due.is_empty() {
                self.cores[owner].deliveries.accept(due);
            }
        }
    }

    /// One group commit of shard `i`'s journal (`Commit::sync_here`, as the
    /// flusher's). False when the sync failed: the engine aborts
    /// (`commit::Commit::sync_once`), and the caller crashes the world.
    fn sync(&mut self, i: usize) -> Result<bool, Violation> {
        match self.cores[i].commit.sync_here() {
            Ok(_) => {
                self.note_synced_lengths(i)?;
                Ok(true)
            }
            Err(_) => {
                self.note(&format!("sync of journal {i} failed: abort"));
                self.counters.disk_errors += 1;
                Ok(false)
            }
        }
    }

    /// Notes the lengths of shard `i`'s segment files, now durable.
    fn note_synced_lengths(&mut self, i: usize) -> Result<(), Violation> {
        let dir = self.cores[i].commit.dir();
        let lengths = super::disk::lengths(&dir).map_err(|e| e.to_string())?;
        self.synced_lengths.insert(dir, lengths);
        Ok(())
    }

    /// Arms one disk fault (`journal::faults`): EIO at a shard journal's
    /// next sync or next write of records (which breaks it until the
    /// restart its failed sync brings), or ENOSPC at the next one to three rolls to a new segment
    /// or growths of the active segment's file, of a shard journal or of
    /// the catalog journal. (A failed catalog sync aborts the engine before
    /// anything changes, as a crash does.)
    fn arm_disk_fault(&mut self) {
        let pick = self.rng.gen_range(0..=self.cores.len());
        let (dir, name) = match self.cores.get(pick) {
            Some(c) => (c.commit.dir(), format!("journal {pick}")),
            None => match &self.catalog_store {
                Some(store) => (store.dir(), "catalog".to_string()),
                None => return,
            },
        };
        let (site, times, errno) = match self.rng.gen_range(0..4) {
            0 if pick < self.cores.len() => (faults::Site::Sync, 1, libc::EIO),
            3 if pick < self.cores.len() => (faults::Site::Write, 1, libc::EIO),
            1 => (faults::Site::Grow, self.rng.gen_range(1..=3), libc::ENOSPC),
            _ => (
                faults::Site::NewSegment,
                self.rng.gen_range(1..=3),
                libc::ENOSPC,
            ),
        };
        faults::arm(&dir, site, times, errno);
        self.counters.faults_injected += 1;
        self.note(&format!("arm {site:?} x{times} errno {errno} on {name}"));
    }

    /// The flusher: a group commit of every shard journal. A failed one
    /// crashes the world (and the rest wait for the restart).
    fn flush(&mut self) -> Result<(), Violation> {
        for i in 0..self.cores.len() {
            if !self.sync(i)? {
                return self.crash();
            }
        }
        self.last_flush_ms = self.now_ms;
        self.acknowledge_woken()
    }

    /// The runtime's timer loop: the flusher's group commit and the sweep
    /// on their periods, due retries to their ready queues, then every
    /// started worker played.
    fn run_due(&mut self) -> Result<(), Violation> {
        if self.now_ms - self.last_flush_ms >= FLUSH_MS {
            self.flush()?;
        }
        if self.now_ms - self.last_sweep_ms >= SWEEP_MS {
            for c in &self.cores {
                c.deliveries.sweep(self.now_ms);
            }
            self.last_sweep_ms = self.now_ms;
        }
        if self.now_ms - self.last_compaction_ms >= self.config.compaction_interval_ms {
            self.compaction_pass();
        }
        let mut expired = Vec::new();
        for c in &self.cores {
            c.deliveries.fire_due(self.now_ms, &mut expired);
        }
        self.play_workers()
    }

    /// Ends a delivery in the model as the engine settled it.
    fn ended(&mut self, msg_id: &str, endpoint: &str, outcome: Outcome, status: u16) {
        let stand = match outcome {
            Outcome::Succeeded => Stand::Succeeded,
            Outcome::Cancelled => Stand::Cancelled,
            _ => Stand::Failed,
        };
        self.oracle.settled(msg_id, endpoint, stand, status);
        if stand == Stand::Succeeded {
            self.counters.delivered += 1;
        }
    }
}
