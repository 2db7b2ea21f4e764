//! FIFO endpoints (issue 15): a 1,000-message burst over the socket, with
//! failures injected by the receiver, a message that exhausts its schedule,
//! a `kill -9` in the middle and a restart with another shard count,
//! arrives in the order ringhook accepted it, one request at a time, with
//! only the message in flight at the crash possibly repeated. The line's
//! blocked age shows in the endpoint's stats and in `/metrics`.

mod common;

use common::{wait_for, Engine, Received, Sink};
use ringhook::ingest::client::IngestClient;
use ringhook::ingest::frame::{Event, EventResult};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(90);
const MESSAGES: u64 = 1_000;
/// The message the receiver always refuses: it exhausts its schedule and
/// the line goes on without it.
const REFUSED: u64 = 500;

fn n_of(r: &Received) -> u64 {
    r.json()["n"].as_u64().expect("n in the body")
}

fn burst(socket: &std::path::Path, app: &str) -> usize {
    let mut client = IngestClient::connect(socket).expect("connect the ingest socket");
    let mut accepted = 0;
    for start in (0..MESSAGES).step_by(50) {
        let batch: Vec<Event> = (start..start + 50)
            .map(|n| Event {
                app: app.to_string(),
                event_type: "order.step".into(),
                event_id: None,
                channels: vec![],
                payload: format!("{{\"n\":{n}}}").into_bytes(),
            })
            .collect();
        let results = client.send_batch(&batch).expect("batch answered");
        accepted += results
            .iter()
            .filter(|r| matches!(r, EventResult::Accepted { .. }))
            .count();
    }
    accepted
}

fn is_sorted(ns: &[u64]) -> bool {
    ns.windows(2).all(|w| w[0] <= w[1])
}

#[test]
fn a_burst_arrives_in_accepted_order_across_failures_kill_9_and_a_new_shard_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Every seventh message is refused once; REFUSED always.
    let sink = Sink::with_policy(Arc::new(|r: &Received, k: usize| {
        let n = n_of(r);
        match n == REFUSED || (n % 7 == 3 && k == 0) {
            true => 503,
            false => 204,
        }
    }));
    let schedule = ["--retry-schedule", "0s,20ms,20ms"];
    let mut engine = Engine::start(dir.path(), &[schedule[0], schedule[1], "--shards", "2"]);
    let app = engine.create_app("ordered");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/fifo"), "fifo": true }));
    let ep_id = ep["id"].as_str().expect("id").to_string();
    assert_eq!(ep["fifo"], true, "{ep}");
    // The order is fixed at creation.
    let path = format!("/api/v1/app/{app}/endpoint/{ep_id}");
    let (s, v) = engine.api("PATCH", &path, Some(json!({ "fifo": false })));
    assert_eq!((s, &v["detail"][0]["loc"][1]), (422, &json!("fifo")), "{v}");
    let (s, v) = engine.api(
        "PATCH",
        &path,
        Some(json!({ "fifo": true, "description": "in order" })),
    );
    assert_eq!((s, &v["fifo"]), (200, &json!(true)), "{v}");

    assert_eq!(burst(&engine.socket, &app), MESSAGES as usize);
    wait_for("300 deliveries before the crash", DEADLINE, || {
        (sink.count() >= 300).then_some(())
    });
    engine.kill9();
    let cut = sink.all().len();
    engine
        .spawn_with(&["--shards", "1"])
        .expect("restart with one shard");
    wait_for("every message but the refused one", DEADLINE, || {
        let done: HashSet<u64> = sink.received().iter().map(n_of).collect();
        (done.len() == MESSAGES as usize - 1).then_some(())
    });

    let all = sink.all();
    let ns: Vec<u64> = all.iter().map(|(r, _)| n_of(r)).collect();
    let (before, after) = ns.split_at(cut);
    assert!(is_sorted(before), "in order before the crash: {before:?}");
    assert!(is_sorted(after), "in order after the restart: {after:?}");
    let last_ok_before = all[..cut]
        .iter()
        .filter(|(_, status)| *status == 204)
        .map(|(r, _)| n_of(r))
        .max()
        .expect("deliveries before the crash");
    assert!(
        after.first().is_some_and(|first| *first >= last_ok_before),
        "only the message in flight may come again: {last_ok_before} then {:?}",
        after.first()
    );
    let mut successes: HashMap<u64, usize> = HashMap::new();
    for (r, status) in &all {
        if *status == 204 {
            *successes.entry(n_of(r)).or_default() += 1;
        }
    }
    let repeated: Vec<_> = successes.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        repeated.len() <= 1,
        "at most the in-flight one twice: {repeated:?}"
    );
    assert!(!successes.contains_key(&REFUSED));
    let refused = ns.iter().filter(|n| **n == REFUSED).count();
    assert!(
        refused >= 3,
        "the refused message used its whole schedule: {refused}"
    );
    // The first try of each seventh message failed and was retried in place.
    for n in (3..MESSAGES).step_by(7).filter(|n| *n != REFUSED) {
        assert!(
            ns.iter().filter(|m| **m == n).count() >= 2,
            "message {n} was retried"
        );
    }
    // The line is empty: nothing held, nothing blocked.
    let (_, stats) = engine.api("GET", &format!("{path}/stats"), None);
    assert_eq!(
        stats["fifo"],
        json!({ "held": 0, "blockedSince": null }),
        "{stats}"
    );
}

#[test]
fn a_failing_head_holds_the_line_and_shows_its_blocked_age() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::with_policy(Arc::new(|r: &Received, _| {
        match r.path == "/fifo" && n_of(r) == 0 {
            true => 503,
            false => 204,
        }
    }));
    let engine = Engine::start(dir.path(), &["--retry-schedule", "0s,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms"]);
    let app = engine.create_app("blocked");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/fifo"), "fifo": true }));
    let ep_id = ep["id"].as_str().expect("id").to_string();
    let plain = engine.create_endpoint(&app, json!({ "url": sink.url("/plain") }));
    assert_eq!(plain["fifo"], false);
    for n in 0..3 {
        engine.send(&app, "order.step", json!({ "n": n }));
    }
    let stats_path = format!("/api/v1/app/{app}/endpoint/{ep_id}/stats");
    let stats = wait_for("two held behind a failing head", DEADLINE, || {
        let (_, v) = engine.api("GET", &stats_path, None);
        (v["fifo"]["held"] == 2 && v["fifo"]["blockedSince"].is_string()).then_some(v)
    });
    assert_eq!(
        stats["pending"].as_u64().unwrap_or(0) + stats["sending"].as_u64().unwrap_or(0),
        3,
        "{stats}"
    );
    // The plain endpoint is not held back by the FIFO one.
    wait_for("the plain endpoint gets all three", DEADLINE, || {
        let got = sink
            .received()
            .iter()
            .filter(|r| r.path == "/plain")
            .count();
        (got == 3).then_some(())
    });
    assert!(
        sink.all()
            .iter()
            .all(|(r, _)| r.path != "/fifo" || n_of(r) == 0),
        "nothing behind the head was sent"
    );
    let metrics = wait_for("the blocked age in /metrics", DEADLINE, || {
        let text = engine.metrics()?;
        let held: f64 = text
            .lines()
            .filter(|l| l.starts_with("ringhook_fifo_held{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        let blocked = text
            .lines()
            .filter(|l| l.starts_with("ringhook_fifo_blocked_seconds_max{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .fold(0.0, f64::max);
        (held == 2.0 && blocked >= 1.0).then_some(text)
    });
    assert!(metrics.contains("# TYPE ringhook_fifo_held gauge"));
}
