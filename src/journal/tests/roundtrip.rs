//! Happy-path behaviour: appends, segment rolls, group commit, reopen.

use std::sync::mpsc;
use std::thread;

use super::super::{
    check, max_body_bytes, AppendError, Journal, Lsn, OpenError, SEGMENT_HEADER_BYTES,
};
use super::*;

#[test]
fn empty_directory_creates_segment_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("shard-0");
    let (journal, report, seen) = open_collect(&dir, config(SMALL_SEGMENT_BYTES)).expect("open");
    assert!(seen.is_empty());
    assert_eq!(report.segments, 1);
    assert_eq!(report.records, 0);
    assert_eq!(
        file_len(&seg(&dir, 1)),
        initial_file_bytes(SMALL_SEGMENT_BYTES),
        "a new segment's file starts small"
    );
    assert_eq!(journal.written_lsn(), Lsn(SEGMENT_HEADER_BYTES));
    assert_eq!(journal.durable_lsn(), journal.written_lsn());
    assert_eq!(journal.dir(), dir.as_path());
}

#[test]
fn round_trip_across_many_segment_rolls() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let records: Vec<Rec> = (0..1500)
        .map(|i| ((i % 7) as u8, body(i, (i * 37) % 900)))
        .collect();
    let (mut journal, _, _) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("open");
    let mut last = journal.written_lsn();
    for (kind, body) in &records {
        let lsn = journal.append(*kind, body).expect("append");
        assert!(lsn > last, "Lsns must increase");
        last = lsn;
    }
    assert_eq!(journal.written_lsn(), last);
    assert!(journal.durable_lsn() < last);
    assert_eq!(journal.sync().expect("sync"), last);
    assert_eq!(journal.durable_lsn(), last);
    assert!(journal.take_sync_job().is_none());
    assert!(
        journal.active_segment_seq() > 10,
        "test should roll many segments"
    );
    drop(journal);

    let (mut journal, report, seen) =
        open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("reopen");
    assert_eq!(seen, records);
    assert_eq!(report.records, records.len() as u64);
    assert!(report.torn_tail.is_none() && report.repaired.is_none());
    assert_eq!(report.end_lsn, last);
    assert_eq!(journal.written_lsn(), last);

    let more: Vec<Rec> = (0..50).map(|i| (9, body(i + 5000, i * 3))).collect();
    append_all(&mut journal, &more);
    drop(journal);
    let (_, _, seen) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("reopen 2");
    let expected: Vec<Rec> = records.iter().chain(&more).cloned().collect();
    assert_eq!(seen, expected);

    let report = check(tmp.path()).expect("check");
    assert!(
        report.is_openable() && report.torn_tail.is_none(),
        "{report}"
    );
    assert_eq!(report.records, expected.len() as u64);
}

#[test]
fn visitor_sees_positions_and_versions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("open");
    let first = journal.append_versioned(3, 7, b"hello").expect("append");
    let second = journal.append(4, b"").expect("append");
    journal.sync().expect("sync");
    drop(journal);
    let mut seen = Vec::new();
    Journal::open(tmp.path(), config(SMALL_SEGMENT_BYTES), |r| {
        seen.push((
            r.kind,
            r.version,
            r.body.to_vec(),
            r.segment_seq,
            r.offset,
            r.lsn,
        ));
    })
    .expect("reopen");
    assert_eq!(
        seen,
        vec![
            (3, 7, b"hello".to_vec(), 1, 64, first),
            (4, 0, Vec::new(), 1, 96, second),
        ]
    );
    assert_eq!(first, Lsn(96));
    assert_eq!(second, Lsn(112));
}

#[test]
fn record_too_large_is_rejected_and_max_fits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("open");
    let max = max_body_bytes(SMALL_SEGMENT_BYTES);
    assert_eq!(max, SMALL_SEGMENT_BYTES - 64 - 16);
    let too_big = vec![1u8; max as usize + 1];
    match journal.append(1, &too_big) {
        Err(AppendError::RecordTooLarge {
            body_bytes,
            max_body_bytes,
        }) => {
            assert_eq!(body_bytes, max + 1);
            assert_eq!(max_body_bytes, max);
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    // The rejected append left no trace; a maximal record fills a whole segment.
    journal.append(1, b"small").expect("append small");
    let lsn = journal
        .append(2, &vec![2u8; max as usize])
        .expect("append max");
    assert_eq!(lsn, Lsn(2 * SMALL_SEGMENT_BYTES));
    journal.append(3, b"after").expect("append after");
    assert_eq!(journal.active_segment_seq(), 3);
    journal.sync().expect("sync");
    drop(journal);
    let (_, _, seen) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("reopen");
    let kinds: Vec<u8> = seen.iter().map(|r| r.0).collect();
    assert_eq!(kinds, vec![1, 2, 3]);
}

#[test]
fn sync_jobs_run_on_another_thread_while_appending() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("open");
    let (job_tx, job_rx) = mpsc::channel::<super::super::SyncJob>();
    let (done_tx, done_rx) = mpsc::channel::<Lsn>();
    let syncer = thread::spawn(move || {
        for job in job_rx {
            done_tx.send(job.run().expect("msync")).expect("send");
        }
    });
    let mut records = Vec::new();
    for i in 0..3000 {
        let rec = ((i % 5) as u8, body(i, (i * 13) % 400));
        journal.append(rec.0, &rec.1).expect("append");
        records.push(rec);
        if i % 50 == 0 {
            if let Some(job) = journal.take_sync_job() {
                assert_eq!(job.lsn(), journal.written_lsn());
                job_tx.send(job).expect("send job");
            }
        }
        while let Ok(lsn) = done_rx.try_recv() {
            journal.complete_sync(lsn);
            assert!(journal.durable_lsn() <= journal.written_lsn());
        }
    }
    drop(job_tx);
    syncer.join().expect("syncer thread");
    for lsn in done_rx.try_iter() {
        journal.complete_sync(lsn);
    }
    let final_lsn = journal.sync().expect("final sync");
    assert_eq!(final_lsn, journal.written_lsn());
    drop(journal);
    let (_, _, seen) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("reopen");
    assert_eq!(seen, records);
}

#[test]
fn out_of_order_completion_does_not_overstate_durability() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("open");
    let start = journal.durable_lsn();
    journal.append(1, b"a").expect("append");
    let first = journal.take_sync_job().expect("job a");
    assert!(
        journal.take_sync_job().is_none(),
        "nothing new since the last job"
    );
    journal.append(1, b"b").expect("append");
    let second = journal.take_sync_job().expect("job b");
    let second_lsn = second.run().expect("run b");
    journal.complete_sync(second_lsn);
    assert_eq!(journal.durable_lsn(), start, "job a is still outstanding");
    let first_lsn = first.run().expect("run a");
    journal.complete_sync(first_lsn);
    assert_eq!(journal.durable_lsn(), second_lsn);
}

#[test]
fn sync_job_spans_a_segment_roll() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("open");
    let chunk = vec![5u8; 6000];
    journal.append(1, &chunk).expect("append");
    journal.append(1, &chunk).expect("append");
    journal.append(1, &chunk).expect("append rolls");
    assert_eq!(journal.active_segment_seq(), 2);
    let job = journal.take_sync_job().expect("job");
    let seqs: Vec<u64> = job.ranges.iter().map(|r| r.segment.seq).collect();
    assert_eq!(seqs, vec![1, 2]);
    // The writer may drop its handle on the old segment; the job keeps it mapped.
    let handle = thread::spawn(move || job.run());
    journal.append(1, b"meanwhile").expect("append");
    let lsn = handle.join().expect("thread").expect("run");
    journal.complete_sync(lsn);
    assert_eq!(journal.durable_lsn(), lsn);
    assert!(journal.durable_lsn() < journal.written_lsn());
}

#[test]
fn second_writer_is_locked_out() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (journal, _, _) = open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("open");
    match open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)) {
        Err(OpenError::Locked { path }) => assert_eq!(path, tmp.path()),
        other => panic!("expected Locked, got {:?}", other.map(|r| r.1)),
    }
    drop(journal);
    open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)).expect("reopen after drop");
}

#[test]
fn config_is_validated_against_existing_segments() {
    let tmp = tempfile::tempdir().expect("tempdir");
    match open_collect(tmp.path(), config(1000)) {
        Err(OpenError::InvalidSegmentBytes {
            segment_bytes: 1000,
        }) => {}
        other => panic!("expected InvalidSegmentBytes, got {:?}", other.map(|r| r.1)),
    }
    drop(open_collect(tmp.path(), config(8192)).expect("create"));
    match open_collect(tmp.path(), config(SMALL_SEGMENT_BYTES)) {
        Err(OpenError::SegmentSizeMismatch {
            found_bytes,
            configured_bytes,
            ..
        }) => assert_eq!((found_bytes, configured_bytes), (8192, SMALL_SEGMENT_BYTES)),
        other => panic!("expected SegmentSizeMismatch, got {:?}", other.map(|r| r.1)),
    }
}

#[test]
fn journal_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Journal>();
}

#[test]
fn appended_records_read_back_by_position_across_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = crate::journal::JournalConfig {
        segment_bytes: 64 * 1024,
        repair: false,
    };
    let (mut j, _) =
        crate::journal::Journal::open(dir.path(), config.clone(), |_| {}).expect("opens");
    let mut written = Vec::new();
    for i in 0..200u32 {
        let body = vec![i as u8; 1000 + i as usize];
        let (_, pos) = j.append_at(7, 1, &body).expect("appends");
        written.push((pos, body));
    }
    assert!(j.active_segment_seq() > 1, "test must span segments");
    for (pos, body) in &written {
        let rec = j.read_at(*pos).expect("reads");
        assert_eq!((rec.kind, rec.version), (7, 1));
        assert_eq!(&rec.body[..], &body[..]);
    }
    // A position that does not start a record is refused, not misread.
    let (pos, _) = written[3];
    let wrong = crate::journal::Position {
        segment_seq: pos.segment_seq,
        offset: pos.offset + 16,
    };
    assert!(j.read_at(wrong).is_err());
    // Positions stay valid after reopening (recovery visits the same ones).
    drop(j);
    let mut seen = Vec::new();
    let (j, _) = crate::journal::Journal::open(dir.path(), config, |r| {
        seen.push(crate::journal::Position {
            segment_seq: r.segment_seq,
            offset: r.offset,
        })
    })
    .expect("reopens");
    assert_eq!(seen, written.iter().map(|(p, _)| *p).collect::<Vec<_>>());
    assert_eq!(
        &j.read_at(written[150].0).expect("reads").body[..],
        &written[150].1[..]
    );
}

#[test]
fn the_next_segment_is_prepared_ahead_and_installed_at_the_roll() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(dir.path(), config(SMALL_SEGMENT_BYTES)).expect("open");
    let next_file = {
        let mut name = seg(dir.path(), 2).into_os_string();
        name.push(".next");
        std::path::PathBuf::from(name)
    };
    // Past half of segment 1: a thread prepares segment 2 under its temporary name.
    let mut written = Vec::new();
    let mut i = 0;
    while journal.written_lsn().0 < SMALL_SEGMENT_BYTES * 6 / 10 {
        let rec = (1u8, body(i, 500));
        journal.append(rec.0, &rec.1).expect("append");
        written.push(rec);
        i += 1;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !journal.next_segment_ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "segment 2 was not prepared"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(next_file.exists(), "prepared under a temporary name");
    assert!(!seg(dir.path(), 2).exists(), "not a segment until the roll");
    // Rolling installs it: the temporary name is gone, the real one exists.
    while journal.active_segment_seq() == 1 {
        let rec = (2u8, body(i, 500));
        journal.append(rec.0, &rec.1).expect("append");
        written.push(rec);
        i += 1;
    }
    assert!(seg(dir.path(), 2).exists());
    assert!(!next_file.exists(), "installed under its real name");
    journal.sync().expect("sync");
    drop(journal);
    let (_, _, seen) = open_collect(dir.path(), config(SMALL_SEGMENT_BYTES)).expect("reopen");
    assert_eq!(seen, written);
}

#[test]
fn a_leftover_prepared_segment_is_ignored_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(dir.path(), config(SMALL_SEGMENT_BYTES)).expect("open");
    journal.append(1, &body(0, 100)).expect("append");
    journal.sync().expect("sync");
    drop(journal);
    let mut name = seg(dir.path(), 2).into_os_string();
    name.push(".next");
    let stray = std::path::PathBuf::from(name);
    std::fs::write(&stray, b"garbage from a crash").expect("write");
    let (_, _, seen) = open_collect(dir.path(), config(SMALL_SEGMENT_BYTES)).expect("reopen");
    assert_eq!(seen, vec![(1u8, body(0, 100))]);
    assert!(!stray.exists(), "removed at open");
    assert!(crate::journal::check(dir.path())
        .expect("check")
        .corruption
        .is_none());
}
