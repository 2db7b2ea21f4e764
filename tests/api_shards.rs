//! The HTTP API on every shard (issue 16): each shard accepts API
//! connections on the one port; a shard other than 0 creates messages
//! itself and hands every other request (and every head check an API token
//! does not decide) to shard 0. Driven over many fresh connections, so that
//! both shards' listeners get some: messages, reads, console sessions with
//! their CSRF token, idempotency keys and refusals all answer as on shard 0,
//! and nothing is lost.

mod common;

use common::{wait_for, Engine, Sink, TOKEN};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// Connections opened per check: each lands on a shard by its address, so
/// both shards see some (the chance that 40 all land on one is 2^-39).
const CONNECTIONS: usize = 40;

/// One request on a connection of its own; (status, headers, JSON body).
fn fresh(
    engine: &Engine,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Vec<(String, String)>, Value) {
    let agent = ureq::AgentBuilder::new().max_idle_connections(0).build();
    engine.call(&agent, method, path, headers, body)
}

fn shard_connections(engine: &Engine, shard: usize) -> u64 {
    let text = engine.metrics().expect("metrics");
    let prefix = format!("ringhook_api_connections_total{{shard=\"{shard}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("a connection count per shard") as u64
}

#[test]
fn every_shard_serves_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let app = engine.create_app("shards");
    engine.create_endpoint(&app, json!({ "url": sink.url("/hook") }));
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("authorization", bearer.as_str())];

    // Messages created and read back, each on connections of their own.
    let mut ids = HashSet::new();
    for i in 0..CONNECTIONS {
        let (s, _, v) = fresh(
            &engine,
            "POST",
            &format!("/api/v1/app/{app}/msg"),
            &auth,
            Some(json!({ "eventType": "order.paid", "payload": { "n": i } })),
        );
        assert_eq!(s, 202, "{v}");
        assert_eq!(v["payload"], json!({ "n": i }), "{v}");
        let id = v["id"].as_str().expect("id").to_string();
        let (s, _, got) = fresh(
            &engine,
            "GET",
            &format!("/api/v1/app/{app}/msg/{id}"),
            &auth,
            None,
        );
        assert_eq!((s, &got["id"]), (200, &json!(id)), "{got}");
        ids.insert(id);
    }
    // Metrics are published by each shard every few hundred milliseconds.
    wait_for(
        "both shards accepted API connections",
        Duration::from_secs(10),
        || (shard_connections(&engine, 0) > 0 && shard_connections(&engine, 1) > 0).then_some(()),
    );

    // Refusals read the same on every shard: no token, a wrong token, an
    // unknown application (handed to shard 0, which knows inline creation).
    for _ in 0..CONNECTIONS / 4 {
        let path = format!("/api/v1/app/{app}/msg");
        let body = json!({ "eventType": "a", "payload": {} });
        assert_eq!(
            fresh(&engine, "POST", &path, &[], Some(body.clone())).0,
            401
        );
        let wrong = [("authorization", "Bearer rh_wrong")];
        assert_eq!(
            fresh(&engine, "POST", &path, &wrong, Some(body.clone())).0,
            401
        );
        let (s, _, v) = fresh(
            &engine,
            "POST",
            "/api/v1/app/app_none/msg",
            &auth,
            Some(body),
        );
        assert_eq!((s, v["code"].as_str()), (404, Some("not_found")), "{v}");
    }

    // A console session is shard 0's; its cookie and CSRF token work on
    // connections that reach either shard.
    let (s, hs, v) = fresh(&engine, "POST", "/console/api/session", &auth, None);
    assert_eq!(s, 200, "{v}");
    let cookie = hs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap_or_default().to_string())
        .expect("a session cookie");
    let csrf = v["csrfToken"].as_str().expect("csrf").to_string();
    for i in 0..CONNECTIONS / 2 {
        let read = [("cookie", cookie.as_str())];
        assert_eq!(fresh(&engine, "GET", "/api/v1/app", &read, None).0, 200);
        let write = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
        let (s, _, v) = fresh(
            &engine,
            "POST",
            "/api/v1/app",
            &write,
            Some(json!({ "name": format!("console-{i}") })),
        );
        assert_eq!(s, 201, "{v}");
        let (s, _, v) = fresh(
            &engine,
            "POST",
            "/api/v1/app",
            &read,
            Some(json!({ "name": "no-csrf" })),
        );
        assert_eq!((s, v["code"].as_str()), (403, Some("csrf_failed")), "{v}");
    }

    // One idempotency key from many connections: one message, one answer.
    let keyed = [
        ("authorization", bearer.as_str()),
        ("idempotency-key", "shards-key-1"),
    ];
    let answers: HashSet<String> = (0..CONNECTIONS / 2)
        .map(|_| {
            let (s, _, v) = fresh(
                &engine,
                "POST",
                &format!("/api/v1/app/{app}/msg"),
                &keyed,
                Some(json!({ "eventType": "order.paid", "payload": { "keyed": true } })),
            );
            assert_eq!(s, 202, "{v}");
            v["id"].as_str().expect("id").to_string()
        })
        .collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    ids.extend(answers);

    // Every message reaches the endpoint once.
    wait_for("every message delivered", Duration::from_secs(30), || {
        (sink.ids().iter().collect::<HashSet<_>>().len() >= ids.len()).then_some(())
    });
    let got: HashSet<String> = sink.ids().into_iter().collect();
    assert_eq!(got, ids);
    assert_eq!(sink.count(), ids.len(), "no message delivered twice");
}

#[test]
fn a_second_engine_cannot_join_the_api_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("first")).expect("dir");
    let first = Engine::start(&dir.path().join("first"), &["--shards", "2"]);
    let root = dir.path().join("second");
    std::fs::create_dir_all(&root).expect("dir");
    // Not through `Engine::spawn`: its health check would reach the first
    // engine on the shared address.
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_ringhook"))
        .arg("serve")
        .arg("--data-dir")
        .arg(root.join("data"))
        .arg("--socket")
        .arg(root.join("ingest.sock"))
        .args(["--http-addr", &first.http, "--shards", "2"])
        .env("RINGHOOK_API_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn a second engine");
    let status = wait_for("the second engine exits", Duration::from_secs(20), || {
        second.try_wait().ok().flatten()
    });
    let mut err = String::new();
    if let Some(mut e) = second.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(
        !status.success(),
        "a second engine on the same port does not start"
    );
    assert!(err.contains("cannot listen"), "{err}");
    // Every connection still reaches the first engine.
    for _ in 0..CONNECTIONS / 4 {
        let (s, _, v) = fresh(
            &first,
            "GET",
            "/api/v1/app",
            &[("authorization", &format!("Bearer {TOKEN}"))],
            None,
        );
        assert_eq!(s, 200, "{v}");
    }
}

/// A client at its per-client connection limit that reconnects as soon as
/// an answer closes its connection (as wrk does after a connection's last
/// request) is never refused: the closing connection's place is given back
/// before its answer is written, whichever shard the new connection
/// reaches.
#[test]
fn a_client_at_its_limit_that_reconnects_on_each_close_is_never_refused() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start_configured(
        dir.path(),
        "api_connections_per_client_max = 4\napi_requests_per_connection_max = 1\n",
        &["--shards", "2"],
    );
    let addr = engine.http.clone();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                for _ in 0..150 {
                    let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
                    conn.set_read_timeout(Some(Duration::from_secs(10)))
                        .expect("timeout");
                    conn.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\n\r\n")
                        .expect("request");
                    // Read to the close the answer announces; the next
                    // connection opens at once.
                    let mut got = Vec::new();
                    let _ = conn.read_to_end(&mut got);
                    let text = String::from_utf8_lossy(&got).to_string();
                    statuses.push(text.get(9..12).unwrap_or("").to_string());
                    assert!(text.contains("connection: close"), "{text}");
                }
                statuses
            })
        })
        .collect();
    let mut answered = 0;
    for c in clients {
        for status in c.join().expect("client") {
            assert_eq!(status, "204", "every connection was served");
            answered += 1;
        }
    }
    assert_eq!(answered, 600);
    // The counters are published with the shards' metrics snapshots.
    wait_for(
        "both shards took connections",
        Duration::from_secs(10),
        || (shard_connections(&engine, 0) > 0 && shard_connections(&engine, 1) > 0).then_some(()),
    );
}

/// Requests arriving together, which each shard gathers into batches
/// (`shard::gather`): each connection gets its own answer; of copies of
/// one `eventId` exactly one is accepted and the others are told its id;
/// every accepted message is delivered once.
#[test]
fn requests_gathered_into_one_batch_each_get_their_own_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let app = engine.create_app("gathered");
    engine.create_endpoint(&app, json!({ "url": sink.url("/hook") }));
    let bearer = format!("Bearer {TOKEN}");
    const THREADS: usize = 48;
    const SAME_EVENT: usize = 16;
    let start = std::sync::Barrier::new(THREADS);
    let answers: Vec<(usize, u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let (engine, app, bearer, start) = (&engine, &app, &bearer, &start);
                s.spawn(move || {
                    let event_id = if i < SAME_EVENT {
                        "same-event".to_string()
                    } else {
                        format!("event-{i}")
                    };
                    let body = json!({
                        "eventType": "order.paid",
                        "eventId": event_id,
                        "payload": { "n": i },
                    });
                    start.wait();
                    let (status, _, v) = fresh(
                        engine,
                        "POST",
                        &format!("/api/v1/app/{app}/msg"),
                        &[("authorization", bearer.as_str())],
                        Some(body),
                    );
                    (i, status, v)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("request thread"))
            .collect()
    });
    let mut accepted = HashSet::new();
    let mut same_accepted = Vec::new();
    let mut same_refused = Vec::new();
    for (i, status, v) in &answers {
        if *i < SAME_EVENT {
            match status {
                202 => same_accepted.push(v["id"].as_str().expect("id").to_string()),
                409 => same_refused.push(v["detail"].as_str().unwrap_or_default().to_string()),
                _ => panic!("request {i}: {status} {v}"),
            }
        } else {
            assert_eq!(*status, 202, "request {i}: {v}");
            assert_eq!(
                v["payload"],
                json!({ "n": i }),
                "request {i} got another's answer: {v}"
            );
            assert!(accepted.insert(v["id"].as_str().expect("id").to_string()));
        }
        if *status == 202 {
            assert_eq!(v["payload"]["n"], json!(i), "its own payload: {v}");
        }
    }
    assert_eq!(
        same_accepted.len(),
        1,
        "one of {SAME_EVENT} copies accepted"
    );
    assert_eq!(same_refused.len(), SAME_EVENT - 1);
    for detail in &same_refused {
        assert!(
            detail.contains(&same_accepted[0]),
            "names the accepted id: {detail}"
        );
    }
    accepted.extend(same_accepted);
    wait_for("every message delivered", Duration::from_secs(30), || {
        (sink.ids().len() >= accepted.len()).then_some(())
    });
    let got: HashSet<String> = sink.ids().into_iter().collect();
    assert_eq!(got, accepted);
    assert_eq!(sink.count(), accepted.len(), "no message delivered twice");
}
