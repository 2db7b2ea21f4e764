//! The simulated world: one engine's core on a simulated clock, with
//! simulated receivers and a simulated disk, driven by one seed.
//!
//! What runs is the engine's own code: the journal (real files, real
//! appends and syncs), the record formats, the catalog and its fan-out, the
//! placement of applications and endpoints on shards, the timer wheel, the
//! delivery decisions (`delivery::decision`: the retry verdict, auto-disable)
//! and recovery (`recovery::recover`, the same call `serve` makes, on the
//! same directory, with a shard count that changes on some restarts). What
//! the simulator plays itself, in the order the runtime does it, is the glue
//! between them: accept (append, group commit, then acknowledge, then fan
//! out), the worker's settling of an attempt (record, then free or re-arm),
//! and the flusher (a group commit every few milliseconds). The worker's
//! network I/O and the glommio flusher are not in the loop. Disk errors are
//! the journal's own (`journal::faults`, armed by the seed): a failed sync
//! is an abort and a restart, as in the engine; a refused roll refuses the
//! message (not acknowledged), the attempt record (a repeat after a
//! restart) or the catalog change (nothing changes).

use super::oracle::{EndpointModel, EndpointState, Oracle, Stand, Violation};
use super::{Bug, Counters};
use crate::catalog::store::{CatalogStore, CatalogWriteError};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::delivery::decision::{self, AttemptFacts};
use crate::delivery::{Delivery, Due, MsgRef};
use crate::journal::{faults, AppendError, Journal, Lsn, Position};
use crate::message::{Loc, Message};
use crate::placement::Placement;
use crate::records::{self, AttemptRecord, EndpointRecord, Kind, MessageRecord, Outcome};
use crate::wheel::TimerWheel;
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// A group commit of every shard journal runs this often (simulated ms).
const FLUSH_MS: u64 = 5;
/// A delivery waiting at least this long lets go of its message (as the
/// worker does), so its next attempt reads the record back.
const COLD_AFTER_MS: u64 = 1_000;
const EVENT_TYPES: [&str; 3] = ["order.paid", "order.shipped", "user.deleted"];
const APPS: [&str; 2] = ["app_sim_a", "app_sim_b"];

mod restart;

/// How one endpoint's receiver behaves (chances out of 100).
#[derive(Debug, Clone, Copy)]
struct Receiver {
    ok: u32,
    gone: u32,
}

/// A waiting delivery and the simulated shard that owns it.
struct Owned {
    delivery: Delivery,
    shard: usize,
}

/// One record the driver appended and knows to be durable.
#[derive(Clone, Copy)]
struct Written {
    pos: Position,
    len: u64,
}

/// The world of one seed.
pub struct World {
    pub rng: StdRng,
    bug: Option<Bug>,
    config: Config,
    placement: Placement,
    now_ms: u64,
    start_ms: u64,
    last_flush_ms: u64,
    catalog: Catalog,
    catalog_store: Option<CatalogStore>,
    journals: Vec<Journal>,
    slots: slab::Slab<Owned>,
    wheel: TimerWheel,
    failing_since: BTreeMap<String, u64>,
    receivers: BTreeMap<String, Receiver>,
    /// Which message id the driver appended at each journal position.
    ids_at: BTreeMap<(u32, u64, u64), String>,
    /// Durable records per journal directory, for bit flips.
    durable: BTreeMap<PathBuf, Vec<Written>>,
    /// Records appended since their journal's last sync, per directory.
    unsynced: BTreeMap<PathBuf, Vec<(Lsn, Written)>>,
    /// Ids are numbered, not random: the same seed makes the same ids.
    next_id: u64,
    pub oracle: Oracle,
    pub counters: Counters,
    trace: u64,
}

fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

impl World {
    /// A fresh engine on an empty data directory.
    pub fn new(rng: StdRng, data_dir: PathBuf, bug: Option<Bug>) -> Result<World, Violation> {
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
        let config = config.finish().map_err(|e| e.to_string())?;
        // A fixed distance from today: records look recent to recovery's
        // retention and windows, and the trace does not depend on the date.
        let start_ms = crate::time::now_ms() / 3_600_000 * 3_600_000;
        let mut w = World {
            rng,
            bug,
            placement: Placement::new(config.shards),
            config,
            now_ms: start_ms,
            start_ms,
            last_flush_ms: start_ms,
            catalog: Catalog::default(),
            catalog_store: None,
            journals: Vec::new(),
            slots: slab::Slab::new(),
            wheel: TimerWheel::new(start_ms),
            failing_since: BTreeMap::new(),
            receivers: BTreeMap::new(),
            ids_at: BTreeMap::new(),
            durable: BTreeMap::new(),
            unsynced: BTreeMap::new(),
            next_id: 0,
            oracle: Oracle::default(),
            counters: Counters::default(),
            trace: 0xcbf2_9ce4_8422_2325,
        };
        faults::disarm_all();
        crate::datadir::create(&w.config.data_dir).map_err(|e| e.to_string())?;
        w.restart()?;
        for app in APPS {
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

    /// One step: time passes, something happens, due retries run.
    pub fn step(&mut self, quiet: bool) -> Result<(), Violation> {
        self.now_ms += self.rng.gen_range(0..200);
        let roll = self.rng.gen_range(0..100);
        match roll {
            0..=44 => {
                self.accept()?;
                // A crash right after an acknowledgement, before the
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

    /// Whether nothing is pending.
    pub fn idle(&self) -> bool {
        self.slots.is_empty()
    }

    /// Runs until nothing is pending (no more crashes or catalog changes).
    pub fn drain(&mut self) -> Result<(), Violation> {
        faults::disarm_all();
        for _ in 0..1_000_000 {
            self.run_due()?;
            if self.slots.is_empty() {
                self.flush()?;
                return Ok(());
            }
            let next = self.wheel.next_wake_ms().unwrap_or(self.now_ms + 1);
            self.now_ms = next.max(self.now_ms + 1);
        }
        Err(format!(
            "{} deliveries still pending after draining",
            self.slots.len()
        ))
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
        let mut next = self.catalog.clone();
        next.apply(kind as u8, body).map_err(|e| e.to_string())?;
        let store = self.catalog_store.as_mut().ok_or("no catalog journal")?;
        let pos = match store.append_synced(kind, body) {
            Ok(pos) => pos,
            Err(CatalogWriteError::Append(AppendError::Roll(_) | AppendError::Grow(_))) => {
                self.note("catalog change refused: a full disk");
                self.counters.disk_errors += 1;
                return Ok(false);
            }
            Err(e) => return Err(format!("catalog append: {e}")),
        };
        let dir = store.dir();
        let len = crate::journal::RECORD_HEADER_BYTES + body.len() as u64;
        self.durable
            .entry(dir.clone())
            .or_default()
            .push(Written { pos, len });
        let compacted = store
            .compact_if_due(&next)
            .map_err(|e| format!("catalog compaction: {e}"))?;
        if let Some(done) = compacted {
            // The old records are gone; the new ones are not tracked.
            self.durable.remove(&dir);
            self.counters.catalog_compactions += 1;
            self.note(&format!(
                "catalog compacted {} records {} -> {} bytes",
                done.records, done.before_bytes, done.after_bytes
            ));
        }
        self.catalog = next;
        Ok(true)
    }

    fn create_endpoint(&mut self) -> Result<(), Violation> {
        let id = self.next_id("ep");
        let app = APPS[self.rng.gen_range(0..APPS.len())].to_string();
        let types: Vec<String> = match self.rng.gen_range(0..3) {
            0 => vec![],
            _ => vec![EVENT_TYPES[self.rng.gen_range(0..EVENT_TYPES.len())].to_string()],
        };
        let rec = EndpointRecord {
            event_types: types.clone(),
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
            },
        );
        self.note(&format!("create {id}"));
        Ok(())
    }

    /// Disables or enables an endpoint, as the API or auto-disable does.
    fn set_disabled(&mut self, id: &str, disabled: bool) -> Result<(), Violation> {
        let Some(ep) = self.catalog.endpoint_by_id(id).cloned() else {
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

    /// A producer's batch: journaled on the application's home shard, made
    /// durable by one group commit, acknowledged, then fanned out.
    fn accept(&mut self) -> Result<(), Violation> {
        let app = APPS[self.rng.gen_range(0..APPS.len())];
        let home = self.placement.home_of_app(app);
        let n = self.rng.gen_range(1..=4);
        let mut batch = Vec::with_capacity(n);
        for _ in 0..n {
            let event_type = EVENT_TYPES[self.rng.gen_range(0..EVENT_TYPES.len())];
            let mut destinations = self.catalog.fan_out(app, event_type, &[]);
            destinations.sort();
            let expected = self.oracle.expected_destinations(app, event_type);
            if destinations != expected {
                return Err(format!(
                    "fan-out of {event_type} from {app} chose {destinations:?}, the model {expected:?}"
                ));
            }
            let rec = MessageRecord {
                id: self.next_id("msg"),
                app_id: app.to_string(),
                event_type: event_type.to_string(),
                event_id: None,
                channels: vec![],
                payload: format!("{{\"n\":{}}}", self.next_id).into_bytes(),
                created_ms: self.now_ms,
                destinations,
            };
            let body = records::encode(&rec).map_err(|e| e.to_string())?;
            let (lsn, pos) = match self.journals[home].append_at(
                Kind::Message as u8,
                records::RECORD_VERSION,
                &body,
            ) {
                Ok(at) => at,
                // Refused, not acknowledged: the producer hears of it.
                Err(_) => {
                    self.note(&format!("message refused by journal {home}"));
                    self.counters.disk_errors += 1;
                    continue;
                }
            };
            self.track(home, lsn, pos, body.len());
            self.ids_at
                .insert((home as u32, pos.segment_seq, pos.offset), rec.id.clone());
            self.oracle.journaled(&rec.id, &rec.destinations);
            let loc = Loc {
                journal: home as u32,
                pos,
            };
            let (msg, dests) = Message::from_record(rec, loc);
            batch.push((Arc::new(msg), dests));
        }
        // A failed group commit aborts the engine: nothing of the batch is
        // acknowledged, and recovery decides what of it survived.
        if self.bug != Some(Bug::AckBeforeSync) && !self.sync(home)? {
            return Ok(());
        }
        for (msg, dests) in batch {
            self.oracle.acknowledged(&msg.id);
            self.counters.acknowledged += 1;
            self.note(&format!("ack {} {}", msg.id, dests.len()));
            for endpoint in dests {
                let shard = self.placement.owner_of_endpoint(&endpoint);
                let name = self.catalog.endpoint_name(&endpoint);
                self.add(Delivery::new(MsgRef::Hot(msg.clone()), name).due(0), shard);
            }
        }
        Ok(())
    }

    fn track(&mut self, journal: usize, lsn: Lsn, pos: Position, body_len: usize) {
        let dir = self.journals[journal].dir().to_path_buf();
        let len = crate::journal::RECORD_HEADER_BYTES + body_len as u64;
        self.unsynced
            .entry(dir)
            .or_default()
            .push((lsn, Written { pos, len }));
    }

    /// One group commit of shard `i`'s journal. A failed sync aborts the
    /// engine (`commit::Commit::sync_once`): here a crash and a restart,
    /// after which this returns false.
    fn sync(&mut self, i: usize) -> Result<bool, Violation> {
        let j = &mut self.journals[i];
        let durable = match j.sync() {
            Ok(durable) => durable,
            Err(_) => {
                self.note(&format!("sync of journal {i} failed: abort"));
                self.counters.disk_errors += 1;
                self.crash()?;
                return Ok(false);
            }
        };
        let dir = j.dir().to_path_buf();
        let list = self.unsynced.entry(dir.clone()).or_default();
        let (done, left): (Vec<_>, Vec<_>) = list.drain(..).partition(|(lsn, _)| *lsn <= durable);
        *list = left;
        self.durable
            .entry(dir)
            .or_default()
            .extend(done.into_iter().map(|(_, w)| w));
        Ok(true)
    }

    /// Arms one disk fault (`journal::faults`): EIO at a shard journal's
    /// next sync, or ENOSPC at the next one to three rolls to a new segment
    /// or growths of the active segment's file, of a shard journal or of
    /// the catalog journal. (A failed catalog sync aborts the engine before
    /// anything changes, as a crash does.)
    fn arm_disk_fault(&mut self) {
        let pick = self.rng.gen_range(0..=self.journals.len());
        let (dir, name) = match self.journals.get(pick) {
            Some(j) => (j.dir().to_path_buf(), format!("journal {pick}")),
            None => match &self.catalog_store {
                Some(store) => (store.dir(), "catalog".to_string()),
                None => return,
            },
        };
        let (site, times, errno) = match self.rng.gen_range(0..3) {
            0 if pick < self.journals.len() => (faults::Site::Sync, 1, libc::EIO),
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

    fn flush(&mut self) -> Result<(), Violation> {
        for i in 0..self.journals.len() {
            if !self.sync(i)? {
                break;
            }
        }
        self.last_flush_ms = self.now_ms;
        Ok(())
    }

    fn add(&mut self, Due { delivery, due_ms }: Due, shard: usize) {
        let due = due_ms.max(self.now_ms);
        let h = self.slots.insert(Owned { delivery, shard });
        self.wheel.insert(due, h as u32);
    }

    /// Fires due deliveries; the flusher's group commit runs on its period.
    fn run_due(&mut self) -> Result<(), Violation> {
        if self.now_ms - self.last_flush_ms >= FLUSH_MS {
            self.flush()?;
        }
        let mut due = Vec::new();
        self.wheel.advance(self.now_ms, &mut due);
        for h in due {
            self.attempt(h as usize)?;
        }
        Ok(())
    }

    /// The message id and record of a pending delivery (cold: read back).
    fn load(&mut self, msg: &MsgRef) -> Result<(String, String), Violation> {
        match msg {
            MsgRef::Hot(m) => Ok((m.id.to_string(), m.app_id.to_string())),
            MsgRef::Cold(c) => {
                let loc = c.loc();
                let rec = crate::reads::record::read_record_at(&self.config, loc, Kind::Message)
                    .map_err(|e| format!("cold read at {loc:?}: {e}"))?;
                let m = records::decode_message(&rec.body).map_err(|e| e.to_string())?;
                let key = (loc.journal, loc.pos.segment_seq, loc.pos.offset);
                match self.ids_at.get(&key) {
                    Some(id) if *id == m.id => Ok((m.id, m.app_id)),
                    other => Err(format!(
                        "the record at {loc:?} holds {}, the driver wrote {other:?} there",
                        m.id
                    )),
                }
            }
        }
    }

    /// One attempt of delivery `h`, settled as the worker settles it.
    fn attempt(&mut self, h: usize) -> Result<(), Violation> {
        let Some(slot) = self.slots.get(h) else {
            return Err(format!("the wheel fired {h}, which holds no delivery"));
        };
        let (msg_ref, endpoint, attempt_no, shard) = (
            slot.delivery.msg.clone(),
            slot.delivery.endpoint_id.clone(),
            slot.delivery.attempt_no,
            slot.shard,
        );
        let (msg_id, app_id) = self.load(&msg_ref)?;
        let ep = self.catalog.endpoint_by_id(&endpoint).cloned();
        let (status, outcome, next_ms) = match ep {
            None => (0, Outcome::Cancelled, 0),
            Some(e) if e.disabled => (0, Outcome::Failed, 0),
            Some(_) => {
                self.oracle.attempt(&msg_id, &endpoint)?;
                let (status, retry_after) = self.answer(&endpoint);
                self.note(&format!("attempt {msg_id} {endpoint} {status}"));
                self.note_health(&endpoint, status)?;
                let verdict = decision::verdict(&AttemptFacts {
                    status,
                    attempt_no,
                    schedule_ms: &self.config.retry_schedule_ms().map_err(|e| e.to_string())?,
                    jitter_percent: self.config.retry_jitter_percent,
                    jitter_unit: self.rng.gen(),
                    retry_after_secs: retry_after,
                    now_ms: self.now_ms,
                });
                if verdict.outcome == Outcome::Failed && status != 410 {
                    let left = self.config.retry_schedule.len() as u32;
                    if attempt_no + 1 < left {
                        return Err(format!(
                            "{msg_id} to {endpoint} failed after {attempt_no} retries of {left}"
                        ));
                    }
                }
                (status, verdict.outcome, verdict.next_attempt_ms)
            }
        };
        let rec = AttemptRecord {
            id: self.next_id("atmpt"),
            msg_id: msg_id.clone(),
            endpoint_id: endpoint.to_string(),
            app_id,
            attempt_no,
            at_ms: self.now_ms,
            status_code: status,
            duration_us: 0,
            outcome: outcome as u8,
            next_attempt_ms: next_ms,
            response: vec![],
            error_kind: match status {
                0 => records::error_kind_code(6),
                _ => records::ERROR_KIND_NONE,
            },
        };
        // A quarter of the attempts are written as version 1 wrote them, so
        // recovery always reads journals that mix both versions.
        let (version, body) = match self.rng.gen_range(0..4) {
            0 => (
                1,
                records::encode(&v1_attempt(&rec)).map_err(|e| e.to_string())?,
            ),
            _ => (
                records::RECORD_VERSION,
                records::encode(&rec).map_err(|e| e.to_string())?,
            ),
        };
        // An attempt record is appended before the delivery is freed or
        // re-armed, and not synced (at least once after a crash).
        // As the worker: an attempt record that cannot be written costs a
        // repeated attempt after a restart, nothing more.
        match self.journals[shard].append_at(Kind::Attempt as u8, version, &body) {
            Ok((lsn, pos)) => self.track(shard, lsn, pos, body.len()),
            Err(_) => {
                self.counters.disk_errors += 1;
                self.note(&format!("attempt record refused by journal {shard}"));
            }
        }
        if outcome.is_final() {
            self.slots.remove(h);
            let stand = match outcome {
                Outcome::Succeeded => Stand::Succeeded,
                Outcome::Cancelled => Stand::Cancelled,
                _ => Stand::Failed,
            };
            self.oracle.settled(&msg_id, &endpoint, stand, status);
            if stand == Stand::Succeeded {
                self.counters.delivered += 1;
            }
            return Ok(());
        }
        if let Some(slot) = self.slots.get_mut(h) {
            let d = &mut slot.delivery;
            d.attempt_no = attempt_no + 1;
            if next_ms.saturating_sub(self.now_ms) >= COLD_AFTER_MS {
                d.msg = d.msg.cold();
            }
        }
        self.wheel.insert(next_ms.max(self.now_ms), h as u32);
        Ok(())
    }

    /// What the endpoint's receiver answers: (status, Retry-After seconds).
    fn answer(&mut self, endpoint: &str) -> (u16, Option<u64>) {
        let r = self
            .receivers
            .get(endpoint)
            .copied()
            .unwrap_or(Receiver { ok: 50, gone: 0 });
        let roll = self.rng.gen_range(0..100);
        if roll < r.ok {
            return ([200, 201, 204][self.rng.gen_range(0..3)], None);
        }
        if roll < r.ok + r.gone {
            return (410, None);
        }
        match self.rng.gen_range(0..7) {
            // Timeouts, resets and half-written responses: no status.
            0..=2 => (0, None),
            3 => (500, None),
            4 => (429, Some(self.rng.gen_range(1..5))),
            5 => (503, Some(self.rng.gen_range(1..60))),
            _ => (404, None),
        }
    }

    /// The failure streak behind auto-disable, as the worker keeps it.
    fn note_health(&mut self, endpoint: &str, status: u16) -> Result<(), Violation> {
        if (200..300).contains(&status) {
            self.failing_since.remove(endpoint);
            return Ok(());
        }
        let since = *self
            .failing_since
            .entry(endpoint.to_string())
            .or_insert(self.now_ms);
        let after = self.config.auto_disable_after_ms;
        if decision::should_disable(status, since, self.now_ms, after).is_some() {
            self.failing_since.remove(endpoint);
            self.set_disabled(endpoint, true)?;
        }
        Ok(())
    }
}

/// `rec` as a version-1 body (no error kind).
fn v1_attempt(rec: &AttemptRecord) -> records::v1::AttemptRecord {
    records::v1::AttemptRecord {
        id: rec.id.clone(),
        msg_id: rec.msg_id.clone(),
        endpoint_id: rec.endpoint_id.clone(),
        app_id: rec.app_id.clone(),
        attempt_no: rec.attempt_no,
        at_ms: rec.at_ms,
        status_code: rec.status_code,
        duration_us: rec.duration_us,
        outcome: rec.outcome,
        next_attempt_ms: rec.next_attempt_ms,
        response: rec.response.clone(),
    }
}
