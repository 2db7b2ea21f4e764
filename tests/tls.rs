//! TLS to receivers (issue 15), against real local HTTPS receivers whose
//! certificates the test mints (`rcgen`): a private CA is trusted only when
//! configured (the endpoint's `caCert`, or the engine's `tls.ca_files`); a
//! wrong name, an expired certificate and an unknown CA fail with their own
//! attempt error kinds (in attempts and `/metrics`); a receiver that
//! requires a client certificate gets the endpoint's (`clientCert`,
//! `clientKey`, never shown back), also after a rotation; deliveries reuse
//! their TLS connections (keep-alive); bad PEM is a 422.

mod common;

use common::certs::{https, https_sink, Ca};
use common::{wait_for, Engine, Sink};
use ringhook::ingest::client::IngestClient;
use ringhook::ingest::frame::{Event, EventResult};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn create(engine: &Engine, app: &str, body: Value) -> String {
    engine.create_endpoint(app, body)["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// The error kind of the endpoint's attempts once one has been made.
/// The error kind of the endpoint's first attempt ("" for none: it got an
/// answer), once one has been made.
fn error_kind(engine: &Engine, app: &str, ep: &str) -> String {
    wait_for(&format!("an attempt to {ep}"), DEADLINE, || {
        let (_, page) = engine.api(
            "GET",
            &format!("/api/v1/app/{app}/attempt/endpoint/{ep}"),
            None,
        );
        let first = page["data"].as_array()?.last()?.clone();
        Some(first["errorKind"].as_str().unwrap_or("").to_string())
    })
}

fn delivered(sink: &Sink, n: usize) {
    wait_for(&format!("{n} deliveries over TLS"), DEADLINE, || {
        (sink.count() >= n).then_some(())
    });
}

#[test]
fn private_cas_names_expiry_and_client_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("ringhook test CA");
    let clients = Ca::new("ringhook test client CA");
    let good = https_sink(&ca.issue(&["127.0.0.1", "localhost"], false), None);
    let wrong_name = https_sink(&ca.issue(&["elsewhere.example"], false), None);
    let expired = https_sink(&ca.issue(&["127.0.0.1"], true), None);
    let mutual = https_sink(&ca.issue(&["127.0.0.1"], false), Some(&clients));
    // One connection per endpoint, so a backlog is pipelined on it.
    let config = dir.path().join("ringhook.toml");
    let one = "max_in_flight_per_endpoint = 1\nmax_idle_connections_per_endpoint = 1\n";
    std::fs::write(&config, one).expect("write config");
    let config_arg = config.display().to_string();
    let schedule = [
        "--config",
        &config_arg,
        "--retry-schedule",
        "0s,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms",
    ];
    let mut engine = Engine::start(dir.path(), &schedule);
    let app = engine.create_app("tls");

    // Every endpoint takes `tls.one`; the trusting one also the burst, the
    // mutual one also `tls.mtls`.
    let types = |more: &str| json!(["tls.one", more]);
    let untrusted = create(
        &engine,
        &app,
        json!({ "url": https(&good, "/untrusted"), "filterTypes": types("tls.one") }),
    );
    let trusting = create(
        &engine,
        &app,
        json!({ "url": https(&good, "/a"), "caCert": ca.pem(), "filterTypes": types("tls.burst") }),
    );
    let named = create(
        &engine,
        &app,
        json!({ "url": https(&wrong_name, "/n"), "caCert": ca.pem(), "filterTypes": types("tls.one") }),
    );
    let old = create(
        &engine,
        &app,
        json!({ "url": https(&expired, "/e"), "caCert": ca.pem(), "filterTypes": types("tls.one") }),
    );
    let anonymous = create(
        &engine,
        &app,
        json!({ "url": https(&mutual, "/anon"), "caCert": ca.pem(), "filterTypes": types("tls.one") }),
    );
    let (cert, key) = clients.issue(&["ringhook-client"], false);
    let mtls = create(
        &engine,
        &app,
        json!({
            "url": https(&mutual, "/mtls"), "caCert": ca.pem(), "filterTypes": types("tls.mtls"),
            "clientCert": cert.pem(), "clientKey": key.serialize_pem(),
        }),
    );
    engine.send(&app, "tls.one", json!({ "n": -1 }));
    // The private CA is not trusted by default, but is by an endpoint that
    // names it; a wrong name, an expired certificate and a missing client
    // certificate fail, each as what it is.
    assert_eq!(error_kind(&engine, &app, &untrusted), "tls_unknown_ca");
    assert_eq!(error_kind(&engine, &app, &named), "tls_wrong_name");
    assert_eq!(error_kind(&engine, &app, &old), "tls_expired");
    assert_eq!(error_kind(&engine, &app, &anonymous), "tls");
    assert_eq!(error_kind(&engine, &app, &trusting), "");
    wait_for("the client certificate's delivery", DEADLINE, || {
        (mutual.received().iter().any(|r| r.path == "/mtls")).then_some(())
    });
    assert!(
        mutual.received().iter().all(|r| r.path == "/mtls"),
        "none without the certificate"
    );

    // Pipelined bursts and keep-alive over TLS: 40 messages in one batch
    // over the socket make a backlog on the endpoint's one connection.
    let mut client = IngestClient::connect(&engine.socket).expect("ingest socket");
    let burst: Vec<Event> = (0..40)
        .map(|n| Event {
            app: app.clone(),
            event_type: "tls.burst".into(),
            event_id: None,
            channels: vec![],
            payload: format!("{{\"n\":{n}}}").into_bytes(),
        })
        .collect();
    let results = client.send_batch(&burst).expect("batch");
    assert!(results
        .iter()
        .all(|r| matches!(r, EventResult::Accepted { .. })));
    wait_for("41 deliveries to /a", DEADLINE, || {
        let got = good.received().iter().filter(|r| r.path == "/a").count();
        (got >= 41).then_some(())
    });
    let connections = good.accepted.load(Ordering::SeqCst);
    let pipelined = good.pipelined.load(Ordering::SeqCst);
    assert!(pipelined > 0, "some requests came pipelined over TLS");
    assert!(
        connections <= 20,
        "connections are kept alive: {connections} for 41 requests and the refused handshakes"
    );
    let (_, view) = engine.api(
        "GET",
        &format!("/api/v1/app/{app}/endpoint/{trusting}"),
        None,
    );
    assert_eq!(view["caCert"], ca.pem());
    assert_eq!(view["hasClientCert"], false);

    let (_, view) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint/{mtls}"), None);
    assert_eq!(view["hasClientCert"], true);
    assert!(
        !view.to_string().contains("PRIVATE KEY"),
        "the key is never shown: {view}"
    );
    assert!(view.get("clientCert").is_none() && view.get("clientKey").is_none());
    // Rotation: a new certificate and key; deliveries go on.
    let (cert2, key2) = clients.issue(&["ringhook-client-2"], false);
    let (s, v) = engine.api(
        "PATCH",
        &format!("/api/v1/app/{app}/endpoint/{mtls}"),
        Some(json!({ "clientCert": cert2.pem(), "clientKey": key2.serialize_pem() })),
    );
    assert_eq!(s, 200, "{v}");
    engine.send(&app, "tls.mtls", json!({ "n": 2 }));
    wait_for("a delivery after the rotation", DEADLINE, || {
        let got = mutual
            .received()
            .iter()
            .filter(|r| r.path == "/mtls")
            .count();
        (got >= 2).then_some(())
    });

    // The kinds are counted in /metrics (published about once a second).
    for kind in ["tls_unknown_ca", "tls_wrong_name", "tls_expired"] {
        wait_for(&format!("{kind} in /metrics"), DEADLINE, || {
            let text = engine.metrics()?;
            let counted: f64 = text
                .lines()
                .filter(|l| {
                    l.starts_with("ringhook_attempt_errors_total{")
                        && l.contains(&format!("kind=\"{kind}\""))
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            (counted >= 1.0).then_some(())
        });
    }

    // The engine-wide trust: a private CA from `tls.ca_files` serves every
    // endpoint without a caCert of its own.
    let ca_file = dir.path().join("private-ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write ca");
    let trust = format!("[tls]\nca_files = [{:?}]\n", ca_file.display().to_string());
    std::fs::write(&config, format!("{one}{trust}")).expect("write config");
    engine.kill9();
    engine.spawn().expect("restart with tls.ca_files");
    wait_for(
        "the untrusted endpoint's delivery after trusting the CA",
        DEADLINE,
        || {
            good.received()
                .iter()
                .any(|r| r.path == "/untrusted")
                .then_some(())
        },
    );
    delivered(&good, 42);
}

#[test]
fn bad_pem_is_refused_with_422() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let app = engine.create_app("pem");
    let clients = Ca::new("client CA");
    let (cert, key) = clients.issue(&["c"], false);
    let (_, other_key) = clients.issue(&["d"], false);
    let url = "https://127.0.0.1:9/x";
    for (body, field) in [
        (
            json!({ "url": url, "caCert": "not a certificate" }),
            "caCert",
        ),
        (json!({ "url": url, "clientCert": cert.pem() }), "clientKey"),
        (
            json!({ "url": url, "clientCert": cert.pem(), "clientKey": "nope" }),
            "clientKey",
        ),
        (
            json!({ "url": url, "clientCert": cert.pem(), "clientKey": other_key.serialize_pem() }),
            "clientKey",
        ),
    ] {
        engine.expect_invalid(&format!("/api/v1/app/{app}/endpoint"), body, field);
    }
    let ok = engine.create_endpoint(
        &app,
        json!({ "url": url, "clientCert": cert.pem(), "clientKey": key.serialize_pem() }),
    );
    assert_eq!(ok["hasClientCert"], true);
}
