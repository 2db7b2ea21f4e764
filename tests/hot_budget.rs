//! A backlog behind a slow endpoint keeps its messages in memory only up to
//! the shard's budget (`max_hot_ready_bytes_per_shard`): past it, waiting
//! deliveries let go of their messages and their attempts read them back
//! from the journal. Every message still arrives whole and once.

mod common;

use common::{wait_for, Engine, Sink};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

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
        // One request at a time to the endpoint, so the backlog builds.
        &format!(
            "max_hot_ready_bytes_per_shard = {BUDGET}\nmax_in_flight_per_endpoint = 1\npipeline_depth = 1\n"
        ),
        &["--shards", "1"],
    );
    // A slow receiver: 100 ms an answer.
    let sink = Sink::with_policy(Arc::new(|_, _| {
        std::thread::sleep(Duration::from_millis(100));
        204
    }));
    let app = engine.create_app("hot");
    engine.create_endpoint(&app, json!({ "url": sink.url("/slow") }));
    // 80 messages of ~100 KB: 8 MB of payloads, eight times the budget.
    let mut sent = Vec::new();
    for i in 0..80 {
        let blob = format!("{i:03}").repeat(33_000);
        let id = engine.send(&app, "big.x", json!({ "i": i, "blob": blob }));
        sent.push((id, i, blob));
    }
    // While the backlog drains, the ready queues hold more deliveries than
    // the budget has room for messages, and never more bytes than it.
    let mut deepest = 0;
    wait_for("every message delivered", DEADLINE, || {
        let bytes = gauge(&engine, "ringhook_ready_queue_message_bytes")?;
        assert!(
            bytes <= BUDGET,
            "{bytes} bytes of messages held, budget {BUDGET}"
        );
        deepest = deepest.max(gauge(&engine, "ringhook_ready_queue_depth")?);
        (sink.ids().len() >= sent.len()).then_some(())
    });
    assert!(
        deepest * 100_000 > BUDGET,
        "the backlog outgrew the budget (deepest queue {deepest})"
    );
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
