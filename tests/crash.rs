//! Crash safety: `kill -9` under continuous ingest, and shard-count changes.
//!
//! Every message acknowledged before the kill must reach every matching
//! endpoint after the restart; the test reports how many arrived twice.

mod common;

use common::{wait_for, Engine, Sink};
use ringhook::ingest::client::IngestClient;
use ringhook::ingest::frame::{Event, EventResult};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

fn event(app: &str, i: u64) -> Event {
    Event {
        app: app.to_string(),
        event_type: "load.tick".into(),
        event_id: None,
        channels: vec![],
        payload: format!("{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(200)).into_bytes(),
    }
}

/// Pushes batches until the connection breaks; returns every acknowledged id.
fn producer(
    socket: std::path::PathBuf,
    app: String,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) {
    let Ok(mut client) = IngestClient::connect(&socket) else {
        return;
    };
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let batch: Vec<Event> = (0..50).map(|k| event(&app, i + k)).collect();
        i += 50;
        match client.send_batch(&batch) {
            Ok(results) => {
                let mut a = acked.lock().expect("lock");
                for r in results {
                    if let EventResult::Accepted { msg_id } = r {
                        a.push(msg_id);
                    }
                }
            }
            Err(_) => return,
        }
    }
}

#[test]
fn kill_9_under_ingest_loses_nothing_acknowledged() {
    interrupted_under_ingest_loses_nothing_acknowledged(Stop::Kill9);
}

#[test]
fn sigterm_under_ingest_drains_and_loses_nothing_acknowledged() {
    interrupted_under_ingest_loses_nothing_acknowledged(Stop::Term);
}

enum Stop {
    Kill9,
    Term,
}

fn interrupted_under_ingest_loses_nothing_acknowledged(how: Stop) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let app = engine.create_app("crash");
    engine.create_endpoint(&app, json!({ "url": sink.url("/a") }));
    engine.create_endpoint(
        &app,
        json!({ "url": sink.url("/b"), "filterTypes": ["load.tick"] }),
    );
    engine.create_endpoint(
        &app,
        json!({ "url": sink.url("/never"), "filterTypes": ["other.type"] }),
    );

    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..2)
        .map(|_| {
            let (s, a, acked, stop) = (
                engine.socket.clone(),
                app.clone(),
                acked.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || producer(s, a, acked, stop))
        })
        .collect();
    // Kill while ingest is in full swing and deliveries are in flight.
    wait_for("3000 acknowledged", DEADLINE, || {
        (acked.lock().expect("lock").len() >= 3000).then_some(())
    });
    match how {
        Stop::Kill9 => engine.kill9(),
        Stop::Term => assert!(engine.stop(), "SIGTERM under load exits cleanly"),
    }
    stop.store(true, Ordering::Relaxed);
    for p in producers {
        let _ = p.join();
    }
    let acked: Vec<String> = acked.lock().expect("lock").clone();
    let delivered_before = sink.count();

    engine.spawn().expect("restart after kill -9");
    let want: HashSet<&String> = acked.iter().collect();
    wait_for(
        "every acknowledged message at both endpoints",
        DEADLINE,
        || {
            let got = sink.received();
            let mut per: HashMap<&str, HashSet<String>> = HashMap::new();
            for r in &got {
                per.entry(if r.path == "/a" {
                    "a"
                } else if r.path == "/b" {
                    "b"
                } else {
                    "other"
                })
                .or_default()
                .insert(r.webhook_id().to_string());
            }
            let complete = ["a", "b"].iter().all(|k| {
                per.get(k)
                    .is_some_and(|s| want.iter().all(|id| s.contains(*id)))
            });
            complete.then_some(())
        },
    );
    let got = sink.received();
    assert!(
        got.iter().all(|r| r.path != "/never"),
        "filtered endpoint received nothing"
    );
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for r in &got {
        *seen
            .entry((r.path.clone(), r.webhook_id().to_string()))
            .or_default() += 1;
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "interruption test: {} acknowledged before the stop, {} deliveries before the kill, {} in total, {} delivered twice",
        acked.len(),
        delivered_before,
        got.len(),
        duplicates
    );
}

#[test]
fn changing_the_shard_count_loses_nothing_pending() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Deliveries stay pending while `open` is false: the sink answers 503.
    let open = Arc::new(AtomicBool::new(false));
    let gate = open.clone();
    let sink = Sink::with_policy(Arc::new(move |_, _| {
        if gate.load(Ordering::Relaxed) {
            204
        } else {
            503
        }
    }));
    let schedule = ["--retry-schedule", "0s,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"];
    let mut engine = Engine::start(dir.path(), &[schedule[0], schedule[1], "--shards", "2"]);
    let app = engine.create_app("reshard");
    let endpoints: Vec<String> = (0..8)
        .map(|i| {
            engine.create_endpoint(&app, json!({ "url": sink.url(&format!("/ep{i}")) }))["id"]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    assert_eq!(endpoints.len(), 8);
    let mut all = Vec::new();
    for (round, shards) in [(0, "3"), (1, "1")] {
        let ids: Vec<String> = (0..10)
            .map(|i| engine.send(&app, "t.x", json!({ "round": round, "i": i })))
            .collect();
        // Wait until every delivery has been tried (and refused) at least once.
        wait_for("first attempts", DEADLINE, || {
            let tried: HashSet<(String, String)> = sink
                .all()
                .iter()
                .map(|(r, _)| (r.path.clone(), r.webhook_id().to_string()))
                .collect();
            (ids.iter()
                .all(|id| (0..8).all(|e| tried.contains(&(format!("/ep{e}"), id.clone())))))
            .then_some(())
        });
        engine.kill9();
        all.extend(ids);
        engine
            .spawn_with(&["--shards", shards])
            .expect("restart with another shard count");
    }
    open.store(true, Ordering::Relaxed);
    wait_for(
        "all 160 deliveries after two shard-count changes",
        DEADLINE,
        || {
            let got: HashSet<(String, String)> = sink
                .received()
                .iter()
                .map(|r| (r.path.clone(), r.webhook_id().to_string()))
                .collect();
            all.iter()
                .all(|id| (0..8).all(|e| got.contains(&(format!("/ep{e}"), id.clone()))))
                .then_some(())
        },
    );
}
