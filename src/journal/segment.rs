//! File-system side of segments: naming, listing, creating, mapping, locking.
//!
//! Keeping every syscall in one file makes the durability protocol easy to
//! audit: a segment is created at full size with its blocks reserved, its
//! header is written and flushed, the file is fsynced, and only then is the
//! directory fsynced so the new name survives a crash.

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
};

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

/// Grows `file` to `segment_bytes` (zero-filled) and reserves its blocks.
///
/// Reserving matters because the writer stores through a shared mapping: on a
/// sparse file a full disk would surface as SIGBUS inside `append` instead of
/// as an error here.
pub fn extend_and_reserve(
    file: &File,
    path: &Path,
    segment_bytes: u64,
) -> Result<(), JournalIoError> {
    file.set_len(segment_bytes)
        .map_err(|e| JournalIoError::new("extend segment", path, e))?;
    let len = libc::off_t::try_from(segment_bytes).map_err(|_| {
        JournalIoError::new(
            "reserve segment blocks",
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "segment too large for off_t"),
        )
    })?;
    // SAFETY: posix_fallocate only reads the descriptor, which `file` keeps open.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
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
/// may write into the mapping.
///
/// Deliberately not `Clone`: the journal's writer (or recovery, before the
/// writer exists) holds the only one, so no two places can write into a
/// segment. Sync jobs on other threads hold [`SegmentSync`]s, which can only
/// ask the kernel to write a range back.
#[derive(Debug)]
pub struct MappedSegment {
    pub seq: u64,
    pub path: Arc<Path>,
    pub map: Arc<MmapRaw>,
}

impl MappedSegment {
    /// Maps `file`, which must already be exactly `segment_bytes` long.
    pub fn map(
        file: &File,
        path: &Path,
        seq: u64,
        segment_bytes: u64,
    ) -> Result<Self, JournalIoError> {
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
            .map_raw(file)
            .map_err(|e| JournalIoError::new("map segment", path, e))?;
        // Appends touch each page once, in order: without read-ahead a first
        // touch faults in one page instead of zero-filling a large folio
        // ahead of the writer in one long fault. A hint: failure is harmless.
        let _ = map.advise(memmap2::Advice::Random);
        Ok(Self {
            seq,
            path: Arc::from(path),
            map: Arc::new(map),
        })
    }

    pub fn len_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// A handle that can make ranges of this segment durable, and nothing else.
    pub fn sync_handle(&self) -> SegmentSync {
        SegmentSync {
            seq: self.seq,
            path: self.path.clone(),
            map: self.map.clone(),
        }
    }

    /// Borrows the mapped bytes for reading.
    ///
    /// # Safety
    /// No write through `write_at`/`zero` may happen while the slice is alive,
    /// and no other process may modify the file (the directory lock keeps out
    /// other journals).
    pub unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is valid for `len` bytes for as long as `self.map`
        // lives; the caller guarantees no concurrent writes.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr(), self.map.len()) }
    }

    /// Copies `src` into the mapping at `offset`.
    ///
    /// Goes through a raw pointer rather than a `&mut [u8]` because sync jobs on
    /// other threads hold the same mapping; they never form references to it,
    /// they only hand page ranges to msync, so no Rust-level aliasing exists.
    pub fn write_at(&self, offset: u64, src: &[u8]) {
        let end = offset
            .checked_add(src.len() as u64)
            .filter(|&end| end <= self.len_bytes());
        assert!(
            end.is_some(),
            "journal write past the end of its segment mapping"
        );
        // SAFETY: the range was bounds-checked above, the mapping outlives the
        // call, and `src` cannot point into the mapping because callers only
        // pass caller-owned buffers.
        unsafe {
            ptr::copy_nonoverlapping(
                src.as_ptr(),
                self.map.as_mut_ptr().add(offset as usize),
                src.len(),
            );
        }
    }

    /// Zeroes `offset..end` of the mapping.
    pub fn zero(&self, offset: u64, end: u64) {
        assert!(
            offset <= end && end <= self.len_bytes(),
            "journal zeroing outside its segment mapping"
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
    pub fn write_header(&self, file: &File) -> Result<(), JournalIoError> {
        let header = encode_segment_header(self.seq, self.len_bytes());
        self.write_at(0, &header);
        self.flush(0, SEGMENT_HEADER_BYTES)?;
        // The msync above covers the bytes; fsync also persists the size and
        // block reservation from `extend_and_reserve`.
        file.sync_all()
            .map_err(|e| JournalIoError::new("fsync segment", &*self.path, e))
    }
}

/// A segment's mapping as a sync job holds it: it can msync a range, never
/// write (see [`MappedSegment`]).
#[derive(Clone, Debug)]
pub struct SegmentSync {
    pub seq: u64,
    path: Arc<Path>,
    map: Arc<MmapRaw>,
}

impl SegmentSync {
    /// Blocks until `offset..end` is on stable storage.
    pub fn flush(&self, offset: u64, end: u64) -> Result<(), JournalIoError> {
        flush_range(&self.map, &self.path, offset, end)
    }
}

fn flush_range(map: &MmapRaw, path: &Path, offset: u64, end: u64) -> Result<(), JournalIoError> {
    if end <= offset {
        return Ok(());
    }
    map.flush_range(offset as usize, (end - offset) as usize)
        .map_err(|e| JournalIoError::new("msync", path, e))
}

/// Creates segment `seq` at full size with a durable header and directory entry.
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
    let initialised = extend_and_reserve(&file, &path, segment_bytes)
        .and_then(|()| MappedSegment::map(&file, &path, seq, segment_bytes))
        .and_then(|segment| segment.write_header(&file).map(|()| segment));
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
/// `list_segments` and recovery ignore): created at full size, blocks
/// reserved, header written and fsynced. Runs off the writer's thread, so a
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
    let prepared = extend_and_reserve(&file, &path, segment_bytes)
        .and_then(|()| MappedSegment::map(&file, &path, seq, segment_bytes))
        .and_then(|segment| segment.write_header(&file).map(|()| segment));
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
