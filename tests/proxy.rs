//! The egress proxy (issue 15): deliveries tunnel through a small local HTTP
//! CONNECT proxy written here. With `proxy_url` every delivery, http and
//! https, goes through it, the proxy seeing only the target's checked
//! address; an endpoint's `proxyUrl` overrides it (credentials sent as
//! `Proxy-Authorization`); the operator's proxy on loopback is exempt from
//! the SSRF guard, targets and an endpoint's proxy are not (the engine runs
//! without `allow_private_targets`); a refusing proxy is the attempt error
//! `proxy`.

mod common;

use common::certs::{https_sink, Ca};
use common::{wait_for, Engine, Received, Sink};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);
/// A public address the endpoints name (the guard takes it); the test
/// proxy sends every tunnel to the local sink instead.
const PUBLIC: &str = "93.184.216.34";

/// What a proxy saw: each CONNECT's target and Proxy-Authorization.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A CONNECT proxy on 127.0.0.1 that tunnels every request to `upstream`
/// (or answers 403 when `upstream` is None), recording what it was asked.
fn proxy(upstream: Option<String>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (log, upstream) = (log.clone(), upstream.clone());
            std::thread::spawn(move || tunnel(client, upstream, log));
        }
    });
    (addr, seen)
}

fn tunnel(client: TcpStream, upstream: Option<String>, log: Seen) {
    let mut reader = BufReader::new(client);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("proxy-authorization") {
                auth = Some(v.trim().to_string());
            }
        }
    }
    log.lock().expect("lock").push((target, auth));
    let mut client = reader.into_inner();
    let Some(upstream) = upstream else {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    let Ok(server) = TcpStream::connect(&upstream) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let (mut c2, mut s2) = match (client.try_clone(), server.try_clone()) {
        (Ok(c), Ok(s)) => (c, s),
        _ => return,
    };
    let (mut client, mut server) = (client, server);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = server.read(&mut buf) {
        if n == 0 || client.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// The endpoint whose attempts' first error kind this is, once it has one.
fn first_error(engine: &Engine, app: &str, ep: &str) -> String {
    wait_for(&format!("an attempt to {ep}"), DEADLINE, || {
        let path = format!("/api/v1/app/{app}/attempt/endpoint/{ep}");
        let (_, page) = engine.api("GET", &path, None);
        page["data"][0]["errorKind"].as_str().map(str::to_string)
    })
}

#[test]
fn the_operator_proxy_is_exempt_from_the_guard_an_endpoint_proxy_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::with_policy(Arc::new(|_: &Received, _| 204));
    let (engine_proxy, engine_seen) = proxy(Some(sink.addr.clone()));
    let (own_proxy, own_seen) = proxy(Some(sink.addr.clone()));
    let config = dir.path().join("ringhook.toml");
    std::fs::write(&config, format!("proxy_url = \"http://{engine_proxy}\"\n")).expect("config");
    let config_arg = config.display().to_string();
    // No --allow-private-targets: targets must be public; the operator's
    // proxy on loopback is its own choice, an API caller's is refused.
    let engine = Engine::start(
        dir.path(),
        &[
            "--no-allow-private",
            "--config",
            &config_arg,
            "--retry-schedule",
            "0s,100ms",
        ],
    );
    let app = engine.create_app("proxied");
    let port = sink.addr.rsplit(':').next().expect("port").to_string();
    let url = |path: &str| format!("http://{PUBLIC}:{port}{path}");
    let (s, v) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/endpoint"),
        Some(json!({ "url": sink.url("/direct") })),
    );
    assert_eq!(s, 422, "a loopback target is still refused: {v}");
    engine.create_endpoint(&app, json!({ "url": url("/engine") }));
    let own = engine.create_endpoint(
        &app,
        json!({ "url": url("/own"), "proxyUrl": format!("http://{own_proxy}") }),
    );
    let own = own["id"].as_str().expect("id").to_string();
    engine.send(&app, "proxy.test", json!({ "n": 1 }));
    wait_for(
        "the delivery through the operator's proxy",
        DEADLINE,
        || {
            sink.received()
                .iter()
                .any(|r| r.path == "/engine")
                .then_some(())
        },
    );
    let target = format!("{PUBLIC}:{port}");
    let engine_seen = engine_seen.lock().expect("lock").clone();
    assert!(
        engine_seen.iter().all(|(t, a)| *t == target && a.is_none()),
        "{engine_seen:?}"
    );
    // The endpoint's loopback proxy is the SSRF guard's business.
    assert_eq!(first_error(&engine, &app, &own), "target");
    assert!(
        own_seen.lock().expect("lock").is_empty(),
        "never connected to"
    );
    assert!(sink.received().iter().all(|r| r.path != "/own"));
}

#[test]
fn an_endpoint_proxy_gets_credentials_and_a_refusal_is_an_error_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::with_policy(Arc::new(|_: &Received, _| 204));
    let (own_proxy, own_seen) = proxy(Some(sink.addr.clone()));
    let (refusing, refusing_seen) = proxy(None);
    // Private proxies allowed here: this is about what goes through them.
    let engine = Engine::start(dir.path(), &["--retry-schedule", "0s,100ms"]);
    let app = engine.create_app("proxied");
    let port = sink.addr.rsplit(':').next().expect("port").to_string();
    let url = |path: &str| format!("http://{PUBLIC}:{port}{path}");
    let own = engine.create_endpoint(
        &app,
        json!({ "url": url("/own"), "proxyUrl": format!("http://user:s3cret@{own_proxy}") }),
    );
    let own = own["id"].as_str().expect("id").to_string();
    let refused = engine.create_endpoint(
        &app,
        json!({ "url": url("/refused"), "proxyUrl": format!("http://{refusing}") }),
    );
    let refused = refused["id"].as_str().expect("id").to_string();
    engine.send(&app, "proxy.test", json!({ "n": 1 }));
    wait_for(
        "the delivery through the endpoint's proxy",
        DEADLINE,
        || {
            sink.received()
                .iter()
                .any(|r| r.path == "/own")
                .then_some(())
        },
    );
    let own_seen = own_seen.lock().expect("lock").clone();
    // user:s3cret
    assert!(
        own_seen
            .iter()
            .any(|(t, a)| *t == format!("{PUBLIC}:{port}")
                && a.as_deref() == Some("Basic dXNlcjpzM2NyZXQ=")),
        "{own_seen:?}"
    );
    let (_, view) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint/{own}"), None);
    assert_eq!(view["hasProxy"], true);
    assert!(
        !view.to_string().contains("s3cret"),
        "proxy credentials are not shown: {view}"
    );
    assert_eq!(first_error(&engine, &app, &refused), "proxy");
    assert!(!refusing_seen.lock().expect("lock").is_empty());
    assert!(sink.received().iter().all(|r| r.path != "/refused"));
    let (s, v) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/endpoint"),
        Some(json!({ "url": url("/x"), "proxyUrl": "socks5://127.0.0.1:1080" })),
    );
    assert_eq!(
        (s, &v["detail"][0]["loc"][1]),
        (422, &json!("proxyUrl")),
        "{v}"
    );
}

#[test]
fn https_runs_end_to_end_inside_the_tunnel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("proxy test CA");
    // The receiver's certificate names the public address the endpoint
    // uses; the proxy carries the TLS bytes without reading them.
    let secure = https_sink(&ca.issue(&[PUBLIC], false), None);
    let (via, seen) = proxy(Some(secure.addr.clone()));
    let engine = Engine::start(dir.path(), &["--retry-schedule", "0s,100ms"]);
    let app = engine.create_app("tunnelled");
    let port = secure.addr.rsplit(':').next().expect("port").to_string();
    engine.create_endpoint(
        &app,
        json!({
            "url": format!("https://{PUBLIC}:{port}/tls"),
            "caCert": ca.pem(),
            "proxyUrl": format!("http://{via}"),
        }),
    );
    for n in 0..5 {
        engine.send(&app, "proxy.tls", json!({ "n": n }));
    }
    wait_for(
        "five deliveries over TLS through the tunnel",
        DEADLINE,
        || (secure.count() >= 5).then_some(()),
    );
    let seen = seen.lock().expect("lock").clone();
    assert!(
        !seen.is_empty() && seen.iter().all(|(t, _)| *t == format!("{PUBLIC}:{port}")),
        "{seen:?}"
    );
    assert!(seen.len() <= 2, "the tunnel is kept alive: {seen:?}");
}
