//! Replays and endpoint stats (issue 14), driven by the official `svix` SDK
//! against a real engine and receiver: `replay_missing` sends a new
//! endpoint what it missed, `bulk_replay` resends what was sent, both as
//! background tasks; stats over a range.

mod common;

use common::{Engine, Sink, TOKEN};

#[test]
fn the_svix_sdk_replays_and_reads_stats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let out = common::run_python_script(
        "replay_sdk.py",
        &[
            format!("http://{}", engine.http),
            TOKEN.into(),
            sink.url(""),
        ],
    );
    assert!(out.contains("ok"), "{out}");
    // The receiver saw it all: three to a, three replayed to a, three to b.
    let count = |p: &str| sink.received().iter().filter(|r| r.path == p).count();
    assert_eq!((count("/a"), count("/b")), (6, 3));
}
