//! The writer's staged records (`Journal::hold` / `release`): when they
//! reach the file, and what a failed write does.

use super::super::faults::{self, Site};
use super::super::{AppendError, Journal, Position};
use super::*;
use crate::limits::JOURNAL_STAGED_BYTES_MAX;

/// Whether a `pread` of the file (what other shards and the API's readers
/// do) finds the record at `pos`.
fn in_file(j: &Journal, pos: Position) -> bool {
    j.read_at(pos).is_ok()
}

fn open(dir: &Path, segment_bytes: u64) -> Journal {
    Journal::open(dir, config(segment_bytes), |_| {})
        .expect("opens")
        .0
}

#[test]
fn an_append_outside_a_hold_is_in_the_file_when_it_returns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut j = open(tmp.path(), 1 << 20);
    for i in 0..50 {
        let (_, pos) = j.append_at(3, 0, &body(i, 100 + i)).expect("append");
        let rec = j.read_at(pos).expect("readable at once, before any sync");
        assert_eq!(&rec.body[..], &body(i, 100 + i)[..]);
    }
}

#[test]
fn held_records_reach_the_file_when_the_last_hold_ends() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut j = open(tmp.path(), 1 << 20);
    j.hold();
    j.hold();
    let positions: Vec<Position> = (0..20)
        .map(|i| j.append_at(3, 0, &body(i, 300)).expect("append").1)
        .collect();
    assert!(positions.iter().all(|p| !in_file(&j, *p)), "held");
    j.release().expect("inner release");
    assert!(positions.iter().all(|p| !in_file(&j, *p)), "still held");
    j.release().expect("last release writes");
    for (i, pos) in positions.iter().enumerate() {
        assert_eq!(
            &j.read_at(*pos).expect("in the file").body[..],
            &body(i, 300)[..]
        );
    }
}

#[test]
fn a_hold_writes_what_it_staged_once_past_the_bound() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut j = open(tmp.path(), 4 << 20);
    j.hold();
    let len = 4000;
    let n = (JOURNAL_STAGED_BYTES_MAX as usize / len) + 5;
    let positions: Vec<Position> = (0..n)
        .map(|i| j.append_at(3, 0, &body(i, len)).expect("append").1)
        .collect();
    assert!(
        in_file(&j, positions[0]),
        "written once the bound was reached"
    );
    assert!(
        !in_file(&j, positions[n - 1]),
        "the newest are still staged"
    );
    j.release().expect("release");
    assert!(positions.iter().all(|p| in_file(&j, *p)));
}

#[test]
fn a_sync_job_covers_held_records_and_a_roll_writes_the_old_segments() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut j = open(tmp.path(), SMALL_SEGMENT_BYTES);
    let mut written = Vec::new();
    j.hold();
    for i in 0..40 {
        let b = body(i, 700);
        j.append(5, &b).expect("append");
        written.push((5u8, b));
    }
    assert!(j.active_segment_seq() > 1, "the hold spans rolls");
    // The job writes the staged records before it covers them; the hold
    // goes on afterwards.
    let durable = j.sync().expect("sync");
    assert_eq!(durable, j.written_lsn());
    for i in 40..45 {
        let b = body(i, 700);
        j.append(5, &b).expect("append");
        written.push((5u8, b));
    }
    j.release().expect("release");
    j.sync().expect("sync");
    drop(j);
    let (_, _, seen) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("reopens");
    assert_eq!(seen, written);
}

#[test]
fn a_failed_write_breaks_the_journal_for_good() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut j = open(tmp.path(), 1 << 20);
    j.append(1, &body(0, 64)).expect("append");
    let durable = j.sync().expect("sync");
    faults::arm(tmp.path(), Site::Write, 1, libc::EIO);
    assert!(matches!(
        j.append(1, &body(1, 64)),
        Err(AppendError::Write(_))
    ));
    faults::disarm_all();
    // Later appends and syncs fail too: the file may hold part of the
    // failed write, so nothing after it may be called durable.
    assert!(matches!(
        j.append(1, &body(2, 64)),
        Err(AppendError::Write(_))
    ));
    assert!(j.sync().is_err(), "the sync after a failed write fails");
    assert!(
        j.sync().is_err(),
        "and every one after it, new bytes or not"
    );
    assert_eq!(j.durable_lsn(), durable);

    // Inside a hold the failure shows at the release, and at the sync.
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut j = open(tmp.path(), 1 << 20);
    j.hold();
    j.append(1, &body(3, 64)).expect("staged");
    faults::arm(tmp.path(), Site::Write, 1, libc::EIO);
    assert!(j.release().is_err());
    faults::disarm_all();
    assert!(j.sync().is_err());
    assert!(j.durable_lsn() < j.written_lsn());
}
