//! The data directory's layout, in one place: where the catalog journal,
//! each shard's journal, the lock file, the API tokens and the ingest socket
//! live, and how the directory is taken for one engine at a time.
//!
//! ```text
//! <data_dir>/
//!   LOCK          flock held by the running engine
//!   api-tokens    one API token per line (mode 0600)
//!   catalog/      the catalog journal (applications, endpoints, event types)
//!   catalog.next/ a compacted catalog journal being written (transient)
//!   catalog.prev/ the catalog journal being replaced (transient)
//!   shard-<i>/    shard i's journal (messages, attempts, resends), and
//!                 `compacted-before`: compaction's horizon (`write_horizon`)
//!   ingest.sock   the ingest socket, unless `socket` puts it elsewhere
//! ```
//!
//! Recovery, the runtime, the cold-read path, `journal check` and `token
//! create` all ask here; nothing else spells a path of the data directory.
//!
//! The journals hold endpoint secrets and custom header values in clear, so
//! the directory is the owner's alone: created 0700, every file in it 0600
//! (`journal::FILE_MODE`), and the engine refuses a data directory that
//! group or others may enter ([`check_private`]).

use std::path::{Path, PathBuf};

/// The lock file's name.
const LOCK_FILE: &str = "LOCK";
/// The API tokens file's name.
const TOKENS_FILE: &str = "api-tokens";
/// The catalog journal's directory name.
const CATALOG_DIR: &str = "catalog";
/// A compacted catalog journal is written here, then renamed into place.
const CATALOG_NEXT_DIR: &str = "catalog.next";
/// The replaced catalog journal, between the two renames of a compaction.
const CATALOG_PREV_DIR: &str = "catalog.prev";
/// Shard journal directories are this prefix and the shard number.
const SHARD_DIR_PREFIX: &str = "shard-";
/// How long a listener on the ingest socket may take to go away before the
/// socket counts as in use by a running process.
const SOCKET_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot prepare data directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("data directory {0} is in use by another ringhook process")]
    Locked(PathBuf),
    #[error("ingest socket {0} is in use by a running process")]
    SocketInUse(PathBuf),
    #[error("ingest socket path {0} holds something that is not a socket; refusing to remove it (choose another --socket or remove it yourself)")]
    NotASocket(PathBuf),
    #[error(
        "data directory {path} has mode {mode:04o}: group and others can reach its secrets; \
         fix it with: chmod -R go-rwx {path}"
    )]
    NotPrivate { path: PathBuf, mode: u32 },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The directory of shard `i`'s journal.
pub fn shard_dir(data_dir: &Path, i: usize) -> PathBuf {
    data_dir.join(format!("{SHARD_DIR_PREFIX}{i}"))
}

/// The catalog journal's directory.
pub fn catalog_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(CATALOG_DIR)
}

/// Where catalog compaction writes the new journal (see `catalog::store`).
pub fn catalog_next_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(CATALOG_NEXT_DIR)
}

/// Where catalog compaction moves the old journal before removing it.
pub fn catalog_prev_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(CATALOG_PREV_DIR)
}

/// The API tokens file.
pub fn tokens_file(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKENS_FILE)
}

/// The numbers of the shard journal directories that exist, ascending
/// (whatever shard count wrote them).
pub fn existing_shards(data_dir: &Path) -> Result<Vec<usize>, DataDirError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(data_dir).map_err(io(data_dir))? {
        let entry = entry.map_err(io(data_dir))?;
        let name = entry.file_name();
        if let Some(n) = name.to_str().and_then(|s| s.strip_prefix(SHARD_DIR_PREFIX)) {
            if let Ok(i) = n.parse::<usize>() {
                out.push(i);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Every journal directory that exists: the catalog's, then the shards'.
pub fn journal_dirs(data_dir: &Path) -> Result<Vec<PathBuf>, DataDirError> {
    let mut dirs = vec![catalog_dir(data_dir)];
    dirs.extend(
        existing_shards(data_dir)?
            .into_iter()
            .map(|i| shard_dir(data_dir, i)),
    );
    Ok(dirs.into_iter().filter(|d| d.exists()).collect())
}

/// Creates the data directory (mode 0700) if it is missing.
pub fn create(data_dir: &Path) -> Result<(), DataDirError> {
    crate::journal::create_dir(data_dir).map_err(io(data_dir))
}

/// Creates the data directory if missing and refuses one that group or
/// others may read, write or enter: the journals hold secrets in clear.
pub fn create_private(data_dir: &Path) -> Result<(), DataDirError> {
    create(data_dir)?;
    check_private(data_dir)
}

/// Refuses a data directory whose mode gives group or others any access.
pub fn check_private(data_dir: &Path) -> Result<(), DataDirError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data_dir)
        .map_err(io(data_dir))?
        .permissions()
        .mode()
        & 0o7777;
    match mode & 0o077 {
        0 => Ok(()),
        _ => Err(DataDirError::NotPrivate {
            path: data_dir.to_path_buf(),
            mode,
        }),
    }
}

/// An exclusive `flock` on `<data_dir>/LOCK`, held while the value lives.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the data directory for this process, or says who has it.
    pub fn acquire(data_dir: &Path) -> Result<DirLock, DataDirError> {
        let path = data_dir.join(LOCK_FILE);
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(crate::journal::FILE_MODE)
            .open(&path)
            .map_err(io(&path))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a valid, owned descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(DataDirError::Locked(data_dir.to_path_buf()));
        }
        Ok(DirLock { _file: file })
    }
}

/// Removes a socket file left by a crashed engine; refuses a live one, and
/// anything at the path that is not a socket (a typo in `--socket` must not
/// delete a file).
pub fn clear_stale_socket(path: &Path) -> Result<(), DataDirError> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(path)(e)),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(DataDirError::NotASocket(path.to_path_buf()))
        }
        Ok(_) => {}
    }
    // A process that just died (`kill -9`, then an immediate restart) can
    // still be closing its listener after it released the data directory's
    // lock: give it a moment before calling the socket live.
    let deadline = std::time::Instant::now() + SOCKET_RELEASE_WAIT;
    while std::os::unix::net::UnixStream::connect(path).is_ok() {
        if std::time::Instant::now() >= deadline {
            return Err(DataDirError::SocketInUse(path.to_path_buf()));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// The file in a shard journal's directory that holds the engine's
/// compaction horizon, in decimal ms (see `shard::compaction`).
pub const HORIZON_FILE: &str = "compacted-before";

/// Records, durably, that no delivery was pending for a message created
/// before `before_ms` when segments were deleted: recovery then takes the
/// deliveries of older messages as ended (their attempt records may be
/// gone while their message's record stays, in another journal or in a
/// segment with newer records).
///
/// The value is 20 zero-padded digits and a newline, overwritten in place
/// and synced: after the file's first write no block is allocated, so a
/// full disk does not stop compaction from freeing space. A new file's
/// directory entry is synced too.
pub fn write_horizon(
    dir: &std::path::Path,
    before_ms: u64,
) -> Result<(), crate::journal::JournalIoError> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let path = dir.join(HORIZON_FILE);
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(crate::journal::FILE_MODE)
        .open(&path)
        .and_then(|f| {
            f.write_all_at(format!("{before_ms:020}\n").as_bytes(), 0)?;
            f.sync_data()
        })
        .map_err(|e| crate::journal::JournalIoError::new("write compaction horizon", &path, e))?;
    if !existed {
        crate::journal::sync_dir(dir)?;
    }
    Ok(())
}

/// The compaction horizon recorded in `dir` (0 if none; an unreadable or
/// damaged file is logged and read as 0: deliveries may then repeat,
/// never be dropped).
pub fn read_horizon(dir: &std::path::Path) -> u64 {
    let path = dir.join(HORIZON_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(path = %path.display(), "unreadable compaction horizon; not applied");
            0
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the compaction horizon; not applied");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_and_listing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        assert_eq!(shard_dir(d, 3), d.join("shard-3"));
        assert_eq!(catalog_dir(d), d.join("catalog"));
        for name in ["shard-10", "shard-2", "shard-x", "catalog", "other"] {
            std::fs::create_dir(d.join(name)).expect("mkdir");
        }
        assert_eq!(existing_shards(d).expect("list"), vec![2, 10]);
        assert_eq!(
            journal_dirs(d).expect("dirs"),
            vec![d.join("catalog"), d.join("shard-2"), d.join("shard-10")]
        );
    }

    #[test]
    fn only_a_private_directory_is_accepted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().join("a/b");
        create_private(&d).expect("created");
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&d), 0o700);
        // (mode, accepted)
        for (m, ok) in [
            (0o700, true),
            (0o500, true),
            (0o750, false),
            (0o705, false),
            (0o755, false),
        ] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(m)).expect("chmod");
            let r = check_private(&d);
            assert_eq!(r.is_ok(), ok, "mode {m:o}");
            if let Err(e) = r {
                assert!(e.to_string().contains("chmod -R go-rwx"), "{e}");
            }
        }
    }

    #[test]
    fn the_lock_is_exclusive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = DirLock::acquire(dir.path()).expect("first lock");
        assert!(matches!(
            DirLock::acquire(dir.path()),
            Err(DataDirError::Locked(_))
        ));
        drop(first);
        DirLock::acquire(dir.path()).expect("lock again after release");
    }

    /// The horizon is overwritten in place (a fixed width), read back as
    /// written, and read as 0 when missing or damaged.
    #[test]
    fn the_horizon_is_overwritten_in_place_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_horizon(dir.path()), 0, "none yet");
        write_horizon(dir.path(), 1_767_225_600_000).expect("write");
        assert_eq!(read_horizon(dir.path()), 1_767_225_600_000);
        write_horizon(dir.path(), 7).expect("overwrite");
        assert_eq!(
            read_horizon(dir.path()),
            7,
            "no digits of the longer value left"
        );
        let path = dir.path().join(HORIZON_FILE);
        assert_eq!(std::fs::metadata(&path).expect("file").len(), 21);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).expect("file").permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&path, b"not a number").expect("damage");
        assert_eq!(read_horizon(dir.path()), 0, "damaged: not applied");
    }
}
