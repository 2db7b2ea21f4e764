//! Rule-based notifications (issue 13): rules over `/api/v1/rule` fire and
//! resolve as what they watch changes, tell the operational endpoints
//! (`rule.firing` / `rule.resolved`, signed: verified with
//! `standardwebhooks`), export `ringhook_rule_firing`, and keep their state
//! across `kill -9` without telling twice.

mod common;

use common::{verify_with_python, wait_for, Engine, Received, Sink};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(40);

fn start(dir: &std::path::Path) -> Engine {
    let config = dir.join("ringhook.toml");
    std::fs::write(&config, "rule_eval_interval_ms = 200\n").expect("config");
    let config = config.to_str().expect("utf-8").to_string();
    Engine::start(dir, &["--config", &config, "--retry-schedule", "0s"])
}

/// Rule events the operators' endpoint received, one per `webhook-id`.
fn rule_events(sink: &Sink, t: &str) -> Vec<(Received, Value)> {
    let mut seen = HashSet::new();
    sink.received()
        .into_iter()
        .filter(|r| r.path == "/ops")
        .map(|r| {
            let v = r.json();
            (r, v)
        })
        .filter(|(_, v)| v["type"] == t)
        .filter(|(r, _)| seen.insert(r.headers.get("webhook-id").cloned()))
        .collect()
}

fn ops_endpoint(engine: &Engine, sink: &Sink) -> String {
    let (s, ops) = engine.api(
        "POST",
        "/api/v1/operational-webhook/endpoint",
        Some(json!({ "url": sink.url("/ops"), "filterTypes": ["rule.firing", "rule.resolved"] })),
    );
    assert_eq!(s, 201, "{ops}");
    let id = ops["id"].as_str().expect("id");
    let (s, secret) = engine.api(
        "GET",
        &format!("/api/v1/operational-webhook/endpoint/{id}/secret"),
        None,
    );
    assert_eq!(s, 200, "{secret}");
    secret["key"].as_str().expect("key").to_string()
}

fn metric(engine: &Engine, rule: &str) -> Option<f64> {
    let text = engine.metrics()?;
    let series = format!("ringhook_rule_firing{{rule=\"{rule}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_failure_rate_rule_fires_resolves_and_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = start(dir.path());
    let failing = Arc::new(AtomicBool::new(true));
    let f = failing.clone();
    let sink = Sink::with_policy(Arc::new(move |r, _| match r.path.as_str() {
        "/flaky" if f.load(Ordering::Relaxed) => 500,
        _ => 204,
    }));
    let secret = ops_endpoint(&engine, &sink);
    let app = engine.create_app("acme");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/flaky") }));
    let ep = ep["id"].as_str().expect("id").to_string();
    let (s, rule) = engine.api(
        "POST",
        "/api/v1/rule",
        Some(json!({
            "name": "acme down",
            "scope": { "type": "endpoint", "appId": app, "endpointId": ep },
            "signal": "failure_rate", "comparison": ">", "threshold": 0.5,
            "windowSeconds": 2, "cooldownSeconds": 0,
        })),
    );
    assert_eq!(s, 201, "{rule}");
    let rule_id = rule["id"].as_str().expect("id").to_string();
    assert!(rule_id.starts_with("rule_"), "{rule_id}");
    assert_eq!(rule["state"]["status"], "ok");

    // Every attempt fails: the rule fires, once.
    let firing = wait_for("rule.firing", DEADLINE, || {
        engine.send(&app, "order.paid", json!({ "n": 1 }));
        let e = rule_events(&sink, "rule.firing");
        (!e.is_empty()).then_some(e)
    });
    let data = &firing[0].1["data"];
    assert_eq!(data["ruleId"], rule_id.as_str());
    assert_eq!(data["scope"]["endpointId"], ep.as_str());
    assert_eq!(data["signal"], "failure_rate");
    assert!(data["value"].as_f64().is_some_and(|v| v > 0.5), "{data}");
    let (_, got) = engine.api("GET", &format!("/api/v1/rule/{rule_id}"), None);
    assert_eq!(got["state"]["status"], "firing", "{got}");
    assert_eq!(metric(&engine, &rule_id), Some(1.0));

    // A crash while firing: the state comes back; nothing fires twice.
    engine.kill9();
    engine.spawn().expect("restart");
    let (_, got) = engine.api("GET", &format!("/api/v1/rule/{rule_id}"), None);
    assert_eq!(got["state"]["status"], "firing", "after kill -9: {got}");

    // The receiver recovers: the rule resolves after clear evaluations.
    failing.store(false, Ordering::Relaxed);
    let resolved = wait_for("rule.resolved", DEADLINE, || {
        engine.send(&app, "order.paid", json!({ "n": 2 }));
        let e = rule_events(&sink, "rule.resolved");
        (!e.is_empty()).then_some(e)
    });
    assert!(
        resolved[0].1["data"]["value"]
            .as_f64()
            .is_some_and(|v| v <= 0.5),
        "{}",
        resolved[0].1
    );
    assert_eq!(rule_events(&sink, "rule.firing").len(), 1, "fired once");
    let (_, got) = engine.api("GET", &format!("/api/v1/rule/{rule_id}"), None);
    assert_eq!(got["state"]["status"], "ok", "{got}");
    assert_eq!(got["state"]["changes"], 2, "{got}");
    wait_for("the gauge back at 0", DEADLINE, || {
        (metric(&engine, &rule_id) == Some(0.0)).then_some(())
    });
    // Signed as any webhook: `standardwebhooks` verifies both.
    let reqs: Vec<Received> = firing.into_iter().chain(resolved).map(|(r, _)| r).collect();
    assert_eq!(verify_with_python(&secret, &reqs, dir.path()), reqs.len());
}

#[test]
fn a_delivery_gap_rule_fires_when_an_application_goes_quiet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = start(dir.path());
    let sink = Sink::start();
    ops_endpoint(&engine, &sink);
    let app = engine.create_app("heartbeat");
    engine.create_endpoint(&app, json!({ "url": sink.url("/hook") }));
    let (s, rule) = engine.api(
        "POST",
        "/api/v1/rule",
        Some(json!({
            "name": "heartbeat gap",
            "scope": { "type": "app", "appId": app },
            "signal": "no_messages", "windowSeconds": 2, "cooldownSeconds": 0,
        })),
    );
    assert_eq!(s, 201, "{rule}");
    assert_eq!(
        (rule["comparison"].as_str(), rule["threshold"].as_f64()),
        (Some("<"), Some(1.0))
    );
    let rule_id = rule["id"].as_str().expect("id").to_string();
    // While messages keep coming for longer than the window, nothing fires.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        engine.send(&app, "tick", json!({}));
        assert!(
            rule_events(&sink, "rule.firing").is_empty(),
            "fired while busy"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Quiet: the gap is noticed.
    let firing = wait_for("rule.firing on a quiet application", DEADLINE, || {
        let e = rule_events(&sink, "rule.firing");
        (!e.is_empty()).then_some(e)
    });
    let data = &firing[0].1["data"];
    assert_eq!(
        (data["ruleId"].as_str(), data["value"].as_f64()),
        (Some(rule_id.as_str()), Some(0.0))
    );
    assert_eq!(data["scope"]["appId"], app.as_str());
    // Traffic again: resolved.
    wait_for("rule.resolved", DEADLINE, || {
        engine.send(&app, "tick", json!({}));
        (!rule_events(&sink, "rule.resolved").is_empty()).then_some(())
    });
}

/// A crash right after a rule's change and its event were journaled
/// together, before the event was submitted: the restarted engine submits
/// it, once, and the rule is firing.
#[test]
fn a_crash_after_journaling_a_change_tells_it_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = start(dir.path());
    let sink = Sink::with_policy(Arc::new(|r, _| match r.path.as_str() {
        "/down" => 503,
        _ => 204,
    }));
    ops_endpoint(&engine, &sink);
    let app = engine.create_app("crashy");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/down") }));
    let (s, rule) = engine.api(
        "POST",
        "/api/v1/rule",
        Some(json!({
            "name": "down", "scope": { "type": "endpoint", "appId": app, "endpointId": ep["id"] },
            "signal": "consecutive_failures", "comparison": ">=", "threshold": 3, "cooldownSeconds": 0,
        })),
    );
    assert_eq!(s, 201, "{rule}");
    let rule_id = rule["id"].as_str().expect("id").to_string();
    engine.stop();
    engine.env.push((
        "RINGHOOK_FAILPOINT_CRASH_AT".into(),
        "change-journaled".into(),
    ));
    engine.spawn().expect("start with the failpoint");
    for n in 0..3 {
        engine.send(&app, "order.paid", json!({ "n": n }));
    }
    let status = engine
        .wait_exit(DEADLINE)
        .expect("the failpoint aborts the engine");
    assert!(!status.success());
    engine.env.clear();
    engine.spawn().expect("restart");
    wait_for("the rule firing again after the crash", DEADLINE, || {
        let (_, got) = engine.api("GET", &format!("/api/v1/rule/{rule_id}"), None);
        (got["state"]["status"] == "firing").then_some(())
    });
    let firing = wait_for("the firing event", DEADLINE, || {
        let e = rule_events(&sink, "rule.firing");
        (!e.is_empty()).then_some(e)
    });
    assert_eq!(firing[0].1["data"]["value"], 3.0);
    // Whatever arrives later, the change was told once.
    engine.send(&app, "order.paid", json!({ "n": 4 }));
    wait_for("the fourth failure", DEADLINE, || {
        (sink.all().len() >= 5).then_some(())
    });
    assert_eq!(
        rule_events(&sink, "rule.firing").len(),
        1,
        "{:?}",
        rule_events(&sink, "rule.firing")
    );
}

/// Scope `all` reads the engine's own totals: attempts per minute while
/// traffic flows, and the end-to-end p99 of what was delivered.
#[test]
fn engine_wide_rules_read_the_engine_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = start(dir.path());
    let sink = Sink::start();
    ops_endpoint(&engine, &sink);
    let app = engine.create_app("busy");
    engine.create_endpoint(&app, json!({ "url": sink.url("/hook") }));
    let mut ids = Vec::new();
    for (name, signal, threshold) in [
        ("busy", "attempts_per_minute", 60.0),
        ("slow", "e2e_p99_ms", 0.0),
    ] {
        let (s, rule) = engine.api(
            "POST",
            "/api/v1/rule",
            Some(json!({
                "name": name, "scope": { "type": "all" }, "signal": signal,
                "comparison": ">", "threshold": threshold, "windowSeconds": 1, "cooldownSeconds": 0,
            })),
        );
        assert_eq!(s, 201, "{rule}");
        ids.push(rule["id"].as_str().expect("id").to_string());
    }
    let firing = wait_for("both rules firing", DEADLINE, || {
        engine.send(&app, "tick", json!({}));
        let e = rule_events(&sink, "rule.firing");
        let fired: HashSet<&str> = e
            .iter()
            .filter_map(|(_, v)| v["data"]["ruleId"].as_str())
            .collect();
        ids.iter()
            .all(|id| fired.contains(id.as_str()))
            .then_some(e.clone())
    });
    for (_, v) in &firing {
        assert!(v["data"]["value"].as_f64().is_some_and(|x| x > 0.0), "{v}");
        assert_eq!(v["data"]["scope"]["type"], "all");
    }
}

#[test]
fn rules_are_checked_listed_replaced_and_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = start(dir.path());
    let app = engine.create_app("checks");
    let refused = [
        (
            json!({ "scope": { "type": "all" }, "signal": "backlog", "comparison": ">", "threshold": 1 }),
            422,
            "name",
        ),
        (
            json!({ "name": "x", "scope": { "type": "planet" }, "signal": "backlog", "comparison": ">", "threshold": 1 }),
            422,
            "scope",
        ),
        (
            json!({ "name": "x", "scope": { "type": "app", "appId": "app_nope" }, "signal": "backlog", "comparison": ">", "threshold": 1 }),
            422,
            "scope",
        ),
        (
            json!({ "name": "x", "scope": { "type": "all" }, "signal": "vibes", "comparison": ">", "threshold": 1 }),
            422,
            "signal",
        ),
        (
            json!({ "name": "x", "scope": { "type": "all" }, "signal": "consecutive_failures", "comparison": ">", "threshold": 1 }),
            422,
            "unsupported_signal",
        ),
        (
            json!({ "name": "x", "scope": { "type": "all" }, "signal": "backlog", "comparison": "!=", "threshold": 1 }),
            422,
            "comparison",
        ),
        (
            json!({ "name": "x", "scope": { "type": "all" }, "signal": "backlog", "comparison": ">" }),
            422,
            "threshold",
        ),
        (
            json!({ "name": "x", "scope": { "type": "all" }, "signal": "backlog", "comparison": ">", "threshold": 1, "windowSeconds": 0 }),
            422,
            "windowSeconds",
        ),
    ];
    for (body, status, what) in refused {
        let (s, v) = engine.api("POST", "/api/v1/rule", Some(body.clone()));
        assert_eq!(s, status, "{body} -> {v}");
        assert!(v.to_string().contains(what), "{body} -> {v}");
    }
    let (s, a) = engine.api(
        "POST",
        "/api/v1/rule",
        Some(json!({ "name": "backlog", "scope": { "type": "all" }, "signal": "backlog", "comparison": ">", "threshold": 1000 })),
    );
    assert_eq!(s, 201, "{a}");
    assert_eq!(
        (a["windowSeconds"].as_u64(), a["cooldownSeconds"].as_u64()),
        (Some(300), Some(900))
    );
    let (s, b) = engine.api(
        "POST",
        "/api/v1/rule",
        Some(json!({ "name": "app slow", "scope": { "type": "app", "appId": app }, "signal": "attempts_per_minute", "comparison": "<", "threshold": 1 })),
    );
    assert_eq!(s, 201, "{b}");
    let (s, page) = engine.api("GET", "/api/v1/rule", None);
    assert_eq!(s, 200);
    let names: Vec<&str> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["backlog", "app slow"]);
    let id = a["id"].as_str().expect("id");
    let (s, put) = engine.api(
        "PUT",
        &format!("/api/v1/rule/{id}"),
        Some(json!({ "name": "backlog big", "scope": { "type": "all" }, "signal": "oldest_pending_seconds", "comparison": ">=", "threshold": 60, "disabled": true })),
    );
    assert_eq!(s, 200, "{put}");
    assert_eq!(
        (put["signal"].as_str(), put["disabled"].as_bool()),
        (Some("oldest_pending_seconds"), Some(true))
    );
    let (s, _) = engine.api("DELETE", &format!("/api/v1/rule/{id}"), None);
    assert_eq!(s, 204);
    let (s, _) = engine.api("GET", &format!("/api/v1/rule/{id}"), None);
    assert_eq!(s, 404);
}
