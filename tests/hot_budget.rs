//! A backlog behind a slow endpoint keeps its messages in memory only up to
//! the shard's budget (`max_hot_ready_bytes_per_shard`): past it, waiting
//! deliveries let go of their messages and their attempts read them back
//! from the journal. Every message still arrives whole and once.

mod common;

use common::{wait_for, Engine, Sink};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);
const BUDGET: u64 = 1024 * 1024;

fn gauge(engine: &Engine, name: &str) -> Option<u64> {
    let text = engine.metrics()?;
    let sum: f64 = text
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    Some(sum as u64)
}

#[test]
fn a_backlog_past_the_hot_budget_waits_without_its_messages_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start_configured(
        dir.path(),
        // One request at a time to the endpoint.
        &format!(
            "max_hot_ready_bytes_per_shard = {BUDGET}\nmax_in_flight_per_endpoint = 1\npipeline_depth = 1\n"
        ),
        &["--shards", "1"],
    );
    // A receiver that answers nothing until the gate opens: the backlog
    // builds whatever the machine's speed.
    let gate = Arc::new(AtomicBool::new(false));
    let sink = {
        let gate = gate.clone();
        Sink::with_policy(Arc::new(move |_, _| {
            let until = Instant::now() + DEADLINE;
            while !gate.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            204
        }))
    };
    let app = engine.create_app("hot");
    engine.create_endpoint(&app, json!({ "url": sink.url("/slow") }));
    // 80 messages of ~100 KB: 8 MB of payloads, eight times the budget.
    let mut sent = Vec::new();
    for i in 0..80 {
        let blob = format!("{i:03}").repeat(33_000);
        let id = engine.send(&app, "big.x", json!({ "i": i, "blob": blob }));
        sent.push((id, i, blob));
    }
    // All but the one in flight wait in the ready queue, holding no more
    // bytes of messages than the budget: most of them wait without theirs.
    wait_for("the backlog queued", DEADLINE, || {
        (gauge(&engine, "ringhook_ready_queue_depth")? >= 79).then_some(())
    });
    let held = gauge(&engine, "ringhook_ready_queue_message_bytes").expect("gauge");
    assert!(
        held <= BUDGET,
        "{held} bytes of messages held, budget {BUDGET}"
    );
    assert!(held > 0, "the first deliveries keep their messages");
    gate.store(true, Ordering::SeqCst);
    wait_for("every message delivered", DEADLINE, || {
        let bytes = gauge(&engine, "ringhook_ready_queue_message_bytes")?;
        assert!(
            bytes <= BUDGET,
            "{bytes} bytes of messages held, budget {BUDGET}"
        );
        (sink.ids().len() >= sent.len()).then_some(())
    });
    // Each arrived once, whole: those that waited without their message
    // were read back from the journal.
    let got = sink.all();
    for (id, i, blob) in &sent {
        let copies: Vec<_> = got.iter().filter(|(r, _)| r.webhook_id() == id).collect();
        assert_eq!(copies.len(), 1, "message {i} delivered once");
        let body = copies[0].0.json();
        assert_eq!(body["i"], json!(i), "message {i}'s payload");
        assert_eq!(
            body["blob"].as_str(),
            Some(blob.as_str()),
            "message {i} whole"
        );
    }
}
