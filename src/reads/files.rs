//! Reading records back from the shard journals through io_uring, keeping
//! the recently used segment files open: the delivery path's cold retries
//! and manual resends, and the API's listings (payloads, response texts,
//! logged requests), so no read blocks a shard thread on the disk.
//!
//! The read goes through glommio's buffered file reads, so a page-cache miss
//! (a retry storm, a listing over old segments the kernel has dropped from
//! memory) waits for the disk without blocking the shard thread. One read at
//! the record's position usually brings header and body together, and the
//! last `READ_FILES_OPEN_MAX` segment files stay open, so a read is mostly
//! one io_uring operation. The checks are the journal's own
//! (`journal::RecordAt`: magic, length, CRC) and `record::of_kind`'s.
//!
//! Bounds: `READ_FILES_OPEN_MAX` open segment files per [`Files`] (each
//! shard has two: its deliveries' and its API reads'), each closed once it
//! was not read for `IDLE_MS`, and all after this shard's compactions (an
//! open file keeps a deleted segment's space; segments of other shards'
//! journals are released by the idle rule).

use super::record::RecordAtError;
use crate::config::Config;
use crate::journal::{OwnedRecord, ReadError, RecordAt, RECORD_HEADER_BYTES};
use crate::limits::READ_FILES_OPEN_MAX;
use crate::message::Loc;
use crate::records::Kind;
use glommio::io::BufferedFile;
use std::cell::RefCell;
use std::rc::Rc;

/// Bytes read at a record's position at once: its header and, for most
/// messages, the whole body.
const FIRST_READ_BYTES: usize = 4096;

/// An open segment file is closed after this long without a read of it.
pub const IDLE_MS: u64 = 10_000;

/// One reader's recently used segment files, least recently used first.
#[derive(Default)]
pub struct Files {
    state: RefCell<Open>,
}

/// A segment file: its journal (shard) and sequence number. Compared as
/// two integers, not as paths (a path comparison walks its components:
/// 3.4 % of the engine when most deliveries read their message back).
type FileKey = (u32, u64);

#[derive(Default)]
struct Open {
    /// Each file with when it was last read.
    open: Vec<(FileKey, Rc<BufferedFile>, u64)>,
}

impl Files {
    /// Reads back the record of `kind` at `loc` (`record::read_record_at`,
    /// through io_uring), keeping its segment file open for the next read.
    pub async fn read(
        &self,
        config: &Config,
        loc: Loc,
        kind: Kind,
    ) -> Result<OwnedRecord, RecordAtError> {
        let dir = crate::datadir::shard_dir(&config.data_dir, loc.journal as usize);
        let at = RecordAt::new(&dir, config.segment_bytes, loc.pos)?;
        let key = (loc.journal, loc.pos.segment_seq);
        // Bound first: a borrow in the `match` head would live across the open.
        let cached = self.state.borrow_mut().get(key);
        let file = match cached {
            Some(f) => f,
            None => {
                let f = Rc::new(
                    BufferedFile::open(&at.path)
                        .await
                        .map_err(|e| at.io(e.into()))?,
                );
                self.state.borrow_mut().put(key, f.clone());
                f
            }
        };
        let rec = match read_at(&file, &at).await {
            Ok(rec) => rec,
            Err(e) => {
                // Reopen next time rather than keep a file that failed.
                self.state.borrow_mut().forget(key);
                return Err(e.into());
            }
        };
        super::record::of_kind(rec, loc, kind)
    }

    /// Closes every file (after compaction deleted segments).
    pub fn clear(&self) {
        self.state.borrow_mut().open.clear();
    }

    /// Closes every file if none was used for `IDLE_MS` (called about once a
    /// second).
    pub fn expire(&self, now_ms: u64) {
        self.state
            .borrow_mut()
            .open
            .retain(|(_, _, used)| now_ms.saturating_sub(*used) < IDLE_MS);
    }
}

impl Open {
    fn get(&mut self, key: FileKey) -> Option<Rc<BufferedFile>> {
        let i = self.open.iter().position(|(k, _, _)| *k == key)?;
        let mut entry = self.open.remove(i);
        entry.2 = crate::time::now_ms();
        let file = entry.1.clone();
        self.open.push(entry);
        Some(file)
    }

    fn put(&mut self, key: FileKey, file: Rc<BufferedFile>) {
        self.forget(key);
        if self.open.len() >= READ_FILES_OPEN_MAX {
            self.open.remove(0);
        }
        self.open.push((key, file, crate::time::now_ms()));
    }

    fn forget(&mut self, key: FileKey) {
        self.open.retain(|(k, _, _)| *k != key);
    }
}

/// Reads and checks the record `at` names from its open segment file.
async fn read_at(file: &BufferedFile, at: &RecordAt) -> Result<OwnedRecord, ReadError> {
    const HEADER: usize = RECORD_HEADER_BYTES as usize;
    let first = file
        .read_at(at.pos.offset, FIRST_READ_BYTES)
        .await
        .map_err(|e| at.io(e.into()))?;
    let mut raw = [0u8; HEADER];
    match first.get(..HEADER) {
        Some(h) => raw.copy_from_slice(h),
        None => return Err(at.io(std::io::ErrorKind::UnexpectedEof.into())),
    }
    let header = at.header(raw)?;
    let have = (first.len() - HEADER).min(header.body_len);
    let mut body = rkyv::util::AlignedVec::with_capacity(header.body_len);
    body.extend_from_slice(&first[HEADER..HEADER + have]);
    let mut done = have;
    while done < header.body_len {
        let more = file
            .read_at(header.body_at + done as u64, header.body_len - done)
            .await
            .map_err(|e| at.io(e.into()))?;
        if more.is_empty() {
            return Err(at.io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        let n = more.len().min(header.body_len - done);
        body.extend_from_slice(&more[..n]);
        done += n;
    }
    at.record(&header, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn files_stay_bounded_recently_used_last_and_close_when_idle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths: Vec<PathBuf> = (0..READ_FILES_OPEN_MAX + 2)
            .map(|i| {
                let p = dir.path().join(format!("{i}.seg"));
                std::fs::write(&p, b"x").expect("write");
                p
            })
            .collect();
        glommio::LocalExecutor::default().run(async move {
            let mut opened = Vec::new();
            for p in &paths {
                opened.push(Rc::new(BufferedFile::open(p).await.expect("open")));
            }
            let files = Files::default();
            let key = |i: usize| (0, i as u64);
            for (i, f) in opened.into_iter().enumerate() {
                files.state.borrow_mut().put(key(i), f);
            }
            let count = || files.state.borrow().open.len();
            assert_eq!(count(), READ_FILES_OPEN_MAX, "bounded");
            assert!(
                files.state.borrow_mut().get(key(0)).is_none(),
                "the oldest went first"
            );
            assert!(files.state.borrow_mut().get(key(2)).is_some());
            let last = files.state.borrow().open.last().map(|(k, _, _)| *k);
            assert_eq!(last, Some(key(2)));
            // Each file goes after its own idle time: the one read later stays.
            let oldest = files.state.borrow().open.iter().map(|e| e.2).min();
            let oldest = oldest.expect("open files");
            files.state.borrow_mut().open[0].2 = oldest.saturating_sub(1);
            let used = files.state.borrow().open.iter().map(|e| e.2).max();
            let used = used.expect("open files");
            files.expire(oldest - 1 + IDLE_MS);
            assert_eq!(count(), READ_FILES_OPEN_MAX - 1, "only the idle one closed");
            files.expire(used + IDLE_MS);
            assert_eq!(count(), 0, "closed when idle");
        });
    }
}
