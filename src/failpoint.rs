//! Failpoints: deliberate failures a test (or an operator rehearsing their
//! supervisor) can switch on from the environment, to see how the process
//! fails. Read once, at first use; off unless the variable is set.
//!
//! `RINGHOOK_FAILPOINT_PANIC_EVENT_TYPE=<type>`: the delivery worker panics
//! when it is about to attempt a message of that event type.
//!
//! `RINGHOOK_FAILPOINT_CRASH_AT=<point>`: the process aborts (no unwinding,
//! no cleanup: what `kill -9` leaves) when it reaches that point. Points:
//! `catalog-next-written`, `catalog-prev-renamed`, `catalog-next-renamed`
//! (the steps of a catalog compaction, `catalog::store`);
//! `change-journaled` (a catalog change that makes operational events, an
//! endpoint's or a rule's, is durable with them, none yet submitted:
//! `Shard::commit_catalog_telling`).
//!
//! `RINGHOOK_FAILPOINT_FAIL_WRITE_EVENT_TYPE=<type>`: the journal write of
//! the batch holding a message of that event type fails with EIO (an armed
//! `journal::faults::Site::Write` fault), as a failing disk would make it.

use std::path::Path;
use std::sync::OnceLock;

/// The variable's value, read once into `cell`.
fn read_once(cell: &'static OnceLock<Option<String>>, name: &str) -> Option<&'static str> {
    cell.get_or_init(|| std::env::var(name).ok()).as_deref()
}

fn panic_event_type() -> Option<&'static str> {
    static VALUE: OnceLock<Option<String>> = OnceLock::new();
    read_once(&VALUE, "RINGHOOK_FAILPOINT_PANIC_EVENT_TYPE")
}

/// Panics if the panic failpoint names `event_type`.
pub fn panic_before_attempt(event_type: &str) {
    if panic_event_type() == Some(event_type) {
        panic!("failpoint RINGHOOK_FAILPOINT_PANIC_EVENT_TYPE: attempting a {event_type} message");
    }
}

fn crash_point() -> Option<&'static str> {
    static VALUE: OnceLock<Option<String>> = OnceLock::new();
    read_once(&VALUE, "RINGHOOK_FAILPOINT_CRASH_AT")
}

fn fail_write_event_type() -> Option<&'static str> {
    static VALUE: OnceLock<Option<String>> = OnceLock::new();
    read_once(&VALUE, "RINGHOOK_FAILPOINT_FAIL_WRITE_EVENT_TYPE")
}

/// Makes the next write of the journal in `dir` on this thread fail if the
/// write failpoint names `event_type`.
pub fn fail_write_before(event_type: &str, dir: impl FnOnce() -> std::path::PathBuf) {
    if fail_write_event_type() == Some(event_type) {
        let dir = dir();
        tracing::error!(dir = %Path::display(&dir), "failpoint RINGHOOK_FAILPOINT_FAIL_WRITE_EVENT_TYPE: the next journal write fails");
        crate::journal::faults::arm(&dir, crate::journal::faults::Site::Write, 1, libc::EIO);
    }
}

/// Aborts the process if the crash failpoint names `point`.
pub fn crash_at(point: &str) {
    if crash_point() == Some(point) {
        tracing::error!(point, "failpoint RINGHOOK_FAILPOINT_CRASH_AT: aborting");
        std::process::abort();
    }
}
