//! End-to-end pipeline tests: fan-out, filtering, signatures, retries, dedup.
//!
//! Each test runs a real `ringhook serve` process and a real HTTP sink.

mod common;

use common::{verify_with_python, wait_for, Engine, Sink};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn one_message_reaches_every_matching_endpoint_and_no_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let app = engine.create_app("fan-out");
    let mk = |path: &str, extra: serde_json::Value| {
        let mut body = json!({ "url": sink.url(path) });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        engine.create_endpoint(&app, body)["id"]
            .as_str()
            .expect("id")
            .to_string()
    };
    let all = mk("/all", json!({}));
    let paid = mk("/paid", json!({ "filterTypes": ["invoice.paid"] }));
    let created = mk("/created", json!({ "eventTypes": ["user.created"] }));
    let eu = mk("/eu", json!({ "channels": ["eu"] }));
    let _off = mk("/disabled", json!({ "disabled": true }));

    let m1 = engine.send(&app, "invoice.paid", json!({ "n": 1 }));
    let (s, v) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/msg"),
        Some(json!({ "eventType": "user.created", "payload": { "n": 2 }, "channels": ["eu"] })),
    );
    assert_eq!(s, 202, "{v}");
    let m2 = v["id"].as_str().expect("id").to_string();

    let expected: Vec<(&str, &str)> = vec![
        ("/all", &m1),
        ("/paid", &m1),
        ("/all", &m2),
        ("/created", &m2),
        ("/eu", &m2),
    ];
    wait_for("five deliveries", DEADLINE, || {
        (sink.count() >= expected.len()).then_some(())
    });
    // A second round through the same endpoints: anything stray from the first
    // round was dispatched before it and would have arrived by now.
    let m3 = engine.send(&app, "invoice.paid", json!({ "n": 3 }));
    wait_for("round two", DEADLINE, || {
        let ids = sink.ids();
        (ids.iter().filter(|i| **i == m3).count() == 2).then_some(())
    });
    let mut got: Vec<(String, String)> = sink
        .received()
        .iter()
        .filter(|r| r.webhook_id() != m3)
        .map(|r| (r.path.clone(), r.webhook_id().to_string()))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    want.sort();
    assert_eq!(
        got, want,
        "deliveries went exactly to the matching endpoints"
    );

    // Every delivery verifies with the reference library, using its endpoint's secret.
    let by_path: HashMap<&str, &str> = [
        ("/all", all.as_str()),
        ("/paid", paid.as_str()),
        ("/created", created.as_str()),
        ("/eu", eu.as_str()),
    ]
    .into();
    for (path, ep) in by_path {
        let secret = engine.secret(&app, ep);
        let reqs: Vec<_> = sink
            .received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect();
        assert!(!reqs.is_empty());
        for r in &reqs {
            assert_eq!(r.method, "POST");
            assert_eq!(
                r.headers.get("content-type").map(String::as_str),
                Some("application/json")
            );
            assert!(r
                .headers
                .get("webhook-signature")
                .is_some_and(|s| s.starts_with("v1,")));
        }
        assert_eq!(verify_with_python(&secret, &reqs, dir.path()), reqs.len());
    }
}

#[test]
fn endpoint_method_headers_and_extra_json_are_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "1"]);
    let sink = Sink::start();
    let app = engine.create_app("custom");
    let ep = engine.create_endpoint(
        &app,
        json!({
            "url": sink.url("/custom?q=1"),
            "method": "put",
            "headers": { "x-team": "billing" },
            "extraJson": { "source": "ringhook" },
        }),
    );
    assert_eq!(ep["method"], "PUT");
    let id = engine.send(&app, "a.b", json!({ "amount": 5 }));
    let r = wait_for("delivery", DEADLINE, || sink.received().into_iter().next());
    assert_eq!(r.method, "PUT");
    assert_eq!(r.path, "/custom?q=1");
    assert_eq!(r.headers.get("x-team").map(String::as_str), Some("billing"));
    assert_eq!(r.webhook_id(), id);
    assert_eq!(r.json(), json!({ "amount": 5, "source": "ringhook" }));
    let secret = engine.secret(&app, ep["id"].as_str().expect("id"));
    assert_eq!(verify_with_python(&secret, &[r], dir.path()), 1);
}

#[test]
fn failed_attempts_are_retried_with_the_same_webhook_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(
        dir.path(),
        &["--shards", "2", "--retry-schedule", "0s,20ms,50ms,50ms"],
    );
    // 500 to the first two attempts of every message, then 204.
    let sink = Sink::with_policy(Arc::new(|_, nth| if nth < 2 { 500 } else { 204 }));
    let app = engine.create_app("retries");
    engine.create_endpoint(&app, json!({ "url": sink.url("/flaky") }));
    let ids: Vec<String> = (0..20)
        .map(|i| engine.send(&app, "t.x", json!({ "i": i })))
        .collect();
    wait_for("all 20 delivered", DEADLINE, || {
        (sink.count() >= 20).then_some(())
    });
    let mut delivered = sink.ids();
    delivered.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(
        delivered, want,
        "each message delivered once, after its retries"
    );
    let all = sink.all();
    for id in &ids {
        let attempts: Vec<u16> = all
            .iter()
            .filter(|(r, _)| r.webhook_id() == id)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(attempts, vec![500, 500, 204], "attempts of {id}");
    }
    let secret_ok = all
        .iter()
        .all(|(r, _)| r.headers.contains_key("webhook-timestamp"));
    assert!(secret_ok);
}

#[test]
fn exhausted_retries_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--retry-schedule", "0s,10ms,10ms"]);
    let sink = Sink::with_policy(Arc::new(|_, _| 503));
    let app = engine.create_app("dead");
    engine.create_endpoint(&app, json!({ "url": sink.url("/dead") }));
    let id = engine.send(&app, "t.x", json!({}));
    wait_for("three attempts", DEADLINE, || {
        (sink.all().len() >= 3).then_some(())
    });
    // One more message proves the shard moved on; the dead one gets no 4th try.
    let id2 = engine.send(&app, "t.x", json!({}));
    wait_for("second message's attempts", DEADLINE, || {
        (sink
            .all()
            .iter()
            .filter(|(r, _)| r.webhook_id() == id2)
            .count()
            == 3)
            .then_some(())
    });
    assert_eq!(
        sink.all()
            .iter()
            .filter(|(r, _)| r.webhook_id() == id)
            .count(),
        3
    );
}

#[test]
fn duplicate_event_id_is_refused_within_the_window_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Pinned shards (--cpus), as an operator would run them.
    let mut engine = Engine::start(dir.path(), &["--shards", "2", "--cpus", "0,1"]);
    let sink = Sink::start();
    let app = engine.create_app("dedup");
    engine.create_endpoint(&app, json!({ "url": sink.url("/d") }));
    let body = json!({ "eventType": "order.created", "eventId": "evt-42", "payload": { "x": 1 } });
    let path = format!("/api/v1/app/{app}/msg");
    let (s, first) = engine.api("POST", &path, Some(body.clone()));
    assert_eq!(s, 202, "{first}");
    let (s, v) = engine.api("POST", &path, Some(body.clone()));
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    let first_id = first["id"].as_str().expect("id").to_string();
    wait_for("first delivery", DEADLINE, || {
        sink.ids().contains(&first_id).then_some(())
    });
    assert!(engine.stop(), "clean SIGTERM exit");
    engine.spawn().expect("restart");
    let (s, _) = engine.api("POST", &path, Some(body.clone()));
    assert_eq!(s, 409, "dedup survives a clean restart");
    engine.kill9();
    engine
        .spawn_with(&["--shards", "3"])
        .expect("restart with 3 shards");
    let (s, _) = engine.api("POST", &path, Some(body));
    assert_eq!(s, 409, "dedup survives kill -9 and a shard-count change");
    let other = engine.send(&app, "order.created", json!({ "x": 2 }));
    wait_for("both messages", DEADLINE, || {
        let ids = sink.ids();
        ids.contains(&other).then_some(())
    });
    assert_eq!(sink.ids().iter().filter(|i| **i == first_id).count(), 1);
}

#[test]
fn timeouts_redirects_and_retry_after_are_honoured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ringhook.toml");
    std::fs::write(
        &config,
        "request_timeout_ms = 300\nconnect_timeout_ms = 300\nretry_jitter_percent = 0\n",
    )
    .expect("config");
    let config = config.to_str().expect("utf-8").to_string();
    let engine = Engine::start(
        dir.path(),
        &["--config", &config, "--retry-schedule", "0s,20ms,20ms"],
    );
    let sink = Sink::with_policy(Arc::new(|r, nth| match (r.path.as_str(), nth) {
        // The sink is slow once: the engine must give up at 300 ms and retry.
        ("/slow", 0) => {
            std::thread::sleep(Duration::from_secs(2));
            204
        }
        ("/redirect", 0) => 302,
        ("/busy", 0) => 429,
        _ => 204,
    }));
    let app = engine.create_app("edge");
    for path in ["/slow", "/redirect", "/busy"] {
        engine.create_endpoint(
            &app,
            json!({ "url": sink.url(path), "filterTypes": [path.trim_start_matches('/')] }),
        );
    }
    for t in ["slow", "redirect", "busy"] {
        engine.send(&app, t, json!({}));
    }
    let attempts = |path: &str| {
        sink.all()
            .into_iter()
            .filter(|(r, _)| r.path == path)
            .collect::<Vec<_>>()
    };
    wait_for("two attempts at each endpoint", DEADLINE, || {
        ["/slow", "/redirect", "/busy"]
            .iter()
            .all(|p| attempts(p).len() >= 2)
            .then_some(())
    });
    let redirect: Vec<u16> = attempts("/redirect").iter().map(|(_, s)| *s).collect();
    assert_eq!(redirect, vec![302, 204], "3xx is a failure, not followed");
    let busy = attempts("/busy");
    let gap = busy[1].0.at.duration_since(busy[0].0.at);
    assert!(
        gap >= Duration::from_millis(900),
        "Retry-After: 1 was honoured (waited {gap:?})"
    );
    let slow = attempts("/slow");
    assert_eq!(slow[0].0.webhook_id(), slow[1].0.webhook_id());
}

#[test]
fn throttle_rate_paces_an_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let sink = Sink::start();
    let app = engine.create_app("throttle");
    engine.create_endpoint(&app, json!({ "url": sink.url("/slow"), "throttleRate": 5 }));
    for i in 0..15 {
        engine.send(&app, "t.x", json!({ "i": i }));
    }
    wait_for("15 deliveries", DEADLINE, || {
        (sink.count() >= 15).then_some(())
    });
    let got = sink.received();
    let span = got[14].at.duration_since(got[0].at);
    // A burst of 5, then one every 200 ms: the last ten need at least ~2 s.
    assert!(
        span >= Duration::from_millis(1600),
        "15 deliveries at 5/s took only {span:?}"
    );
}

#[test]
fn every_durability_mode_delivers_and_survives_a_clean_restart() {
    for mode in ["sync", "batch", "none"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut engine = Engine::start(
            dir.path(),
            &["--durability", mode, "--retry-schedule", "0s,1s"],
        );
        let sink = Sink::with_policy(Arc::new(|_, nth| if nth == 0 { 503 } else { 204 }));
        let app = engine.create_app(mode);
        engine.create_endpoint(&app, json!({ "url": sink.url("/d") }));
        let ids: Vec<String> = (0..5)
            .map(|i| engine.send(&app, "d.x", json!({ "i": i })))
            .collect();
        // Stop while the first attempts failed and retries wait (1 s): the
        // clean stop syncs whatever the mode, so they all come back.
        wait_for("first attempts", DEADLINE, || {
            (sink.all().len() >= 5).then_some(())
        });
        assert!(engine.stop(), "{mode}: clean stop");
        engine.spawn().expect("restart");
        wait_for("all delivered after restart", DEADLINE, || {
            let got = sink.ids();
            ids.iter().all(|id| got.contains(id)).then_some(())
        });
    }
}

#[test]
fn in_flight_requests_per_endpoint_are_capped() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ringhook.toml");
    std::fs::write(&config, "max_in_flight_per_endpoint = 2\n").expect("config");
    let config = config.to_str().expect("utf-8").to_string();
    let engine = Engine::start(dir.path(), &["--config", &config]);
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, p) = (now.clone(), peak.clone());
    let sink = Sink::with_policy(Arc::new(move |_, _| {
        let c = n.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(c, Ordering::SeqCst);
        // A slow receiver, so requests would pile up without the cap.
        std::thread::sleep(Duration::from_millis(50));
        n.fetch_sub(1, Ordering::SeqCst);
        204
    }));
    let app = engine.create_app("cap");
    engine.create_endpoint(&app, json!({ "url": sink.url("/slow") }));
    for i in 0..12 {
        engine.send(&app, "c.x", json!({ "i": i }));
    }
    wait_for("12 deliveries", DEADLINE, || {
        (sink.count() >= 12).then_some(())
    });
    let peak = peak.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&peak),
        "at most 2 requests in flight, saw {peak}"
    );
}

/// Every attempt says why it got no usable response (`errorKind`), kept in
/// its journal record: a refused connection, a receiver that never answers,
/// and a 500 (a response: no error kind), read back again after `kill -9`.
#[test]
fn attempts_name_why_they_failed_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ringhook.toml");
    std::fs::write(&config, "request_timeout_ms = 300\n").expect("config");
    let config = config.to_str().expect("utf-8").to_string();
    let mut engine = Engine::start(
        dir.path(),
        &[
            "--shards",
            "2",
            "--retry-schedule",
            "0s",
            "--config",
            &config,
        ],
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let refused_port = closed.local_addr().expect("addr").port();
    drop(closed);
    // Accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let sink = Sink::with_policy(Arc::new(|_, _| 500));
    let app = engine.create_app("why");
    let mut kinds = HashMap::new();
    for (url, want) in [
        (
            format!("http://127.0.0.1:{refused_port}/r"),
            json!("connect_refused"),
        ),
        (
            format!("http://127.0.0.1:{silent_port}/s"),
            json!("timeout"),
        ),
        (sink.url("/500"), json!(null)),
    ] {
        let ep = engine.create_endpoint(&app, json!({ "url": url }));
        kinds.insert(ep["id"].as_str().expect("id").to_string(), want);
    }
    let msg = engine.send(&app, "why.x", json!({ "i": 1 }));
    let read = |engine: &Engine| {
        let (status, page) =
            engine.api("GET", &format!("/api/v1/app/{app}/attempt/msg/{msg}"), None);
        assert_eq!(status, 200, "{page}");
        page["data"].as_array().cloned().unwrap_or_default()
    };
    let attempts = wait_for("an attempt to each endpoint", DEADLINE, || {
        let a = read(&engine);
        (a.len() == 3).then_some(a)
    });
    let check = |attempts: &[serde_json::Value]| {
        for a in attempts {
            let ep = a["endpointId"].as_str().expect("endpointId");
            assert_eq!(a["errorKind"], kinds[ep], "{a}");
            assert_eq!(a["status"], 2, "failed: {a}");
        }
    };
    check(&attempts);
    let five_hundred = attempts
        .iter()
        .find(|a| a["errorKind"].is_null())
        .expect("the 500");
    assert_eq!(five_hundred["responseStatusCode"], 500);
    engine.kill9();
    engine.spawn().expect("restart");
    let again = read(&engine);
    assert_eq!(again.len(), 3, "{again:?}");
    check(&again);
    drop(silent);
}
