//! Disk faults injected on purpose, for the simulator (`ringhook-sim`): a
//! per-thread list of armed faults, each failing the next operations at one
//! site of one journal directory with an errno (EIO, ENOSPC).
//!
//! The sites are where a journal meets the disk:
//! - [`Site::NewSegment`]: a roll to the next segment (creating, reserving
//!   or installing it; ENOSPC on a full disk);
//! - [`Site::Grow`]: growing the active segment's file (extending and
//!   reserving it; ENOSPC on a full disk), both the growth started ahead
//!   on a background thread (the fault is taken on the writer's thread when
//!   it starts) and the one the writer makes itself when that failed;
//! - [`Site::Sync`]: a blocking group commit (`Journal::sync`; EIO);
//! - [`Site::Write`]: the `pwrite` of staged records into the file (EIO;
//!   not ENOSPC, since the blocks under it were reserved before the
//!   writer got there), which breaks the journal for good.
//!
//! The engine never arms one, so each check costs one thread-local read
//! per roll, growth, write or sync. Faults are per thread, so parallel
//! tests and seeds do not see each other's.

use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};

/// Where an armed fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    NewSegment,
    Grow,
    Sync,
    Write,
}

struct Armed {
    dir: PathBuf,
    site: Site,
    /// Operations still to fail.
    left: u32,
    errno: i32,
}

thread_local! {
    static ARMED: RefCell<Vec<Armed>> = const { RefCell::new(Vec::new()) };
}

/// Makes the next `times` operations at `site` of the journal in `dir` fail
/// with `errno` on this thread.
pub fn arm(dir: &Path, site: Site, times: u32, errno: i32) {
    ARMED.with(|a| {
        a.borrow_mut().push(Armed {
            dir: dir.to_path_buf(),
            site,
            left: times,
            errno,
        })
    });
}

/// Forgets every fault armed on this thread.
pub fn disarm_all() {
    ARMED.with(|a| a.borrow_mut().clear());
}

/// Forgets the faults armed at `site` on this thread.
pub fn disarm(site: Site) {
    ARMED.with(|a| a.borrow_mut().retain(|f| f.site != site));
}

/// The error an armed fault makes of this operation, if one is armed.
pub(crate) fn strike(dir: &Path, site: Site) -> Option<io::Error> {
    ARMED.with(|a| {
        let mut armed = a.borrow_mut();
        if armed.is_empty() {
            return None;
        }
        let i = armed.iter().position(|f| f.site == site && f.dir == dir)?;
        let errno = armed[i].errno;
        armed[i].left -= 1;
        if armed[i].left == 0 {
            armed.swap_remove(i);
        }
        Some(io::Error::from_raw_os_error(errno))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_fault_strikes_its_site_and_directory_as_often_as_armed() {
        let (a, b) = (Path::new("/j/a"), Path::new("/j/b"));
        arm(a, Site::Sync, 2, libc::EIO);
        assert!(strike(a, Site::NewSegment).is_none(), "another site");
        assert!(strike(b, Site::Sync).is_none(), "another journal");
        let e = strike(a, Site::Sync).expect("first");
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
        assert!(strike(a, Site::Sync).is_some(), "second");
        assert!(strike(a, Site::Sync).is_none(), "spent");
        arm(a, Site::NewSegment, 5, libc::ENOSPC);
        arm(a, Site::Sync, 1, libc::EIO);
        disarm(Site::Sync);
        assert!(strike(a, Site::Sync).is_none(), "sync disarmed");
        assert!(strike(a, Site::NewSegment).is_some(), "the other kept");
        disarm_all();
        assert!(strike(a, Site::NewSegment).is_none(), "disarmed");
    }
}
