//! File-system side of segments: naming, listing, creating, mapping,
//! growing, locking.
//!
//! Keeping every syscall in one file makes the durability protocol easy to
//! audit: a segment's file is created small ([`initial_file_bytes`]) with
//! its blocks reserved, its header is written and flushed, the file is
//! fsynced, and only then is the directory fsynced so the new name survives
//! a crash. The mapping is `segment_bytes` long from the start; the file
//! grows under it ([`MappedSegment::grow_to`], [`SegmentGrower`]) before the
//! writer reaches its end, and nothing reads or writes a mapped byte past
//! the file's end (a page wholly past it faults with SIGBUS).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

use super::error::JournalIoError;
use super::format::{
    encode_segment_header, parse_segment_name, segment_path, SEGMENT_HEADER_BYTES,
    SEGMENT_SIZE_GRANULE_BYTES,
};
use crate::limits::SEGMENT_FILE_INITIAL_BYTES_MAX;

/// Name of the lock file that keeps a second writer out of the directory.
pub const LOCK_FILE_NAME: &str = "journal.lock";

/// A segment file found in the directory.
#[derive(Clone, Debug)]
pub struct SegmentFile {
    pub seq: u64,
    pub path: PathBuf,
}

/// How many segments at the end of `segments` hold no record: every byte
/// after their header is zero (or missing). A roll creates the next segment
/// before anything is written into it, so after a crash the segment that
/// was being written can be followed by such empty ones; recovery treats
/// the last segment holding records as the newest (row 4 of the table).
pub fn trailing_empty(segments: &[SegmentFile]) -> Result<usize, JournalIoError> {
    use std::io::Read;
    let mut n = 0;
    for seg in segments.iter().rev() {
        let mut file =
            File::open(&seg.path).map_err(|e| JournalIoError::new("open segment", &seg.path, e))?;
        let mut buf = vec![0u8; 1 << 16];
        let mut at = 0u64;
        let mut empty = true;
        loop {
            let got = file
                .read(&mut buf)
                .map_err(|e| JournalIoError::new("read segment", &seg.path, e))?;
            if got == 0 {
                break;
            }
            let from = SEGMENT_HEADER_BYTES.saturating_sub(at).min(got as u64) as usize;
            if buf[from..got].iter().any(|&b| b != 0) {
                empty = false;
                break;
            }
            at += got as u64;
        }
        if !empty {
            break;
        }
        n += 1;
    }
    Ok(n)
}

/// Lists segment files in log order.
pub fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>, JournalIoError> {
    let entries = fs::read_dir(dir).map_err(|e| JournalIoError::new("read directory", dir, e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalIoError::new("read directory", dir, e))?;
        let name = entry.file_name();
        if let Some(seq) = name.to_str().and_then(parse_segment_name) {
            segments.push(SegmentFile {
                seq,
                path: entry.path(),
            });
        }
    }
    segments.sort_by_key(|s| s.seq);
    Ok(segments)
}

/// Mode of every file a journal creates: records hold endpoint secrets and
/// header values, so only the owner may read them.
pub const FILE_MODE: u32 = 0o600;
/// Mode of the directories a journal creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents with [`DIR_MODE`].
pub fn create_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// Takes an exclusive advisory lock on the directory.
///
/// Returns `Ok(None)` when another `Journal` (in this or another process)
/// holds it: two writers appending into the same mapping would interleave
/// records and destroy the log. The lock lives as long as the returned file.
pub fn lock_dir(dir: &Path) -> Result<Option<File>, JournalIoError> {
    let path = dir.join(LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(&path)
        .map_err(|e| JournalIoError::new("open lock file", &path, e))?;
    // SAFETY: flock only reads the descriptor, which `file` keeps open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(Some(file));
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(JournalIoError::new("lock", &path, err))
    }
}

/// Makes directory entry changes (created or deleted segments) durable.
pub fn sync_dir(dir: &Path) -> Result<(), JournalIoError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalIoError::new("fsync directory", dir, e))
}

/// Opens an existing segment for reading and writing.
pub fn open_rw(path: &Path) -> Result<File, JournalIoError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| JournalIoError::new("open segment", path, e))
}

/// Reads up to `len` bytes from the start of `file`; a short file yields fewer.
pub fn read_prefix(file: &File, path: &Path, len: usize) -> Result<Vec<u8>, JournalIoError> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(JournalIoError::new("read segment", path, e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// The size a new segment's file starts at: a sixteenth of `segment_bytes`
/// in whole pages, at most [`SEGMENT_FILE_INITIAL_BYTES_MAX`] (1 MiB) and
/// at most the segment.
pub fn initial_file_bytes(segment_bytes: u64) -> u64 {
    (segment_bytes / 16)
        .next_multiple_of(SEGMENT_SIZE_GRANULE_BYTES)
        .clamp(SEGMENT_SIZE_GRANULE_BYTES, SEGMENT_FILE_INITIAL_BYTES_MAX)
        .min(segment_bytes)
}

/// The size a segment's file of `file_bytes` grows to so that it holds at
/// least `needed` bytes: double, in whole pages, at least a new file's size
/// (a file a crash cut short starts over from there), at most
/// `segment_bytes`.
pub fn grown_file_bytes(file_bytes: u64, needed: u64, segment_bytes: u64) -> u64 {
    assert!(
        needed <= segment_bytes,
        "a segment's file never needs to grow past its segment"
    );
    file_bytes
        .saturating_mul(2)
        .max(needed)
        .max(initial_file_bytes(segment_bytes))
        .next_multiple_of(SEGMENT_SIZE_GRANULE_BYTES)
        .min(segment_bytes)
}

/// Grows `file` from `from` to `to` bytes (zero-filled) and reserves the
/// blocks of the new range.
///
/// Reserving matters because a full disk should refuse a growth here, not
/// fail the writer's `pwrite` of records already reported appended (which
/// breaks the journal; see `Journal::hold`). If reserving fails the file is cut back to `from`
/// (best effort), so no unreserved tail is left for the writer or a later
/// open to take for reserved.
pub fn extend_file(file: &File, path: &Path, from: u64, to: u64) -> Result<(), JournalIoError> {
    debug_assert!(from <= to, "a segment's file only grows");
    file.set_len(to)
        .map_err(|e| JournalIoError::new("extend segment", path, e))?;
    let reserved = reserve_range(file, path, from, to);
    if reserved.is_err() {
        let _ = file.set_len(from);
    }
    reserved
}

/// Reserves the blocks of `from..to` of `file` (`posix_fallocate`).
fn reserve_range(file: &File, path: &Path, from: u64, to: u64) -> Result<(), JournalIoError> {
    if to <= from {
        return Ok(());
    }
    let (Ok(offset), Ok(len)) = (
        libc::off_t::try_from(from),
        libc::off_t::try_from(to - from),
    ) else {
        return Err(JournalIoError::new(
            "reserve segment blocks",
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "segment too large for off_t"),
        ));
    };
    // SAFETY: posix_fallocate only reads the descriptor, which `file` keeps open.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), offset, len) };
    // posix_fallocate returns the error number instead of setting errno.
    // Filesystems that cannot reserve blocks at all still work, only without
    // the early ENOSPC, so "not supported" is not treated as a failure.
    if rc != 0 && rc != libc::EOPNOTSUPP && rc != libc::EINVAL {
        return Err(JournalIoError::new(
            "reserve segment blocks",
            path,
            io::Error::from_raw_os_error(rc),
        ));
    }
    Ok(())
}

/// A segment mapped read-write for its whole length: the one handle that
/// may write into the segment (through the mapping: recovery and headers;
/// with `pwrite`: the writer's records).
///
/// Deliberately not `Clone`: the journal's writer (or recovery, before the
/// writer exists) holds the only one, so no two places can write into a
/// segment. Sync jobs on other threads hold [`SegmentSync`]s, which can only
/// ask the kernel to write a range back.
///
/// # Invariants
/// 1. The mapping is `segment_bytes` long; the file under it is at least
///    `file_bytes` long: nothing cuts a mapped file below that (a failed
///    growth cuts the file back to exactly that).
/// 2. Every read ([`bytes`](Self::bytes)) and write ([`write_at`](Self::write_at),
///    [`zero`](Self::zero)) through the mapping stays below `file_bytes`:
///    a page wholly past the file's end faults with SIGBUS. Every
///    [`pwrite_at`](Self::pwrite_at) stays below it too (past it, it would
///    extend the file without reserving its blocks). Writes assert it.
/// 3. `file_bytes` only grows, and only once the file was extended and its
///    new blocks reserved ([`grow_to`](Self::grow_to), or a
///    [`SegmentGrower`] whose extension succeeded).
#[derive(Debug)]
pub struct MappedSegment {
    pub seq: u64,
    pub path: Arc<Path>,
    pub map: Arc<MmapRaw>,
    file: Arc<File>,
    file_bytes: u64,
}

impl MappedSegment {
    /// Maps `file` for `segment_bytes`, whatever its length (a segment's
    /// file grows under its mapping; `file_bytes` is what it is now).
    pub fn map(
        file: File,
        path: &Path,
        seq: u64,
        segment_bytes: u64,
    ) -> Result<Self, JournalIoError> {
        let file_bytes = file
            .metadata()
            .map_err(|e| JournalIoError::new("stat segment", path, e))?
            .len()
            .min(segment_bytes);
        let len = usize::try_from(segment_bytes).map_err(|_| {
            JournalIoError::new(
                "map segment",
                path,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "segment larger than address space",
                ),
            )
        })?;
        let map = MmapOptions::new()
            .len(len)
            .map_raw(&file)
            .map_err(|e| JournalIoError::new("map segment", path, e))?;
        // Appends touch each page once, in order: without read-ahead a first
        // touch faults in one page instead of zero-filling a large folio
        // ahead of the writer in one long fault. A hint: failure is harmless.
        let _ = map.advise(memmap2::Advice::Random);
        Ok(Self {
            seq,
            path: Arc::from(path),
            map: Arc::new(map),
            file: Arc::new(file),
            file_bytes,
        })
    }

    /// The mapping's length: `segment_bytes`.
    pub fn len_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// How much of the mapping the file holds (invariant 2).
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// The segment's file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Grows the file to `to` bytes (at most the mapping), reserving the
    /// new blocks, on the calling thread.
    pub fn grow_to(&mut self, to: u64) -> Result<(), JournalIoError> {
        if to <= self.file_bytes {
            return Ok(());
        }
        assert!(
            to <= self.len_bytes(),
            "a segment's file never grows past its mapping"
        );
        extend_file(&self.file, &self.path, self.file_bytes, to)?;
        self.file_bytes = to;
        Ok(())
    }

    /// A handle that grows this segment's file on another thread.
    pub fn grower(&self) -> SegmentGrower {
        SegmentGrower {
            path: self.path.clone(),
            file: self.file.clone(),
        }
    }

    /// Takes the file's new length after `self.grower().extend(_, to)`
    /// returned `Ok` (invariant 3: only then).
    pub fn adopt_growth(&mut self, to: u64) {
        assert!(
            to <= self.len_bytes(),
            "a segment's file never grows past its mapping"
        );
        self.file_bytes = self.file_bytes.max(to);
    }

    /// Reserves the blocks of the whole file again: after a crash in the
    /// middle of a growth its tail may be sparse, and the writer is about
    /// to write into it. Cheap where the blocks are already reserved.
    pub fn reserve_file(&self) -> Result<(), JournalIoError> {
        reserve_range(&self.file, &self.path, 0, self.file_bytes)
    }

    /// A handle that can make ranges of this segment durable, and nothing else.
    pub fn sync_handle(&self) -> SegmentSync {
        SegmentSync {
            seq: self.seq,
            path: self.path.clone(),
            map: self.map.clone(),
            file: self.file.clone(),
        }
    }

    /// Borrows the mapped bytes the file holds (`..file_bytes`) for
    /// reading; the rest of the segment reads as zero (see
    /// `scan::SegmentBytes`).
    ///
    /// # Safety
    /// No write through `write_at`/`zero` may happen while the slice is alive,
    /// and no other process may modify or truncate the file (the directory
    /// lock keeps out other journals).
    pub unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is valid for `len` bytes for as long as `self.map`
        // lives, and the file backs its first `file_bytes` (invariant 1); the
        // caller guarantees no concurrent writes.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr(), self.file_bytes as usize) }
    }

    /// Invariant 2 for a write of `len` bytes at `offset`.
    fn assert_within(&self, offset: u64, len: usize) {
        let end = offset
            .checked_add(len as u64)
            .filter(|&end| end <= self.file_bytes);
        assert!(
            end.is_some(),
            "journal write past the end of its segment file (invariant 2)"
        );
    }

    /// Copies `src` into the mapping at `offset`.
    ///
    /// Goes through a raw pointer rather than a `&mut [u8]` because sync jobs on
    /// other threads hold the same mapping; they never form references to it,
    /// they only hand page ranges to msync, so no Rust-level aliasing exists.
    pub fn write_at(&self, offset: u64, src: &[u8]) {
        self.assert_within(offset, src.len());
        // SAFETY: the range was bounds-checked above against the file, which
        // the mapping covers; the mapping outlives the call, and `src` cannot
        // point into the mapping because callers only pass caller-owned buffers.
        unsafe {
            ptr::copy_nonoverlapping(
                src.as_ptr(),
                self.map.as_mut_ptr().add(offset as usize),
                src.len(),
            );
        }
    }

    /// Writes `src` into the file at `offset` with `pwrite` (the writer's
    /// path: through the page cache, never through the mapping, so the
    /// mapping holds no writable page for a sync to write-protect).
    pub fn pwrite_at(&self, offset: u64, src: &[u8]) -> Result<(), JournalIoError> {
        self.assert_within(offset, src.len());
        self.file
            .write_all_at(src, offset)
            .map_err(|e| JournalIoError::new("write segment", &*self.path, e))
    }

    /// Zeroes `offset..end` of the mapping.
    pub fn zero(&self, offset: u64, end: u64) {
        assert!(
            offset <= end && end <= self.file_bytes,
            "journal zeroing outside its segment file (invariant 2)"
        );
        // SAFETY: the range was bounds-checked above and the mapping outlives the call.
        unsafe {
            ptr::write_bytes(
                self.map.as_mut_ptr().add(offset as usize),
                0,
                (end - offset) as usize,
            );
        }
    }

    /// Blocks until `offset..end` is on stable storage.
    pub fn flush(&self, offset: u64, end: u64) -> Result<(), JournalIoError> {
        flush_range(&self.map, &self.path, offset, end)
    }

    /// Writes a fresh header for this segment and makes it durable.
    pub fn write_header(&self) -> Result<(), JournalIoError> {
        let header = encode_segment_header(self.seq, self.len_bytes());
        self.write_at(0, &header);
        self.flush(0, SEGMENT_HEADER_BYTES)?;
        // The msync above covers the bytes; fsync also persists the size and
        // block reservation from `extend_file`.
        self.file
            .sync_all()
            .map_err(|e| JournalIoError::new("fsync segment", &*self.path, e))
    }
}

/// A segment's file as a background growth holds it: it can extend the
/// file, never touch the mapping. The new length is the writer's to take
/// ([`MappedSegment::adopt_growth`]) once the extension succeeded; until
/// then the writer stays below the old one, so the two never race.
#[derive(Debug)]
pub struct SegmentGrower {
    path: Arc<Path>,
    file: Arc<File>,
}

impl SegmentGrower {
    /// Grows the file from `from` to `to` bytes and reserves the new blocks
    /// (see [`extend_file`]).
    pub fn extend(&self, from: u64, to: u64) -> Result<(), JournalIoError> {
        extend_file(&self.file, &self.path, from, to)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A segment's mapping as a sync job holds it: it can msync a range, never
/// write (see [`MappedSegment`]).
#[derive(Clone, Debug)]
pub struct SegmentSync {
    pub seq: u64,
    path: Arc<Path>,
    map: Arc<MmapRaw>,
    file: Arc<File>,
}

impl SegmentSync {
    /// Blocks until `offset..end` is on stable storage.
    pub fn flush(&self, offset: u64, end: u64) -> Result<(), JournalIoError> {
        flush_range(&self.map, &self.path, offset, end)
    }

    /// Lets the kernel drop its cached pages from the `step`-aligned block
    /// holding `offset` up to the one holding `end` (excluded), so that
    /// ranges that follow one another drop every block once, and most small
    /// ranges make no call at all (each call also drains the kernel's
    /// per-CPU page lists). The caller passes ranges its own job made
    /// durable; another job may still be flushing a neighbouring range (a
    /// shard's last sync at shutdown runs beside the flusher's), and the
    /// kernel's `POSIX_FADV_DONTNEED` never drops a dirty, mapped or
    /// under-writeback page, so that job still writes its bytes and sees
    /// their errors. Advice only: a failure changes nothing but memory, and
    /// is ignored.
    pub fn uncache(&self, offset: u64, end: u64, step: u64) {
        debug_assert!(step.is_multiple_of(SEGMENT_SIZE_GRANULE_BYTES) && step > 0);
        let (from, to) = (offset / step * step, end / step * step);
        let (Ok(from), Ok(len)) = (i64::try_from(from), i64::try_from(to.saturating_sub(from)))
        else {
            return;
        };
        if len == 0 {
            return;
        }
        // SAFETY: an advisory call on a descriptor this handle keeps open.
        let rc = unsafe {
            libc::posix_fadvise(self.file.as_raw_fd(), from, len, libc::POSIX_FADV_DONTNEED)
        };
        if rc != 0 {
            tracing::debug!(path = %self.path.display(), rc, "posix_fadvise(DONTNEED) failed");
        }
    }
}

fn flush_range(map: &MmapRaw, path: &Path, offset: u64, end: u64) -> Result<(), JournalIoError> {
    if end <= offset {
        return Ok(());
    }
    map.flush_range(offset as usize, (end - offset) as usize)
        .map_err(|e| JournalIoError::new("msync", path, e))
}

/// Creates segment `seq`, its file at [`initial_file_bytes`], with a durable
/// header and directory entry.
///
/// On failure the half-created file is removed so that a retried roll does
/// not trip over it.
pub fn create_segment(
    dir: &Path,
    seq: u64,
    segment_bytes: u64,
) -> Result<MappedSegment, JournalIoError> {
    let path = segment_path(dir, seq);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&path)
        .map_err(|e| JournalIoError::new("create segment", &path, e))?;
    let initialised = extend_file(&file, &path, 0, initial_file_bytes(segment_bytes))
        .and_then(|()| MappedSegment::map(file, &path, seq, segment_bytes))
        .and_then(|segment| segment.write_header().map(|()| segment));
    match initialised {
        Ok(segment) => {
            sync_dir(dir)?;
            Ok(segment)
        }
        Err(e) => {
            // Best effort: the original error is the one worth reporting.
            let _ = fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Suffix of a segment prepared ahead of the roll that will use it.
pub const NEXT_SUFFIX: &str = ".next";

/// Prepares segment `seq` under a temporary name (`….seg.next`, which
/// `list_segments` and recovery ignore): its file created at
/// [`initial_file_bytes`], blocks reserved, header written and fsynced. Runs off the writer's thread, so a
/// roll only has to rename it into place ([`install_prepared`]).
pub fn prepare_segment(
    dir: &Path,
    seq: u64,
    segment_bytes: u64,
) -> Result<MappedSegment, JournalIoError> {
    let final_path = segment_path(dir, seq);
    let mut name = final_path.clone().into_os_string();
    name.push(NEXT_SUFFIX);
    let path = PathBuf::from(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(&path)
        .map_err(|e| JournalIoError::new("create segment", &path, e))?;
    let prepared = extend_file(&file, &path, 0, initial_file_bytes(segment_bytes))
        .and_then(|()| MappedSegment::map(file, &path, seq, segment_bytes))
        .and_then(|segment| segment.write_header().map(|()| segment));
    if prepared.is_err() {
        let _ = fs::remove_file(&path);
    }
    prepared
}

/// Renames a prepared segment to its real name and makes the name durable.
/// The mapping stays valid: it refers to the same file.
pub fn install_prepared(
    dir: &Path,
    mut segment: MappedSegment,
) -> Result<MappedSegment, JournalIoError> {
    let final_path = segment_path(dir, segment.seq);
    fs::rename(&*segment.path, &final_path)
        .map_err(|e| JournalIoError::new("install segment", &final_path, e))?;
    sync_dir(dir)?;
    segment.path = Arc::from(final_path.as_path());
    Ok(segment)
}

/// Removes prepared segments a previous process left behind (they never
/// held a record: a segment holds records only after it is installed).
pub fn remove_prepared(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_str().is_some_and(|n| n.ends_with(".seg.next")) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Deletes segment files (used by repair), then makes the deletion durable.
pub fn remove_segments(dir: &Path, paths: &[PathBuf]) -> Result<(), JournalIoError> {
    for path in paths {
        fs::remove_file(path).map_err(|e| JournalIoError::new("remove segment", path, e))?;
    }
    if !paths.is_empty() {
        sync_dir(dir)?;
    }
    Ok(())
}
