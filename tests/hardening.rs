//! Hardening, item by item (the hardening issue's numbering), each through a
//! real engine over real sockets.

mod common;

use common::{Engine, Sink};
use serde_json::{json, Value};

/// Item 6: sensitive header values appear in no API view.
#[test]
fn sensitive_header_values_are_redacted_in_every_endpoint_view() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "1"]);
    let sink = Sink::start();
    let app = engine.create_app("redact");
    let secret = "Bearer sup3r-s3cret";
    let created = engine.create_endpoint(
        &app,
        json!({
            "url": sink.url("/r"),
            "headers": { "Authorization": secret, "x-api-key": "k3y", "X-Auth-Token": "t0k", "x-team": "billing" }
        }),
    );
    let id = created["id"].as_str().expect("id").to_string();
    let (_, got) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint/{id}"), None);
    let (_, list) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint"), None);
    let (_, patched) = engine.api(
        "PATCH",
        &format!("/api/v1/app/{app}/endpoint/{id}"),
        Some(json!({ "description": "d" })),
    );
    for (what, view) in [
        ("create", &created),
        ("get", &got),
        ("list", &list["data"][0]),
        ("patch", &patched),
    ] {
        let text = view.to_string();
        for value in [secret, "k3y", "t0k"] {
            assert!(!text.contains(value), "{what} shows {value}: {text}");
        }
        assert_eq!(view["headers"], json!({ "x-team": "billing" }), "{what}");
        let mut names: Vec<&str> = view["sensitiveHeaders"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: {text}"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["Authorization", "X-Auth-Token", "x-api-key"],
            "{what}"
        );
    }
    // Still sent with every delivery.
    engine.send(&app, "r.x", json!({ "i": 1 }));
    let got = common::wait_for("a delivery", std::time::Duration::from_secs(30), || {
        sink.received().into_iter().next()
    });
    assert_eq!(
        got.headers.get("authorization").map(String::as_str),
        Some(secret)
    );
}

/// Item 7: the API refuses header values the sender would refuse, instead
/// of accepting an endpoint whose every delivery then fails.
#[test]
fn header_values_the_sender_refuses_are_refused_by_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "1"]);
    let sink = Sink::start();
    let url = sink.url("/h");
    let app = engine.create_app("ctl");
    for value in ["a\u{1}b", "a\u{7f}b", "a\u{b}b", "a\rb", "a\nb", "a\u{0}b"] {
        let (s, v) = engine.api(
            "POST",
            &format!("/api/v1/app/{app}/endpoint"),
            Some(json!({ "url": url, "headers": { "x-v": value } })),
        );
        assert_eq!(s, 422, "{value:?}: {v}");
        assert_eq!(v["code"], "validation_error", "{value:?}: {v}");
        assert_eq!(v["detail"][0]["loc"][1], "headers", "{value:?}: {v}");
    }
    let (s, v) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/endpoint"),
        Some(json!({ "url": url, "headers": { "x-v": "tab\tok" } })),
    );
    assert_eq!(s, 201, "a tab is allowed: {v}");
}

/// Item 8: start-up removes a stale socket at `--socket`, never a file; the
/// socket it binds is the owner's alone.
/// Runs `ringhook serve` with this data directory and socket path, which
/// must refuse to start; its stderr.
fn refused_start(data: &std::path::Path, socket: &std::path::Path) -> String {
    refused_start_with(data, socket, &[])
}

/// `refused_start` with more arguments (a `--config`, say).
fn refused_start_with(
    data: &std::path::Path,
    socket: &std::path::Path,
    more: &[&std::ffi::OsStr],
) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringhook"))
        .arg("serve")
        .arg("--data-dir")
        .arg(data)
        .arg("--socket")
        .arg(socket)
        .arg("--http-addr")
        .arg("127.0.0.1:0")
        .args(more)
        .env("RINGHOOK_API_TOKEN", common::TOKEN)
        .output()
        .expect("run ringhook");
    assert!(!out.status.success(), "must not start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn start_up_never_deletes_a_file_at_the_socket_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let precious = dir.path().join("precious.txt");
    std::fs::write(&precious, b"keep me").expect("write");
    let stderr = refused_start(&data, &precious);
    assert!(stderr.contains("not a socket"), "{stderr}");
    assert_eq!(std::fs::read(&precious).expect("still there"), b"keep me");

    assert!(
        !data.join("catalog").exists(),
        "a refused start writes no journal"
    );

    // A socket that cannot be bound stops the start with the path and why.
    let nowhere = dir.path().join("missing").join("ingest.sock");
    let stderr = refused_start(&dir.path().join("data2"), &nowhere);
    let want = format!("shard 0 failed to start: cannot bind {}", nowhere.display());
    assert!(stderr.contains(&want), "{stderr}");

    // A stale socket (no listener) is replaced; the new one is 0600.
    let mut engine = Engine::start(dir.path(), &["--shards", "1"]);
    engine.kill9();
    assert!(engine.socket.exists(), "kill -9 leaves the socket behind");
    engine.spawn().expect("starts over a stale socket");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&engine.socket)
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

/// Item 12: only globally routable unicast targets, unless private targets
/// are allowed.
#[test]
fn endpoint_urls_must_reach_globally_routable_addresses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "1", "--no-allow-private"]);
    let app = engine.create_app("ssrf");
    for host in [
        "198.18.0.1",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "[::ffff:0:7f00:1]",
        "[100::1]",
        "[::ffff:127.0.0.1]",
        "[64:ff9b::a9fe:a9fe]",
        "127.0.0.1",
        "169.254.169.254",
    ] {
        let (s, v) = engine.api(
            "POST",
            &format!("/api/v1/app/{app}/endpoint"),
            Some(json!({ "url": format!("http://{host}/hook") })),
        );
        assert_eq!(s, 422, "{host}: {v}");
        assert_eq!(v["detail"][0]["loc"][1], "url", "{host}: {v}");
    }
    let (s, v) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/endpoint"),
        Some(json!({ "url": "http://93.184.216.34/hook" })),
    );
    assert_eq!(s, 201, "a global address is accepted: {v}");
}

/// `depth` levels of nested objects and arrays, as a JSON object.
fn nested(depth: usize) -> String {
    let mut s = String::new();
    for _ in 0..depth - 1 {
        s.push_str("{\"a\":");
    }
    s.push_str("{\"b\":1}");
    for _ in 0..depth - 1 {
        s.push('}');
    }
    s
}

/// Item 13: payloads nested deeper than 128 levels are refused, over the API
/// and the socket; at 128 they are accepted and read back whole.
#[test]
fn payloads_nested_deeper_than_128_are_refused_on_every_path() {
    use ringhook::ingest::client::IngestClient;
    use ringhook::ingest::frame::{Event, EventResult, EventStatus};
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "1"]);
    let app = engine.create_app("deep");
    // (status, body text) of a POST of a message.
    let post = |body: String| -> (u16, String) {
        let res = ureq::post(&format!("http://{}/api/v1/app/{app}/msg", engine.http))
            .set("authorization", &format!("Bearer {}", common::TOKEN))
            .set("content-type", "application/json")
            .send_string(&body);
        let resp = match res {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("post: {e}"),
        };
        (resp.status(), resp.into_string().expect("text"))
    };
    let arrays = |depth: usize| {
        format!(
            "{{\"a\":{}{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    for payload in [nested(129), nested(1_000), arrays(520_000)] {
        let depth = payload.len();
        let body = format!(r#"{{"eventType":"d.x","payload":{payload}}}"#);
        let (status, text) = post(body);
        assert_eq!(status, 422, "{depth}: {text}");
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["code"], "validation_error", "{depth}: {v}");
        let msg = v["detail"][0]["msg"].as_str().unwrap_or_default();
        assert!(msg.contains("deeper than 128"), "{depth}: {v}");
    }
    let ok = nested(128);
    // Clients' JSON readers stop at 127 levels by default; this one must not.
    let deep_json = |text: String| -> Value {
        let mut de = serde_json::Deserializer::from_str(&text);
        de.disable_recursion_limit();
        serde::Deserialize::deserialize(&mut de).expect("json")
    };
    let (status, created) = post(format!(r#"{{"eventType":"d.x","payload":{ok}}}"#));
    assert_eq!(status, 202, "128 levels are accepted");
    let created = deep_json(created);
    let id = created["id"].as_str().expect("id");
    let got = ureq::get(&format!("http://{}/api/v1/app/{app}/msg/{id}", engine.http))
        .set("authorization", &format!("Bearer {}", common::TOKEN))
        .call()
        .expect("get")
        .into_string()
        .expect("text");
    assert_eq!(
        deep_json(got)["payload"].to_string(),
        ok,
        "reads back whole, not null"
    );

    let mut client = IngestClient::connect(&engine.socket).expect("connect");
    let event = |payload: String| Event {
        app: app.clone(),
        event_type: "d.x".into(),
        event_id: None,
        channels: vec![],
        payload: payload.into_bytes(),
    };
    let results = client
        .send_batch(&[
            event(nested(129)),
            event(nested(100_000)),
            event(nested(128)),
        ])
        .expect("batch acked");
    assert!(matches!(
        results[0],
        EventResult::Rejected(EventStatus::InvalidPayload)
    ));
    assert!(matches!(
        results[1],
        EventResult::Rejected(EventStatus::InvalidPayload)
    ));
    assert!(
        matches!(results[2], EventResult::Accepted { .. }),
        "{:?}",
        results[2]
    );
}

/// Item 14: a receiver that answers 200 with neither content-length nor
/// chunked framing and keeps the connection open has answered: the attempt
/// succeeds at once (no timeout, no second delivery) and the connection is
/// not reused.
#[test]
fn an_unframed_200_on_an_open_connection_is_one_successful_attempt() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = [0u8; 65536];
            let mut got = Vec::new();
            // Read the head and body (content-length) of one request.
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if got.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\n\r\nok");
            held.push(conn); // never closed
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "1"]);
    let app = engine.create_app("unframed");
    engine.create_endpoint(&app, json!({ "url": format!("http://{addr}/u") }));
    let started = std::time::Instant::now();
    let id = engine.send(&app, "u.x", json!({ "i": 1 }));
    let attempts = common::wait_for(
        "a successful attempt",
        std::time::Duration::from_secs(10),
        || {
            let (_, v) = engine.api("GET", &format!("/api/v1/app/{app}/attempt/msg/{id}"), None);
            let data = v["data"].as_array().cloned().unwrap_or_default();
            data.iter()
                .any(|a| a["responseStatusCode"] == 200)
                .then_some(data)
        },
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "well before the 15 s timeout"
    );
    assert_eq!(attempts.len(), 1, "one attempt: {attempts:?}");
    assert_eq!(requests.load(Ordering::SeqCst), 1, "delivered once");
}

/// An engine whose API limits are `toml` (small, so tests run fast).
fn engine_with(dir: &std::path::Path, toml: &str) -> Engine {
    Engine::start_configured(dir, toml, &["--shards", "1"])
}

/// Reads until the peer closes (or `limit` passes); returns the bytes and
/// whether the peer closed.
fn read_to_close(conn: &mut std::net::TcpStream, limit: std::time::Duration) -> (Vec<u8>, bool) {
    use std::io::Read;
    conn.set_read_timeout(Some(limit)).expect("timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// Item 4: the token is checked right after the head: an unauthenticated
/// request with a large body is answered 401 without its body being read.
#[test]
fn the_token_is_checked_before_any_body_byte_is_read() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "1"]);
    let mut conn = std::net::TcpStream::connect(&engine.http).expect("connect");
    let head = "POST /api/v1/app HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n";
    conn.write_all(head.as_bytes()).expect("head");
    // No body byte is sent: the answer must come anyway.
    let (got, _) = read_to_close(&mut conn, std::time::Duration::from_secs(5));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.contains("authentication_failed"), "{text}");
}

/// Item 3: a connection that sends no whole head in time, or idles too long
/// between requests, is closed; one client cannot take every connection,
/// and a connection over a limit gets a 503 with a JSON error.
#[test]
fn slow_and_idle_connections_are_closed_and_one_client_is_capped() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine_with(
        dir.path(),
        "api_header_timeout_ms = 400\napi_keepalive_idle_ms = 400\napi_connections_per_client_max = 3\n",
    );
    // A partial head, then silence: closed after the header timeout.
    let mut slow = std::net::TcpStream::connect(&engine.http).expect("connect");
    let started = Instant::now();
    slow.write_all(b"GET /api/v1/health HTTP/1.1\r\n")
        .expect("partial");
    let (_, closed) = read_to_close(&mut slow, Duration::from_secs(5));
    assert!(closed, "a slow head is cut off");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // One request, then idle: closed after the keep-alive idle time.
    let mut idle = std::net::TcpStream::connect(&engine.http).expect("connect");
    idle.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\n\r\n")
        .expect("req");
    let started = Instant::now();
    let (got, closed) = read_to_close(&mut idle, Duration::from_secs(5));
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 204"));
    assert!(
        closed && started.elapsed() < Duration::from_secs(3),
        "idle keep-alive closed"
    );

    // Three connections from one address are allowed; the fourth is refused
    // with a 503 and a JSON error.
    let held: Vec<_> = (0..3)
        .map(|_| std::net::TcpStream::connect(&engine.http).expect("connect"))
        .collect();
    common::wait_for(
        "the fourth connection refused",
        Duration::from_secs(5),
        || {
            let mut fourth = std::net::TcpStream::connect(&engine.http).ok()?;
            let (got, closed) = read_to_close(&mut fourth, Duration::from_secs(2));
            let text = String::from_utf8_lossy(&got).to_string();
            (closed && text.starts_with("HTTP/1.1 503")).then_some(text)
        },
    )
    .contains("too_many_connections")
    .then_some(())
    .expect("a JSON error with code too_many_connections");
    drop(held);
    common::wait_for("room again", Duration::from_secs(5), || {
        engine.health().then_some(())
    });
}

/// Item 2: one deadline covers a whole request, writing the answer
/// included, so a client that never reads cannot hold a connection; and a
/// connection carries a bounded number of requests.
#[test]
fn a_client_that_never_reads_loses_its_connection_and_requests_per_connection_are_capped() {
    use std::io::Write;
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine_with(
        dir.path(),
        "api_request_timeout_ms = 1000\napi_requests_per_connection_max = 3\n",
    );
    let app = engine.create_app("big");
    let blob = "x".repeat(900_000);
    for i in 0..10 {
        engine.send(&app, "b.x", json!({ "i": i, "blob": blob }));
    }
    // About 9 MB of answer: more than the kernel buffers between us.
    let mut conn = std::net::TcpStream::connect(&engine.http).expect("connect");
    let req = format!(
        "GET /api/v1/app/{app}/msg?limit=10 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
        common::TOKEN
    );
    conn.write_all(req.as_bytes()).expect("request");
    std::thread::sleep(Duration::from_secs(3)); // the client does not read
    let (got, closed) = read_to_close(&mut conn, Duration::from_secs(10));
    assert!(closed, "the server gave up on the connection");
    assert!(
        got.len() < 9_000_000,
        "the answer was cut off, not waited out: {} bytes",
        got.len()
    );

    // Four requests in one write: three answers, the last says close.
    let mut conn = std::net::TcpStream::connect(&engine.http).expect("connect");
    conn.write_all(
        b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\n\r\n"
            .repeat(4)
            .as_slice(),
    )
    .expect("pipelined");
    let (got, closed) = read_to_close(&mut conn, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&got);
    assert!(closed);
    assert_eq!(text.matches("HTTP/1.1 204").count(), 3, "{text}");
    assert_eq!(text.matches("connection: close").count(), 1, "{text}");
}

/// Item 5: a panic in a shard aborts the process (an abnormal exit a
/// supervisor restarts), and the restart loses nothing journaled.
#[test]
fn a_panic_aborts_and_the_restart_loses_nothing() {
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start();
    let mut engine = Engine::start(dir.path(), &["--shards", "2"]);
    let app = engine.create_app("boom");
    engine.create_endpoint(&app, json!({ "url": sink.url("/b") }));
    let before: Vec<String> = (0..5)
        .map(|i| engine.send(&app, "calm.x", json!({ "i": i })))
        .collect();
    common::wait_for("the calm messages", Duration::from_secs(30), || {
        let ids = sink.ids();
        before.iter().all(|id| ids.contains(id)).then_some(())
    });
    engine.stop();
    engine.env.push((
        "RINGHOOK_FAILPOINT_PANIC_EVENT_TYPE".into(),
        "boom.x".into(),
    ));
    engine.spawn().expect("starts with the failpoint");
    // The panic may stop the engine before it answers: the message is
    // journaled either way, and its producer would send it again.
    let _ = engine.api_result(
        "POST",
        &format!("/api/v1/app/{app}/msg"),
        json!({ "eventType": "boom.x", "payload": { "bang": true } }),
    );
    let status = engine.wait_exit(Duration::from_secs(30));
    let log = std::fs::read_to_string(&engine.stderr_path).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("the engine stops by itself: {log}"));
    use std::os::unix::process::ExitStatusExt;
    assert!(
        !status.success(),
        "a crash must not look like a clean exit: {status:?}"
    );
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "a panic aborts: {status:?}"
    );
    assert!(log.contains("a panic is a bug: aborting"), "{log}");

    engine.env.clear();
    engine.spawn().expect("restarts");
    common::wait_for(
        "the journaled message after the restart",
        Duration::from_secs(30),
        || {
            sink.received()
                .iter()
                .any(|r| String::from_utf8_lossy(&r.body).contains("bang"))
                .then_some(())
        },
    );
    assert!(engine.stop());
}

/// The engine's anonymous memory, in KiB.
fn rss_anon_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssAnon")
}

/// Item 9: an ingest connection that starts a frame and stalls, or sits
/// idle, is closed; partial frames take their bytes from the in-flight
/// budget before they are buffered, so many stalled large frames cannot
/// grow memory past it.
#[test]
fn stalled_and_idle_ingest_connections_are_closed_and_partial_frames_are_bounded() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine_with(
        dir.path(),
        "ingest_frame_timeout_ms = 3000\ningest_idle_timeout_ms = 500\ningest_bytes_in_flight_max = 20971520\n",
    );
    // Whether the engine closed the connection within `limit`.
    let closed_within = |conn: &mut UnixStream, limit: Duration| {
        use std::io::Read;
        conn.set_read_timeout(Some(limit)).expect("timeout");
        let mut b = [0u8; 64];
        match conn.read(&mut b) {
            Ok(0) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            Ok(_) => false,
        }
    };
    // Idle: closed after the idle timeout.
    let mut idle = UnixStream::connect(&engine.socket).expect("connect");
    let started = Instant::now();
    assert!(closed_within(&mut idle, Duration::from_secs(5)));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "idle closed: {:?}",
        started.elapsed()
    );

    // Four producers start 16 MiB frames and stall: the budget (20 MiB) lets
    // one of them be buffered; the others wait, unread.
    let pid = engine.child.as_ref().expect("running").id();
    let before = rss_anon_kib(pid);
    let frame_len: u32 = 16 * 1024 * 1024;
    let mut stalled: Vec<UnixStream> = (0..4)
        .map(|_| {
            let mut c = UnixStream::connect(&engine.socket).expect("connect");
            c.set_write_timeout(Some(Duration::from_millis(500)))
                .expect("timeout");
            c.write_all(&frame_len.to_le_bytes()).expect("length");
            c.write_all(&[1, 1]).expect("a BATCH frame, version 1");
            c
        })
        .collect();
    let chunk = vec![0x41u8; 1024 * 1024];
    for c in stalled.iter_mut() {
        // Up to 12 MiB each; a writer the engine does not read blocks.
        for _ in 0..12 {
            if c.write_all(&chunk).is_err() {
                break;
            }
        }
    }
    let grown_mib = rss_anon_kib(pid).saturating_sub(before) / 1024;
    assert!(
        grown_mib < 40,
        "partial frames took {grown_mib} MiB past a 20 MiB budget"
    );
    // Stalled mid-frame: closed after the frame timeout, and the budget is
    // free again for a producer that sends whole frames.
    for c in stalled.iter_mut() {
        assert!(
            closed_within(c, Duration::from_secs(10)),
            "a stalled frame is cut off"
        );
    }
    drop(stalled);
    let app = engine.create_app("after");
    let mut client =
        ringhook::ingest::client::IngestClient::connect(&engine.socket).expect("connect");
    let results = client
        .send_batch(&[ringhook::ingest::frame::Event {
            app: app.clone(),
            event_type: "a.b".into(),
            event_id: None,
            channels: vec![],
            payload: b"{\"ok\":1}".to_vec(),
        }])
        .expect("acked");
    assert!(matches!(
        results[0],
        ringhook::ingest::frame::EventResult::Accepted { .. }
    ));
}

/// Item 10 (its caps): the catalog's counts and sizes are bounded, with a
/// clear 4xx past each bound.
#[test]
fn the_catalog_is_bounded_with_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine_with(
        dir.path(),
        "max_apps = 3\nmax_endpoints_per_app = 2\nmax_event_types = 2\n",
    );
    let sink = Sink::start();
    // 10,000 metadata keys (accepted before): refused.
    let many: serde_json::Map<String, Value> =
        (0..10_000).map(|i| (format!("k{i}"), json!("v"))).collect();
    let (s, v) = engine.api(
        "POST",
        "/api/v1/app",
        Some(json!({ "name": "m", "metadata": many })),
    );
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["detail"][0]["loc"][1], "metadata", "{v}");
    let big = "x".repeat(9000);
    let (s, _) = engine.api(
        "POST",
        "/api/v1/app",
        Some(json!({ "name": "m", "metadata": { "k": big } })),
    );
    assert_eq!(s, 422, "metadata over 8 KiB");

    let apps: Vec<String> = (0..3)
        .map(|i| engine.create_app(&format!("a{i}")))
        .collect();
    let (s, v) = engine.api("POST", "/api/v1/app", Some(json!({ "name": "a3" })));
    assert_eq!((s, v["code"].as_str()), (422, Some("limit_reached")), "{v}");
    // Also through a message that would create its application.
    let (s, v) = engine.api(
        "POST",
        "/api/v1/app/new-app/msg",
        Some(json!({ "eventType": "a.b", "payload": {}, "application": { "name": "n" } })),
    );
    assert_eq!((s, v["code"].as_str()), (422, Some("limit_reached")), "{v}");

    for _ in 0..2 {
        engine.create_endpoint(&apps[0], json!({ "url": sink.url("/e") }));
    }
    let (s, v) = engine.api(
        "POST",
        &format!("/api/v1/app/{}/endpoint", apps[0]),
        Some(json!({ "url": sink.url("/e") })),
    );
    assert_eq!((s, v["code"].as_str()), (422, Some("limit_reached")), "{v}");
    // Another application has its own endpoints.
    engine.create_endpoint(&apps[1], json!({ "url": sink.url("/e") }));

    for name in ["t.one", "t.two"] {
        let (s, _) = engine.api(
            "POST",
            "/api/v1/event-type",
            Some(json!({ "name": name, "description": "d" })),
        );
        assert_eq!(s, 201);
    }
    let (s, v) = engine.api(
        "POST",
        "/api/v1/event-type",
        Some(json!({ "name": "t.three", "description": "d" })),
    );
    assert_eq!((s, v["code"].as_str()), (422, Some("limit_reached")), "{v}");
    // Deleting one makes room again.
    let (s, _) = engine.api("DELETE", &format!("/api/v1/app/{}", apps[2]), None);
    assert_eq!(s, 204);
    engine.create_app("a3");
}

/// A configuration whose delivery time limits would fail every attempt is
/// refused at start, naming the setting, and nothing is served.
#[test]
fn serve_refuses_delivery_time_limits_below_100_ms() {
    for (setting, refused) in [
        (
            "request_timeout_ms = 0",
            "request_timeout_ms must be at least 100",
        ),
        (
            "connect_timeout_ms = 99",
            "connect_timeout_ms must be at least 100",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("ringhook.toml");
        std::fs::write(&config, format!("{setting}\n")).expect("config");
        let stderr = refused_start_with(
            &dir.path().join("data"),
            &dir.path().join("ingest.sock"),
            &["--config".as_ref(), config.as_os_str()],
        );
        assert!(stderr.contains(refused), "{setting}: {stderr}");
    }
}
