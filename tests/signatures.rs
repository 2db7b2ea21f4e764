//! Asymmetric signatures and the event-type header (issue 15), through a
//! real engine and sink: an endpoint given a `whsk_` ed25519 key (made by
//! the `cryptography` package) shows only its `whpk_` public half, and its
//! deliveries carry `v1a` signatures that `cryptography` verifies; a
//! rotation to a `whsec_` key signs with both during the grace period
//! (`standardwebhooks` checks the `v1` one); `eventTypeHeader` sends the
//! event type in the header it names; all of it survives `kill -9`; bad
//! keys and header names get a 422.

mod common;

use common::{run_python_script, verify_with_python, verify_with_script, wait_for, Engine, Sink};
use serde_json::{json, Value};
use std::time::Duration;

const TOPIC: &str = "x-alloy-topic";

fn keygen() -> (String, String) {
    let out = run_python_script("verify_ed25519.py", &["keygen".into()]);
    let mut lines = out.lines().map(str::to_string);
    let secret = lines.next().expect("whsk_ line");
    let public = lines.next().expect("whpk_ line");
    (secret, public)
}

fn delivered(sink: &Sink, path: &str, n: usize) -> Vec<common::Received> {
    wait_for(
        &format!("{n} deliveries to {path}"),
        Duration::from_secs(20),
        || {
            let got: Vec<_> = sink
                .received()
                .into_iter()
                .filter(|r| r.path == path)
                .collect();
            (got.len() >= n).then_some(got)
        },
    )
}

#[test]
fn ed25519_endpoints_sign_v1a_and_name_the_event_type_in_a_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start();
    let mut engine = Engine::start(dir.path(), &[]);
    let app = engine.create_app("signed");
    let (secret, public) = keygen();
    let ep = engine.create_endpoint(
        &app,
        json!({ "url": sink.url("/a"), "secret": secret, "eventTypeHeader": TOPIC }),
    );
    let ep_id = ep["id"].as_str().expect("id").to_string();
    assert_eq!(ep["eventTypeHeader"], TOPIC, "{ep}");
    // Only the public half is ever shown.
    assert_eq!(engine.secret(&app, &ep_id), public);
    let (_, view) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint/{ep_id}"), None);
    let seed_b64 = &secret["whsk_".len()..secret.len() - 44];
    assert!(
        !view.to_string().contains(seed_b64),
        "the seed leaks: {view}"
    );
    // A plain endpoint gets neither v1a nor the topic header.
    engine.create_endpoint(&app, json!({ "url": sink.url("/plain") }));

    for n in 0..3 {
        engine.send(&app, "order.paid", json!({ "n": n }));
    }
    let got = delivered(&sink, "/a", 3);
    assert!(got
        .iter()
        .all(|r| r.headers.get(TOPIC).map(String::as_str) == Some("order.paid")));
    assert!(got
        .iter()
        .all(|r| r.headers["webhook-signature"].starts_with("v1a,")));
    assert_eq!(
        verify_with_script("verify_ed25519.py", &public, &got, dir.path()),
        3
    );
    let plain = delivered(&sink, "/plain", 3);
    assert!(plain.iter().all(|r| !r.headers.contains_key(TOPIC)));
    assert!(plain
        .iter()
        .all(|r| r.headers["webhook-signature"].starts_with("v1,")));

    // Rotating to an HMAC key: both sign during the grace period.
    let hmac = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (s, v) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/endpoint/{ep_id}/secret/rotate"),
        Some(json!({ "key": hmac, "gracePeriodSeconds": 3600 })),
    );
    assert_eq!((s, v["key"].as_str()), (200, Some(hmac)), "{v}");
    engine.send(&app, "order.shipped", json!({ "n": 3 }));
    let got = delivered(&sink, "/a", 4);
    let last = &got[3..];
    assert_eq!(last[0].headers[TOPIC], "order.shipped");
    assert_eq!(verify_with_python(hmac, last, dir.path()), 1);
    assert_eq!(
        verify_with_script("verify_ed25519.py", &public, last, dir.path()),
        1
    );

    // Back to the ed25519 key with no grace: only v1a signs from now on.
    let (_, v) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/endpoint/{ep_id}/secret/rotate"),
        Some(json!({ "key": secret, "gracePeriodSeconds": 0 })),
    );
    assert_eq!(v["key"].as_str(), Some(public.as_str()), "{v}");

    // Everything above is in the catalog journal: a crash changes nothing.
    engine.kill9();
    engine.spawn().expect("restarts");
    assert_eq!(engine.secret(&app, &ep_id), public);
    engine.send(&app, "order.paid", json!({ "n": 4 }));
    let got = delivered(&sink, "/a", 5);
    let last = &got[4..];
    assert_eq!(last[0].headers[TOPIC], "order.paid");
    assert!(
        !last[0].headers["webhook-signature"].contains("v1,"),
        "the HMAC key had no grace"
    );
    assert_eq!(
        verify_with_script("verify_ed25519.py", &public, last, dir.path()),
        1
    );
    // Clearing the header by PATCH.
    let (s, v) = engine.api(
        "PATCH",
        &format!("/api/v1/app/{app}/endpoint/{ep_id}"),
        Some(json!({ "eventTypeHeader": null })),
    );
    assert_eq!((s, &v["eventTypeHeader"]), (200, &Value::Null), "{v}");
}

#[test]
fn bad_keys_and_header_names_are_refused_with_422() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let app = engine.create_app("refused");
    let (secret, public) = keygen();
    let (other, _) = keygen();
    // Seed of one key, public half of another.
    let mixed = format!(
        "{}{}",
        &secret[..secret.len() - 44],
        &other[other.len() - 44..]
    );
    let url = "http://127.0.0.1:9/x";
    for (body, field) in [
        (json!({ "url": url, "secret": mixed }), "secret"),
        (json!({ "url": url, "secret": public }), "secret"),
        (json!({ "url": url, "secret": "whsk_AAAA" }), "secret"),
        (
            json!({ "url": url, "eventTypeHeader": "webhook-signature" }),
            "eventTypeHeader",
        ),
        (
            json!({ "url": url, "eventTypeHeader": "Content-Length" }),
            "eventTypeHeader",
        ),
        (
            json!({ "url": url, "eventTypeHeader": "two words" }),
            "eventTypeHeader",
        ),
    ] {
        engine.expect_invalid(&format!("/api/v1/app/{app}/endpoint"), body, field);
    }
    // webhook-event-type is a header the engine does not otherwise write.
    let ep = engine.create_endpoint(
        &app,
        json!({ "url": url, "eventTypeHeader": "webhook-event-type" }),
    );
    assert_eq!(ep["eventTypeHeader"], "webhook-event-type");
}

/// ringhook to ringhook: an endpoint signing with ed25519 delivers into an
/// incoming `svix` source that holds only the public key (`whpk_`), which
/// checks the `v1a` signature and forwards; a wrong key is refused.
#[test]
fn an_incoming_svix_source_checks_v1a_with_the_public_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start();
    let engine = Engine::start(dir.path(), &["--retry-schedule", "0s,100ms"]);
    let (secret, public) = keygen();
    let (_, other_public) = keygen();
    let mut urls = Vec::new();
    for (name, key) in [("trusting", &public), ("wary", &other_public)] {
        let (s, src) = engine.api(
            "POST",
            "/ingest/api/v1/source",
            Some(json!({ "name": name, "type": "svix", "config": { "secret": key } })),
        );
        assert_eq!(s, 201, "{src}");
        let id = src["id"].as_str().expect("id");
        let (s, v) = engine.api(
            "POST",
            &format!("/ingest/api/v1/source/{id}/endpoint"),
            Some(json!({ "url": sink.url(&format!("/from-{name}")) })),
        );
        assert_eq!(s, 201, "{v}");
        urls.push(src["ingestUrl"].as_str().expect("ingestUrl").to_string());
    }
    let app = engine.create_app("sender");
    let ids: Vec<String> = urls
        .iter()
        .map(|url| {
            let ep = engine.create_endpoint(&app, json!({ "url": url, "secret": secret }));
            ep["id"].as_str().expect("id").to_string()
        })
        .collect();
    engine.send(&app, "order.paid", json!({ "n": 1 }));
    let got = delivered(&sink, "/from-trusting", 1);
    assert_eq!(got[0].json()["n"], 1);
    // The other source's key is not the sender's: it refuses the request
    // (the sender's attempt shows it) and forwards nothing.
    let status = wait_for("the wary source's answer", Duration::from_secs(20), || {
        let path = format!("/api/v1/app/{app}/attempt/endpoint/{}", ids[1]);
        let (_, page) = engine.api("GET", &path, None);
        page["data"][0]["responseStatusCode"].as_u64()
    });
    assert!((400..500).contains(&status), "refused: {status}");
    assert!(sink.received().iter().all(|r| r.path != "/from-wary"));
    let (s, v) = engine.api(
        "POST",
        "/ingest/api/v1/source",
        Some(json!({ "name": "bad", "type": "svix", "config": { "secret": "whpk_AAAA" } })),
    );
    assert_eq!(
        (s, &v["detail"][0]["loc"][1]),
        (422, &json!("config")),
        "{v}"
    );
}
