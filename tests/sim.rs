//! The deterministic simulator (`ringhook-sim`) as part of the test command:
//! a short run must find nothing, a seed must replay to the same trace, and
//! a deliberately broken core (acknowledgements before the sync, compaction
//! deaf to pending deliveries) must be caught within a bounded number of
//! seeds.

use serde_json::Value;
use std::process::Command;

fn sim(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ringhook-sim"))
        .args(args)
        .output()
        .expect("run ringhook-sim");
    assert!(
        out.status.success(),
        "ringhook-sim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn a_short_run_finds_no_broken_invariant() {
    let v = sim(&["--seeds", "24", "--steps", "250"]);
    assert_eq!(n(&v, "seeds"), 24);
    assert_eq!(n(&v, "failures"), 0, "{v}");
    // The run exercised what it claims to.
    assert!(n(&v, "acknowledged") > 1_000, "{v}");
    assert!(n(&v, "delivered") > 500, "{v}");
    assert!(n(&v, "crashes") > 50, "{v}");
    assert!(n(&v, "faults_injected") > 20, "{v}");
    assert!(n(&v, "corruption_detected") > 5, "{v}");
    assert!(
        n(&v, "disk_errors") > 5,
        "failed syncs and refused rolls: {v}"
    );
    assert!(
        n(&v, "compactions") > 5,
        "compaction deleted journal segments: {v}"
    );
    assert!(
        n(&v, "batches_waited") > 100,
        "batches acknowledged by a shared group commit: {v}"
    );
}

#[test]
fn a_seed_replays_to_the_same_trace() {
    let a = sim(&["--seed", "7", "--steps", "200"]);
    let b = sim(&["--seed", "7", "--steps", "200"]);
    assert_eq!(a, b);
    assert!(a["failure"].is_null(), "{a}");
    let other = sim(&["--seed", "8", "--steps", "200"]);
    assert_ne!(a["trace"], other["trace"], "another seed, another run");
}

#[test]
fn acknowledging_before_the_sync_is_caught() {
    let v = sim(&[
        "--seeds",
        "20",
        "--steps",
        "250",
        "--bug",
        "ack-before-sync",
    ]);
    assert!(n(&v, "failures") > 0, "the broken core went unnoticed: {v}");
    let first = &v["failed_seeds"][0];
    assert!(
        first["reason"].as_str().is_some_and(|r| {
            r.contains("not pending after recovery")
                || r.contains("not in the journal after recovery")
        }),
        "{first}"
    );
    // The failing seed replays to the same failure.
    let seed = n(first, "seed").to_string();
    let replay = sim(&[
        "--seed",
        &seed,
        "--steps",
        "250",
        "--bug",
        "ack-before-sync",
    ]);
    assert_eq!(replay["failure"], first["reason"]);
}

#[test]
fn compacting_what_pending_deliveries_need_is_caught() {
    let v = sim(&[
        "--seeds",
        "10",
        "--steps",
        "250",
        "--bug",
        "compact-pending",
    ]);
    assert!(
        n(&v, "failures") > 0,
        "the broken compaction went unnoticed: {v}"
    );
    let first = &v["failed_seeds"][0];
    assert!(
        first["reason"].as_str().is_some_and(|r| {
            r.contains("not pending after recovery")
                || r.contains("not in the journal after recovery")
                || (r.contains("cold read") && r.contains("No such file"))
        }),
        "{first}"
    );
}
