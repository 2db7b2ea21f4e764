//! The `Journal` handle: appending records, rolling segments, group commit.
//!
//! The common append path is a bounds check, a copy into the writer's
//! staging buffer and one `pwrite` of it into the page cache; inside a hold
//! (`hold` / `release`, a batch the caller appends without yielding) the
//! records of the whole batch reach the file in one `pwrite` when it ends.
//! The writer never stores through the mapping: a shared mapping's dirty
//! pages cost a write fault after every sync and a TLB shootdown (an IPI to
//! every CPU running the process) for each page a sync writes back. Durability is tracked as two
//! watermarks (`written_lsn`, `durable_lsn`) plus the queue of jobs handed out
//! but not yet completed, so jobs may finish in any order without the durable
//! watermark ever passing bytes that are not yet synced.
//!
//! Two jobs run ahead of the writer on threads of their own, so that its
//! thread rarely makes a file-system call: once the active segment's file is
//! half written, a thread doubles it (`grow_when_half_full`); once the
//! segment is half full, a thread prepares the next one
//! (`prepare_next_when_half_full`). Either is done on the writer's thread
//! if it is not ready when needed.

use crate::limits::JOURNAL_STAGED_BYTES_MAX;
use std::collections::VecDeque;
use std::fs::File;
use std::mem;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use super::error::{AppendError, JournalIoError, SyncError};
use super::faults;
use super::format::{
    encode_record_header, max_body_bytes, record_footprint_bytes, seal_record_header,
    segment_base_lsn, segment_path, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use super::read::{read_record, OwnedRecord, Position, ReadError};
use super::segment::{
    create_segment, grown_file_bytes, install_prepared, list_segments, prepare_segment,
    remove_prepared, remove_segments, MappedSegment,
};
use std::sync::{Arc, Mutex};

/// The next segment, prepared by a background thread once the active one is
/// half full, so that a roll renames a ready file instead of creating,
/// reserving and fsyncing one on the writer's thread.
type NextSlot = Arc<Mutex<Option<Result<MappedSegment, JournalIoError>>>>;
use super::sync::{SyncJob, SyncRange};
use super::Lsn;

/// A growth of the active segment's file running on a background thread
/// (`Journal::grow_when_half_full`): the file goes to `to` bytes, and the
/// outcome arrives on `done` (a thread that never ran drops the sender, so
/// waiting on it cannot hang).
#[derive(Debug)]
struct Growing {
    to: u64,
    done: mpsc::Receiver<Result<(), JournalIoError>>,
}

/// A job handed out by `take_sync_job`, waiting for `complete_sync`.
#[derive(Debug)]
struct PendingSync {
    lsn: Lsn,
    done: bool,
}

/// Single-writer handle on one journal directory.
///
/// Dropping it does not sync: durability is whatever `durable_lsn` said.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    segment_bytes: u64,
    /// Held only for its advisory lock on the directory.
    _lock: File,
    /// The prepared next segment (see `NextSlot`), and whether a thread is
    /// preparing one for the active segment.
    next: NextSlot,
    preparing: bool,
    /// Preparation threads not yet known to have ended: a journal waits for
    /// them before it goes, since one left running could create (and
    /// truncate) the `.seg.next` file a journal opened next is writing.
    preparers: Vec<std::thread::JoinHandle<()>>,
    /// The growth of the active segment's file running ahead of the writer.
    growing: Option<Growing>,
    /// The write offset at which the next growth starts (half of the
    /// file); `u64::MAX` while one runs or once the file is full size.
    grow_at: u64,
    active: MappedSegment,
    /// Lsn of byte 0 of the active segment.
    active_base_lsn: u64,
    /// Where the next record header goes in the active segment.
    write_offset: u64,
    /// The records appended but not yet written to the file: bytes
    /// `write_offset - staged.len() .. write_offset` of the active segment
    /// (invariant 1 below). Empty outside a hold.
    staged: Vec<u8>,
    /// Open holds (`hold` / `release`): while one is open, appends stay in
    /// `staged` until it ends or `JOURNAL_STAGED_BYTES_MAX` is reached.
    holds: u32,
    /// A failed `pwrite`: the file may hold part of the staged bytes, so
    /// every later append and sync fails (a sync would otherwise call
    /// records durable that never reached the file); the shard aborts on
    /// the failed sync, as on a failed msync.
    broken: Option<JournalIoError>,
    /// Bytes of the active segment below this offset belong to a job already
    /// handed out (or were durable at open).
    handed_offset: u64,
    /// Unsynced tails of segments rolled away from since the last job.
    rolled: Vec<SyncRange>,
    in_flight: VecDeque<PendingSync>,
    durable: Lsn,
}

impl Journal {
    /// Builds the handle after recovery; everything up to `write_offset` of
    /// `active` is durable at this point. `active_base_lsn` must be
    /// `segment_base_lsn(active.seq, segment_bytes)`, already validated.
    pub(super) fn resume(
        dir: PathBuf,
        segment_bytes: u64,
        lock: File,
        active: MappedSegment,
        active_base_lsn: u64,
        write_offset: u64,
    ) -> Self {
        remove_prepared(&dir);
        let mut journal = Self {
            dir,
            segment_bytes,
            _lock: lock,
            active,
            active_base_lsn,
            write_offset,
            staged: Vec::new(),
            holds: 0,
            broken: None,
            handed_offset: write_offset,
            rolled: Vec::new(),
            in_flight: VecDeque::new(),
            durable: Lsn(0),
            next: Arc::new(Mutex::new(None)),
            preparing: false,
            preparers: Vec::new(),
            growing: None,
            grow_at: u64::MAX,
        };
        journal.durable = journal.written_lsn();
        journal.grow_at = journal.next_grow_at();
        journal
    }

    /// Appends a record with body schema version 0; see `append_versioned`.
    pub fn append(&mut self, kind: u8, body: &[u8]) -> Result<Lsn, AppendError> {
        self.append_versioned(kind, 0, body)
    }

    /// Appends one record (see the module: staged, then written to the
    /// file unless a hold is open), rolling to a new segment first when
    /// it does not fit in the rest of the current one. Returns the Lsn at the
    /// end of the record; it is durable once `durable_lsn` reaches it.
    pub fn append_versioned(
        &mut self,
        kind: u8,
        version: u8,
        body: &[u8],
    ) -> Result<Lsn, AppendError> {
        self.append_at(kind, version, body).map(|(lsn, _)| lsn)
    }

    /// Like `append_versioned`, also returning where the record starts, so
    /// the caller can index it and read it back with `read_at`.
    pub fn append_at(
        &mut self,
        kind: u8,
        version: u8,
        body: &[u8],
    ) -> Result<(Lsn, Position), AppendError> {
        let body_bytes = body.len() as u64;
        let max = max_body_bytes(self.segment_bytes);
        let too_large = AppendError::RecordTooLarge {
            body_bytes,
            max_body_bytes: max,
        };
        if body_bytes > max {
            return Err(too_large);
        }
        let body_len = u32::try_from(body.len()).map_err(|_| too_large)?;
        if let Some(e) = &self.broken {
            return Err(AppendError::Write(again(e)));
        }
        let footprint = record_footprint_bytes(body_bytes);
        if self.write_offset + footprint > self.segment_bytes {
            self.roll()?;
        }
        let at = self.write_offset;
        if at + footprint > self.active.file_bytes() {
            self.grow_for(at + footprint)?;
        }
        let mut header = encode_record_header(kind, version, body_len);
        seal_record_header(&mut header, body);
        // Everything from `handed_offset` on is owned by the writer alone: jobs
        // only cover ranges below it, and staged bytes are written before a
        // job covering them is handed out (`take_sync_job`). (An msync of a
        // neighbouring range may write back a page we are filling; that only
        // persists extra, not-yet-acknowledged bytes, which recovery treats
        // as a torn tail.) Recovery guarantees zeros after the end of data;
        // the padding is written anyway so the record is self-contained.
        self.staged.extend_from_slice(&header);
        self.staged.extend_from_slice(body);
        self.staged.resize(
            self.staged.len() + (footprint - RECORD_HEADER_BYTES - body_bytes) as usize,
            0,
        );
        self.write_offset = at + footprint;
        self.assert_staged();
        if self.holds == 0 || self.staged.len() as u64 >= JOURNAL_STAGED_BYTES_MAX {
            self.publish().map_err(AppendError::Write)?;
        }
        if self.write_offset >= self.grow_at {
            self.grow_when_half_full();
        }
        self.prepare_next_when_half_full();
        let position = Position {
            segment_seq: self.active.seq,
            offset: at,
        };
        Ok((self.written_lsn(), position))
    }

    /// Makes room for records of `footprint` bytes in all (see
    /// `record_footprint_bytes`) in the active segment, rolling to the next
    /// one first if they do not fit and growing its file if it is too
    /// short, so that appending them can neither roll nor grow halfway (a
    /// batch is then all written or, refused here, none).
    pub fn reserve(&mut self, footprint: u64) -> Result<(), AppendError> {
        let room = self.segment_bytes - SEGMENT_HEADER_BYTES;
        if footprint > room {
            return Err(AppendError::RecordTooLarge {
                body_bytes: footprint,
                max_body_bytes: room,
            });
        }
        if self.write_offset + footprint > self.segment_bytes {
            self.roll()?;
        }
        if self.write_offset + footprint > self.active.file_bytes() {
            self.grow_for(self.write_offset + footprint)?;
        }
        Ok(())
    }

    /// Where the next growth of the active segment's file starts: once half
    /// of the file is written, unless it is full size or one is running.
    fn next_grow_at(&self) -> u64 {
        let file_bytes = self.active.file_bytes();
        if self.growing.is_some() || file_bytes >= self.segment_bytes {
            u64::MAX
        } else {
            file_bytes / 2
        }
    }

    /// Starts doubling the active segment's file on a background thread,
    /// so that it is long done when the writer reaches the file's end.
    fn grow_when_half_full(&mut self) {
        let from = self.active.file_bytes();
        let to = grown_file_bytes(from, from, self.segment_bytes);
        // An injected fault is taken here, on the writer's thread (faults
        // are per thread), and handed to the growth.
        let fault = faults::strike(&self.dir, faults::Site::Grow);
        let grower = self.active.grower();
        let (tx, done) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("ringhook-grow".into())
            .spawn(move || {
                let grown = match fault {
                    Some(e) => Err(JournalIoError::new("extend segment", grower.path(), e)),
                    None => grower.extend(from, to),
                };
                let _ = tx.send(grown);
            });
        // Without a thread the sender is gone and the writer grows the file
        // itself when it needs to.
        drop(spawned);
        self.growing = Some(Growing { to, done });
        self.grow_at = u64::MAX;
    }

    /// Waits for the growth running in the background, if any, and forgets
    /// it, whatever its outcome.
    fn finish_growth(&mut self) {
        if let Some(growing) = self.growing.take() {
            // Without a time limit: a growth left running could, on failing,
            // cut back a file that a journal opened next already counts as
            // longer. A disk that stalls it stalls this journal's syncs too.
            let _ = growing.done.recv();
        }
    }

    /// Makes the active segment's file at least `needed` bytes long before
    /// the writer stores there: takes the background growth (waiting for
    /// it if it still runs), else grows the file on this thread. A failure
    /// (a full disk) refuses the append; nothing was written.
    fn grow_for(&mut self, needed: u64) -> Result<(), AppendError> {
        if let Some(growing) = self.growing.take() {
            if let Ok(Ok(())) = growing.done.recv() {
                self.active.adopt_growth(growing.to);
            }
        }
        let grown = if needed > self.active.file_bytes() {
            self.grow_here(needed)
        } else {
            Ok(())
        };
        // The next growth starts from the file's length as it is now.
        self.grow_at = self.next_grow_at();
        grown?;
        assert!(
            needed <= self.active.file_bytes(),
            "the writer stores only within the file"
        );
        Ok(())
    }

    /// Grows the active segment's file on the writer's thread.
    fn grow_here(&mut self, needed: u64) -> Result<(), AppendError> {
        let to = grown_file_bytes(self.active.file_bytes(), needed, self.segment_bytes);
        if let Some(e) = faults::strike(&self.dir, faults::Site::Grow) {
            let path = self.active.path.to_path_buf();
            return Err(AppendError::Grow(JournalIoError::new(
                "extend segment",
                path,
                e,
            )));
        }
        self.active.grow_to(to).map_err(AppendError::Grow)
    }

    /// Starts a hold: appends stay in the staging buffer (up to
    /// `JOURNAL_STAGED_BYTES_MAX`) until the last open hold is released,
    /// so a batch reaches the file in one `pwrite`. The caller must not
    /// let anything read the held records (`read_at`, another task, another
    /// shard) before the release: they are not in the file yet.
    pub fn hold(&mut self) {
        self.holds += 1;
    }

    /// Ends a hold; the last one writes the staged records to the file.
    /// A failure breaks the journal (see `broken`): the held records were
    /// reported appended, so only a failed sync may follow.
    pub fn release(&mut self) -> Result<(), JournalIoError> {
        assert!(self.holds > 0, "a release without its hold");
        self.holds -= 1;
        if self.holds == 0 {
            self.publish()
        } else {
            Ok(())
        }
    }

    /// Writes the staged records to the file (`pwrite`, into the page
    /// cache; durable once a sync covers them).
    fn publish(&mut self) -> Result<(), JournalIoError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        if let Some(e) = &self.broken {
            return Err(again(e));
        }
        let at = self.write_offset - self.staged.len() as u64;
        let written = match faults::strike(&self.dir, faults::Site::Write) {
            Some(e) => Err(JournalIoError::new("write segment", &*self.active.path, e)),
            None => self.active.pwrite_at(at, &self.staged),
        };
        if let Err(e) = written {
            self.broken = Some(again(&e));
            return Err(e);
        }
        self.staged.clear();
        // One very large record must not keep its buffer for good.
        self.staged.shrink_to(JOURNAL_STAGED_BYTES_MAX as usize);
        Ok(())
    }

    /// Invariant 1: the staged bytes end at `write_offset` and start at or
    /// after `handed_offset`: no job covers a byte not yet in the file
    /// (a broken journal's jobs all fail).
    fn assert_staged(&self) {
        assert!(
            self.broken.is_some()
                || self.handed_offset + self.staged.len() as u64 <= self.write_offset,
            "staged journal bytes lie below a handed-out sync job (invariant 1)"
        );
    }

    /// Reads back the record at `pos` of this journal, re-checking its CRC.
    pub fn read_at(&self, pos: Position) -> Result<OwnedRecord, ReadError> {
        read_record(&self.dir, self.segment_bytes, pos)
    }

    /// Starts preparing the next segment once the active one is half full.
    fn prepare_next_when_half_full(&mut self) {
        if self.preparing || self.write_offset < self.segment_bytes / 2 {
            return;
        }
        let Some(seq) = self.active.seq.checked_add(1) else {
            return;
        };
        self.preparing = true;
        let (dir, bytes, slot) = (self.dir.clone(), self.segment_bytes, self.next.clone());
        let spawned = std::thread::Builder::new()
            .name("ringhook-segment".into())
            .spawn(move || {
                let prepared = prepare_segment(&dir, seq, bytes);
                if let Ok(mut s) = slot.lock() {
                    *s = Some(prepared);
                }
            });
        // Without a thread the roll creates the segment inline, as before.
        self.preparers.retain(|h| !h.is_finished());
        self.preparers.extend(spawned.ok());
    }

    /// Waits for every segment preparation thread to end.
    fn finish_preparing(&mut self) {
        for h in self.preparers.drain(..) {
            let _ = h.join();
        }
    }

    /// Whether the next segment has been prepared and waits for the roll.
    pub fn next_segment_ready(&self) -> bool {
        self.next
            .lock()
            .map(|s| matches!(&*s, Some(Ok(_))))
            .unwrap_or(false)
    }

    /// The next segment: the prepared one when it is ready, else created here.
    fn next_segment(&mut self, seq: u64) -> Result<MappedSegment, JournalIoError> {
        if let Some(e) = faults::strike(&self.dir, faults::Site::NewSegment) {
            return Err(JournalIoError::new(
                "create segment",
                segment_path(&self.dir, seq),
                e,
            ));
        }
        self.preparing = false;
        let prepared = self.next.lock().ok().and_then(|mut s| s.take());
        match prepared {
            Some(Ok(segment)) if segment.seq == seq => match install_prepared(&self.dir, segment) {
                Ok(segment) => return Ok(segment),
                Err(_) => remove_prepared(&self.dir),
            },
            // A preparation for an earlier roll that finished too late.
            Some(Ok(_)) => remove_prepared(&self.dir),
            Some(Err(_)) | None => {}
        }
        create_segment(&self.dir, seq, self.segment_bytes)
    }

    /// Closes the active segment and starts the next one.
    ///
    /// The old segment's unsynced tail (empty or not) moves to `rolled`, so
    /// the next job still covers it; its mapping stays alive through that
    /// `Arc`.
    fn roll(&mut self) -> Result<(), AppendError> {
        // Segment numbers stay below 2^32, so a position packs into 64 bits
        // (`shard::ColdRef`): 4 billion segments is hundreds of PiB.
        let next_seq = self
            .active
            .seq
            .checked_add(1)
            .filter(|&s| s <= u64::from(u32::MAX))
            .ok_or(AppendError::LogFull)?;
        let next_base_lsn =
            segment_base_lsn(next_seq, self.segment_bytes).ok_or(AppendError::LogFull)?;
        // The staged records belong to the old segment.
        self.publish().map_err(AppendError::Write)?;
        let next = self.next_segment(next_seq).map_err(AppendError::Roll)?;
        let old = mem::replace(&mut self.active, next);
        self.active_base_lsn = next_base_lsn;
        // Pushed even when empty: the job also lets the kernel drop the old
        // segment's cached tail (`SyncJob::run`).
        self.rolled.push(SyncRange {
            segment: old.sync_handle(),
            start: self.handed_offset,
            end: self.write_offset,
        });
        // The new segment's header was made durable when it was created.
        self.write_offset = SEGMENT_HEADER_BYTES;
        self.handed_offset = SEGMENT_HEADER_BYTES;
        // A growth of the old segment's file (started when it was half
        // written; almost always done by now) is waited for, so that at most
        // one runs per journal and none outlives it (`Drop`).
        self.finish_growth();
        self.grow_at = self.next_grow_at();
        Ok(())
    }

    /// Lsn at the end of the last appended record.
    pub fn written_lsn(&self) -> Lsn {
        self.lsn_at(self.write_offset)
    }

    /// Every record whose Lsn is at or below this is on stable storage.
    pub fn durable_lsn(&self) -> Lsn {
        self.durable
    }

    fn lsn_at(&self, offset: u64) -> Lsn {
        // Open and roll only accept sequence numbers whose whole segment has
        // representable Lsns, so this addition cannot overflow.
        Lsn(self.active_base_lsn + offset)
    }

    /// Hands out a job covering every byte written since the previous job was
    /// taken, possibly spanning segments. Returns `None` when there is none,
    /// i.e. all written bytes are durable or covered by jobs still running.
    pub fn take_sync_job(&mut self) -> Option<SyncJob> {
        // A job covers only bytes in the file: staged ones are written first
        // (a hold still open is cut short; its records were appended). On a
        // broken journal every job fails, with or without new bytes.
        let failure = self
            .publish()
            .err()
            .or_else(|| self.broken.as_ref().map(again));
        let mut ranges = mem::take(&mut self.rolled);
        if self.handed_offset < self.write_offset {
            ranges.push(SyncRange {
                segment: self.active.sync_handle(),
                start: self.handed_offset,
                end: self.write_offset,
            });
            self.handed_offset = self.write_offset;
        }
        if ranges.is_empty() && failure.is_none() {
            return None;
        }
        let lsn = self.written_lsn();
        self.in_flight.push_back(PendingSync { lsn, done: false });
        self.assert_staged();
        Some(SyncJob {
            ranges,
            lsn,
            failure,
            active_seq: self.active.seq,
        })
    }

    /// Records that the job with Lsn `durable` ran successfully.
    ///
    /// `durable_lsn` advances only past jobs whose predecessors have all
    /// completed too, so out-of-order completion is safe. A job that failed
    /// is never completed, which pins `durable_lsn` below it for good: after
    /// a failed msync the data may be gone, and the shard must not
    /// acknowledge anything later. Unknown Lsns are ignored.
    pub fn complete_sync(&mut self, durable: Lsn) {
        if let Some(pending) = self.in_flight.iter_mut().find(|p| p.lsn == durable) {
            pending.done = true;
        }
        while let Some(front) = self.in_flight.front() {
            if !front.done {
                break;
            }
            self.durable = self.durable.max(front.lsn);
            self.in_flight.pop_front();
        }
    }

    /// Blocking group commit on the calling thread. Returns `durable_lsn`
    /// afterwards, which is below `written_lsn` only while a job taken
    /// earlier is still running elsewhere (or has failed).
    pub fn sync(&mut self) -> Result<Lsn, SyncError> {
        if let Some(job) = self.take_sync_job() {
            if let Some(e) = faults::strike(&self.dir, faults::Site::Sync) {
                // As a failed msync: the job's bytes are in an unknown state.
                return Err(JournalIoError::new("msync", &self.dir, e).into());
            }
            let lsn = job.run()?;
            self.complete_sync(lsn);
        }
        Ok(self.durable)
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Size of every segment in this journal (its files grow up to it).
    pub fn segment_bytes(&self) -> u64 {
        self.segment_bytes
    }

    /// How long the active segment's file is now.
    pub fn active_file_bytes(&self) -> u64 {
        self.active.file_bytes()
    }

    /// Sequence number of the segment currently appended to.
    pub fn active_segment_seq(&self) -> u64 {
        self.active.seq
    }

    /// Closes the journal for good, before its directory is renamed or
    /// removed: waits for a segment being prepared in the background, so
    /// no thread writes into the directory afterwards, removes it, and
    /// releases the lock. (A growth of the active segment's file is waited
    /// for when the journal drops.) Does not sync.
    pub fn close(mut self) {
        self.finish_preparing();
        remove_prepared(&self.dir);
    }
}

impl Drop for Journal {
    /// Waits for a growth of the active segment's file and a preparation of
    /// the next segment still running, so that no thread extends or creates
    /// a file of a journal that is gone (another `Journal` may open the
    /// directory next and prepare the same `.seg.next`, and tests cut
    /// files).
    fn drop(&mut self) {
        // Appended records reach the page cache (durable or not, as with
        // any record no sync covered yet).
        let _ = self.publish();
        self.finish_growth();
        self.finish_preparing();
    }
}

/// Deletes every segment of `dir` with a sequence number below `before_seq`
/// and makes the deletion durable; returns how many were removed.
///
/// Only a prefix of the log goes, so the log stays gap-free: recovery accepts
/// a log that starts at any sequence number. A segment still mapped by a sync
/// job is only unlinked; the mapping stays valid until the job drops it.
pub fn remove_segments_before(dir: &Path, before_seq: u64) -> Result<usize, JournalIoError> {
    let victims: Vec<PathBuf> = list_segments(dir)?
        .into_iter()
        .filter(|s| s.seq < before_seq)
        .map(|s| s.path)
        .collect();
    remove_segments(dir, &victims)?;
    Ok(victims.len())
}

/// A copy of a journal I/O error, for the failure kept in `broken`.
fn again(e: &JournalIoError) -> JournalIoError {
    JournalIoError::new(
        e.op,
        e.path.clone(),
        std::io::Error::new(e.source.kind(), e.source.to_string()),
    )
}
