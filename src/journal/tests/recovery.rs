//! Recovery decision table: one test per case, plus agreement with `check`.

use std::fs::{self, OpenOptions};

use super::super::{check, OpenError, SEGMENT_HEADER_BYTES};
use super::*;

const SEG: u64 = SMALL_SEGMENT_BYTES;

/// Writes `count` records of 200..400 bytes, synced, and returns them.
fn populate(dir: &Path, count: usize) -> Vec<Rec> {
    let records: Vec<Rec> = (0..count).map(|i| (1, body(i, 200 + i % 200))).collect();
    let (mut journal, _, _) = open_collect(dir, config(SEG)).expect("open");
    append_all(&mut journal, &records);
    records
}

fn expect_corruption(
    result: Result<(Journal, RecoveryReport, Vec<Rec>), OpenError>,
) -> (PathBuf, u64, String) {
    match result {
        Err(OpenError::Corruption {
            path,
            offset,
            reason,
        }) => (path, offset, reason),
        Err(other) => panic!("expected corruption, got {other}"),
        Ok((_, report, _)) => panic!("expected corruption, opened with {report:?}"),
    }
}

#[test]
fn flipped_byte_mid_log_is_corruption_and_repair_keeps_the_prefix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let records = populate(tmp.path(), 200);
    let (journal, positions) = open_positions(tmp.path(), config(SEG)).expect("positions");
    drop(journal);
    let newest_seq = positions.last().map(|p| p.0).expect("records");
    assert!(newest_seq >= 3);
    // Damage a record in the middle of segment 2 (older segment, good records follow).
    let victim = positions.iter().position(|p| p.0 == 2).expect("segment 2") + 3;
    let (victim_seq, victim_offset) = positions[victim];
    let path = seg(tmp.path(), victim_seq);
    let byte = read_at(&path, victim_offset + 20, 1)[0];
    poke(&path, victim_offset + 20, &[byte ^ 0x40]);

    let (err_path, err_offset, reason) = expect_corruption(open_collect(tmp.path(), config(SEG)));
    assert_eq!(
        (err_path.clone(), err_offset),
        (path.clone(), victim_offset)
    );
    assert!(reason.starts_with("crc mismatch"), "{reason}");
    let message = OpenError::Corruption {
        path: err_path,
        offset: err_offset,
        reason,
    }
    .to_string();
    assert!(message.starts_with(&format!(
        "journal corruption in {} at offset {victim_offset}: crc mismatch (",
        path.display()
    )));
    assert!(
        message.ends_with("refusing to start (use --repair to truncate)"),
        "{message}"
    );

    let report = check(tmp.path()).expect("check");
    let corruption = report.corruption.clone().expect("check finds corruption");
    assert_eq!(
        (corruption.path, corruption.offset),
        (path.clone(), victim_offset)
    );
    assert!(!report.is_openable());
    assert!(report.to_string().contains("CORRUPT"), "{report}");

    let (mut journal, report, seen) = open_collect(tmp.path(), repair_config(SEG)).expect("repair");
    assert_eq!(seen, records[..victim].to_vec());
    let repair = report.repaired.expect("repair reported");
    assert_eq!(repair.corruption.offset, victim_offset);
    assert_eq!(
        repair.segments_removed.len() as u64,
        newest_seq - victim_seq
    );
    assert!(repair.bytes_discarded > 0);
    assert!(!seg(tmp.path(), victim_seq + 1).exists());
    assert_eq!(report.segments as u64, victim_seq);

    let more: Vec<Rec> = (0..100).map(|i| (2, body(i + 900, 300))).collect();
    append_all(&mut journal, &more);
    drop(journal);
    let (_, _, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen after repair");
    let expected: Vec<Rec> = records[..victim].iter().chain(&more).cloned().collect();
    assert_eq!(seen, expected);
    assert!(check(tmp.path()).expect("check").is_openable());
}

#[test]
fn bad_last_record_of_an_older_segment_is_corruption() {
    let tmp = tempfile::tempdir().expect("tempdir");
    populate(tmp.path(), 120);
    let (journal, positions) = open_positions(tmp.path(), config(SEG)).expect("positions");
    drop(journal);
    // The last record of segment 1 has only zeros after it, but it is not in
    // the newest segment, so it cannot be a torn write.
    let (seq, offset) = *positions.iter().rfind(|p| p.0 == 1).expect("segment 1");
    poke(&seg(tmp.path(), seq), offset + 16, b"XX");
    let (path, err_offset, _) = expect_corruption(open_collect(tmp.path(), config(SEG)));
    assert_eq!((path, err_offset), (seg(tmp.path(), 1), offset));
}

#[test]
fn a_length_corrupted_to_swallow_later_records_is_corruption_not_a_torn_tail() {
    // Found by ringhook-sim (seed 2): one flipped bit in the length of a
    // record near the end of the newest segment made it claim the durable
    // records after it, which were then cut off as a "torn tail".
    let tmp = tempfile::tempdir().expect("tempdir");
    populate(tmp.path(), 100);
    let (journal, positions) = open_positions(tmp.path(), config(SEG)).expect("positions");
    let newest = journal.active_segment_seq();
    drop(journal);
    let in_newest: Vec<_> = positions.iter().filter(|p| p.0 == newest).collect();
    assert!(in_newest.len() >= 4, "a few records in the newest segment");
    let (seq, offset) = *in_newest[in_newest.len() - 3];
    let path = seg(tmp.path(), seq);
    // body_len is header bytes 4..8: grow it by 1,024 (still inside the segment).
    let byte = read_at(&path, offset + 5, 1)[0];
    poke(&path, offset + 5, &[byte ^ 0x04]);

    let checked = check(tmp.path()).expect("check");
    let corruption = checked
        .corruption
        .clone()
        .expect("check reports corruption");
    assert_eq!((corruption.path, corruption.offset), (path.clone(), offset));
    assert!(checked.torn_tail.is_none(), "{checked}");
    let (err_path, err_offset, reason) = expect_corruption(open_collect(tmp.path(), config(SEG)));
    assert_eq!((err_path, err_offset), (path, offset));
    assert!(
        reason.contains("a valid record starts at offset"),
        "{reason}"
    );
}

#[test]
fn garbage_header_at_the_tail_of_the_newest_segment_is_a_torn_tail() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let records = populate(tmp.path(), 100);
    let (journal, report, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    let end_lsn = report.end_lsn.0;
    let seq = journal.active_segment_seq();
    drop(journal);
    let path = seg(tmp.path(), seq);
    let end_offset = end_lsn - (seq - 1) * SEG;
    poke(
        &path,
        end_offset,
        &[0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4],
    );

    let checked = check(tmp.path()).expect("check");
    assert!(checked.is_openable(), "{checked}");
    let torn = checked.torn_tail.clone().expect("check sees the torn tail");
    assert_eq!((torn.path.clone(), torn.offset), (path.clone(), end_offset));

    let (_, report, seen) = open_collect(tmp.path(), config(SEG)).expect("open torn");
    assert_eq!(seen, records);
    let torn = report.torn_tail.expect("torn tail reported");
    assert_eq!(
        (torn.path, torn.offset, torn.bytes_discarded),
        (path.clone(), end_offset, 16)
    );
    assert!(torn.reason.contains("magic"), "{}", torn.reason);
    assert_eq!(read_at(&path, end_offset, 16), vec![0u8; 16]);
    let (_, report, _) = open_collect(tmp.path(), config(SEG)).expect("open again");
    assert!(report.torn_tail.is_none());
}

#[test]
fn truncated_newest_segment_stays_short_and_torn_record_dropped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let records = populate(tmp.path(), 100);
    let (journal, positions) = open_positions(tmp.path(), config(SEG)).expect("positions");
    drop(journal);
    let (seq, offset) = *positions.last().expect("records");
    let path = seg(tmp.path(), seq);
    let file = OpenOptions::new().write(true).open(&path).expect("open");
    file.set_len(offset + 16 + 50).expect("truncate mid-body");
    drop(file);
    let (mut journal, report, seen) = open_collect(tmp.path(), config(SEG)).expect("open");
    assert_eq!(seen, records[..records.len() - 1].to_vec());
    let torn = report.torn_tail.expect("torn");
    assert_eq!(torn.offset, offset);
    assert!(torn.reason.starts_with("crc mismatch"), "{}", torn.reason);
    // The missing bytes read as zero; nothing extends the file until the
    // writer needs it to.
    assert_eq!(file_len(&path), offset + 16 + 50);
    assert_eq!(
        read_at(&path, offset, 66),
        vec![0u8; 66],
        "torn bytes zeroed"
    );
    let more: Vec<Rec> = (0..20).map(|i| (2, body(1000 + i, 300))).collect();
    append_all(&mut journal, &more);
    drop(journal);
    let (_, report, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
    assert!(report.torn_tail.is_none());
    let expected: Vec<Rec> = records[..records.len() - 1]
        .iter()
        .chain(&more)
        .cloned()
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn all_zero_newest_segment_is_reinitialized() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let records = populate(tmp.path(), 10);
    // A crash right after creating segment 2: the name exists, nothing else.
    fs::File::create(seg(tmp.path(), 2)).expect("create empty");
    let (mut journal, report, seen) = open_collect(tmp.path(), config(SEG)).expect("open");
    assert_eq!(seen, records);
    assert_eq!(report.reinitialized, Some(seg(tmp.path(), 2)));
    assert_eq!(report.segments, 2);
    assert_eq!(journal.active_segment_seq(), 2);
    assert_eq!(report.end_lsn.0, SEG + SEGMENT_HEADER_BYTES);
    assert_eq!(file_len(&seg(tmp.path(), 2)), initial_file_bytes(SEG));
    append_all(&mut journal, &[(5, b"x".to_vec())]);
    drop(journal);
    let (_, _, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
    assert_eq!(seen.len(), 11);
}

#[test]
fn bad_header_of_newest_segment_with_data_is_corruption_and_repairable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    populate(tmp.path(), 100);
    let (journal, positions) = open_positions(tmp.path(), config(SEG)).expect("positions");
    drop(journal);
    let newest = positions.last().expect("records").0;
    let kept = positions.iter().filter(|p| p.0 < newest).count();
    let path = seg(tmp.path(), newest);
    poke(&path, 0, b"NOTASEG!");
    let (err_path, offset, reason) = expect_corruption(open_collect(tmp.path(), config(SEG)));
    assert_eq!((err_path, offset), (path.clone(), 0));
    assert!(reason.contains("magic"), "{reason}");
    assert_eq!(
        check(tmp.path())
            .expect("check")
            .corruption
            .map(|c| c.offset),
        Some(0)
    );

    let (mut journal, report, seen) = open_collect(tmp.path(), repair_config(SEG)).expect("repair");
    assert_eq!(seen.len(), kept);
    assert_eq!(
        report.repaired.expect("repaired").segments_removed,
        vec![path]
    );
    assert_eq!(journal.active_segment_seq(), newest - 1);
    append_all(
        &mut journal,
        &[(1, body(1, 5000)), (1, body(2, 5000)), (1, body(3, 5000))],
    );
    drop(journal);
    let (_, _, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
    assert_eq!(seen.len(), kept + 3);
}

#[test]
fn bad_header_of_the_only_segment_is_repaired_with_a_fresh_segment() {
    let tmp = tempfile::tempdir().expect("tempdir");
    populate(tmp.path(), 5);
    poke(&seg(tmp.path(), 1), 20, &[0xff]);
    expect_corruption(open_collect(tmp.path(), config(SEG)));
    let (journal, report, seen) = open_collect(tmp.path(), repair_config(SEG)).expect("repair");
    assert!(seen.is_empty());
    assert!(report.repaired.is_some());
    assert_eq!(journal.active_segment_seq(), 1);
    assert_eq!(read_at(&seg(tmp.path(), 1), 64, 16), vec![0u8; 16]);
}

#[test]
fn missing_middle_segment_is_corruption() {
    let tmp = tempfile::tempdir().expect("tempdir");
    populate(tmp.path(), 200);
    fs::remove_file(seg(tmp.path(), 2)).expect("remove");
    let (path, offset, reason) = expect_corruption(open_collect(tmp.path(), config(SEG)));
    assert_eq!((path, offset), (seg(tmp.path(), 3), 0));
    assert!(reason.contains("missing"), "{reason}");
    let (journal, _, _) = open_collect(tmp.path(), repair_config(SEG)).expect("repair");
    assert_eq!(journal.active_segment_seq(), 1);
}

#[test]
fn stray_bytes_after_the_end_marker() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let records = populate(tmp.path(), 200);
    let (journal, report, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    let newest = journal.active_segment_seq();
    let end_offset = report.end_lsn.0 - (newest - 1) * SEG;
    drop(journal);
    // In the newest segment, unsynced pages that reached disk out of order
    // are discarded like a torn tail.
    assert!(end_offset < SEG - 80);
    poke(&seg(tmp.path(), newest), SEG - 64, b"late page");
    let (journal, report, seen) = open_collect(tmp.path(), config(SEG)).expect("open");
    assert_eq!(seen, records);
    let torn = report.torn_tail.expect("stray bytes reported");
    assert_eq!(torn.offset, end_offset);
    assert!(
        torn.reason.contains("after the end-of-data marker"),
        "{}",
        torn.reason
    );
    drop(journal);
    // In an older segment they mean the log lost records: corruption.
    // 1000-byte bodies leave segment 1 ending at 64 + 15 * 1024 = 15424.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
    append_all(&mut journal, &vec![(1, vec![7u8; 1000]); 20]);
    drop(journal);
    poke(&seg(tmp.path(), 1), 16000, b"junk");
    let (path, offset, reason) = expect_corruption(open_collect(tmp.path(), config(SEG)));
    assert_eq!((path, offset), (seg(tmp.path(), 1), 15424));
    assert!(reason.contains("after the end-of-data marker"), "{reason}");
}

#[test]
fn oversized_segment_file_is_corruption() {
    let tmp = tempfile::tempdir().expect("tempdir");
    populate(tmp.path(), 5);
    let file = OpenOptions::new()
        .write(true)
        .open(seg(tmp.path(), 1))
        .expect("open");
    file.set_len(SEG + 4096).expect("grow");
    drop(file);
    let (_, offset, reason) = expect_corruption(open_collect(tmp.path(), config(SEG)));
    assert_eq!(offset, 0);
    assert!(reason.contains("larger than the segment size"), "{reason}");
    assert!(!check(tmp.path()).expect("check").is_openable());
}

#[test]
fn check_never_modifies_and_reports_missing_directory_as_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert!(check(&tmp.path().join("absent")).is_err());
    populate(tmp.path(), 30);
    let (journal, positions) = open_positions(tmp.path(), config(SEG)).expect("positions");
    drop(journal);
    let (seq, offset) = *positions.last().expect("records");
    let path = seg(tmp.path(), seq);
    let file = OpenOptions::new().write(true).open(&path).expect("open");
    file.set_len(offset + 20).expect("truncate");
    drop(file);
    let report = check(tmp.path()).expect("check");
    assert_eq!(report.records, 29);
    assert!(report.torn_tail.is_some());
    assert_eq!(
        file_len(&path),
        offset + 20,
        "check must not touch the file"
    );
}

#[test]
fn a_later_segment_of_another_size_is_corruption_for_open_and_check_alike() {
    let tmp = tempfile::tempdir().expect("tempdir");
    populate(tmp.path(), 200);
    let (journal, positions) = open_positions(tmp.path(), config(SEG)).expect("positions");
    drop(journal);
    assert!(positions.last().map(|p| p.0).expect("records") >= 3);
    // Segment 2's header claims another size (with a valid header CRC).
    let path = seg(tmp.path(), 2);
    let header = super::super::format::encode_segment_header(2, SEG * 2);
    poke(&path, 0, &header);

    let checked = check(tmp.path()).expect("check");
    let corruption = checked.corruption.clone().expect("check reports it");
    assert_eq!(
        (corruption.path.clone(), corruption.offset),
        (path.clone(), 0)
    );
    let (err_path, err_offset, reason) = expect_corruption(open_collect(tmp.path(), config(SEG)));
    assert_eq!((err_path, err_offset), (path, 0));
    assert_eq!(reason, corruption.reason, "open and check say the same");
    // And --repair, which check promises, works.
    let (_, report, _) = open_collect(tmp.path(), repair_config(SEG)).expect("repair");
    assert!(report.repaired.is_some());
}

#[test]
fn a_smaller_configured_segment_size_is_a_configuration_error_not_damage() {
    // Opening with a smaller `segment_bytes` than the journal was written
    // with must not look like oversized (repairable) segments: `--repair`
    // would then cut the whole log.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut journal, _, _) = open_collect(tmp.path(), config(SEG * 2)).expect("open");
    append_all(&mut journal, &[(1, body(1, 300))]);
    drop(journal);
    match open_collect(tmp.path(), config(SEG)) {
        Err(OpenError::SegmentSizeMismatch { .. }) => {}
        Err(other) => panic!("expected SegmentSizeMismatch, got {other}"),
        Ok(_) => panic!("opened a journal of another segment size"),
    }
    match open_collect(tmp.path(), repair_config(SEG)) {
        Err(OpenError::SegmentSizeMismatch { .. }) => {}
        _ => panic!("--repair must not touch it either"),
    }
}

#[test]
fn a_torn_record_before_a_new_empty_segment_is_a_torn_tail() {
    // Found by ringhook-sim (seed 5851): a power loss during a roll leaves
    // the old segment's last record torn and the new segment (created, its
    // header synced, before anything was written into it) empty. Nothing
    // after the torn record was ever durable, so it is a torn tail, not
    // corruption that stops the engine.
    let tmp = tempfile::tempdir().expect("tempdir");
    populate(tmp.path(), 200);
    let (journal, positions) = open_positions(tmp.path(), config(SEG)).expect("positions");
    drop(journal);
    let newest = positions.last().map(|p| p.0).expect("records");
    assert!(newest >= 2);
    // The newest segment loses everything after its header...
    let last = seg(tmp.path(), newest);
    let len = file_len(&last);
    poke(
        &last,
        SEGMENT_HEADER_BYTES,
        &vec![0u8; (len - SEGMENT_HEADER_BYTES) as usize],
    );
    // ...and the one before it has its last record torn (its body cut).
    let (seq, offset) = *positions
        .iter()
        .rfind(|p| p.0 == newest - 1)
        .expect("record");
    poke(&seg(tmp.path(), seq), offset + 20, &[0u8; 8]);

    let checked = check(tmp.path()).expect("check");
    assert!(checked.is_openable(), "{checked}");
    let torn = checked.torn_tail.clone().expect("check sees a torn tail");
    assert_eq!(
        (torn.path.clone(), torn.offset),
        (seg(tmp.path(), seq), offset)
    );
    let (_, report, seen) = open_collect(tmp.path(), config(SEG)).expect("opens");
    let torn = report.torn_tail.expect("reported");
    assert_eq!((torn.path, torn.offset), (seg(tmp.path(), seq), offset));
    let kept = positions
        .iter()
        .position(|p| *p == (seq, offset))
        .expect("index");
    assert_eq!(seen.len(), kept, "every record before the torn one");
    // It opens again cleanly and appends after it.
    let (mut journal, report, _) = open_collect(tmp.path(), config(SEG)).expect("again");
    assert!(report.torn_tail.is_none());
    append_all(&mut journal, &[(1, body(1, 100))]);
}
