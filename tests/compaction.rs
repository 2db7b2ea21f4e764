//! Compaction: old segments are deleted once past retention, but never one
//! that a pending delivery still needs after a restart.

mod common;

use common::{wait_for, Engine, Sink};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

fn segment_seqs(dir: &Path) -> Vec<u64> {
    let mut seqs: Vec<u64> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    u64::from_str_radix(name.strip_suffix(".seg")?, 16).ok()
                })
                .collect()
        })
        .unwrap_or_default();
    seqs.sort_unstable();
    seqs
}

/// A config file keeping journal segments (64 KiB) for a second, compacted
/// every 100 ms; its path.
fn short_retention(dir: &Path) -> String {
    let config = dir.join("ringhook.toml");
    std::fs::write(
        &config,
        "retention_ms = 1000\nidempotency_window_ms = 1000\ncompaction_interval_ms = 100\nsegment_bytes = 65536\n",
    )
    .expect("config");
    config.to_str().expect("utf-8").to_string()
}

#[test]
fn old_segments_go_but_pending_deliveries_keep_theirs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = short_retention(dir.path());
    let open = Arc::new(AtomicBool::new(false));
    let gate = open.clone();
    let sink = Sink::with_policy(Arc::new(move |r, _| {
        if r.path == "/held" && !gate.load(Ordering::Relaxed) {
            503
        } else {
            204
        }
    }));
    let schedule = format!("0s,{}", vec!["200ms"; 60].join(","));
    let mut engine = Engine::start(
        dir.path(),
        &[
            "--config",
            &config,
            "--shards",
            "1",
            "--retry-schedule",
            &schedule,
            "--segment-bytes",
            "65536",
        ],
    );
    let app = engine.create_app("compaction");
    engine.create_endpoint(
        &app,
        json!({ "url": sink.url("/bulk"), "filterTypes": ["bulk"] }),
    );
    engine.create_endpoint(
        &app,
        json!({ "url": sink.url("/held"), "filterTypes": ["held"] }),
    );
    let pad = "x".repeat(3000);
    let mut bulk = Vec::new();
    for i in 0..60 {
        bulk.push(engine.send(&app, "bulk", json!({ "i": i, "pad": pad })));
    }
    let held: Vec<String> = (0..5)
        .map(|i| engine.send(&app, "held", json!({ "held": i })))
        .collect();
    for i in 60..120 {
        bulk.push(engine.send(&app, "bulk", json!({ "i": i, "pad": pad })));
    }
    wait_for("bulk deliveries", DEADLINE, || {
        (sink.received().iter().filter(|r| r.path == "/bulk").count() >= 120).then_some(())
    });

    // The segments before the held messages go; theirs and later stay.
    let shard_dir = engine.data_dir.join("shard-0");
    let before = segment_seqs(&shard_dir);
    assert!(
        before.last().is_some_and(|s| *s >= 5),
        "the test needs many segments: {before:?}"
    );
    let after = wait_for("old segments deleted", DEADLINE, || {
        let now = segment_seqs(&shard_dir);
        (now.first().is_some_and(|s| *s > 1)).then_some(now)
    });
    assert!(
        after.len() >= 2,
        "the held messages' segments stay: {after:?}"
    );

    // After a crash, the held deliveries are recovered from what is left.
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
    open.store(true, Ordering::Relaxed);
    engine.spawn().expect("restart after compaction");
    wait_for("held messages delivered after restart", DEADLINE, || {
        let got = sink.ids();
        held.iter().all(|id| got.contains(id)).then_some(())
    });
    // Recovered deliveries read their payload back from the journal.
    let bodies: Vec<serde_json::Value> = sink
        .received()
        .iter()
        .filter(|r| r.path == "/held")
        .map(|r| r.json())
        .collect();
    for i in 0..5 {
        assert!(
            bodies.contains(&json!({ "held": i })),
            "payload {i} intact: {bodies:?}"
        );
    }
}

#[test]
fn journals_of_removed_shards_are_compacted_away() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ringhook.toml");
    std::fs::write(
        &config,
        "retention_ms = 500\nidempotency_window_ms = 500\ncompaction_interval_ms = 100\n",
    )
    .expect("config");
    let config = config.to_str().expect("utf-8").to_string();
    let sink = Sink::start();
    let mut engine = Engine::start(dir.path(), &["--config", &config, "--shards", "2"]);
    let app = engine.create_app("retire");
    for i in 0..4 {
        engine.create_endpoint(&app, json!({ "url": sink.url(&format!("/r{i}")) }));
    }
    let ids: Vec<String> = (0..20)
        .map(|i| engine.send(&app, "r.x", json!({ "i": i })))
        .collect();
    wait_for("80 deliveries", DEADLINE, || {
        (sink.count() >= 80).then_some(())
    });
    assert!(engine.stop());
    let retired = engine.data_dir.join("shard-1");
    assert!(
        !segment_seqs(&retired).is_empty(),
        "shard 1 wrote a journal"
    );

    // With one shard, shard 1's journal is read at start, then compacted
    // away once past retention, directory and all.
    engine
        .spawn_with(&["--shards", "1"])
        .expect("restart with one shard");
    wait_for("retired journal removed", DEADLINE, || {
        (!retired.exists()).then_some(())
    });
    let more = engine.send(&app, "r.x", json!({ "after": true }));
    wait_for("delivery after compaction", DEADLINE, || {
        sink.ids().contains(&more).then_some(())
    });
    engine.kill9();
    engine
        .spawn()
        .expect("restart after the retired journal is gone");
    assert_eq!(ids.len(), 20);
}

/// A message's record is in its application's home journal, its attempts
/// in its endpoint's owner's. When the owner's segment holding a finished
/// delivery's attempt is deleted while the message's segment stays (here
/// the home journal's active one), a restart must not deliver it again:
/// compaction's horizon (`compacted-before`) says no delivery was pending
/// for a message that old.
#[test]
fn a_finished_delivery_whose_attempt_was_compacted_is_not_sent_again() {
    use ringhook::placement::Placement;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = short_retention(dir.path());
    let sink = Sink::start();
    let mut engine = Engine::start(
        dir.path(),
        &[
            "--config",
            &config,
            "--shards",
            "2",
            "--segment-bytes",
            "65536",
        ],
    );
    let placement = Placement::new(2);
    // Two applications with different homes, and an endpoint of the first
    // owned by the second's home.
    let quiet = engine.create_app("quiet");
    let home = placement.home_of_app(&quiet);
    let busy = (0..64)
        .map(|i| engine.create_app(&format!("busy{i}")))
        .find(|a| placement.home_of_app(a) != home)
        .expect("an application homed on the other shard");
    let owner = 1 - home;
    // Endpoints of the first on the second's home go on until one is owned
    // by it (those owned by the first's home get the messages too).
    let watched = (0..64)
        .map(|i| {
            let path = format!("/w{i}");
            let ep = engine.create_endpoint(&quiet, json!({ "url": sink.url(&path) }));
            (ep["id"].as_str().expect("endpoint id").to_string(), path)
        })
        .find(|(id, _)| placement.owner_of_endpoint(id) == owner)
        .map(|(_, path)| path)
        .expect("an endpoint owned by the other shard");
    let to_watched = |id: &str| {
        sink.received()
            .iter()
            .filter(|r| r.path == watched && r.webhook_id() == id)
            .count()
    };
    engine.create_endpoint(&busy, json!({ "url": sink.url("/bulk") }));

    let once = engine.send(&quiet, "w.x", json!({ "once": true }));
    wait_for("the watched delivery", DEADLINE, || {
        (to_watched(&once) == 1).then_some(())
    });
    // The owner's journal rolls past the attempt's segment and deletes it.
    let owner_dir = engine.data_dir.join(format!("shard-{owner}"));
    let pad = "x".repeat(3000);
    for i in 0..60 {
        engine.send(&busy, "b.x", json!({ "i": i, "pad": pad }));
    }
    wait_for("the owner's first segment deleted", DEADLINE, || {
        segment_seqs(&owner_dir)
            .first()
            .is_some_and(|s| *s > 1)
            .then_some(())
    });
    let home_dir = engine.data_dir.join(format!("shard-{home}"));
    assert_eq!(
        segment_seqs(&home_dir).first(),
        Some(&1),
        "the message's segment stays"
    );

    engine.kill9();
    engine.spawn().expect("restart after compaction");
    let after = engine.send(&quiet, "w.x", json!({ "after": true }));
    wait_for("a delivery after the restart", DEADLINE, || {
        (to_watched(&after) == 1).then_some(())
    });
    assert_eq!(
        to_watched(&once),
        1,
        "the finished delivery was not sent again"
    );
}

/// A horizon ahead of the clock (a host whose clock is behind, a data
/// directory moved) is not applied: a pending delivery stays pending, it
/// may repeat but is never dropped.
#[test]
fn a_horizon_ahead_of_the_clock_drops_no_pending_delivery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sink, open) = Sink::gated();
    let mut engine = Engine::start(
        dir.path(),
        &["--shards", "1", "--retry-schedule", "0s,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms"],
    );
    let app = engine.create_app("ahead");
    engine.create_endpoint(&app, json!({ "url": sink.url("/held") }));
    let held = engine.send(&app, "a.x", json!({ "held": true }));
    wait_for("a failed attempt", DEADLINE, || {
        (!sink.all().is_empty()).then_some(())
    });
    engine.kill9();
    let future_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
        + 86_400_000;
    std::fs::write(
        engine.data_dir.join("shard-0").join("compacted-before"),
        format!("{future_ms:020}\n"),
    )
    .expect("horizon");
    engine.spawn().expect("restart");
    open.store(true, Ordering::Relaxed);
    wait_for("the pending delivery after the restart", DEADLINE, || {
        sink.ids().contains(&held).then_some(())
    });
}
