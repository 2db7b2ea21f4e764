//! Property tests: arbitrary record sequences, truncations and corruptions.

use std::fs::OpenOptions;

use proptest::collection::vec;
use proptest::prelude::*;

use super::super::{check, OpenError};
use super::*;

const SEG: u64 = 8192;

fn records_strategy(max_records: usize) -> impl Strategy<Value = Vec<Rec>> {
    vec((any::<u8>(), vec(any::<u8>(), 0..3000)), 0..max_records)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn arbitrary_records_round_trip(records in records_strategy(40)) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
        append_all(&mut journal, &records);
        drop(journal);
        let (_, report, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
        prop_assert_eq!(seen, records);
        prop_assert!(report.torn_tail.is_none());
    }

    #[test]
    fn recovery_on_arbitrary_truncations(
        records in records_strategy(30),
        more in records_strategy(10),
        cut in 0.0f64..=1.0,
    ) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
        let mut ends = Vec::new();
        for (kind, body) in &records {
            ends.push(journal.append(*kind, body).expect("append").0);
        }
        journal.sync().expect("sync");
        let newest = journal.active_segment_seq();
        drop(journal);

        let base = (newest - 1) * SEG;
        let cut_bytes = 64 + ((SEG - 64) as f64 * cut) as u64;
        let path = seg(tmp.path(), newest);
        let file = OpenOptions::new().write(true).open(&path).expect("open segment");
        file.set_len(cut_bytes).expect("truncate");
        drop(file);

        let checked = check(tmp.path()).expect("check");
        prop_assert!(checked.is_openable(), "{}", checked);

        let (mut journal, _, seen) = open_collect(tmp.path(), config(SEG)).expect("reopen");
        prop_assert!(seen.len() <= records.len());
        prop_assert_eq!(&seen[..], &records[..seen.len()]);
        let survivors = ends.iter().filter(|&&end| end <= base + cut_bytes).count();
        prop_assert!(seen.len() >= survivors, "lost a record that ended before the cut");
        prop_assert_eq!(checked.records, seen.len() as u64);
        prop_assert_eq!(file_len(&path), cut_bytes, "open does not extend a short file");

        append_all(&mut journal, &more);
        drop(journal);
        let (_, report, seen_again) = open_collect(tmp.path(), config(SEG)).expect("reopen 2");
        let expected: Vec<Rec> = seen.iter().chain(&more).cloned().collect();
        prop_assert_eq!(seen_again, expected);
        prop_assert!(report.torn_tail.is_none());
    }

    /// Whatever bytes land in a segment, neither `check` nor `open` panics,
    /// and they agree on whether (and where) the log is corrupt.
    #[test]
    fn arbitrary_damage_never_panics_and_check_agrees_with_open(
        count in 1usize..60,
        which in any::<prop::sample::Index>(),
        at in 0u64..SEG,
        garbage in vec(any::<u8>(), 1..64),
    ) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let records: Vec<Rec> = (0..count).map(|i| (1, body(i, (i * 97) % 700))).collect();
        let (mut journal, _, _) = open_collect(tmp.path(), config(SEG)).expect("open");
        append_all(&mut journal, &records);
        let newest = journal.active_segment_seq();
        drop(journal);
        let seq = 1 + which.index(newest as usize) as u64;
        let at = at.min(SEG - garbage.len() as u64);
        poke(&seg(tmp.path(), seq), at, &garbage);

        let checked = check(tmp.path()).expect("check");
        let _ = checked.to_string();
        match open_collect(tmp.path(), config(SEG)) {
            Ok((_, report, seen)) => {
                prop_assert!(checked.is_openable(), "check: {}", checked);
                prop_assert_eq!(&seen[..], &records[..seen.len()]);
                prop_assert_eq!(checked.records, seen.len() as u64);
                prop_assert_eq!(
                    checked.torn_tail.map(|t| (t.path, t.offset)),
                    report.torn_tail.map(|t| (t.path, t.offset))
                );
            }
            Err(OpenError::Corruption { path, offset, .. }) => {
                let corruption = checked.corruption.expect("check must see the corruption");
                prop_assert_eq!((corruption.path, corruption.offset), (path, offset));
                let (_, _, seen) = open_collect(tmp.path(), repair_config(SEG)).expect("repair");
                prop_assert_eq!(&seen[..], &records[..seen.len()]);
                prop_assert!(check(tmp.path()).expect("check after repair").is_openable());
            }
            Err(other) => prop_assert!(false, "unexpected open error: {}", other),
        }
    }
}
