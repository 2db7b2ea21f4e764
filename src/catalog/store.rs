//! The catalog journal's owner: every catalog change is appended and synced
//! here before the new catalog is published, and the journal is compacted
//! when it has grown to twice the live catalog.
//!
//! # Compaction
//! The live catalog is written as put records into a fresh journal in
//! `catalog.next/` (with `catalog_segment_bytes`) and synced; then the
//! directories are swapped: `catalog/` → `catalog.prev/`, `catalog.next/` →
//! `catalog/`, each rename made durable by an fsync of the data directory,
//! and `catalog.prev/` is removed. A crash at any step leaves a state that
//! [`settle`] resolves at the next start, by the table of [`settle_action`]:
//!
//! | `catalog/` | `catalog.next/` | `catalog.prev/` | meaning | action |
//! |---|---|---|---|---|
//! | yes | any | any | swap not begun, or done | remove `next` and `prev` |
//! | no | yes | yes | between the renames; `next` is complete | `next` → `catalog`, remove `prev` |
//! | no | no | yes | (only by hand) | `prev` → `catalog` |
//! | no | yes | no | unreachable: `next` may be partial | refuse to start |
//! | no | no | no | a new data directory | nothing |
//!
//! Replaying the new journal gives the catalog that was live when it was
//! written, because compaction runs on shard 0 between two catalog changes
//! and every change reaches the journal before the catalog is published.
//!
//! # Invariants
//! - `journal_bytes` is the footprint of every record in the journal;
//! - a compaction never removes the old journal before the new one is
//!   durable under its final name.

use super::Catalog;
use crate::datadir::{catalog_dir, catalog_next_dir, catalog_prev_dir};
use crate::journal::{
    record_footprint_bytes, AppendError, Journal, JournalConfig, OpenError, Position,
    RecoveryReport, SyncError,
};
use crate::records::{self, Kind, RecordError};
use std::path::{Path, PathBuf};

/// How the catalog journal is kept (from `Config`).
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub data_dir: PathBuf,
    /// Segment size of a new (or compacted) catalog journal.
    pub segment_bytes: u64,
    /// The journal is not compacted below this size.
    pub compact_min_bytes: u64,
}

/// Why the catalog journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot settle an interrupted catalog compaction in {path}: {source}")]
    Settle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{next} exists but neither {catalog} nor {prev} does: the catalog journal is missing; \
         restore it, or move {next} to {catalog} if you know it is complete"
    )]
    OnlyNext {
        next: PathBuf,
        catalog: PathBuf,
        prev: PathBuf,
    },
}

/// Why a catalog change could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CatalogWriteError {
    #[error("the catalog journal is not on this shard")]
    NotHere,
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Append(#[from] AppendError),
}

/// Why a compaction did not happen; the old journal stays in use.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("writing the compacted catalog journal: {0}")]
    Append(#[from] AppendError),
    #[error("syncing the compacted catalog journal: {0}")]
    Sync(#[from] SyncError),
    #[error("opening a catalog journal: {0}")]
    Open(#[from] OpenError),
    #[error("the compacted catalog journal did not become durable")]
    NotDurable,
    #[error("{op} {path}: {source}")]
    Fs {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What one compaction did, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    pub before_bytes: u64,
    pub after_bytes: u64,
    pub records: usize,
}

/// The catalog journal and its compaction bookkeeping (shard 0 only).
#[derive(Debug)]
pub struct CatalogStore {
    /// `None` only while a compaction swaps directories.
    journal: Option<Journal>,
    settings: StoreSettings,
    /// Footprint of every record in the journal.
    journal_bytes: u64,
    /// The next journal size at which compaction is considered.
    next_check_bytes: u64,
    compactions: u64,
}

/// What [`settle`] does with the directories a compaction left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleAction {
    Nothing,
    /// Remove whichever of `next` and `prev` exist.
    RemoveLeftovers,
    /// Rename `next` to `catalog`, then remove `prev`.
    FinishSwap,
    /// Rename `prev` back to `catalog`.
    RestorePrev,
    /// Refuse to start.
    OnlyNext,
}

/// The settle table (see the module documentation): what to do given which
/// of `catalog/`, `catalog.next/` and `catalog.prev/` exist.
pub fn settle_action(catalog: bool, next: bool, prev: bool) -> SettleAction {
    match (catalog, next, prev) {
        (true, false, false) | (false, false, false) => SettleAction::Nothing,
        (true, _, _) => SettleAction::RemoveLeftovers,
        (false, true, true) => SettleAction::FinishSwap,
        (false, false, true) => SettleAction::RestorePrev,
        (false, true, false) => SettleAction::OnlyNext,
    }
}

/// Resolves what an interrupted compaction left, so that `catalog/` is the
/// one catalog journal. Idempotent; run before the catalog journal opens.
pub fn settle(data_dir: &Path) -> Result<SettleAction, StoreOpenError> {
    let (cat, next, prev) = (
        catalog_dir(data_dir),
        catalog_next_dir(data_dir),
        catalog_prev_dir(data_dir),
    );
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreOpenError::Settle { path, source }
    };
    let action = settle_action(cat.exists(), next.exists(), prev.exists());
    match action {
        SettleAction::Nothing => return Ok(action),
        SettleAction::RemoveLeftovers => {
            for dir in [&next, &prev] {
                if dir.exists() {
                    std::fs::remove_dir_all(dir).map_err(fail(dir))?;
                }
            }
        }
        SettleAction::FinishSwap => {
            std::fs::rename(&next, &cat).map_err(fail(&next))?;
            sync_data_dir(data_dir).map_err(fail(data_dir))?;
            std::fs::remove_dir_all(&prev).map_err(fail(&prev))?;
        }
        SettleAction::RestorePrev => std::fs::rename(&prev, &cat).map_err(fail(&prev))?,
        SettleAction::OnlyNext => {
            return Err(StoreOpenError::OnlyNext {
                next,
                catalog: cat,
                prev,
            })
        }
    }
    sync_data_dir(data_dir).map_err(fail(data_dir))?;
    Ok(action)
}

fn sync_data_dir(data_dir: &Path) -> std::io::Result<()> {
    crate::journal::sync_dir(data_dir).map_err(|e| e.source)
}

/// Whether the journal should be rewritten: past the minimum size and at
/// least twice the live catalog.
pub fn compaction_due(journal_bytes: u64, live_bytes: u64, min_bytes: u64) -> bool {
    journal_bytes >= min_bytes && journal_bytes >= live_bytes.saturating_mul(2)
}

impl CatalogStore {
    /// Settles an interrupted compaction, opens the catalog journal and
    /// replays it into a catalog (each body checked: a bad one is corruption
    /// at its record). A journal written with another segment size opens
    /// with that size and is rewritten with the configured one at the first
    /// catalog change.
    pub fn open(
        settings: StoreSettings,
        repair: bool,
    ) -> Result<(CatalogStore, Catalog, RecoveryReport), StoreOpenError> {
        settle(&settings.data_dir)?;
        let dir = catalog_dir(&settings.data_dir);
        let mut segment_bytes = settings.segment_bytes;
        loop {
            let mut catalog = Catalog::default();
            let mut bytes = 0u64;
            let opened = Journal::open_checked(
                &dir,
                JournalConfig {
                    segment_bytes,
                    repair,
                },
                &mut |r| {
                    bytes += record_footprint_bytes(r.body.len() as u64);
                    records::check_version(r.version)
                        .and_then(|()| catalog.apply_versioned(r.kind, r.version, r.body))
                        .map_err(Into::into)
                },
            );
            match opened {
                Ok((journal, report)) => {
                    let migrate = journal.segment_bytes() != settings.segment_bytes;
                    let store = CatalogStore {
                        journal: Some(journal),
                        next_check_bytes: if migrate {
                            0
                        } else {
                            settings.compact_min_bytes
                        },
                        settings,
                        journal_bytes: bytes,
                        compactions: 0,
                    };
                    return Ok((store, catalog, report));
                }
                Err(OpenError::SegmentSizeMismatch { found_bytes, .. })
                    if found_bytes != segment_bytes =>
                {
                    segment_bytes = found_bytes;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn journal(&mut self) -> &mut Journal {
        // Invariant: `journal` is `None` only inside `compact`, which puts
        // one back (or aborts) before returning.
        self.journal
            .as_mut()
            .expect("the catalog journal is present outside a compaction")
    }

    /// The most bytes of records one `append_all_synced` takes: half a
    /// segment (a bigger batch goes in several).
    pub fn batch_bytes_max(&mut self) -> u64 {
        (self.journal().segment_bytes() - crate::journal::SEGMENT_HEADER_BYTES) / 2
    }

    /// Appends a catalog record and syncs it (see `append_all_synced`).
    /// Returns where the record was written.
    pub fn append_synced(
        &mut self,
        kind: Kind,
        body: &[u8],
    ) -> Result<Position, CatalogWriteError> {
        let at = self.append_all_synced(&[(kind, body.to_vec())])?;
        Ok(at[0])
    }

    /// Appends records (a change and the events it makes) and syncs them
    /// once: all are durable together. Room for all of them is made first
    /// (`Journal::reserve`), so a full disk refuses the batch before any of
    /// it is written (a refusal after that cannot happen, and would abort).
    /// Returns where each record was written. A failed sync aborts the
    /// process: the records are in the mapping and would be replayed at the
    /// next start, so going on would let the live catalog and the journal
    /// disagree (as for shard journals).
    pub fn append_all_synced(
        &mut self,
        batch: &[(Kind, Vec<u8>)],
    ) -> Result<Vec<Position>, CatalogWriteError> {
        assert!(
            !batch.is_empty(),
            "a catalog change has at least one record"
        );
        let j = self.journal();
        // Room for the whole batch first: after this, no append rolls, so
        // none is refused after another was written.
        let footprint = batch
            .iter()
            .map(|(_, body)| record_footprint_bytes(body.len() as u64))
            .sum();
        j.reserve(footprint)?;
        let mut at = Vec::with_capacity(batch.len());
        // One write for the whole change; its sync below covers it.
        j.hold();
        for (i, (kind, body)) in batch.iter().enumerate() {
            match j.append_at(*kind as u8, records::RECORD_VERSION, body) {
                Ok((_, pos)) => at.push(pos),
                // Refused before anything was written (a roll or growth
                // the batch reserved cannot fail; a failed write can).
                Err(e) if i == 0 && !matches!(e, AppendError::Write(_)) => {
                    let _ = j.release();
                    return Err(e.into());
                }
                Err(e) => {
                    tracing::error!(error = %e, "catalog journal refused part of a change; aborting to keep the journal and the catalog in agreement");
                    std::process::abort();
                }
            }
        }
        let written = j.written_lsn();
        let released = j.release();
        match released.map_err(|e| e.into()).and_then(|()| j.sync()) {
            Ok(durable) if durable >= written => {}
            Ok(_) | Err(_) => {
                tracing::error!("catalog journal sync failed; aborting to keep the journal and the catalog in agreement");
                std::process::abort();
            }
        }
        for (_, body) in batch {
            self.journal_bytes += record_footprint_bytes(body.len() as u64);
        }
        Ok(at)
    }

    /// The catalog journal's directory.
    pub fn dir(&self) -> PathBuf {
        catalog_dir(&self.settings.data_dir)
    }

    /// Syncs whatever was appended (at stop).
    pub fn sync(&mut self) -> Result<(), SyncError> {
        self.journal().sync().map(|_| ())
    }

    /// The footprint of the records in the journal.
    pub fn journal_bytes(&self) -> u64 {
        self.journal_bytes
    }

    /// How many compactions ran since start.
    pub fn compactions(&self) -> u64 {
        self.compactions
    }

    /// Compacts when the journal has grown past the minimum and to twice
    /// the live catalog. Looks at the live size only every so often: after
    /// a look, not before the journal reaches twice what it found.
    pub fn compact_if_due(&mut self, live: &Catalog) -> Result<Option<Compaction>, CompactError> {
        if self.journal_bytes < self.next_check_bytes {
            return Ok(None);
        }
        let snapshot = live.snapshot_records()?;
        let live_bytes: u64 = snapshot
            .iter()
            .map(|(_, b)| record_footprint_bytes(b.len() as u64))
            .sum();
        let migrate =
            self.journal.as_ref().map(Journal::segment_bytes) != Some(self.settings.segment_bytes);
        if !migrate
            && !compaction_due(
                self.journal_bytes,
                live_bytes,
                self.settings.compact_min_bytes,
            )
        {
            self.next_check_bytes = self
                .settings
                .compact_min_bytes
                .max(live_bytes.saturating_mul(2));
            return Ok(None);
        }
        match self.compact(&snapshot) {
            Ok(done) => Ok(Some(done)),
            Err(e) => {
                // Try again after as much growth again, not at every change.
                self.next_check_bytes = self
                    .journal_bytes
                    .saturating_add(self.settings.compact_min_bytes.max(1));
                Err(e)
            }
        }
    }

    /// Rewrites the journal as `snapshot` (see the module documentation).
    fn compact(
        &mut self,
        snapshot: &[(Kind, rkyv::util::AlignedVec)],
    ) -> Result<Compaction, CompactError> {
        let data_dir = self.settings.data_dir.clone();
        let (cat, next, prev) = (
            catalog_dir(&data_dir),
            catalog_next_dir(&data_dir),
            catalog_prev_dir(&data_dir),
        );
        let fs = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| CompactError::Fs { op, path, source }
        };
        // Leftovers of a compaction that failed before its renames.
        for dir in [&next, &prev] {
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(fs("remove", dir))?;
            }
        }
        let config = JournalConfig {
            segment_bytes: self.settings.segment_bytes,
            repair: false,
        };
        let mut fresh = Journal::open(&next, config.clone(), |_| {})?.0;
        let mut after_bytes = 0;
        fresh.hold();
        for (kind, body) in snapshot {
            fresh.append_versioned(*kind as u8, records::RECORD_VERSION, body)?;
            after_bytes += record_footprint_bytes(body.len() as u64);
        }
        fresh.release().map_err(crate::journal::SyncError::from)?;
        let written = fresh.written_lsn();
        if fresh.sync()? < written {
            return Err(CompactError::NotDurable);
        }
        fresh.close();
        crate::failpoint::crash_at("catalog-next-written");

        // From the first rename on, the directories are in a state that
        // `settle` resolves at start; a failure here aborts so that it does.
        let old = self.journal.take();
        if let Some(j) = old {
            j.close();
        }
        let swap = || -> std::io::Result<()> {
            std::fs::rename(&cat, &prev)?;
            sync_data_dir(&data_dir)?;
            crate::failpoint::crash_at("catalog-prev-renamed");
            std::fs::rename(&next, &cat)?;
            sync_data_dir(&data_dir)?;
            crate::failpoint::crash_at("catalog-next-renamed");
            Ok(())
        };
        if let Err(e) = swap() {
            tracing::error!(error = %e, "catalog compaction failed while swapping directories; aborting, the next start completes it");
            std::process::abort();
        }
        let reopened = Journal::open(&cat, config, |_| {});
        let journal = match reopened {
            Ok((j, _)) => j,
            Err(e) => {
                tracing::error!(error = %e, "cannot reopen the compacted catalog journal; aborting, the next start opens it");
                std::process::abort();
            }
        };
        self.journal = Some(journal);
        std::fs::remove_dir_all(&prev).map_err(fs("remove", &prev))?;
        sync_data_dir(&data_dir).map_err(fs("fsync", &data_dir))?;
        let done = Compaction {
            before_bytes: self.journal_bytes,
            after_bytes,
            records: snapshot.len(),
        };
        self.journal_bytes = after_bytes;
        self.next_check_bytes = self
            .settings
            .compact_min_bytes
            .max(after_bytes.saturating_mul(2));
        self.compactions += 1;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_table() {
        use SettleAction::*;
        // (catalog, next, prev) → action, every combination.
        let rows = [
            ((false, false, false), Nothing),
            ((true, false, false), Nothing),
            ((true, true, false), RemoveLeftovers),
            ((true, false, true), RemoveLeftovers),
            ((true, true, true), RemoveLeftovers),
            ((false, true, true), FinishSwap),
            ((false, false, true), RestorePrev),
            ((false, true, false), OnlyNext),
        ];
        for ((c, n, p), want) in rows {
            assert_eq!(
                settle_action(c, n, p),
                want,
                "catalog={c} next={n} prev={p}"
            );
        }
    }

    #[test]
    fn compaction_due_table() {
        let mib = 1 << 20;
        let rows = [
            // (journal, live, min) → due
            ((0, 0, 4 * mib), false),
            ((4 * mib - 1, 0, 4 * mib), false),
            ((4 * mib, 0, 4 * mib), true),
            ((8 * mib, 5 * mib, 4 * mib), false),
            ((10 * mib, 5 * mib, 4 * mib), true),
            ((100 * mib, 60 * mib, 4 * mib), false),
            ((u64::MAX - 1, u64::MAX / 2 + 1, 0), false),
        ];
        for ((j, l, m), want) in rows {
            assert_eq!(
                compaction_due(j, l, m),
                want,
                "journal={j} live={l} min={m}"
            );
        }
    }
}
