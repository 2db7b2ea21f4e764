//! Journal damage through the real binary: a torn tail is cut and nothing
//! acknowledged is lost; a flipped byte mid-log refuses to start, naming the
//! file and offset, and `ringhook journal check` reports it.

mod common;

use common::{wait_for, Engine, Sink};
use ringhook::journal::{RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

fn newest_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs.pop().expect("a segment")
}

/// Walks record headers to the end of the data; returns (first record offset, end offset).
fn data_end(bytes: &[u8]) -> u64 {
    let mut off = SEGMENT_HEADER_BYTES as usize;
    loop {
        let Some(h) = bytes.get(off..off + 16) else {
            return off as u64;
        };
        if h.iter().all(|b| *b == 0) {
            return off as u64;
        }
        let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        off = (off + RECORD_HEADER_BYTES as usize + len).next_multiple_of(16);
    }
}

fn gated_sink() -> (Sink, Arc<AtomicBool>) {
    let open = Arc::new(AtomicBool::new(false));
    let gate = open.clone();
    let sink = Sink::with_policy(Arc::new(move |_, _| {
        if gate.load(Ordering::Relaxed) {
            204
        } else {
            503
        }
    }));
    (sink, open)
}

#[test]
fn a_torn_tail_is_truncated_and_nothing_acknowledged_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sink, open) = gated_sink();
    let mut engine = Engine::start(dir.path(), &["--shards", "1", "--retry-schedule", "0s,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"]);
    let app = engine.create_app("torn");
    engine.create_endpoint(&app, json!({ "url": sink.url("/t") }));
    let ids: Vec<String> = (0..30)
        .map(|i| engine.send(&app, "t.x", json!({ "i": i })))
        .collect();
    engine.kill9();

    // Simulate a crash in the middle of writing one more record: a plausible
    // header and part of a body after the last record, then the file ends.
    let seg = newest_segment(&engine.data_dir.join("shard-0"));
    let mut bytes = std::fs::read(&seg).expect("read segment");
    let end = data_end(&bytes) as usize;
    let mut torn = Vec::new();
    torn.extend_from_slice(b"RJ");
    torn.extend_from_slice(&[16, 1]);
    torn.extend_from_slice(&900u32.to_le_bytes());
    torn.extend_from_slice(&0xdead_beefu32.to_le_bytes());
    torn.extend_from_slice(&[0; 4]);
    torn.extend_from_slice(&[0xab; 40]);
    bytes[end..end + torn.len()].copy_from_slice(&torn);
    bytes.truncate(end + torn.len());
    std::fs::write(&seg, &bytes).expect("write torn segment");

    engine.spawn().expect("starts despite the torn tail");
    let log = std::fs::read_to_string(&engine.stderr_path).unwrap_or_default();
    assert!(
        log.contains("torn"),
        "start-up log reports the torn tail: {log}"
    );
    open.store(true, Ordering::Relaxed);
    wait_for("all 30 delivered", DEADLINE, || {
        let got = sink.ids();
        ids.iter().all(|id| got.contains(id)).then_some(())
    });
    // And the journal is healthy again.
    engine.kill9();
    let check = Command::new(env!("CARGO_BIN_EXE_ringhook"))
        .args(["journal", "check", "--data-dir"])
        .arg(&engine.data_dir)
        .output()
        .expect("journal check");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn a_flipped_byte_mid_log_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start();
    let mut engine = Engine::start(dir.path(), &["--shards", "1"]);
    let app = engine.create_app("corrupt");
    engine.create_endpoint(&app, json!({ "url": sink.url("/c") }));
    let ids: Vec<String> = (0..5)
        .map(|i| engine.send(&app, "t.x", json!({ "i": i })))
        .collect();
    wait_for("deliveries", DEADLINE, || {
        (sink.count() >= ids.len()).then_some(())
    });
    assert!(engine.stop(), "clean stop");

    let seg = newest_segment(&engine.data_dir.join("shard-0"));
    let mut bytes = std::fs::read(&seg).expect("read");
    let target = (SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES + 8) as usize;
    bytes[target] ^= 0x40;
    std::fs::write(&seg, &bytes).expect("write");

    let err = engine.spawn().expect_err("must refuse to start");
    let name = seg.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(
        err.contains(name) && err.contains("offset"),
        "error names the file and offset: {err}"
    );

    let check = Command::new(env!("CARGO_BIN_EXE_ringhook"))
        .args(["journal", "check", "--data-dir"])
        .arg(&engine.data_dir)
        .output()
        .expect("journal check");
    assert!(!check.status.success());
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(out.contains(name), "check names the file: {out}");

    // The operator's way out: --repair truncates at the damage and starts.
    engine
        .spawn_with(&["--repair"])
        .expect("starts with --repair");
}
