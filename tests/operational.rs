//! Operational webhooks (issue 13): operators' endpoints receive
//! `endpoint.*` and `message.attempt.*` events through the durable
//! pipeline, signed (verified with `standardwebhooks`), driven by the
//! official SDK, never looping, and not lost or doubled across `kill -9`.

mod common;

use common::{wait_for, Engine, Received, Sink, TOKEN};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn ops_events(sink: &Sink) -> Vec<(Received, Value)> {
    sink.received()
        .into_iter()
        .filter(|r| r.path == "/ops")
        .map(|r| {
            let v = r.json();
            (r, v)
        })
        .collect()
}

fn of_type(events: &[(Received, Value)], t: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|(_, v)| v["type"] == t)
        .map(|(_, v)| v.clone())
        .collect()
}

fn receiver() -> Sink {
    Sink::with_policy(Arc::new(|r, _| match r.path.as_str() {
        "/gone" => 410,
        "/fail" => 500,
        _ => 204,
    }))
}

#[test]
fn operators_hear_of_disables_failures_and_endpoint_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--retry-schedule", "0s,50ms,50ms,50ms,50ms"]);
    let sink = receiver();
    let (s, ops) = engine.api(
        "POST",
        "/api/v1/operational-webhook/endpoint",
        Some(json!({ "url": sink.url("/ops"), "description": "pager" })),
    );
    assert_eq!(s, 201, "{ops}");
    let ops_id = ops["id"].as_str().expect("id").to_string();
    let app = engine.create_app("customer");
    let id = |v: Value| v["id"].as_str().expect("id").to_string();
    let gone = id(engine.create_endpoint(&app, json!({ "url": sink.url("/gone") })));
    let failing = id(engine.create_endpoint(&app, json!({ "url": sink.url("/fail") })));
    let msg = engine.send(&app, "order.paid", json!({ "n": 1 }));

    let events = wait_for("disable, failing and exhausted events", DEADLINE, || {
        let e = ops_events(&sink);
        (!of_type(&e, "endpoint.disabled").is_empty()
            && of_type(&e, "message.attempt.exhausted").len() >= 2)
            .then_some(e)
    });
    let created = of_type(&events, "endpoint.created");
    assert_eq!(created.len(), 2, "{created:?}");
    assert_eq!(created[0]["data"]["appId"], app.as_str());
    let disabled = of_type(&events, "endpoint.disabled");
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0]["data"]["endpointId"], gone.as_str());
    assert_eq!(disabled[0]["data"]["trigger"], "automatic");
    assert!(
        disabled[0]["data"]["failSince"].is_string(),
        "{}",
        disabled[0]
    );
    let failing_ev = of_type(&events, "message.attempt.failing");
    assert_eq!(failing_ev.len(), 1, "once, at the fourth failure");
    let exhausted = of_type(&events, "message.attempt.exhausted");
    // The 410 endpoint's delivery ended at its only attempt, the other's
    // after five.
    assert_eq!(exhausted.len(), 2, "{exhausted:?}");
    let last = exhausted
        .iter()
        .find(|e| e["data"]["endpointId"] == failing.as_str())
        .expect("the failing endpoint's");
    assert_eq!(last["data"]["msgId"], msg.as_str());
    assert_eq!(last["data"]["lastAttempt"]["responseStatusCode"], 500);

    // Signed like every delivery, with the operational endpoint's secret.
    let (_, secret) = engine.api(
        "GET",
        &format!("/api/v1/operational-webhook/endpoint/{ops_id}/secret"),
        None,
    );
    let received: Vec<Received> = events.into_iter().map(|(r, _)| r).collect();
    let key = secret["key"].as_str().expect("key");
    assert_eq!(
        common::verify_with_python(key, &received, dir.path()),
        received.len()
    );

    // A resend that fails again is a new series: a new exhausted event.
    let (s, _) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/msg/{msg}/endpoint/{failing}/resend"),
        Some(json!({})),
    );
    assert_eq!(s, 202);
    wait_for("the resend's exhausted event", DEADLINE, || {
        (of_type(&ops_events(&sink), "message.attempt.exhausted").len() >= 3).then_some(())
    });

    // A background task's end.
    let (s, task) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/endpoint/{failing}/recover"),
        Some(json!({ "since": "2020-01-01T00:00:00Z" })),
    );
    assert_eq!(s, 202, "{task}");
    let finished = wait_for("background_task.finished", DEADLINE, || {
        let e = of_type(&ops_events(&sink), "background_task.finished");
        (!e.is_empty()).then_some(e)
    });
    assert_eq!(finished[0]["data"]["taskId"], task["id"]);
    assert_eq!(finished[0]["data"]["status"], "finished");

    // Manual changes: updated, disabled (manual), enabled, deleted.
    let path = format!("/api/v1/app/{app}/endpoint/{failing}");
    assert_eq!(
        engine
            .api("PATCH", &path, Some(json!({ "disabled": true })))
            .0,
        200
    );
    assert_eq!(
        engine
            .api("PATCH", &path, Some(json!({ "disabled": false })))
            .0,
        200
    );
    assert_eq!(engine.api("DELETE", &path, None).0, 204);
    let events = wait_for("manual events", DEADLINE, || {
        let e = ops_events(&sink);
        (!of_type(&e, "endpoint.deleted").is_empty()).then_some(e)
    });
    assert_eq!(of_type(&events, "endpoint.enabled").len(), 1);
    assert!(of_type(&events, "endpoint.disabled")
        .iter()
        .any(|e| e["data"]["trigger"] == "manual"));
    assert!(of_type(&events, "endpoint.updated").len() >= 2);

    // ringhook's own application: not listed, not changeable, not a
    // subject of its own events (no endpoint.created for the ops endpoint).
    let (_, apps) = engine.api("GET", "/api/v1/app", None);
    assert_eq!(apps["data"].as_array().map(Vec::len), Some(1), "{apps}");
    let (s, v) = engine.api("DELETE", "/api/v1/app/app_operational", None);
    assert_eq!((s, v["code"].as_str()), (409, Some("owned_by_ringhook")));
    assert!(ops_events(&sink)
        .iter()
        .all(|(_, v)| v["data"]["endpointId"] != ops_id.as_str()));
}

/// `kill -9` while a delivery runs out of attempts: after the restart its
/// `message.attempt.exhausted` arrives, once.
#[test]
fn kill_9_loses_no_notification_and_doubles_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &["--retry-schedule", "0s,300ms,300ms"]);
    let sink = receiver();
    let (s, _) = engine.api(
        "POST",
        "/api/v1/operational-webhook/endpoint",
        Some(json!({ "url": sink.url("/ops"), "eventTypes": ["message.attempt.exhausted"] })),
    );
    assert_eq!(s, 201);
    let app = engine.create_app("customer");
    engine.create_endpoint(&app, json!({ "url": sink.url("/fail") }));
    let msgs: Vec<String> = (0..5)
        .map(|i| engine.send(&app, "a.b", json!({ "i": i })))
        .collect();
    wait_for("first failures", DEADLINE, || {
        (sink.all().iter().filter(|(r, _)| r.path == "/fail").count() >= 5).then_some(())
    });
    engine.kill9();
    engine.spawn().expect("restart");
    let events = wait_for("an exhausted event per message", DEADLINE, || {
        let e = of_type(&ops_events(&sink), "message.attempt.exhausted");
        (e.len() >= msgs.len()).then_some(e)
    });
    let mut ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e["data"]["msgId"].as_str())
        .collect();
    ids.sort_unstable();
    let mut want: Vec<&str> = msgs.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "each message's exhaustion once");
    // The filter holds: nothing but exhausted events.
    assert!(ops_events(&sink)
        .iter()
        .all(|(_, v)| v["type"] == "message.attempt.exhausted"));
}

#[test]
fn the_svix_sdk_manages_operational_endpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let out = common::run_python_script(
        "operational_sdk.py",
        &[format!("http://{}", engine.http), TOKEN.to_string()],
    );
    assert!(out.contains("ok"), "{out}");
}

/// Changes to incoming sources are told too: `source.created`, `updated`,
/// `disabled`, `enabled`, `token_rotated`, `deleted`.
#[test]
fn operators_hear_of_source_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let sink = receiver();
    let (s, ops) = engine.api(
        "POST",
        "/api/v1/operational-webhook/endpoint",
        Some(json!({ "url": sink.url("/ops") })),
    );
    assert_eq!(s, 201, "{ops}");
    let body = |disabled: bool| json!({ "name": "billing", "uid": "billing-in", "type": "generic-webhook", "disabled": disabled });
    let (s, src) = engine.api("POST", "/ingest/api/v1/source", Some(body(false)));
    assert_eq!(s, 201, "{src}");
    let id = src["id"].as_str().expect("id").to_string();
    let path = format!("/ingest/api/v1/source/{id}");
    assert_eq!(engine.api("PUT", &path, Some(body(true))).0, 200);
    assert_eq!(engine.api("PUT", &path, Some(body(false))).0, 200);
    assert_eq!(
        engine.api("POST", &format!("{path}/token/rotate"), None).0,
        200
    );
    assert_eq!(engine.api("DELETE", &path, None).0, 204);
    let want = [
        "source.created",
        "source.updated",
        "source.disabled",
        "source.updated",
        "source.enabled",
        "source.token_rotated",
        "source.deleted",
    ];
    let events = wait_for("every source event", DEADLINE, || {
        let e: Vec<Value> = ops_events(&sink)
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| v["type"].as_str().is_some_and(|t| t.starts_with("source.")))
            .collect();
        (e.len() >= want.len()).then_some(e)
    });
    let mut types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let mut sorted_want = want.to_vec();
    // One endpoint queue delivers in order; sort both to compare as sets
    // with their counts regardless.
    types.sort_unstable();
    sorted_want.sort_unstable();
    assert_eq!(types, sorted_want, "{events:?}");
    for e in &events {
        assert_eq!(e["data"]["sourceId"], id.as_str(), "{e}");
        assert_eq!(e["data"]["sourceUid"], "billing-in", "{e}");
        assert_eq!(e["data"]["type"], "generic-webhook", "{e}");
    }
}

/// A crash right after an endpoint change is durable, before its event was
/// submitted: the event was journaled with the change and goes at the next
/// start, once.
#[test]
fn a_crash_after_a_change_loses_none_of_its_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &[]);
    let sink = receiver();
    let (s, ops) = engine.api(
        "POST",
        "/api/v1/operational-webhook/endpoint",
        Some(json!({ "url": sink.url("/ops") })),
    );
    assert_eq!(s, 201, "{ops}");
    let app = engine.create_app("crash-after-change");
    assert!(engine.stop());
    engine.env.push((
        "RINGHOOK_FAILPOINT_CRASH_AT".into(),
        "change-journaled".into(),
    ));
    engine.spawn().expect("start with the failpoint");
    // The engine aborts inside this request, after the change is durable.
    let answered = engine.api_result(
        "POST",
        &format!("/api/v1/app/{app}/endpoint"),
        json!({ "url": sink.url("/new") }),
    );
    assert_ne!(answered, Some(201), "the failpoint answers nothing");
    let status = engine.wait_exit(DEADLINE).expect("aborted");
    assert!(!status.success());
    engine.env.clear();
    engine.spawn().expect("restart");
    let (_, eps) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint"), None);
    let ep = eps["data"][0]["id"]
        .as_str()
        .expect("the change survived")
        .to_string();
    let created = wait_for("endpoint.created after the restart", DEADLINE, || {
        let e = of_type(&ops_events(&sink), "endpoint.created");
        (!e.is_empty()).then_some(e)
    });
    assert_eq!(created[0]["data"]["endpointId"], ep.as_str());
    // Once: a restart submits it again, and deduplication drops it.
    assert!(engine.stop());
    engine.spawn().expect("restart again");
    engine.create_endpoint(&app, json!({ "url": sink.url("/later") }));
    wait_for("the next change's event", DEADLINE, || {
        (of_type(&ops_events(&sink), "endpoint.created").len() >= 2).then_some(())
    });
    let ids: Vec<Value> = of_type(&ops_events(&sink), "endpoint.created")
        .iter()
        .map(|e| e["data"]["endpointId"].clone())
        .collect();
    assert_eq!(
        ids.iter().filter(|i| **i == json!(ep)).count(),
        1,
        "{ids:?}"
    );
}
