//! End-to-end test of `loadgen run`: a real engine, the in-process sink, the ingest socket.
//!
//! The `ringhook` binary is looked up next to `loadgen` in the target directory; when only
//! this package was built (`cargo test -p loadgen`), it is built first with the same cargo.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The `ringhook` binary of this workspace's target directory, built if missing.
fn ringhook_binary() -> PathBuf {
    let loadgen = PathBuf::from(env!("CARGO_BIN_EXE_loadgen"));
    let path = loadgen.with_file_name("ringhook");
    if !path.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "ringhook", "--bin", "ringhook"]);
        if loadgen.parent().and_then(|p| p.file_name()) == Some("release".as_ref()) {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building ringhook failed");
    }
    assert!(path.is_file(), "no ringhook binary at {}", path.display());
    path
}

/// Runs loadgen with `args` against the freshly built engine; returns its JSON report.
fn loadgen(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .arg("--engine")
        .arg(ringhook_binary())
        .output()
        .expect("run loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadgen failed:\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim()).expect("one JSON object")
}

#[test]
fn run_delivers_everything_once_with_valid_signatures() {
    let report = loadgen(&[
        "run",
        "--messages",
        "2000",
        "--endpoints",
        "3",
        "--json",
        "--verify",
        "--batch",
        "50",
        "--deadline-secs",
        "120",
    ]);
    let n = |k: &str| {
        report[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {report}"))
    };
    assert_eq!(n("accepted"), 2000);
    assert_eq!(n("rejected"), 0);
    assert_eq!(n("expected_deliveries"), 6000);
    assert_eq!(n("delivered"), 6000);
    assert_eq!(n("lost"), 0);
    assert_eq!(n("duplicates"), 0);
    assert_eq!(n("bad_signatures"), 0);
    let f = |k: &str| {
        report[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} in {report}"))
    };
    assert!(f("deliveries_per_sec") > 0.0 && f("ingest_per_sec") > 0.0);
    assert!(f("e2e_p50_ms") <= f("e2e_p99_ms") && f("e2e_p99_ms") <= f("e2e_p999_ms"));
    assert!(f("engine_cpu_us_per_delivery") > 0.0);
}

/// `loadgen ingest` against a self-started engine reports every event accepted.
#[test]
fn ingest_only_reports_the_rate() {
    let report = loadgen(&[
        "ingest",
        "--messages",
        "1000",
        "--json",
        "--durability",
        "batch",
    ]);
    assert_eq!(report["accepted"].as_u64(), Some(1000));
    assert!(report["ingest_per_sec"].as_f64().is_some_and(|r| r > 0.0));
}

/// `loadgen retries` fills an engine with waiting retries, kills it with
/// SIGKILL, and finds every retry armed again after the restart.
#[test]
fn retries_survive_a_kill_and_report_their_memory() {
    let report = loadgen(&[
        "retries",
        "--messages",
        "3000",
        "--payload-bytes",
        "64",
        "--json",
        "--shards",
        "2",
        "--deadline-secs",
        "120",
        "--settle-secs",
        "0",
    ]);
    assert_eq!(report["pending_retries"].as_u64(), Some(3000));
    let f = |k: &str| report[k].as_f64().unwrap_or(-1.0);
    assert!(f("rss_anon_mib") > 0.0 && f("rss_anon_after_restart_mib") > 0.0);
    assert!(f("restart_to_healthy_secs") > 0.0);
    assert!(f("restart_to_all_rearmed_secs") >= f("restart_to_healthy_secs"));
}
