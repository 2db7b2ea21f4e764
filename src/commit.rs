//! Group commit: one msync covers every record appended since the last one.
//!
//! Appends are written into the journal's file on the shard thread (one
//! `pwrite` per record, or per batch inside [`Commit::held`]). A single flusher
//! task per shard takes a `SyncJob` for everything written so far, runs the
//! blocking msync on glommio's blocking pool (so the shard keeps appending
//! meanwhile), then completes every waiter whose record the job covered. At
//! 100,000 records/s and ~200 µs per sync, each sync covers 20+ records.
//!
//! # Invariants
//! - a waiter is completed only once `durable_lsn >= lsn`;
//! - a failed sync is fatal: the process aborts, because acknowledged data
//!   might not be on disk and continuing would break the durability contract.

use crate::config::Durability;
use crate::journal::{AppendError, Journal, Lsn, Position};
use crate::notify::Notify;
use crate::records::{self, Kind};
use futures_channel::oneshot;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

/// The newest record time of each segment of one journal (compaction deletes
/// a segment only once its newest record is old enough).
pub type SegmentTimes = BTreeMap<u64, u64>;

/// A journal directory of a shard that no longer exists (after `--shards`
/// went down): read by recovery, compacted by shard 0, never written.
#[derive(Debug)]
pub struct Retired {
    pub dir: PathBuf,
    pub times: SegmentTimes,
}

/// The shard's journal with its group-commit state.
pub struct Commit {
    journal: RefCell<Journal>,
    waiters: RefCell<VecDeque<(Lsn, oneshot::Sender<()>)>>,
    kick: Notify,
    mode: Durability,
    batch_interval: Duration,
    /// Reused encoding buffer for record bodies.
    scratch: RefCell<rkyv::util::AlignedVec>,
    /// Bytes appended, syncs run and their latency, for metrics.
    appended_bytes: Cell<u64>,
    /// Newest record time per segment, for compaction. Never earlier than
    /// the creation time of a record in the segment, which compaction's
    /// pending-message rule relies on (`shard::compaction::cutoff_ms`): the
    /// clock is read after the record is appended.
    segment_times: RefCell<SegmentTimes>,
    /// Open holds (`held`), and the segments their appends went to, which
    /// get their time once, when the last hold ends (one clock read per
    /// batch instead of one per record). At most the segments one batch
    /// spans.
    holds: Cell<u32>,
    unstamped: RefCell<Vec<u64>>,
    syncs: Cell<u64>,
    sync_us: RefCell<hdrhistogram::Histogram<u64>>,
    /// Whether a failed journal write aborts the process (the engine), or
    /// only breaks the journal so that its next sync fails (the simulator,
    /// which crashes its world on that).
    write_failure_aborts: bool,
}

/// Why a record could not be appended.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Encode(#[from] records::RecordError),
    #[error(transparent)]
    Append(#[from] AppendError),
}

impl Commit {
    pub fn new(journal: Journal, mode: Durability, batch_interval_ms: u64) -> Commit {
        Commit {
            journal: RefCell::new(journal),
            waiters: RefCell::new(VecDeque::new()),
            kick: Notify::default(),
            mode,
            batch_interval: Duration::from_millis(batch_interval_ms.max(1)),
            scratch: RefCell::new(rkyv::util::AlignedVec::new()),
            appended_bytes: Cell::new(0),
            segment_times: RefCell::new(Default::default()),
            holds: Cell::new(0),
            unstamped: RefCell::new(Vec::new()),
            syncs: Cell::new(0),
            sync_us: RefCell::new(crate::metrics::latency_histogram()),
            write_failure_aborts: true,
        }
    }

    /// As `new`, for the simulator: a failed journal write breaks the
    /// journal instead of aborting, and the simulator's next group commit
    /// fails (`sync_here`), which crashes its world.
    pub fn simulated(journal: Journal, mode: Durability, batch_interval_ms: u64) -> Commit {
        Commit {
            write_failure_aborts: false,
            ..Commit::new(journal, mode, batch_interval_ms)
        }
    }

    /// A journal write failed: the file may hold part of records already
    /// reported appended. The engine aborts (as on a failed msync: in
    /// `batch` and `none` modes no sync would come to stop it, and a held
    /// batch's results were already made).
    fn write_failed(&self, e: &dyn std::fmt::Display) {
        tracing::error!(error = %e, "journal write failed, aborting to protect acknowledged data");
        if self.write_failure_aborts {
            std::process::abort();
        }
    }

    /// Encodes and appends one record through the shard's reused scratch
    /// buffer; it is not durable until [`Commit::durable`] says so.
    pub fn append_record<T: records::Body>(
        &self,
        kind: Kind,
        value: &T,
    ) -> Result<Lsn, CommitError> {
        self.append_record_at(kind, value).map(|(lsn, _)| lsn)
    }

    /// Like `append_record`, also returning where the record starts (for the
    /// read path's indexes).
    pub fn append_record_at<T: records::Body>(
        &self,
        kind: Kind,
        value: &T,
    ) -> Result<(Lsn, Position), CommitError> {
        let buf = std::mem::take(&mut *self.scratch.borrow_mut());
        let buf = records::encode_into(value, buf)?;
        let result = self.append_at(kind as u8, &buf);
        *self.scratch.borrow_mut() = buf;
        Ok(result?)
    }

    /// Runs `f`, whose appends reach the journal's file in one write when
    /// it returns (`Journal::hold`): for a batch appended without yielding
    /// (an ingest batch, a run's attempt records), so no other task or
    /// shard can learn of a held record before it is in the file. A failed
    /// write aborts the engine (`write_failed`), before anything `f`
    /// produced is answered.
    pub fn held<R>(&self, f: impl FnOnce() -> R) -> R {
        /// Ends the hold even if `f` unwinds (a test's panic), so the
        /// journal does not stay held for good.
        struct Release<'a>(&'a Commit);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                let c = self.0;
                if let Err(e) = c.journal.borrow_mut().release() {
                    c.write_failed(&e);
                }
                c.holds.set(c.holds.get() - 1);
                if c.holds.get() == 0 {
                    let now = crate::time::now_ms();
                    let mut unstamped = c.unstamped.borrow_mut();
                    for &seq in unstamped.iter() {
                        c.stamp(seq, now);
                    }
                    unstamped.clear();
                }
            }
        }
        self.journal.borrow_mut().hold();
        self.holds.set(self.holds.get() + 1);
        let release = Release(self);
        let out = f();
        drop(release);
        out
    }

    /// Appends one encoded record.
    pub fn append(&self, kind: u8, body: &[u8]) -> Result<Lsn, AppendError> {
        self.append_at(kind, body).map(|(lsn, _)| lsn)
    }

    /// Appends one encoded record; returns its end Lsn and start position.
    fn append_at(&self, kind: u8, body: &[u8]) -> Result<(Lsn, Position), AppendError> {
        let mut journal = self.journal.borrow_mut();
        let before = journal.written_lsn();
        let (lsn, pos) = match journal.append_at(kind, crate::records::RECORD_VERSION, body) {
            Ok(appended) => appended,
            Err(AppendError::Write(e)) => {
                drop(journal);
                self.write_failed(&e);
                return Err(AppendError::Write(e));
            }
            Err(e) => return Err(e),
        };
        // Stamped now, or when the hold ends: after the record's own time
        // was read (see `segment_times`).
        if self.holds.get() > 0 {
            let mut unstamped = self.unstamped.borrow_mut();
            if unstamped.last() != Some(&pos.segment_seq) {
                unstamped.push(pos.segment_seq);
            }
        } else {
            self.stamp(pos.segment_seq, crate::time::now_ms());
        }
        // Lsns count bytes, so the difference is the record's footprint
        // (plus the unused tail of a segment after a roll).
        self.appended_bytes
            .set(self.appended_bytes.get() + (lsn.0 - before.0));
        Ok((lsn, pos))
    }

    /// Notes a record appended to segment `seq` at `now` or before.
    fn stamp(&self, seq: u64, now: u64) {
        let mut times = self.segment_times.borrow_mut();
        let newest = times.entry(seq).or_insert(now);
        *newest = (*newest).max(now);
    }

    /// Seeds the segment times found by recovery.
    pub fn set_segment_times(&self, times: SegmentTimes) {
        *self.segment_times.borrow_mut() = times;
    }

    /// Lets go of the segments before the one `keep_from(times,
    /// active_seq)` names (never the active one) and returns that sequence
    /// number, with the newest record time of the segments let go, if it
    /// passes a segment known until now. The caller deletes
    /// their files (`journal::remove_segments_before`, off the shard's
    /// thread: see `shard::compaction`); nothing appends to them again.
    pub fn compact(&self, keep_from: impl FnOnce(&SegmentTimes, u64) -> u64) -> Option<(u64, u64)> {
        let active = self.journal.borrow().active_segment_seq();
        let mut times = self.segment_times.borrow_mut();
        let keep = keep_from(&times, active).min(active);
        forget_before(&mut times, keep).map(|newest| (keep, newest))
    }

    /// Copies the journal's counters into a metrics snapshot.
    pub fn fill_stats(&self, stats: &mut crate::metrics::ShardStats) {
        stats.journal_bytes = self.appended_bytes.get();
        stats.journal_syncs = self.syncs.get();
        stats.sync_us = self.sync_us.borrow().clone();
    }

    pub fn written_lsn(&self) -> Lsn {
        self.journal.borrow().written_lsn()
    }

    pub fn durable_lsn(&self) -> Lsn {
        self.journal.borrow().durable_lsn()
    }

    /// The journal's directory.
    pub fn dir(&self) -> PathBuf {
        self.journal.borrow().dir().to_path_buf()
    }

    /// Whether `lsn` counts as durable per the configured mode: in `sync`
    /// mode once a sync covers it, in `batch` and `none` at once.
    pub fn is_durable(&self, lsn: Lsn) -> bool {
        self.mode != Durability::Sync || self.journal.borrow().durable_lsn() >= lsn
    }

    /// Waits until `lsn` is durable per the configured mode: in `sync` mode
    /// until a sync covers it, in `batch` and `none` at once.
    pub async fn durable(&self, lsn: Lsn) {
        if self.is_durable(lsn) {
            return;
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.borrow_mut().push_back((lsn, tx));
        self.kick.notify();
        // The sender is only dropped after completion or at shutdown; a
        // position no sync made durable is never answered as durable.
        if rx.await.is_err() && !self.is_durable(lsn) {
            std::future::pending::<()>().await;
        }
    }

    /// The flusher loop; runs until the shard stops.
    pub async fn flusher(&self, stopping: impl Fn() -> bool) {
        while !stopping() {
            match self.mode {
                Durability::Sync => {
                    futures_lite::future::or(
                        self.kick.wait(),
                        glommio::timer::sleep(Duration::from_millis(50)),
                    )
                    .await
                }
                Durability::Batch => glommio::timer::sleep(self.batch_interval).await,
                Durability::None => {
                    glommio::timer::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
            self.sync_once().await;
        }
    }

    /// Runs one group commit if anything is unsynced, then completes every
    /// waiter the durable position now covers.
    pub async fn sync_once(&self) {
        let job = self.journal.borrow_mut().take_sync_job();
        if let Some(job) = job {
            let started = std::time::Instant::now();
            match glommio::executor().spawn_blocking(move || job.run()).await {
                Ok(lsn) => {
                    self.journal.borrow_mut().complete_sync(lsn);
                    self.syncs.set(self.syncs.get() + 1);
                    crate::metrics::record_us(
                        &mut self.sync_us.borrow_mut(),
                        started.elapsed().as_micros() as u64,
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "journal sync failed, aborting to protect acknowledged data");
                    std::process::abort();
                }
            }
        }
        self.wake_covered();
    }

    /// One group commit run on the calling thread, blocking: the
    /// simulator's flusher (the engine's runs [`Commit::sync_once`] on
    /// glommio's blocking pool). Completes every waiter the durable position
    /// now covers. A failure is what aborts the engine: the caller must not
    /// use this journal again.
    pub fn sync_here(&self) -> Result<Lsn, crate::journal::SyncError> {
        let durable = self.journal.borrow_mut().sync()?;
        self.wake_covered();
        Ok(durable)
    }

    /// Completes every waiter whose record the durable position covers.
    fn wake_covered(&self) {
        let durable = self.journal.borrow().durable_lsn();
        let mut waiters = self.waiters.borrow_mut();
        complete_covered(&mut waiters, durable, |tx| {
            let _ = tx.send(());
        });
        if !waiters.is_empty() {
            self.kick.notify();
        }
    }

    /// A final blocking sync at shutdown, whatever the mode.
    pub fn sync_blocking(&self) {
        if let Err(e) = self.sync_here() {
            tracing::error!(error = %e, "final journal sync failed");
        }
    }
}

/// Drops the segments before `keep` from `times`; the newest record time
/// among them, if any went.
pub fn forget_before(times: &mut SegmentTimes, keep: u64) -> Option<u64> {
    let kept = times.split_off(&keep);
    std::mem::replace(times, kept).into_values().max()
}

/// Completes (`complete`) every waiter whose Lsn `durable` covers, in the
/// order they registered, and keeps the others in theirs. Waiters register
/// in call order, which need not be Lsn order, so every one is checked
/// rather than only the front. The order matters: each woken task then
/// runs in it, and an accept's task hands its messages' deliveries on when
/// it runs, so waking out of order (as a `swap_remove` did, which woke the
/// last first) handed deliveries on out of the order their ids were minted
/// in: endpoints got them out of order and the read path's indexes took
/// 85 % of their inserts off their fast path (`reads::idlog`).
fn complete_covered<T>(
    waiters: &mut VecDeque<(Lsn, T)>,
    durable: Lsn,
    mut complete: impl FnMut(T),
) {
    // The common case: the covered waiters are the front ones.
    while let Some((_, t)) = waiters.pop_front_if(|(lsn, _)| *lsn <= durable) {
        complete(t);
    }
    if waiters.iter().all(|(lsn, _)| *lsn > durable) {
        return;
    }
    let capacity = waiters.capacity();
    for (lsn, t) in std::mem::replace(waiters, VecDeque::with_capacity(capacity)) {
        match lsn <= durable {
            true => complete(t),
            false => waiters.push_back((lsn, t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment's newest time is read after its records are appended: at
    /// the end of a hold for the hold's appends, at once for the others,
    /// so it is never earlier than a record's own time.
    #[test]
    fn a_segment_is_stamped_after_its_records() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = crate::journal::JournalConfig {
            segment_bytes: 1 << 20,
            repair: false,
        };
        let journal = Journal::open(tmp.path(), config, |_| {}).expect("opens").0;
        let commit = Commit::new(journal, Durability::Sync, 1);
        let newest = || commit.segment_times.borrow().values().copied().max();
        crate::time::simulate(1_000);
        commit.held(|| {
            commit.append(3, b"made at 1000").expect("append");
            // A record made later in the same batch.
            crate::time::simulate(2_000);
            commit.append(3, b"made at 2000").expect("append");
            assert_eq!(newest(), None, "stamped when the hold ends");
        });
        assert_eq!(newest(), Some(2_000));
        crate::time::simulate(3_000);
        commit.append(3, b"made at 3000").expect("append");
        assert_eq!(newest(), Some(3_000), "an append outside a hold at once");
        crate::time::simulate(0);
    }

    /// Covered waiters complete in the order they registered; the others
    /// stay, in theirs.
    #[test]
    fn covered_waiters_complete_in_registration_order() {
        // (registered Lsns, durable) -> (completed, left)
        type Row = (&'static [u64], u64, &'static [u64], &'static [u64]);
        let rows: [Row; 6] = [
            (&[], 5, &[], &[]),
            (&[1, 2, 3, 4], 4, &[1, 2, 3, 4], &[]),
            (&[1, 2, 3, 4], 2, &[1, 2], &[3, 4]),
            (&[3, 1, 4, 2, 5], 3, &[3, 1, 2], &[4, 5]),
            (&[9, 1, 8, 2, 7, 3], 5, &[1, 2, 3], &[9, 8, 7]),
            (&[6, 7], 5, &[], &[6, 7]),
        ];
        for (i, (registered, durable, completed, left)) in rows.into_iter().enumerate() {
            let mut waiters: VecDeque<(Lsn, u64)> =
                registered.iter().map(|&l| (Lsn(l), l)).collect();
            let mut got = Vec::new();
            complete_covered(&mut waiters, Lsn(durable), |t| got.push(t));
            assert_eq!(got, completed, "row {i}: completed");
            let kept: Vec<u64> = waiters.iter().map(|(_, t)| *t).collect();
            assert_eq!(kept, left, "row {i}: left");
        }
    }
}
