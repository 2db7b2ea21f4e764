//! Journal damage through the real binary: a torn tail is cut and nothing
//! acknowledged is lost; a flipped byte mid-log refuses to start, naming the
//! file and offset, and `ringhook journal check` reports it.

mod common;

use common::{wait_for, Engine, Sink};
use ringhook::journal::{RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
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

#[test]
fn a_torn_tail_is_truncated_and_nothing_acknowledged_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sink, open) = Sink::gated();
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

/// Rewrites the record at `off` with `mutate` applied to its header and body
/// and a CRC recomputed over them: bytes no torn write can produce.
fn rewrite_record(bytes: &mut [u8], off: usize, mutate: impl FnOnce(&mut [u8], &mut [u8])) {
    let len = u32::from_le_bytes([
        bytes[off + 4],
        bytes[off + 5],
        bytes[off + 6],
        bytes[off + 7],
    ]) as usize;
    let (head, rest) = bytes[off..].split_at_mut(RECORD_HEADER_BYTES as usize);
    let body = &mut rest[..len];
    mutate(head, body);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&head[0..8]), body);
    head[8..12].copy_from_slice(&crc.to_le_bytes());
}

/// The offset of the last record before the end of the data.
fn last_record(bytes: &[u8]) -> usize {
    let end = data_end(bytes) as usize;
    let mut off = SEGMENT_HEADER_BYTES as usize;
    loop {
        let len = u32::from_le_bytes([
            bytes[off + 4],
            bytes[off + 5],
            bytes[off + 6],
            bytes[off + 7],
        ]) as usize;
        let next = (off + RECORD_HEADER_BYTES as usize + len).next_multiple_of(16);
        if next >= end {
            return off;
        }
        off = next;
    }
}

#[test]
fn a_record_with_a_valid_crc_and_an_invalid_body_is_named_and_repairable() {
    // Two ways software writes bytes the engine cannot read: an unknown
    // version, and a body that fails validation. Both sit at the very end of
    // the newest segment, where a torn write would be cut silently.
    for (case, mutate) in [
        (
            "version",
            Box::new(|h: &mut [u8], _: &mut [u8]| h[3] = 9)
                as Box<dyn FnOnce(&mut [u8], &mut [u8])>,
        ),
        ("body", Box::new(|_: &mut [u8], b: &mut [u8]| b.fill(0xff))),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = Sink::start();
        let mut engine = Engine::start(dir.path(), &["--shards", "1"]);
        let app = engine.create_app("invalid");
        engine.create_endpoint(&app, json!({ "url": sink.url("/i") }));
        for i in 0..5 {
            engine.send(&app, "t.x", json!({ "i": i }));
        }
        wait_for("deliveries", DEADLINE, || (sink.count() >= 5).then_some(()));
        assert!(engine.stop(), "clean stop");

        let seg = newest_segment(&engine.data_dir.join("shard-0"));
        let mut bytes = std::fs::read(&seg).expect("read");
        let off = last_record(&bytes);
        rewrite_record(&mut bytes, off, mutate);
        std::fs::write(&seg, &bytes).expect("write");

        let name = seg.file_name().and_then(|n| n.to_str()).expect("name");
        let err = engine.spawn().expect_err("must refuse to start");
        assert!(
            err.contains(name) && err.contains(&format!("offset {off}")) && err.contains("invalid"),
            "{case}: the error names the file, the offset and the reason: {err}"
        );
        let check = Command::new(env!("CARGO_BIN_EXE_ringhook"))
            .args(["journal", "check", "--data-dir"])
            .arg(&engine.data_dir)
            .output()
            .expect("journal check");
        let out = String::from_utf8_lossy(&check.stdout).to_string();
        assert!(!check.status.success(), "{case}: check must fail: {out}");
        assert!(
            out.contains(name) && out.contains(&format!("offset {off}")),
            "{case}: check names file and offset: {out}"
        );
        engine
            .spawn_with(&["--repair"])
            .unwrap_or_else(|e| panic!("{case}: starts with --repair: {e}"));
        let log = |e: &Engine| std::fs::read_to_string(&e.stderr_path).unwrap_or_default();
        assert!(
            engine.stop(),
            "{case}: clean stop after --repair: {}",
            log(&engine)
        );
        engine.spawn().expect("starts again without --repair");
        assert!(engine.stop(), "{case}: clean stop: {}", log(&engine));
    }
}
