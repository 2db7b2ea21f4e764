//! Segment files that grow as they fill: a new file (and a prepared next
//! one) starts small, grows ahead of the writer, every record stays
//! readable across growth points and reopens, a short file after a crash
//! keeps what came before its end, and a full disk while growing is an
//! append error, never a SIGBUS.

use std::fs::OpenOptions;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use super::super::faults::{self, Site};
use super::super::format::record_footprint_bytes;
use super::super::{check, read_record, AppendError, Position};
use super::*;

const MIB: u64 = 1024 * 1024;
/// The catalog journal's default segment size: files start at 256 KiB.
const SEG: u64 = 4 * MIB;

fn prepared_path(dir: &Path, seq: u64) -> PathBuf {
    let mut name = seg(dir, seq).into_os_string();
    name.push(".next");
    PathBuf::from(name)
}

/// Polls `f` for up to 10 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn initial_and_grown_sizes() {
    use super::super::segment::grown_file_bytes;
    assert_eq!(initial_file_bytes(64 * MIB), MIB, "the default segment");
    assert_eq!(initial_file_bytes(4 * MIB), 256 * 1024, "the catalog's");
    assert_eq!(initial_file_bytes(64 * 1024), 4096, "the smallest shard's");
    assert_eq!(initial_file_bytes(4096), 4096, "never past the segment");
    assert_eq!(grown_file_bytes(MIB, MIB, 64 * MIB), 2 * MIB, "doubles");
    assert_eq!(grown_file_bytes(32 * MIB, 0, 64 * MIB), 64 * MIB);
    assert_eq!(grown_file_bytes(48 * MIB, 0, 64 * MIB), 64 * MIB, "capped");
    assert_eq!(
        grown_file_bytes(MIB, 3 * MIB + 1, 64 * MIB),
        3 * MIB + 4096,
        "a record larger than the doubling: whole pages"
    );
    assert_eq!(grown_file_bytes(5000, 5001, 64 * MIB), MIB, "from a cut");
    assert_eq!(grown_file_bytes(3 * MIB + 5, 0, 64 * MIB), 6 * MIB + 4096);
}

#[test]
fn a_new_segment_file_and_a_prepared_one_start_small() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The engine's default: a 64 MiB segment in a 1 MiB file.
    let dir = tmp.path().join("default");
    let (journal, _, _) = open_collect(&dir, JournalConfig::default()).expect("open");
    let meta = std::fs::metadata(seg(&dir, 1)).expect("stat");
    assert_eq!(meta.len(), MIB);
    assert!(
        meta.blocks() * 512 <= MIB + 64 * 1024,
        "{} blocks",
        meta.blocks()
    );
    assert_eq!(journal.active_file_bytes(), MIB);
    assert_eq!(
        journal.segment_bytes(),
        64 * MIB,
        "the segment is as long as before"
    );
    drop(journal);

    // The next segment, prepared once the active one is half full.
    let dir = tmp.path().join("small");
    let (mut journal, _, _) = open_collect(&dir, config(SEG)).expect("open");
    let mut i = 0;
    while journal.written_lsn().0 < SEG * 6 / 10 {
        journal.append(1, &body(i, 20_000)).expect("append");
        i += 1;
    }
    eventually("the next segment is prepared", || {
        journal.next_segment_ready()
    });
    assert_eq!(file_len(&prepared_path(&dir, 2)), initial_file_bytes(SEG));
    while journal.active_segment_seq() == 1 {
        journal.append(1, &body(i, 20_000)).expect("append");
        i += 1;
    }
    assert_eq!(journal.active_file_bytes(), initial_file_bytes(SEG));
    assert_eq!(file_len(&seg(&dir, 2)), initial_file_bytes(SEG));
    assert_eq!(
        file_len(&seg(&dir, 1)),
        SEG,
        "a filled segment is full size"
    );
}

#[test]
fn the_file_doubles_ahead_of_the_writer_on_another_thread() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    let initial = initial_file_bytes(SEG);
    let mut i = 0;
    while journal.written_lsn().0 <= initial / 2 {
        journal.append(1, &body(i, 1000)).expect("append");
        i += 1;
    }
    // Past half of the file: a thread grows it while the writer still
    // writes below the old end.
    eventually("the file grows in the background", || {
        file_len(&seg(tmp.path(), 1)) == 2 * initial
    });
    assert_eq!(
        journal.active_file_bytes(),
        initial,
        "not taken before needed"
    );
    while journal.written_lsn().0 <= initial {
        journal.append(1, &body(i, 1000)).expect("append");
        i += 1;
    }
    assert_eq!(
        journal.active_file_bytes(),
        2 * initial,
        "taken at the old end"
    );
}

#[test]
fn appends_across_growth_points_read_back_before_and_after_reopen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    let mut written: Vec<(Position, Rec)> = Vec::new();
    let mut total = 0u64;
    let mut i = 0usize;
    while total < 10 * MIB {
        // Mostly small records, now and then one larger than a doubling of
        // the file (grown on the writer's thread, to the record's end).
        let len = match i % 97 {
            13 => 1536 * 1024,
            50 => 3 * MIB as usize,
            _ => (i * 7919) % 20_000,
        };
        let rec = (i as u8, body(i, len));
        let (_, pos) = journal.append_at(rec.0, 0, &rec.1).expect("append");
        assert_eq!(pos.segment_seq, journal.active_segment_seq());
        assert!(
            pos.offset + record_footprint_bytes(len as u64) <= journal.active_file_bytes(),
            "written within the file"
        );
        total += len as u64;
        written.push((pos, rec));
        i += 1;
        if i.is_multiple_of(50) {
            journal.sync().expect("sync");
        }
    }
    journal.sync().expect("sync");
    assert!(journal.active_segment_seq() >= 3, "spans segments");
    for (pos, (kind, body)) in &written {
        let rec = journal.read_at(*pos).expect("read back");
        assert_eq!((rec.kind, &rec.body[..]), (*kind, &body[..]));
    }
    let active = journal.active_segment_seq();
    drop(journal);
    for seq in 1..=active {
        assert!(file_len(&seg(tmp.path(), seq)) <= SEG);
    }
    let (journal, report, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
    assert!(report.torn_tail.is_none() && report.repaired.is_none());
    let records: Vec<Rec> = written.iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(seen, records);
    for (pos, (_, body)) in written.iter().step_by(7) {
        assert_eq!(&journal.read_at(*pos).expect("read").body[..], &body[..]);
    }
    let checked = check(tmp.path()).expect("check");
    assert!(checked.is_openable(), "{checked}");
    assert_eq!(checked.records, records.len() as u64);
}

#[test]
fn a_short_file_after_a_crash_keeps_the_records_before_its_end() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    let records: Vec<Rec> = (0..250).map(|i| (1, body(i, 3000))).collect();
    append_all(&mut journal, &records);
    assert_eq!(journal.active_segment_seq(), 1);
    drop(journal);
    let (journal, positions) = open_positions(tmp.path(), config(SEG)).expect("positions");
    drop(journal);
    // A record past the first two growth points of the file.
    let k = positions
        .iter()
        .position(|p| p.1 > 600 * 1024)
        .expect("records past 600 KiB");
    let at = positions[k].1;
    let path = seg(tmp.path(), 1);
    let pristine = std::fs::read(&path).expect("read");
    // Cuts at lengths that are no multiple of anything: inside the record's
    // header, inside its body, and right at its start (a clean end).
    for (cut, torn) in [(at + 5, true), (at + 16 + 1001, true), (at, false)] {
        std::fs::write(&path, &pristine).expect("restore");
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        file.set_len(cut).expect("cut");
        drop(file);
        let checked = check(tmp.path()).expect("check");
        assert!(checked.is_openable(), "{checked}");
        assert_eq!(checked.records, k as u64);
        let (mut journal, report, seen) = open_collect(tmp.path(), config(SEG)).expect("open");
        assert_eq!(seen, records[..k].to_vec(), "cut at {cut}");
        assert_eq!(report.torn_tail.map(|t| t.offset), torn.then_some(at));
        assert_eq!(checked.torn_tail.map(|t| t.offset), torn.then_some(at));
        assert_eq!(file_len(&path), cut, "open leaves the length alone");
        // The writer goes on from the cut, growing the file from there.
        let more: Vec<Rec> = (0..200).map(|i| (2, body(1000 + i, 2500))).collect();
        append_all(&mut journal, &more);
        drop(journal);
        let (_, report, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
        assert!(report.torn_tail.is_none());
        let expected: Vec<Rec> = records[..k].iter().chain(&more).cloned().collect();
        assert_eq!(seen, expected, "cut at {cut}");
        assert!(check(tmp.path()).expect("check").is_openable());
    }
}

#[test]
fn a_record_cut_inside_its_trailing_zeros_stays_valid() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    let mut zero_tailed = vec![7u8; 100];
    zero_tailed.resize(5000, 0);
    let records: Vec<Rec> = vec![(1, body(1, 300)), (2, zero_tailed)];
    append_all(&mut journal, &records);
    drop(journal);
    let (journal, positions) = open_positions(tmp.path(), config(SEG)).expect("positions");
    drop(journal);
    // The file ends among the record's zeros: it reads exactly as before.
    let cut = positions[1].1 + 16 + 100 + 3;
    let path = seg(tmp.path(), 1);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(cut))
        .expect("cut");
    let (mut journal, report, seen) = open_collect(tmp.path(), config(SEG)).expect("open");
    assert!(report.torn_tail.is_none());
    assert_eq!(seen, records);
    assert_eq!(file_len(&path), cut);
    // The writer resumes after the record, past the file's end.
    append_all(&mut journal, &[(3, body(3, 200))]);
    drop(journal);
    let (_, _, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2], (3, body(3, 200)));
}

#[test]
fn a_position_past_the_file_end_is_a_read_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    append_all(&mut journal, &[(1, body(1, 100))]);
    let past = Position {
        segment_seq: 1,
        offset: initial_file_bytes(SEG) + 64,
    };
    assert!(read_record(tmp.path(), SEG, past).is_err());
    assert!(journal.read_at(past).is_err());
}

/// Appends 1000-byte records until one fails; returns the ones that did not.
fn append_until_refused(journal: &mut Journal) -> (Vec<Rec>, AppendError) {
    let mut ok = Vec::new();
    for i in 0..10_000 {
        let rec = (1, body(i, 1000));
        match journal.append(rec.0, &rec.1) {
            Ok(_) => ok.push(rec),
            Err(e) => return (ok, e),
        }
    }
    panic!("no append was refused");
}

#[test]
fn a_full_disk_while_growing_refuses_the_append_and_the_journal_goes_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    // The growth started ahead fails, and so does the writer's own.
    faults::arm(tmp.path(), Site::Grow, 2, libc::ENOSPC);
    let (mut ok, refused) = append_until_refused(&mut journal);
    faults::disarm_all();
    match &refused {
        AppendError::Grow(e) => assert_eq!(e.source.raw_os_error(), Some(libc::ENOSPC)),
        other => panic!("expected a growth error, got {other}"),
    }
    let initial = initial_file_bytes(SEG);
    let before = journal.written_lsn();
    assert!(
        before.0 <= initial && before.0 + record_footprint_bytes(1000) > initial,
        "refused at the file's end"
    );
    assert_eq!(journal.active_file_bytes(), initial);
    assert_eq!(file_len(&seg(tmp.path(), 1)), initial, "nothing half grown");
    // Space again: the same append goes through.
    let rec = (2, body(99_999, 1000));
    journal
        .append(rec.0, &rec.1)
        .expect("append after the disk has room");
    ok.push(rec);
    journal.sync().expect("sync");
    drop(journal);
    let (_, report, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
    assert!(report.torn_tail.is_none());
    assert_eq!(seen, ok);
}

#[test]
fn a_failed_background_growth_is_redone_by_the_writer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    faults::arm(tmp.path(), Site::Grow, 1, libc::ENOSPC);
    let initial = initial_file_bytes(SEG);
    let mut i = 0;
    while journal.written_lsn().0 <= initial + 4096 {
        journal.append(1, &body(i, 1000)).expect("append");
        i += 1;
    }
    faults::disarm_all();
    assert_eq!(journal.active_file_bytes(), 2 * initial);
}

#[test]
fn reserve_grows_the_file_for_the_whole_batch_or_refuses() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    let initial = initial_file_bytes(SEG);
    faults::arm(tmp.path(), Site::Grow, 1, libc::ENOSPC);
    assert!(matches!(
        journal.reserve(2 * initial),
        Err(AppendError::Grow(_))
    ));
    faults::disarm_all();
    assert_eq!(journal.active_file_bytes(), initial);
    journal.reserve(2 * initial).expect("reserve");
    assert!(journal.active_file_bytes() >= 64 + 2 * initial);
}

#[test]
fn segments_of_the_old_full_size_format_open_and_take_appends() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    let first: Vec<Rec> = (0..40).map(|i| (1, body(i, 150_000))).collect();
    append_all(&mut journal, &first);
    let active = journal.active_segment_seq();
    assert!(active >= 2);
    drop(journal);
    // Before files grew, every segment file was exactly `segment_bytes`.
    for seq in 1..=active {
        let path = seg(tmp.path(), seq);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(SEG))
            .expect("full size");
    }
    let (mut journal, report, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
    assert!(report.torn_tail.is_none() && report.repaired.is_none());
    assert_eq!(seen, first);
    assert_eq!(journal.active_file_bytes(), SEG, "nothing left to grow");
    let more: Vec<Rec> = (40..80).map(|i| (2, body(i, 150_000))).collect();
    append_all(&mut journal, &more);
    drop(journal);
    let (_, _, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
    assert_eq!(seen, first.iter().chain(&more).cloned().collect::<Vec<_>>());
    assert!(check(tmp.path()).expect("check").is_openable());
}
