//! What a crash does to the world and how it comes back: the disk keeps,
//! drops or tears what no sync covered, bits flip in old records (which
//! recovery and `journal check` must both refuse), the shard count may
//! change, and recovery (`recovery::recover`, as `serve` calls it) must find
//! every acknowledged, unfinished delivery again.

use super::{World, Written};
use crate::catalog::Catalog;
use crate::delivery::MsgRef;
use crate::placement::Placement;
use crate::records;
use crate::sim::disk::{self, Loss};
use crate::sim::oracle::Violation;
use crate::wheel::TimerWheel;
use rand::Rng;
use std::collections::BTreeSet;
use std::path::PathBuf;

impl World {
    /// A crash: memory is gone, the disk keeps what it keeps; then a
    /// restart, sometimes with another shard count.
    pub fn crash(&mut self) -> Result<(), Violation> {
        self.counters.crashes += 1;
        // A failing sync goes with the crashed process; a full disk stays
        // full until its armed rolls have failed.
        crate::journal::faults::disarm(crate::journal::faults::Site::Sync);
        let segment_bytes = self.config.segment_bytes;
        let mut states = Vec::new();
        for j in &self.journals {
            states.push((j.dir().to_path_buf(), j.durable_lsn(), j.written_lsn()));
        }
        self.journals.clear();
        self.catalog_store = None;
        self.slots.clear();
        self.wheel = TimerWheel::new(self.now_ms);
        self.failing_since.clear();
        for (dir, durable, written) in states {
            let loss = disk::crash(&mut self.rng, &dir, segment_bytes, durable, written)
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
            // What was not synced may be gone: only synced records stay
            // known (for bit flips).
            self.unsynced.remove(&dir);
        }
        if self.rng.gen_range(0..4) == 0 {
            self.flip_and_expect_detection()?;
        }
        if self.rng.gen_range(0..3) == 0 {
            self.config.shards = self.rng.gen_range(1..=4);
            self.placement = Placement::new(self.config.shards);
            self.note(&format!("shards {}", self.config.shards));
        }
        self.restart()
    }

    /// Flips a bit inside a durable record that has a durable record after
    /// it: recovery and `journal check` must both refuse, never drop it.
    fn flip_and_expect_detection(&mut self) -> Result<(), Violation> {
        let candidates: Vec<(PathBuf, Written)> = self
            .durable
            .iter()
            .flat_map(|(dir, ws)| {
                let n = ws.len().saturating_sub(1);
                ws.iter().take(n).map(move |w| (dir.clone(), *w))
            })
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let (dir, w) = candidates[self.rng.gen_range(0..candidates.len())].clone();
        let offset = w.pos.offset + self.rng.gen_range(0..w.len);
        let bit = self.rng.gen_range(0..8u8);
        disk::flip(&dir, w.pos.segment_seq, offset, bit).map_err(|e| e.to_string())?;
        self.counters.faults_injected += 1;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        self.note(&format!(
            "flip {} seg {} record at {} byte {} bit {bit}",
            name.unwrap_or_default(),
            w.pos.segment_seq,
            w.pos.offset,
            offset - w.pos.offset
        ));
        let recovered = crate::recovery::recover(&self.config, false);
        let checked = crate::journal::check_with(&dir, &mut |r| {
            records::validate(r.kind, r.version, r.body).map_err(|e| e.to_string())
        });
        let refused = recovered.is_err();
        drop(recovered);
        let reported = checked.as_ref().map_or(true, |r| r.corruption.is_some());
        disk::flip(&dir, w.pos.segment_seq, offset, bit).map_err(|e| e.to_string())?;
        match (refused, reported) {
            (true, true) => {
                self.counters.corruption_detected += 1;
                Ok(())
            }
            _ => Err(format!(
                "a flipped bit at {} segment {} offset {offset} went unnoticed (recovery refused: {refused}, journal check reported: {reported})",
                dir.display(),
                w.pos.segment_seq
            )),
        }
    }

    /// Recovers from the data directory, as `serve` does, and checks that
    /// nothing acknowledged and unfinished is missing.
    pub(super) fn restart(&mut self) -> Result<(), Violation> {
        let r = crate::recovery::recover(&self.config, false)
            .map_err(|e| format!("recovery refused the data directory: {e}"))?;
        // Every catalog change is synced before it is applied: the catalog
        // read back is the one that was live, compactions or not.
        if same_catalog(&self.catalog, &r.catalog)? {
            self.catalog = r.catalog;
        } else {
            return Err("the recovered catalog differs from the live one".into());
        }
        self.catalog_store = Some(r.catalog_store);
        // Failure streaks survive the restart, as recovery derives them.
        self.failing_since = r.failing_since.into_iter().flatten().collect();
        self.journals = r.journals;
        let mut found = BTreeSet::new();
        let mut pending = Vec::new();
        for (shard, list) in r.pending.into_iter().enumerate() {
            for p in list {
                if self.placement.owner_of_endpoint(&p.delivery.endpoint_id) != shard {
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
                pending.push((key, p, shard));
            }
        }
        self.oracle.check_recovered(&found)?;
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
        pending.sort_by(|a, b| {
            (a.0, &a.1.delivery.endpoint_id).cmp(&(b.0, &b.1.delivery.endpoint_id))
        });
        self.note(&format!("restart {} pending", pending.len()));
        for (_, p, shard) in pending {
            self.add(p, shard);
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
