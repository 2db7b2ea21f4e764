//! What a crash does to the world and how it comes back: the disk keeps,
//! drops or tears what no sync covered, bits flip in old records (which
//! recovery and `journal check` must both refuse), the shard count may
//! change, recovery (`recovery::recover`, as `serve` calls it) must find
//! every acknowledged, unfinished delivery again, and each shard's core is
//! built from what it found, as the runtime builds a shard's.

use super::{Core, World};
use crate::accept::event_ids::EventIds;
use crate::accept::Accept;
use crate::catalog::Catalog;
use crate::commit::Commit;
use crate::delivery::{Deliveries, MsgRef, NoticeSink, Ports, Workers};
use crate::metrics::ShardStats;
use crate::records;
use crate::sim::disk::{self, Loss};
use crate::sim::oracle::Violation;
use rand::Rng;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::rc::Rc;

impl World {
    /// A crash: memory is gone, the disk keeps what it keeps; then a
    /// restart, sometimes with another shard count.
    pub fn crash(&mut self) -> Result<(), Violation> {
        self.counters.crashes += 1;
        // A failing sync or write goes with the crashed process; a full
        // disk stays full until its armed rolls have failed.
        crate::journal::faults::disarm(crate::journal::faults::Site::Sync);
        crate::journal::faults::disarm(crate::journal::faults::Site::Write);
        let segment_bytes = self.config.segment_bytes;
        let states: Vec<_> = self
            .cores
            .iter()
            .map(|c| {
                (
                    c.commit.dir(),
                    c.commit.durable_lsn(),
                    c.commit.written_lsn(),
                )
            })
            .collect();
        self.attempts_may_repeat |= self
            .cores
            .iter()
            .any(|c| c.stats.borrow().attempt_records_refused > 0);
        // Batches waiting for a group commit die unacknowledged.
        if let Some(waiting) = &mut self.waiting {
            waiting.clear();
        }
        self.cores.clear();
        // Waiting workers die with the process.
        self.throttled.clear();
        self.catalog_store = None;
        for (dir, durable, written) in states {
            let synced = self.synced_lengths.get(&dir).cloned().unwrap_or_default();
            let loss = disk::crash(
                &mut self.rng,
                &dir,
                segment_bytes,
                (durable, written),
                &synced,
            )
            .map_err(|e| e.to_string())?;
            if loss != Loss::Kept {
                self.counters.faults_injected += 1;
            }
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            self.note(&format!(
                "crash {} {loss:?} durable {} written {}",
                name.unwrap_or_default(),
                durable.0,
                written.0
            ));
        }
        if self.rng.gen_range(0..4) == 0 {
            self.flip_and_expect_detection()?;
        }
        if self.rng.gen_range(0..3) == 0 {
            self.config.shards = self.rng.gen_range(1..=4);
            self.note(&format!("shards {}", self.config.shards));
        }
        self.restart()
    }

    /// The records on disk that have a whole record after them in their
    /// journal (a flipped bit in one of them is corruption, never a torn
    /// tail): (directory, segment, offset, length).
    fn flip_candidates(&self) -> Result<Vec<(PathBuf, u64, u64, u64)>, Violation> {
        let mut out = Vec::new();
        for dir in &self.dirs {
            let mut found = Vec::new();
            crate::journal::check_with(dir, &mut |r| {
                let len = crate::journal::RECORD_HEADER_BYTES + r.body.len() as u64;
                found.push((dir.clone(), r.segment_seq, r.offset, len));
                Ok(())
            })
            .map_err(|e| format!("journal check of {} before a flip: {e}", dir.display()))?;
            found.pop();
            out.extend(found);
        }
        Ok(out)
    }

    /// Flips a bit inside a record that has a whole record after it:
    /// recovery and `journal check` must both refuse, never drop it.
    fn flip_and_expect_detection(&mut self) -> Result<(), Violation> {
        let candidates = self.flip_candidates()?;
        if candidates.is_empty() {
            return Ok(());
        }
        let (dir, seq, at, len) = candidates[self.rng.gen_range(0..candidates.len())].clone();
        let offset = at + self.rng.gen_range(0..len);
        let bit = self.rng.gen_range(0..8u8);
        disk::flip(&dir, seq, offset, bit).map_err(|e| e.to_string())?;
        self.counters.faults_injected += 1;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        self.note(&format!(
            "flip {} seg {seq} record at {at} byte {} bit {bit}",
            name.unwrap_or_default(),
            offset - at
        ));
        let recovered = crate::recovery::recover(&self.config, false);
        let checked = crate::journal::check_with(&dir, &mut |r| {
            records::validate(r.kind, r.version, r.body).map_err(Into::into)
        });
        let refused = recovered.is_err();
        drop(recovered);
        let reported = checked.as_ref().map_or(true, |r| r.corruption.is_some());
        disk::flip(&dir, seq, offset, bit).map_err(|e| e.to_string())?;
        match (refused, reported) {
            (true, true) => {
                self.counters.corruption_detected += 1;
                Ok(())
            }
            _ => Err(format!(
                "a flipped bit at {} segment {seq} offset {offset} went unnoticed (recovery refused: {refused}, journal check reported: {reported})",
                dir.display(),
            )),
        }
    }

    /// The ids of the message records in the shard journals on disk (those
    /// of shards that no longer exist included).
    fn messages_on_disk(&self) -> Result<BTreeSet<String>, Violation> {
        let catalog = self.catalog_store.as_ref().map(|s| s.dir());
        let mut ids = BTreeSet::new();
        for dir in self.dirs.iter().filter(|d| Some(*d) != catalog.as_ref()) {
            crate::journal::check_with(dir, &mut |r| {
                if r.kind == records::Kind::Message as u8 {
                    let m = records::decode_message(r.body)?;
                    ids.insert(m.id);
                }
                Ok(())
            })
            .map_err(|e| format!("reading {} after recovery: {e}", dir.display()))?;
        }
        Ok(ids)
    }

    /// Recovers from the data directory, as `serve` does, checks that
    /// nothing acknowledged and unfinished is missing, and builds each
    /// shard's core from what recovery returned, as the runtime does.
    pub(super) fn restart(&mut self) -> Result<(), Violation> {
        let mut r = crate::recovery::recover(&self.config, false)
            .map_err(|e| format!("recovery refused the data directory: {e}"))?;
        // Every catalog change is synced before it is applied: the catalog
        // read back is the one that was live, compactions or not.
        if !same_catalog(&self.shared.catalog.load(), &r.catalog)? {
            return Err("the recovered catalog differs from the live one".into());
        }
        let catalog = std::mem::take(&mut r.catalog);
        self.shared = World::shared_for(&self.config, catalog, std::mem::take(&mut r.expunged))?;
        // As the runtime seeds it: the horizon every pass raises.
        self.shared
            .compacted_before_ms
            .store(r.compacted_before_ms, std::sync::atomic::Ordering::Relaxed);
        self.dirs.insert(r.catalog_store.dir());
        self.catalog_store = Some(r.catalog_store);
        let placement = &self.shared.placement;
        let mut found = BTreeSet::new();
        let mut pending = Vec::new();
        for (shard, list) in std::mem::take(&mut r.pending).into_iter().enumerate() {
            let mut keyed = Vec::with_capacity(list.len());
            for p in list {
                if placement.owner_of_endpoint(&p.delivery.endpoint_id) != shard {
                    return Err(format!(
                        "{} recovered on shard {shard}, not its owner",
                        p.delivery.endpoint_id
                    ));
                }
                let MsgRef::Cold(c) = &p.delivery.msg else {
                    return Err("recovery handed out a message in memory".into());
                };
                let loc = c.loc();
                let key = (loc.journal, loc.pos.segment_seq, loc.pos.offset);
                let id = self.ids_at.get(&key).cloned().unwrap_or_default();
                found.insert((id, p.delivery.endpoint_id.to_string()));
                keyed.push((key, p));
            }
            // In recovery's order, as the runtime hands them over (a FIFO
            // endpoint's in acceptance order).
            pending.push(keyed.into_iter().map(|(_, p)| p).collect::<Vec<_>>());
        }
        self.oracle.check_recovered(&found)?;
        // A new process: compaction's first pass only publishes.
        self.retired = std::mem::take(&mut r.retired);
        self.published.clear();
        self.last_compaction_ms = self.now_ms;
        let on_disk = self.messages_on_disk()?;
        self.oracle.on_disk(&on_disk)?;
        // Journaled but unacknowledged messages that survived are delivered
        // too; deliveries whose final record was lost are pending again.
        for (m, e) in &found {
            if let Some(model) = self.oracle.messages.get(m).cloned() {
                if !model.acknowledged {
                    self.oracle.acknowledged(m);
                }
            }
            self.oracle.pending_again(m, e);
        }
        let total: usize = pending.iter().map(Vec::len).sum();
        self.note(&format!("restart {total} pending"));
        let parts = r
            .journals
            .into_iter()
            .zip(pending)
            .zip(r.dedup)
            .zip(r.indexes)
            .zip(r.segment_times)
            .zip(r.failing_since);
        for (i, (((((journal, pending), dedup), index), times), failing)) in parts.enumerate() {
            let commit = Rc::new(Commit::simulated(
                journal,
                self.config.durability,
                self.config.batch_sync_interval_ms,
            ));
            commit.set_segment_times(times);
            self.dirs.insert(commit.dir());
            let index = Rc::new(RefCell::new(index));
            // No operational application in the simulated catalog: a
            // notice is made durable as `route::notify` does then, at once.
            let notices: NoticeSink = Rc::new(|_| Box::pin(std::future::ready(true)));
            let stats = Rc::new(RefCell::new(ShardStats::default()));
            let deliveries = Deliveries::new(
                Ports {
                    shard: i,
                    shared: self.shared.clone(),
                    commit: commit.clone(),
                    index: index.clone(),
                    stats: stats.clone(),
                    notices,
                },
                self.connections,
                Workers::Played(Default::default()),
            );
            let event_ids = EventIds::new(
                self.config.idempotency_window_ms,
                self.config.max_event_ids_per_shard,
            );
            let accept = Accept::new(i as u32, commit.clone(), event_ids, dedup);
            // Failure streaks survive the restart, as recovery derives them.
            deliveries.resume_streaks(failing);
            deliveries.accept(pending);
            let lengths = disk::lengths(&commit.dir()).map_err(|e| e.to_string())?;
            self.synced_lengths.insert(commit.dir(), lengths);
            self.cores.push(Core {
                stats,
                commit,
                accept,
                deliveries,
                index,
            });
        }
        self.last_flush_ms = self.now_ms;
        Ok(())
    }
}
/// Whether two catalogs hold the same records (in any order).
fn same_catalog(a: &Catalog, b: &Catalog) -> Result<bool, Violation> {
    let sorted = |c: &Catalog| -> Result<Vec<(u8, Vec<u8>)>, Violation> {
        let mut v: Vec<(u8, Vec<u8>)> = c
            .snapshot_records()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(k, b)| (k as u8, b.to_vec()))
            .collect();
        v.sort();
        Ok(v)
    };
    Ok(sorted(a)? == sorted(b)?)
}
