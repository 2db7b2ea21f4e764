//! Bad input on the HTTP API: each gets a clear JSON error with a stable code,
//! the process stays up, and what was accepted before is still delivered.

mod common;

use common::{wait_for, Engine, Sink};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn raw(addr: &str, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let _ = s.write_all(bytes);
    // Half-close: the server sees EOF after the request, like a client that is done.
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn bad_requests_get_clear_errors_and_nothing_accepted_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &[]);
    let sink = Sink::start();
    let app = engine.create_app("errors");
    engine.create_endpoint(&app, json!({ "url": sink.url("/ok") }));
    let before = engine.send(&app, "a.b", json!({ "before": true }));

    // Authentication.
    let (s, v) = engine.api_with_token("GET", "/api/v1/app", None, None);
    assert_eq!(
        (s, v["code"].as_str()),
        (401, Some("authentication_failed"))
    );
    let (s, _) = engine.api_with_token("GET", "/api/v1/app", None, Some("wrong"));
    assert_eq!(s, 401);

    // Unknown ids and routes.
    let (s, v) = engine.api("GET", "/api/v1/app/app_nope", None);
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
    let (s, _) = engine.api(
        "POST",
        "/api/v1/app/app_nope/msg",
        Some(json!({ "eventType": "a", "payload": {} })),
    );
    assert_eq!(s, 404);
    let (s, _) = engine.api(
        "GET",
        &format!("/api/v1/app/{app}/endpoint/ep_nope/secret"),
        None,
    );
    assert_eq!(s, 404);

    // Invalid JSON and invalid fields.
    let resp = raw(
        &engine.http,
        format!("POST /api/v1/app HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer {}\r\ncontent-length: 5\r\n\r\n{{nop}}", common::TOKEN).as_bytes(),
    );
    assert!(
        resp.starts_with("HTTP/1.1 400") && resp.contains("invalid_json"),
        "{resp}"
    );
    let (s, v) = engine.api("POST", "/api/v1/app", Some(json!({ "name": 5 })));
    assert_eq!(
        (s, v["code"].as_str()),
        (422, Some("validation_error")),
        "{v}"
    );
    assert_eq!(v["detail"][0]["loc"], json!(["body", "name"]));
    let (s, _) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/msg"),
        Some(json!({ "eventType": "a b", "payload": {} })),
    );
    assert_eq!(s, 422);
    let (s, _) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/msg"),
        Some(json!({ "eventType": "a", "payload": [1] })),
    );
    assert_eq!(s, 422);
    let (s, _) = engine.api("GET", "/api/v1/app?limit=251", None);
    assert_eq!(s, 422);

    // Hostile URLs.
    for url in [
        "ftp://example.com/",
        "http://user:pw@example.com/",
        "not a url",
    ] {
        let (s, v) = engine.api(
            "POST",
            &format!("/api/v1/app/{app}/endpoint"),
            Some(json!({ "url": url })),
        );
        assert_eq!(s, 422, "{url}: {v}");
    }

    // Oversize body: refused before it is buffered.
    let big = vec![b'a'; 2 * 1024 * 1024];
    let mut req = format!(
        "POST /api/v1/app/{app}/msg HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-length: {}\r\n\r\n",
        common::TOKEN,
        big.len()
    )
    .into_bytes();
    req.extend_from_slice(&big);
    let resp = raw(&engine.http, &req);
    assert!(
        resp.starts_with("HTTP/1.1 413") && resp.contains("payload_too_large"),
        "{resp}"
    );

    // Malformed HTTP.
    let resp = raw(&engine.http, b"GARBAGE\x01\x02 / HTTP/9\r\n\r\n");
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    let resp = raw(
        &engine.http,
        format!(
            "GET /api/v1/app HTTP/1.1\r\nx: {}\r\n\r\n",
            "y".repeat(20_000)
        )
        .as_bytes(),
    );
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");
    // A truncated request followed by a close must not disturb anything.
    let _ = raw(
        &engine.http,
        b"POST /api/v1/app HTTP/1.1\r\ncontent-length: 100\r\n\r\n{\"na",
    );

    // Still up, and the message accepted before all this is delivered.
    assert!(engine.is_running());
    let after = engine.send(&app, "a.b", json!({ "after": true }));
    wait_for("both deliveries", Duration::from_secs(30), || {
        let ids = sink.ids();
        (ids.contains(&before) && ids.contains(&after)).then_some(())
    });
}

#[test]
fn private_targets_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--no-allow-private"]);
    let app = engine.create_app("ssrf");
    for url in [
        "http://127.0.0.1:9/",
        "http://localhost:9/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/",
        "http://192.168.1.1/",
    ] {
        let (s, v) = engine.api(
            "POST",
            &format!("/api/v1/app/{app}/endpoint"),
            Some(json!({ "url": url })),
        );
        assert_eq!(s, 422, "{url} must be refused: {v}");
        assert_eq!(v["detail"][0]["loc"], json!(["body", "url"]));
    }
}

#[test]
fn tokens_minted_by_the_cli_are_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringhook"))
        .args(["token", "create", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .expect("token create");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.starts_with("rh_") && token.len() > 20, "{token}");
    let engine = Engine::start(dir.path(), &[]);
    let (s, _) = engine.api_with_token("GET", "/api/v1/app", None, Some(&token));
    assert_eq!(s, 200, "the minted token works");
    let (s, _) = engine.api_with_token("GET", "/api/v1/app", None, Some("rh_not_minted"));
    assert_eq!(s, 401);
}

/// A `HEAD` answer carries a `GET`'s headers and no body, and a 204 no body
/// and no `content-length`: on a kept-alive connection the next answer
/// starts right after, so a proxy pooling the connection reads each whole.
#[test]
fn head_and_no_content_answers_end_where_the_next_begins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let app = engine.create_app("framing");
    let auth = format!("authorization: Bearer {}\r\n", common::TOKEN);
    let resp = raw(
        &engine.http,
        format!(
            "HEAD /api/v1/app/{app} HTTP/1.1\r\nhost: x\r\n{auth}\r\n\
             DELETE /api/v1/app/{app} HTTP/1.1\r\nhost: x\r\n{auth}\r\n\
             GET /api/v1/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    let answers: Vec<&str> = resp.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 3, "three answers, each whole: {resp}");
    let (head, deleted, health) = (answers[0], answers[1], answers[2]);
    // HEAD is a page's method; on the API it is refused, bodiless all the same.
    assert!(head.starts_with("405"), "{head}");
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .expect("a HEAD answer says the GET's length");
    assert!(length > 0, "{head}");
    assert!(
        head.ends_with("\r\n\r\n"),
        "no body after the head: {head:?}"
    );
    assert!(deleted.starts_with("204"), "{deleted}");
    assert!(
        !deleted.to_ascii_lowercase().contains("content-length"),
        "{deleted}"
    );
    assert!(deleted.ends_with("\r\n\r\n"), "{deleted:?}");
    assert!(health.starts_with("204"), "{health}");
}

/// Public routes (health, pages, sign-in) take no body: one declared is
/// refused from the head, so nobody can make the engine buffer bodies
/// before signing in.
#[test]
fn public_routes_refuse_a_body_before_reading_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    for path in ["/api/v1/health", "/console/api/session"] {
        let method = if path.contains("session") {
            "POST"
        } else {
            "GET"
        };
        // The body is announced but never sent.
        let resp = raw(
            &engine.http,
            format!("{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n")
                .as_bytes(),
        );
        assert!(
            resp.starts_with("HTTP/1.1 413") && resp.contains("payload_too_large"),
            "{path}: {resp}"
        );
    }
}
