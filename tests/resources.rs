//! The engine out of file descriptors: a retry whose message cannot be read
//! back from the journal for an I/O reason waits and tries again; it is not
//! dropped, and every message is delivered once descriptors are back.

mod common;

use common::{wait_for, Engine, Sink};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

/// Sets the soft limit on open files of process `pid`.
fn set_soft_nofile(pid: u32, soft: u64) {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit with a valid, owned struct; reading first keeps the hard limit.
    let rc = unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
    assert_eq!(rc, 0, "read the engine's limit");
    let new = libc::rlimit {
        rlim_cur: soft.min(old.rlim_max),
        rlim_max: old.rlim_max,
    };
    // SAFETY: as above; lowering or restoring the soft limit needs no privilege.
    let rc = unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "set the engine's limit");
}

#[test]
fn retries_wait_out_descriptor_exhaustion_and_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    // First attempts fail; the retry 3 s later (cold: the message is read
    // back from the journal then) succeeds.
    let engine = Engine::start(dir.path(), &["--retry-schedule", "0s,3s,1s,1s,1s,1s"]);
    let sink = Sink::with_policy(Arc::new(|_, nth| if nth == 0 { 500 } else { 204 }));
    let app = engine.create_app("fds");
    engine.create_endpoint(&app, json!({ "url": sink.url("/hook") }));
    let ids: Vec<String> = (0..20)
        .map(|i| engine.send(&app, "a.b", json!({ "i": i })))
        .collect();
    wait_for("every first attempt answered 500", DEADLINE, || {
        (sink.all().len() >= ids.len()).then_some(())
    });
    let pid = engine.child.as_ref().expect("running").id();
    // No descriptor can be opened now (those open stay usable): reading a
    // message back from the journal fails.
    set_soft_nofile(pid, 0);
    wait_for("a retry waiting for descriptors", DEADLINE, || {
        let log = std::fs::read_to_string(&engine.stderr_path).unwrap_or_default();
        log.contains("waits 1000 ms").then_some(())
    });
    set_soft_nofile(pid, 1 << 16);
    wait_for("every message delivered", DEADLINE, || {
        let got = sink.ids();
        ids.iter().all(|id| got.contains(id)).then_some(())
    });
    let log = std::fs::read_to_string(&engine.stderr_path).unwrap_or_default();
    assert!(!log.contains("dropped"), "nothing dropped:\n{log}");
}

/// Connections a shard may hold in `connections_stay_within_the_shard_budget`.
const BUDGET: usize = 4;

#[test]
fn connections_stay_within_the_shard_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(
        dir.path(),
        &[
            "--shards",
            "1",
            "--max-connections-per-shard",
            &BUDGET.to_string(),
        ],
    );
    // A slow receiver: every endpoint would want connections of its own
    // (one each at first, more once it is known to be slow).
    let sink = Sink::with_policy(Arc::new(|_, _| {
        std::thread::sleep(Duration::from_millis(10));
        204
    }));
    let app = engine.create_app("budget");
    let endpoints = 40;
    for i in 0..endpoints {
        engine.create_endpoint(&app, json!({ "url": sink.url(&format!("/ep{i}")) }));
    }
    let ids: Vec<String> = (0..5)
        .map(|i| engine.send(&app, "a.b", json!({ "i": i })))
        .collect();
    wait_for("every delivery made", Duration::from_secs(60), || {
        (sink.count() >= ids.len() * endpoints).then_some(())
    });
    let mut pairs: Vec<(String, String)> = sink
        .received()
        .iter()
        .map(|r| (r.path.clone(), r.webhook_id().to_string()))
        .collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), ids.len() * endpoints, "each delivery once");
    assert_eq!(sink.count(), ids.len() * endpoints, "no duplicates");
    // The sink counts a connection until it reads its end, which can lag the
    // engine's close by a moment when a connection's room passes on: allow
    // one such overlap per connection of the budget.
    let most = sink.max_open.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=2 * BUDGET).contains(&most),
        "at most {} connections at once, saw {most}",
        2 * BUDGET
    );
}

#[test]
fn endpoints_take_turns_when_the_budget_is_full() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(
        dir.path(),
        &["--shards", "1", "--max-connections-per-shard", "1"],
    );
    let sink = Sink::with_policy(Arc::new(|_, _| {
        std::thread::sleep(Duration::from_millis(20));
        204
    }));
    let app = engine.create_app("turns");
    engine.create_endpoint(
        &app,
        json!({ "url": sink.url("/busy"), "filterTypes": ["busy.x"] }),
    );
    engine.create_endpoint(
        &app,
        json!({ "url": sink.url("/quiet"), "filterTypes": ["quiet.x"] }),
    );
    let backlog = 30;
    for i in 0..backlog {
        engine.send(&app, "busy.x", json!({ "i": i }));
    }
    // The busy endpoint holds the shard's one connection now.
    wait_for("the busy endpoint's first delivery", DEADLINE, || {
        (sink.count() >= 1).then_some(())
    });
    engine.send(&app, "quiet.x", json!({ "q": 1 }));
    wait_for("every delivery", DEADLINE, || {
        (sink.count() > backlog).then_some(())
    });
    let paths: Vec<String> = sink.received().iter().map(|r| r.path.clone()).collect();
    let quiet_at = paths
        .iter()
        .position(|p| p == "/quiet")
        .expect("the quiet endpoint's delivery");
    // Without turns it would wait for the whole backlog (position 30).
    assert!(
        quiet_at < 10,
        "the quiet endpoint waited behind {quiet_at} of the busy one's deliveries: {paths:?}"
    );
    assert_eq!(paths.len(), backlog + 1, "each delivery once");
}
