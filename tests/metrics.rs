//! `GET /metrics`: Prometheus text per shard (no duplicate totals), behind the token.

mod common;

use common::{wait_for, Engine, Sink};
use serde_json::json;
use std::time::Duration;

fn scrape(engine: &Engine) -> String {
    ureq::get(&format!("http://{}/metrics", engine.http))
        .set("authorization", &format!("Bearer {}", common::TOKEN))
        .timeout(Duration::from_secs(5))
        .call()
        .expect("scrape")
        .into_string()
        .expect("text")
}

/// The value of an exact series line, e.g. `name{labels}`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
}

/// The sum over shards of a metric's series whose labels include `label`
/// (e.g. `kind="timeout"`, or "" for all), as `sum()` in PromQL.
fn total(text: &str, name: &str, label: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter_map(|l| {
            let labels = l.strip_prefix(name)?.strip_prefix('{')?;
            let (labels, v) = labels.split_once("} ")?;
            labels
                .split(',')
                .any(|p| label.is_empty() || p == label)
                .then_some(())?;
            v.trim().parse().ok()
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

#[test]
fn metrics_count_ingest_and_deliveries_per_shard_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let app = engine.create_app("metrics");
    engine.create_endpoint(&app, json!({ "url": sink.url("/m") }));
    for i in 0..5 {
        engine.send(&app, "m.x", json!({ "i": i }));
    }
    wait_for("deliveries", Duration::from_secs(30), || {
        (sink.count() >= 5).then_some(())
    });
    let text = wait_for(
        "metrics to show five deliveries",
        Duration::from_secs(30),
        || {
            let t = scrape(&engine);
            (total(&t, "ringhook_deliveries_total", "outcome=\"succeeded\"") == Some(5.0))
                .then_some(t)
        },
    );
    assert_eq!(
        total(&text, "ringhook_messages_ingested_total", ""),
        Some(5.0)
    );
    assert_eq!(total(&text, "ringhook_attempts_total", ""), Some(5.0));
    // No unlabelled duplicate: summing every series counts each event once.
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("ringhook_attempts_total ")),
        "{text}"
    );
    assert!(value(&text, "ringhook_messages_ingested_total{shard=\"0\"}").is_some());
    assert!(value(&text, "ringhook_messages_ingested_total{shard=\"1\"}").is_some());
    assert!(total(&text, "ringhook_journal_bytes_total", "").is_some_and(|b| b > 0.0));
    assert!(total(&text, "ringhook_journal_syncs_total", "").is_some_and(|n| n >= 1.0));
    assert_eq!(
        total(&text, "ringhook_attempt_records_refused_total", ""),
        Some(0.0),
        "no attempt record refused on a disk with room"
    );
    assert_eq!(
        total(&text, "ringhook_e2e_latency_seconds_count", ""),
        Some(5.0)
    );
    assert_eq!(
        total(&text, "ringhook_e2e_latency_seconds_bucket", "le=\"+Inf\""),
        Some(5.0)
    );
    assert!(total(&text, "ringhook_e2e_latency_seconds_sum", "").is_some_and(|s| s > 0.0));
    assert!(text.contains("# TYPE ringhook_attempt_latency_seconds histogram"));

    let resp = ureq::get(&format!("http://{}/metrics", engine.http)).call();
    assert!(
        matches!(resp, Err(ureq::Error::Status(401, _))),
        "metrics need the token"
    );
}

#[test]
fn metrics_show_a_held_endpoint_queue_and_its_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "1"]);
    // The receiver holds every request until the test has seen the backlog.
    let release = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let held = release.clone();
    let sink = Sink::with_policy(std::sync::Arc::new(move |_, _| {
        while !held.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        204
    }));
    let app = engine.create_app("held");
    engine.create_endpoint(&app, json!({ "url": sink.url("/held") }));
    for i in 0..20 {
        engine.send(&app, "h.x", json!({ "i": i }));
    }
    // A new endpoint gets one connection until its first answer, so the rest
    // of its deliveries wait in its queue.
    let text = wait_for("a queued backlog", Duration::from_secs(30), || {
        let t = scrape(&engine);
        (total(&t, "ringhook_endpoint_queue_depth_max", "").is_some_and(|d| d >= 1.0)).then_some(t)
    });
    assert_eq!(total(&text, "ringhook_connections", ""), Some(1.0));
    assert_eq!(total(&text, "ringhook_connection_waiters", ""), Some(0.0));
    release.store(true, std::sync::atomic::Ordering::SeqCst);
    wait_for("every delivery", Duration::from_secs(30), || {
        (sink.count() >= 20).then_some(())
    });
    wait_for("the queue drained", Duration::from_secs(30), || {
        let t = scrape(&engine);
        (total(&t, "ringhook_endpoint_queue_depth_max", "") == Some(0.0)).then_some(())
    });
}

#[test]
fn failed_attempts_are_counted_by_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(
        dir.path(),
        &["--shards", "1", "--retry-schedule", "0s,50ms,50ms"],
    );
    // A port nobody listens on: every attempt is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let app = engine.create_app("refused");
    engine.create_endpoint(&app, json!({ "url": format!("http://127.0.0.1:{port}/r") }));
    engine.send(&app, "r.x", json!({ "i": 1 }));
    let text = wait_for("three refused attempts", Duration::from_secs(30), || {
        let t = scrape(&engine);
        (total(
            &t,
            "ringhook_attempt_errors_total",
            "kind=\"connect_refused\"",
        ) == Some(3.0))
        .then_some(t)
    });
    assert_eq!(
        total(&text, "ringhook_attempts_failed_total", ""),
        Some(3.0)
    );
    assert_eq!(
        total(&text, "ringhook_attempt_errors_total", "kind=\"timeout\""),
        Some(0.0)
    );
    assert!(
        value(
            &text,
            "ringhook_attempt_errors_total{shard=\"0\",kind=\"connect_refused\"}"
        )
        .is_some(),
        "per shard too: {text}"
    );
}

/// The exposition passes `promtool check metrics` (Prometheus's own lint),
/// with every family present: deliveries, failures, histograms, incoming.
#[test]
fn the_exposition_passes_promtool() {
    let promtool = std::env::var("RINGHOOK_PROMTOOL")
        .unwrap_or_else(|_| format!("{}/target/tools/promtool", env!("CARGO_MANIFEST_DIR")));
    assert!(
        std::path::Path::new(&promtool).exists(),
        "no promtool at {promtool}: run tests/run.sh, which extracts it from Debian's prometheus package"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--retry-schedule", "0s,50ms"]);
    let sink = Sink::start();
    let app = engine.create_app("prom");
    engine.create_endpoint(&app, json!({ "url": sink.url("/ok") }));
    engine.create_endpoint(&app, json!({ "url": "http://127.0.0.1:1/refused" }));
    engine.send(&app, "p.x", json!({}));
    let (_, src) = engine.api(
        "POST",
        "/ingest/api/v1/source",
        Some(json!({ "name": "s", "type": "generic-webhook" })),
    );
    let url = src["ingestUrl"].as_str().expect("url");
    let _ = ureq::post(url).send_string("{}");
    let text = wait_for("a delivery and a failure", Duration::from_secs(30), || {
        let t = scrape(&engine);
        (total(&t, "ringhook_deliveries_total", "outcome=\"succeeded\"") == Some(1.0)
            && total(&t, "ringhook_attempts_failed_total", "").is_some_and(|n| n >= 2.0)
            && t.contains("ringhook_app_attempt_errors_total{"))
        .then_some(t)
    });
    assert!(text.contains("ringhook_incoming_requests_total"), "{text}");
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Per-application counters (not per endpoint, to bound their number):
/// deliveries by outcome and attempt errors by kind, summed over shards.
#[test]
fn deliveries_and_errors_are_counted_per_application() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--retry-schedule", "0s,50ms"]);
    let sink = Sink::start();
    let good = engine.create_app("good");
    let bad = engine.create_app("bad");
    engine.create_endpoint(&good, json!({ "url": sink.url("/ok") }));
    engine.create_endpoint(&bad, json!({ "url": "http://127.0.0.1:1/refused" }));
    engine.send(&good, "a.b", json!({}));
    engine.send(&good, "a.b", json!({}));
    engine.send(&bad, "a.b", json!({}));
    let series = |app: &str, rest: &str| format!("{{app=\"{app}\",{rest}}}");
    let text = wait_for("per-application counts", Duration::from_secs(30), || {
        let t = scrape(&engine);
        (value(
            &t,
            &format!(
                "ringhook_app_deliveries_total{}",
                series(&good, "outcome=\"succeeded\"")
            ),
        ) == Some(2.0)
            && value(
                &t,
                &format!(
                    "ringhook_app_deliveries_total{}",
                    series(&bad, "outcome=\"failed\"")
                ),
            ) == Some(1.0))
        .then_some(t)
    });
    assert_eq!(
        value(
            &text,
            &format!(
                "ringhook_app_attempt_errors_total{}",
                series(&bad, "kind=\"connect_refused\"")
            )
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(
                "ringhook_app_deliveries_total{}",
                series(&good, "outcome=\"failed\"")
            )
        ),
        Some(0.0)
    );
}
