//! Incoming webhooks (issue 11) through a real engine: sources managed by
//! the official `svix` SDK, requests signed the way each provider signs
//! them (`standardwebhooks`, `slack_sdk`, and the documented HMACs of
//! GitHub, Stripe and Shopify), every refusal forwarding nothing, routes
//! into applications, and `kill -9` after a burst of answered requests.

mod common;

use base64::Engine as _;
use common::{wait_for, Engine, Received, Sink, TOKEN};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    hmac_bytes(key, parts)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hmac_bytes(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// POSTs to a receive URL; (status, body, headers of interest).
fn post(url: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, Value, Option<String>) {
    let mut req = ureq::post(url).timeout(Duration::from_secs(10));
    for (n, v) in headers {
        req = req.set(n, v);
    }
    match req.send_bytes(body) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            let retry = r.header("retry-after").map(str::to_string);
            let text = r.into_string().unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::Null),
                retry,
            )
        }
        Err(e) => panic!("POST {url}: {e}"),
    }
}

fn create_source(engine: &Engine, body: Value) -> Value {
    let (s, v) = engine.api("POST", "/ingest/api/v1/source", Some(body));
    assert_eq!(s, 201, "{v}");
    v
}

fn source_endpoint(engine: &Engine, src: &str, url: &str) {
    let (s, v) = engine.api(
        "POST",
        &format!("/ingest/api/v1/source/{src}/endpoint"),
        Some(json!({ "url": url })),
    );
    assert_eq!(s, 201, "{v}");
}

fn at(sink: &Sink, path: &str) -> Vec<Received> {
    sink.received()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

/// The request log of `source` (a source as the API showed it).
fn request_log(engine: &Engine, source: &Value) -> Value {
    let id = source["id"].as_str().expect("source id");
    engine
        .api("GET", &format!("/ingest/api/v1/source/{id}/request"), None)
        .1
}

#[test]
fn the_svix_sdk_manages_sources_and_provider_libraries_sign() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let sink = Sink::start();
    let out = common::run_python_script(
        "ingest_sdk.py",
        &[
            format!("http://{}", engine.http),
            TOKEN.to_string(),
            format!("http://{}", sink.addr),
        ],
    );
    let report: Value = serde_json::from_str(&out).expect("report");
    // The Standard Webhooks request was forwarded once (its repeat and
    // every refused variant forwarded nothing), signed with the ingest
    // endpoint's secret, with the original body.
    let svix = wait_for("the svix delivery", Duration::from_secs(10), || {
        let got = at(&sink, "/svix");
        (!got.is_empty()).then_some(got)
    });
    let slack = wait_for("the slack delivery", Duration::from_secs(10), || {
        let got = at(&sink, "/slack");
        (!got.is_empty()).then_some(got)
    });
    // The repeat and every refused variant made no message.
    let src = report["svix_source"].as_str().expect("source id");
    let (_, msgs) = engine.api("GET", &format!("/api/v1/app/{src}/msg"), None);
    assert_eq!(msgs["data"].as_array().map(Vec::len), Some(1), "{msgs}");
    assert_eq!(svix.len(), 1, "exactly once");
    assert_eq!(
        svix[0].json(),
        json!({ "type": "user.created", "data": { "n": 1 } })
    );
    assert_eq!(
        svix[0].headers.get("x-forwarded-by").map(String::as_str),
        Some("ringhook")
    );
    let secret = report["endpoint_secret"].as_str().expect("secret");
    assert_eq!(common::verify_with_python(secret, &svix, dir.path()), 1);
    let slack_src = report["slack_source"].as_str().expect("source id");
    let (_, msgs) = engine.api("GET", &format!("/api/v1/app/{slack_src}/msg"), None);
    assert_eq!(msgs["data"].as_array().map(Vec::len), Some(1), "{msgs}");
    assert_eq!(slack[0].json()["event_id"], "Ev01");
}

#[test]
fn provider_signatures_are_checked_and_refusals_forward_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let sink = Sink::start();
    let app = engine.create_app("billing");
    engine.create_endpoint(&app, json!({ "url": sink.url("/app") }));

    // GitHub: X-Hub-Signature-256; the ping is answered, not forwarded; a
    // route takes the event type from X-GitHub-Event.
    let gh = create_source(
        &engine,
        json!({ "name": "gh", "type": "github", "config": { "secret": "gh-secret" },
                "routes": [{ "app": app, "eventTypeFromHeader": "X-GitHub-Event" }] }),
    );
    let gh_id = gh["id"].as_str().expect("id").to_string();
    assert_eq!(gh["config"]["secret"], "********");
    source_endpoint(&engine, &gh_id, &sink.url("/github"));
    let url = gh["ingestUrl"].as_str().expect("url").to_string();
    let body = br#"{"action":"opened","number":7}"#;
    let sig = format!("sha256={}", hmac_hex(b"gh-secret", &[body]));
    let ping_sig = format!("sha256={}", hmac_hex(b"gh-secret", &[b"{}"]));
    let (s, _, _) = post(
        &url,
        b"{}",
        &[
            ("x-github-event", "ping"),
            ("x-hub-signature-256", &ping_sig),
        ],
    );
    assert_eq!(s, 200);
    let good = [
        ("x-github-event", "pull_request"),
        ("x-github-delivery", "d-1"),
        ("x-hub-signature-256", sig.as_str()),
    ];
    assert_eq!(post(&url, body, &good).0, 200);
    assert_eq!(
        post(&url, body, &good).0,
        200,
        "a redelivery is answered 2xx"
    );
    let (s, v, _) = post(&url, br#"{"action":"closed","number":7}"#, &good);
    assert_eq!((s, v["code"].as_str()), (401, Some("bad_signature")));
    let (s, v, _) = post(&url, body, &good[..2]);
    assert_eq!((s, v["code"].as_str()), (401, Some("missing_signature")));

    // Stripe: t=…,v1=… over "t.body"; the route reads the type by pointer.
    let st = create_source(
        &engine,
        json!({ "name": "stripe", "type": "stripe", "config": { "secret": "whsec_stripe" },
                "routes": [{ "app": app, "eventTypeFromPointer": "/type" }] }),
    );
    let url = st["ingestUrl"].as_str().expect("url").to_string();
    let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    let t = now_s().to_string();
    let header = format!(
        "t={t},v1={}",
        hmac_hex(b"whsec_stripe", &[t.as_bytes(), b".", body])
    );
    assert_eq!(post(&url, body, &[("stripe-signature", &header)]).0, 200);
    let old = (now_s() - 3600).to_string();
    let stale = format!(
        "t={old},v1={}",
        hmac_hex(b"whsec_stripe", &[old.as_bytes(), b".", body])
    );
    let (s, v, _) = post(&url, body, &[("stripe-signature", &stale)]);
    assert_eq!((s, v["code"].as_str()), (401, Some("stale_timestamp")));

    // Shopify: base64 HMAC; a fixed-type route.
    let sh = create_source(
        &engine,
        json!({ "name": "shop", "type": "shopify", "config": { "secret": "shpss" },
                "logRequests": true,
                "routes": [{ "app": app, "eventType": "order.created" }] }),
    );
    let url = sh["ingestUrl"].as_str().expect("url").to_string();
    let body = br#"{"id":42}"#;
    let sig = base64::engine::general_purpose::STANDARD.encode(hmac_bytes(b"shpss", &[body]));
    let headers = [
        ("x-shopify-hmac-sha256", sig.as_str()),
        ("x-shopify-webhook-id", "w-1"),
        ("x-shopify-topic", "orders/create"),
    ];
    assert_eq!(post(&url, body, &headers).0, 200);
    assert_eq!(post(&url, body, &headers[1..]).0, 401);
    // Its signature (no timestamp: replayable) is hidden in the request log.
    let log = request_log(&engine, &sh);
    assert_eq!(
        log["data"][1]["headers"]["x-shopify-hmac-sha256"], "********",
        "{log}"
    );

    // Generic webhooks: a shared-secret header, basic auth, an HMAC.
    let header_src = create_source(
        &engine,
        json!({ "name": "g1", "type": "generic-webhook",
                "config": { "verify": { "kind": "header", "name": "X-Token", "value": "t0k" } } }),
    );
    let url = header_src["ingestUrl"].as_str().expect("url").to_string();
    assert_eq!(post(&url, br#"{"a":1}"#, &[("x-token", "t0k")]).0, 200);
    assert_eq!(post(&url, br#"{"a":1}"#, &[("x-token", "t0K")]).0, 401);
    let basic = create_source(
        &engine,
        json!({ "name": "g2", "type": "generic-webhook",
                "config": { "verify": { "kind": "basic", "username": "u", "password": "p" } } }),
    );
    let url = basic["ingestUrl"].as_str().expect("url").to_string();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("u:p")
    );
    assert_eq!(post(&url, b"a=1", &[("authorization", &auth)]).0, 200);
    assert_eq!(
        post(&url, b"a=1", &[("authorization", "Basic dTpx")]).0,
        401
    );
    let hm = create_source(
        &engine,
        json!({ "name": "g3", "type": "generic-webhook", "rateLimit": 2, "maxBodyBytes": 64,
                "config": { "verify": { "kind": "hmac", "header": "X-Signature", "prefix": "sha256=", "secret": "k" } } }),
    );
    let url = hm["ingestUrl"].as_str().expect("url").to_string();
    let body = br#"{"b":2}"#;
    let sig = format!("sha256={}", hmac_hex(b"k", &[body]));
    assert_eq!(post(&url, body, &[("x-signature", &sig)]).0, 200);
    // Over its rate (2/s, the bucket now holds one): a 429 with Retry-After.
    let big = vec![b' '; 100];
    let (s, _, _) = post(&url, &big, &[("x-signature", &sig)]);
    assert_eq!(s, 413, "over maxBodyBytes");
    let (s, _, retry) = post(&url, body, &[("x-signature", &sig)]);
    assert_eq!((s, retry.as_deref()), (429, Some("1")));

    // Two sources routed into one application with the same delivery id:
    // each source's message stands (ids are scoped by source).
    let twins_app = engine.create_app("twins");
    let twin = |name: &str| {
        create_source(
            &engine,
            json!({ "name": name, "type": "generic-webhook", "logRequests": true,
                    "config": { "verify": { "kind": "header", "name": "X-Shared", "value": "pass-123" } },
                    "routes": [{ "app": twins_app, "eventType": "twin.event" }] }),
        )
    };
    let (t1, t2) = (twin("t1"), twin("t2"));
    for t in [&t1, &t2] {
        let url = t["ingestUrl"].as_str().expect("url");
        let (s, _, _) = post(
            url,
            br#"{"t":1}"#,
            &[("x-shared", "pass-123"), ("webhook-id", "same-id")],
        );
        assert_eq!(s, 200);
    }
    let (_, twins) = engine.api("GET", &format!("/api/v1/app/{twins_app}/msg"), None);
    assert_eq!(twins["data"].as_array().map(Vec::len), Some(2), "{twins}");
    // The request log hides the configured secret header, whatever its name.
    let log = request_log(&engine, &t1);
    assert_eq!(log["data"][0]["headers"]["x-shared"], "********", "{log}");

    // Unknown URL, GET, disabled source.
    let base = format!("http://{}/ingest/", engine.http);
    assert_eq!(post(&format!("{base}itk_nope"), b"{}", &[]).0, 404);
    let (s, _) = engine.api("PUT", &format!("/ingest/api/v1/source/{gh_id}"), Some(json!({ "name": "gh", "type": "github", "config": { "secret": "gh-secret" }, "disabled": true })));
    assert_eq!(s, 200);
    let gh_url = gh["ingestUrl"].as_str().expect("url");
    let (s, v, _) = post(gh_url, b"{}", &[]);
    assert_eq!((s, v["code"].as_str()), (410, Some("source_disabled")));
    let get = ureq::get(gh_url).call();
    assert!(
        matches!(get, Err(ureq::Error::Status(410, _))),
        "disabled wins over the method"
    );

    // Forwarded: GitHub's pull_request once to its endpoint; the app got
    // one message per routed request with the route's event type.
    let deliveries = wait_for("routed messages", Duration::from_secs(10), || {
        let got = at(&sink, "/app");
        (got.len() >= 3).then_some(got)
    });
    let mut types: Vec<String> = deliveries
        .iter()
        .filter_map(|r| r.headers.get("webhook-id").cloned())
        .collect();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), 3, "three distinct messages");
    let (s, v) = engine.api("GET", &format!("/api/v1/app/{app}/msg"), None);
    assert_eq!(s, 200);
    let mut event_types: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["eventType"].as_str())
        .collect();
    event_types.sort();
    assert_eq!(
        event_types,
        ["invoice.paid", "order.created", "pull_request"]
    );
    assert_eq!(at(&sink, "/github").len(), 1);
    assert_eq!(
        at(&sink, "/github")[0].json(),
        json!({ "action": "opened", "number": 7 })
    );

    // Every refusal is counted by source and reason.
    let metrics = ureq::get(&format!("http://{}/metrics", engine.http))
        .set("authorization", &format!("Bearer {TOKEN}"))
        .call()
        .expect("metrics")
        .into_string()
        .expect("text");
    for (src, outcome) in [
        (gh_id.as_str(), "handshake"),
        (gh_id.as_str(), "duplicate"),
        (gh_id.as_str(), "bad_signature"),
        (gh_id.as_str(), "missing_signature"),
        (gh_id.as_str(), "disabled"),
        (hm["id"].as_str().expect("id"), "rate_limited"),
        (hm["id"].as_str().expect("id"), "too_large"),
    ] {
        let line =
            format!("ringhook_incoming_requests_total{{source=\"{src}\",outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }

    // The sources' applications are not applications of the API (two are:
    // billing and twins).
    let (s, v) = engine.api("GET", "/api/v1/app", None);
    assert_eq!(
        (s, v["data"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{v}"
    );
    let (s, v) = engine.api("DELETE", &format!("/api/v1/app/{gh_id}"), None);
    assert_eq!((s, v["code"].as_str()), (409, Some("owned_by_source")));
    // Bad configurations are refused with the field named.
    let (s, v) = engine.api(
        "POST",
        "/ingest/api/v1/source",
        Some(json!({ "name": "x", "type": "stripe", "config": {} })),
    );
    assert_eq!(s, 422, "{v}");
    assert!(
        v["detail"][0]["msg"]
            .as_str()
            .is_some_and(|m| m.contains("secret")),
        "{v}"
    );
    let (s, _) = engine.api(
        "POST",
        "/ingest/api/v1/source",
        Some(json!({ "name": "x", "type": "zoom", "config": {} })),
    );
    assert_eq!(s, 422);
}

/// `kill -9` right after a burst of 2xx answers: after the restart, every
/// answered request is forwarded (and nothing twice by its delivery id).
#[test]
fn kill_9_after_a_burst_loses_no_answered_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Deliveries fail until the restart, so they are all still pending at
    // the kill; the sink answers 2xx afterwards.
    let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gate = open.clone();
    let sink = Sink::with_policy(std::sync::Arc::new(move |_, _| {
        if gate.load(std::sync::atomic::Ordering::SeqCst) {
            204
        } else {
            503
        }
    }));
    let mut engine = Engine::start(dir.path(), &["--retry-schedule", "0s,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms"]);
    let src = create_source(
        &engine,
        json!({ "name": "burst", "type": "generic-webhook",
                "config": { "verify": { "kind": "header", "name": "X-Token", "value": "t" } } }),
    );
    let id = src["id"].as_str().expect("id").to_string();
    source_endpoint(&engine, &id, &sink.url("/burst"));
    let url = src["ingestUrl"].as_str().expect("url").to_string();
    let n = 200;
    for i in 0..n {
        let body = format!("{{\"n\":{i}}}");
        let key = format!("k-{i}");
        let (s, _, _) = post(
            &url,
            body.as_bytes(),
            &[("x-token", "t"), ("idempotency-key", &key)],
        );
        assert_eq!(s, 200, "request {i}");
    }
    engine.kill9();
    open.store(true, std::sync::atomic::Ordering::SeqCst);
    engine.spawn().expect("restart");
    let got = wait_for("every answered request", Duration::from_secs(30), || {
        let mut ns: Vec<i64> = at(&sink, "/burst")
            .iter()
            .filter_map(|r| r.json()["n"].as_i64())
            .collect();
        ns.sort_unstable();
        ns.dedup();
        (ns.len() == n).then_some(ns)
    });
    assert_eq!(got, (0..n as i64).collect::<Vec<_>>());
    // Re-sent after the restart, a request is recognised by its delivery id.
    let (s, v, _) = post(
        &url,
        br#"{"n":0}"#,
        &[("x-token", "t"), ("idempotency-key", "k-0")],
    );
    assert_eq!(s, 200);
    let (_, msgs) = engine.api("GET", &format!("/api/v1/app/{id}/msg?limit=250"), None);
    assert_eq!(msgs["data"].as_array().map(Vec::len), Some(n), "{v}");
}

/// `--ingest-addr`: receive URLs on a listener of their own, which serves
/// nothing of the API, so it can face the internet.
#[test]
fn receive_urls_can_have_a_listener_of_their_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let addr = format!("127.0.0.1:{port}");
    let engine = Engine::start(dir.path(), &["--ingest-addr", &addr]);
    let sink = Sink::start();
    let src = create_source(&engine, json!({ "name": "pub", "type": "generic-webhook" }));
    let url = src["ingestUrl"].as_str().expect("url").to_string();
    assert!(url.starts_with(&format!("http://{addr}/ingest/")), "{url}");
    source_endpoint(&engine, src["id"].as_str().expect("id"), &sink.url("/pub"));
    assert_eq!(post(&url, br#"{"x":1}"#, &[]).0, 200);
    // The API is not reachable there, token or not.
    for path in ["/api/v1/app", "/ingest/api/v1/source", "/metrics"] {
        let r = ureq::get(&format!("http://{addr}{path}"))
            .set("authorization", &format!("Bearer {TOKEN}"))
            .call();
        assert!(
            matches!(r, Err(ureq::Error::Status(404, _))),
            "{path}: {r:?}"
        );
    }
    let health = ureq::get(&format!("http://{addr}/api/v1/health")).call();
    assert_eq!(health.map(|r| r.status()).ok(), Some(204));
    wait_for("the delivery", Duration::from_secs(10), || {
        (at(&sink, "/pub").len() == 1).then_some(())
    });
}

/// The cron ticks fired for a source, from its messages' `eventId`s.
fn cron_ticks(engine: &Engine, src: &str) -> Vec<u64> {
    let (s, v) = engine.api("GET", &format!("/api/v1/app/{src}/msg?limit=250"), None);
    assert_eq!(s, 200, "{v}");
    let mut ticks: Vec<u64> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["eventId"].as_str()?.strip_prefix("cron-")?.parse().ok())
        .collect();
    ticks.sort_unstable();
    ticks
}

/// A cron source fires on its schedule into its endpoints and routes; a
/// tick missed while the process was down fires once at start (the newest
/// one only), and no tick fires twice, `kill -9` or not.
#[test]
fn a_cron_source_fires_each_tick_once_across_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &[]);
    let sink = Sink::start();
    let app = engine.create_app("sync");
    engine.create_endpoint(&app, json!({ "url": sink.url("/routed") }));
    let src = create_source(
        &engine,
        json!({ "name": "poll", "type": "cron",
                "config": { "schedule": "*/2 * * * * *", "payload": "{\"sync\":true}", "eventType": "poll.due" },
                "routes": [{ "app": app, "eventType": "poll.due" }] }),
    );
    let id = src["id"].as_str().expect("id").to_string();
    source_endpoint(&engine, &id, &sink.url("/cron"));
    // It receives nothing.
    let url = src["ingestUrl"].as_str().expect("url");
    assert_eq!(post(url, b"{}", &[]).0, 405);

    let before = wait_for("two ticks", Duration::from_secs(15), || {
        let t = cron_ticks(&engine, &id);
        (t.len() >= 2).then_some(t)
    });
    assert!(
        before.windows(2).all(|w| w[1] - w[0] == 2000),
        "every tick once: {before:?}"
    );
    assert!(before.iter().all(|t| t % 2000 == 0), "{before:?}");
    let last = *before.last().expect("a tick");
    engine.kill9();
    // Stay down across two ticks.
    wait_for("two ticks to pass", Duration::from_secs(10), || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        (now > last + 4_500).then_some(())
    });
    engine.spawn().expect("restart");
    let after = wait_for("ticks after the restart", Duration::from_secs(15), || {
        let t = cron_ticks(&engine, &id);
        (t.iter().filter(|&&x| x > last).count() >= 2).then_some(t)
    });
    let mut dedup = after.clone();
    dedup.dedup();
    assert_eq!(dedup, after, "no tick twice: {after:?}");
    let missed: Vec<u64> = after.iter().copied().filter(|&t| t > last).collect();
    // The ticks while down were last+2000 and last+4000 (and maybe later
    // ones before the start): exactly one of those fired, the newest.
    let started = missed[0];
    assert!(
        started >= last + 4000,
        "the newest missed tick, not an older one: {after:?}"
    );
    assert!(!after.contains(&(last + 2000)), "{after:?}");
    assert!(
        missed.windows(2).all(|w| w[1] - w[0] == 2000),
        "then every tick: {missed:?}"
    );
    // Delivered to the source's endpoint and routed into the application.
    wait_for("deliveries", Duration::from_secs(10), || {
        (at(&sink, "/cron").len() >= after.len() && at(&sink, "/routed").len() >= after.len())
            .then_some(())
    });
    assert_eq!(at(&sink, "/cron")[0].json(), json!({ "sync": true }));
    let (_, v) = engine.api("GET", &format!("/api/v1/app/{app}/msg"), None);
    assert_eq!(v["data"][0]["eventType"], "poll.due");
}

/// `logRequests`: every request that reached verification is kept with its
/// headers (credentials hidden), its body (cut at 64 KiB), its status,
/// outcome and messages, listed newest first, across a restart.
#[test]
fn the_request_log_keeps_each_request_and_what_became_of_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &[]);
    let logged = create_source(
        &engine,
        json!({ "name": "gh", "type": "github", "config": { "secret": "s" }, "logRequests": true }),
    );
    let quiet = create_source(
        &engine,
        json!({ "name": "q", "type": "github", "config": { "secret": "s" } }),
    );
    let id = logged["id"].as_str().expect("id").to_string();
    let url = logged["ingestUrl"].as_str().expect("url").to_string();
    let sign = |body: &[u8]| format!("sha256={}", hmac_hex(b"s", &[body]));
    let small = br#"{"action":"opened"}"#;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(100_000));
    let (s, accepted, _) = post(
        &url,
        small,
        &[
            ("x-github-event", "issues"),
            ("x-github-delivery", "d1"),
            ("x-hub-signature-256", &sign(small)),
        ],
    );
    assert_eq!(s, 200);
    assert_eq!(
        post(&url, small, &[("x-hub-signature-256", "sha256=00")]).0,
        401
    );
    assert_eq!(
        post(
            &url,
            big.as_bytes(),
            &[
                ("x-github-event", "push"),
                ("x-hub-signature-256", &sign(big.as_bytes()))
            ]
        )
        .0,
        200
    );
    let quiet_url = quiet["ingestUrl"].as_str().expect("url");
    assert_eq!(
        post(quiet_url, small, &[("x-hub-signature-256", &sign(small))]).0,
        200
    );

    let check = |engine: &Engine| {
        let (s, v) = engine.api("GET", &format!("/ingest/api/v1/source/{id}/request"), None);
        assert_eq!(s, 200, "{v}");
        let data = v["data"].as_array().expect("data");
        assert_eq!(data.len(), 3, "{v}");
        // Newest first.
        assert_eq!(
            (data[0]["status"].as_u64(), data[0]["outcome"].as_str()),
            (Some(200), Some("accepted"))
        );
        assert_eq!(data[0]["bodyBytes"].as_u64(), Some(big.len() as u64));
        assert_eq!(data[0]["bodyTruncated"], true);
        assert_eq!(data[0]["body"].as_str().map(str::len), Some(64 * 1024));
        assert_eq!(
            (data[1]["status"].as_u64(), data[1]["outcome"].as_str()),
            (Some(401), Some("bad_signature"))
        );
        assert_eq!(data[1]["headers"]["x-hub-signature-256"], "********");
        assert_eq!(data[2]["body"], String::from_utf8_lossy(small).as_ref());
        assert_eq!(data[2]["headers"]["x-github-delivery"], "d1");
        assert_eq!(data[2]["messages"], accepted["messages"]);
        assert_eq!(data[2]["method"], "POST");
        // Pages.
        let (_, p1) = engine.api(
            "GET",
            &format!("/ingest/api/v1/source/{id}/request?limit=2"),
            None,
        );
        assert_eq!(
            (p1["data"].as_array().map(Vec::len), p1["done"].as_bool()),
            (Some(2), Some(false))
        );
        let it = p1["iterator"].as_str().expect("iterator");
        let (_, p2) = engine.api(
            "GET",
            &format!("/ingest/api/v1/source/{id}/request?limit=2&iterator={it}"),
            None,
        );
        assert_eq!(p2["data"][0]["id"], data[2]["id"]);
    };
    check(&engine);
    let (_, v) = engine.api(
        "GET",
        &format!(
            "/ingest/api/v1/source/{}/request",
            quiet["id"].as_str().expect("id")
        ),
        None,
    );
    assert_eq!(
        v["data"].as_array().map(Vec::len),
        Some(0),
        "not logged without logRequests"
    );
    assert!(engine.stop());
    engine.spawn().expect("restart");
    check(&engine);
    // Expunging a message a request became leaves the request's body out
    // of the log too.
    let msg = accepted["messages"][0].as_str().expect("a message id");
    let (s, v) = engine.api(
        "DELETE",
        &format!("/api/v1/app/{id}/msg/{msg}/content"),
        None,
    );
    assert_eq!(s, 204, "{v}");
    let (_, v) = engine.api("GET", &format!("/ingest/api/v1/source/{id}/request"), None);
    let logged = &v["data"][2];
    assert_eq!(
        (logged["body"].as_str(), logged["bodyExpunged"].as_bool()),
        (Some(""), Some(true)),
        "{logged}"
    );
}
