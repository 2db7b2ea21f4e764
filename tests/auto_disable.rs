//! Endpoints that keep failing are disabled: at once on 410 Gone, or after
//! failing without a success for `auto_disable_after_ms`.

mod common;

use common::{wait_for, Engine, Sink};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn disabled(engine: &Engine, app: &str, ep: &str) -> bool {
    let (s, v) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint/{ep}"), None);
    s == 200 && v["disabled"] == json!(true)
}

#[test]
fn gone_and_always_failing_endpoints_are_disabled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ringhook.toml");
    std::fs::write(&config, "auto_disable_after_ms = 300\n").expect("config");
    let config = config.to_str().expect("utf-8").to_string();
    let schedule = format!("0s,{}", vec!["50ms"; 40].join(","));
    let engine = Engine::start(
        dir.path(),
        &["--config", &config, "--retry-schedule", &schedule],
    );
    let sink = Sink::with_policy(Arc::new(|r, _| match r.path.as_str() {
        "/gone" => 410,
        "/broken" => 500,
        _ => 204,
    }));
    let app = engine.create_app("health");
    let id = |v: serde_json::Value| v["id"].as_str().expect("id").to_string();
    let gone = id(engine.create_endpoint(&app, json!({ "url": sink.url("/gone") })));
    let broken = id(engine.create_endpoint(&app, json!({ "url": sink.url("/broken") })));
    let fine = id(engine.create_endpoint(&app, json!({ "url": sink.url("/fine") })));
    let msg = engine.send(&app, "a.b", json!({}));

    wait_for("410 endpoint disabled", DEADLINE, || {
        disabled(&engine, &app, &gone).then_some(())
    });
    wait_for("failing endpoint disabled", DEADLINE, || {
        disabled(&engine, &app, &broken).then_some(())
    });
    assert!(
        !disabled(&engine, &app, &fine),
        "a healthy endpoint stays enabled"
    );
    let gone_attempts = sink.all().iter().filter(|(r, _)| r.path == "/gone").count();
    assert_eq!(gone_attempts, 1, "410 is not retried");
    // Messages after the disable reach only the healthy endpoint.
    let next = engine.send(&app, "a.b", json!({}));
    wait_for("healthy delivery", DEADLINE, || {
        sink.ids().contains(&next).then_some(())
    });
    let after: Vec<String> = sink
        .all()
        .iter()
        .filter(|(r, _)| r.webhook_id() == next)
        .map(|(r, _)| r.path.clone())
        .collect();
    assert_eq!(after, vec!["/fine".to_string()]);
    assert!(sink.ids().contains(&msg));
}

/// The failure streak survives a `kill -9`: recovery derives it from the
/// attempt records, so the first failure after the restart already ends a
/// streak older than `auto_disable_after_ms` (a streak reset by the restart
/// would need four more seconds of failures).
#[test]
fn a_restart_neither_resets_nor_forgets_the_failure_streak() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ringhook.toml");
    std::fs::write(&config, "auto_disable_after_ms = 4000\n").expect("config");
    let config = config.to_str().expect("utf-8").to_string();
    let schedule = format!("0s,{}", vec!["1s"; 20].join(","));
    let mut engine = Engine::start(
        dir.path(),
        &["--config", &config, "--retry-schedule", &schedule],
    );
    let sink = Sink::with_policy(Arc::new(|_, _| 500));
    let app = engine.create_app("streak");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/broken") }));
    let ep = ep["id"].as_str().expect("id").to_string();
    let started = std::time::Instant::now();
    let msg = engine.send(&app, "a.b", json!({}));
    // Journaled, not only answered: the sink sees the request before the
    // engine writes its attempt record, and a kill in between leaves the
    // restart no failure to count the streak from. A record the API lists
    // is in the journal's file, which a kill -9 does not take away.
    wait_for("a first failure, journaled", DEADLINE, || {
        let (_, v) = engine.api("GET", &format!("/api/v1/app/{app}/attempt/msg/{msg}"), None);
        (!v["data"].as_array()?.is_empty()).then_some(())
    });
    engine.kill9();
    // Down across the auto-disable period, measured from the first failure.
    wait_for("the streak to pass 4 s", DEADLINE, || {
        (started.elapsed() > Duration::from_millis(4_500)).then_some(())
    });
    let before = sink.all().len();
    engine.spawn().expect("restart");
    wait_for("the endpoint disabled", DEADLINE, || {
        disabled(&engine, &app, &ep).then_some(())
    });
    let after = sink.all().len() - before;
    assert_eq!(after, 1, "disabled at the first failure after the restart");
}
