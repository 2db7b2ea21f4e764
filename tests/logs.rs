//! Logs and readiness (issue 13): `tracing` events on stderr as text or
//! JSON lines with timestamps and levels; one event per failed attempt,
//! rate-limited per endpoint; the serving line on stderr; and no secret,
//! token or signature in any line.

mod common;

use common::{wait_for, Engine, TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

fn log(engine: &Engine) -> String {
    std::fs::read_to_string(&engine.stderr_path).unwrap_or_default()
}

#[test]
fn json_logs_carry_failed_attempts_rate_limited_and_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(
        dir.path(),
        &[
            "--log-format",
            "json",
            "--retry-schedule",
            "0s,50ms,50ms,50ms",
        ],
    );
    let app = engine.create_app("logs");
    // Nothing listens on port 1: every attempt is refused.
    let ep = engine.create_endpoint(
        &app,
        json!({ "url": "http://127.0.0.1:1/hook", "headers": { "authorization": "Bearer HEADER-SECRET-123", "x-api-key": "KEY-SECRET-456" } }),
    );
    let ep_id = ep["id"].as_str().expect("id").to_string();
    let signing = engine.secret(&app, &ep_id);
    for i in 0..30 {
        engine.send(&app, "order.paid", json!({ "n": i }));
    }
    // A session and a portal token exist too; neither may show up.
    let (_, portal) = engine.api(
        "POST",
        &format!("/api/v1/auth/app-portal-access/{app}"),
        Some(json!({})),
    );
    let portal_token = portal["token"].as_str().expect("token").to_string();
    let (_, src) = engine.api(
        "POST",
        "/ingest/api/v1/source",
        Some(json!({ "name": "s", "type": "stripe", "config": { "secret": "whsec_SOURCE-SECRET-789" } })),
    );
    assert!(src["id"].is_string(), "{src}");

    // Wait until many attempts have failed (30 messages × 4 attempts).
    wait_for("120 failed attempts", Duration::from_secs(20), || {
        let metrics = ureq::get(&format!("http://{}/metrics", engine.http))
            .set("authorization", &format!("Bearer {TOKEN}"))
            .call()
            .ok()?
            .into_string()
            .ok()?;
        let failed: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("ringhook_attempts_failed_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        (failed >= 120.0).then_some(())
    });
    let lines = log(&engine);
    let events: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    for e in &events {
        assert!(e["timestamp"].is_string() && e["level"].is_string(), "{e}");
    }
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("serving http://"))),
        "the serving line is a log event on stderr"
    );
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["message"] == "attempt failed")
        .collect();
    let first = failed[0];
    assert_eq!(first["level"], "WARN");
    assert_eq!(first["endpoint"], ep_id.as_str());
    assert_eq!(first["kind"], "connect_refused");
    assert!(
        first["msg"].as_str().is_some_and(|m| m.starts_with("msg_")),
        "{first}"
    );
    assert!(first["attempt"].as_u64().is_some(), "{first}");
    // 120 failed attempts within a few seconds: one event per endpoint per
    // 10 s (a second one only if the run crossed a 10 s boundary).
    assert!(failed.len() <= 2, "rate-limited: {} events", failed.len());

    let text = log(&engine);
    for secret in [
        TOKEN,
        "HEADER-SECRET-123",
        "KEY-SECRET-456",
        signing.as_str(),
        signing.trim_start_matches("whsec_"),
        portal_token.as_str(),
        "SOURCE-SECRET-789",
        "v1,",
    ] {
        assert!(!text.contains(secret), "{secret} is in the log:\n{text}");
    }
}

#[test]
fn text_logs_have_levels_and_the_filter_applies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &[]);
    // The banner follows the health check answering by a moment.
    let text = wait_for("the serving line", Duration::from_secs(10), || {
        let t = log(&engine);
        t.contains("console at").then_some(t)
    });
    assert!(
        text.contains(" INFO ") && text.contains("serving http://"),
        "{text}"
    );
    assert!(text.contains("console at http://"), "{text}");
    assert!(engine.stop());
    assert!(log(&engine).contains("stopped"));
    // `--log-level warn` keeps the info lines out.
    engine
        .spawn_with(&["--log-level", "warn"])
        .expect("restart");
    assert!(!log(&engine).contains("serving"), "{}", log(&engine));
}

/// `GET /api/v1/ready` (no token): 204 once recovery is done and the
/// engine takes work; `health` stays the liveness check.
#[test]
fn readiness_answers_after_recovery_without_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    for path in ["/api/v1/ready", "/api/v1/health"] {
        let r = ureq::get(&format!("http://{}{path}", engine.http)).call();
        assert_eq!(r.map(|r| r.status()).ok(), Some(204), "{path}");
    }
}
