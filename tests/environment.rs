//! Environment export and import (issue 14): the whole catalog moves from
//! one engine to another in one document (secrets included: a message on
//! the new engine is signed with the old key), an invalid document changes
//! nothing, and the official SDK drives both calls.

mod common;

use common::{verify_with_python, wait_for, Engine, Sink, TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn count(engine: &Engine, path: &str) -> usize {
    let (s, page) = engine.api("GET", path, None);
    assert_eq!(s, 200, "{page}");
    page["data"].as_array().map_or(0, Vec::len)
}

#[test]
fn the_catalog_moves_to_another_engine_and_bad_documents_change_nothing() {
    let dir_a = tempfile::tempdir().expect("tempdir");
    let a = Engine::start(dir_a.path(), &[]);
    let sink = Sink::start();
    let (s, app) = a.api(
        "POST",
        "/api/v1/app",
        Some(json!({ "name": "Acme", "uid": "acme", "metadata": { "tier": "gold" } })),
    );
    assert_eq!(s, 201, "{app}");
    let app = app["id"].as_str().expect("id").to_string();
    let ep = a.create_endpoint(
        &app,
        json!({ "url": sink.url("/acme"), "filterTypes": ["order.paid"], "headers": { "x-team": "pay" } }),
    );
    let ep = ep["id"].as_str().expect("id").to_string();
    let secret = a.secret(&app, &ep);
    let (s, _) = a.api(
        "POST",
        "/api/v1/event-type",
        Some(json!({ "name": "order.paid", "description": "paid", "schemas": { "1": { "type": "object" } } })),
    );
    assert_eq!(s, 201);
    let (s, src) = a.api(
        "POST",
        "/ingest/api/v1/source",
        Some(
            json!({ "name": "gh", "type": "github", "config": { "secret": "gh-secret" },
                     "routes": [{ "app": app, "eventType": "order.paid" }] }),
        ),
    );
    assert_eq!(s, 201, "{src}");
    let (s, rule) = a.api(
        "POST",
        "/api/v1/rule",
        Some(json!({ "name": "acme down", "scope": { "type": "endpoint", "appId": app, "endpointId": ep },
                     "signal": "failure_rate", "comparison": ">", "threshold": 0.5 })),
    );
    assert_eq!(s, 201, "{rule}");
    let (s, ops) = a.api(
        "POST",
        "/api/v1/operational-webhook/endpoint",
        Some(json!({ "url": sink.url("/ops") })),
    );
    assert_eq!(s, 201, "{ops}");
    let (s, doc) = a.api("POST", "/api/v1/environment/export", None);
    assert_eq!(s, 200, "{doc}");
    assert_eq!(doc["version"], 1);
    assert_eq!(
        doc["ringhook"]["endpoints"].as_array().map(Vec::len),
        Some(2),
        "{doc}"
    );

    // A fresh engine takes the whole document.
    let dir_b = tempfile::tempdir().expect("tempdir");
    let b = Engine::start(dir_b.path(), &[]);
    let (s, v) = b.api("POST", "/api/v1/environment/import", Some(doc.clone()));
    assert_eq!(s, 204, "{v}");
    let (_, got) = b.api("GET", "/api/v1/app/acme", None);
    assert_eq!(
        (got["id"].as_str(), got["metadata"]["tier"].as_str()),
        (Some(app.as_str()), Some("gold"))
    );
    assert_eq!(b.secret(&app, &ep), secret, "the secret moved");
    let (_, headers) = b.api(
        "GET",
        &format!("/api/v1/app/{app}/endpoint/{ep}/headers"),
        None,
    );
    assert_eq!(headers["headers"]["x-team"], "pay");
    let src_id = src["id"].as_str().expect("id");
    let (_, got) = b.api("GET", &format!("/ingest/api/v1/source/{src_id}"), None);
    let path = |u: &Value| {
        u.as_str()
            .and_then(|u| u.rsplit_once('/').map(|(_, t)| t.to_string()))
    };
    assert_eq!(
        path(&got["ingestUrl"]),
        path(&src["ingestUrl"]),
        "the receive token moved"
    );
    let (_, got) = b.api(
        "GET",
        &format!("/api/v1/rule/{}", rule["id"].as_str().expect("id")),
        None,
    );
    assert_eq!(got["name"], "acme down");
    let (_, got) = b.api("GET", "/api/v1/event-type/order.paid", None);
    assert_eq!(got["schemas"]["1"]["type"], "object", "{got}");
    assert_eq!(count(&b, "/api/v1/operational-webhook/endpoint"), 1);
    // Deliveries on the new engine are signed with the old secret.
    let msg = b.send(&app, "order.paid", json!({ "moved": true }));
    let got = wait_for("a delivery from the new engine", DEADLINE, || {
        sink.received()
            .into_iter()
            .find(|r| r.path == "/acme" && r.json()["moved"] == true)
            .map(|r| vec![r])
    });
    assert_eq!(got[0].webhook_id(), msg);
    assert_eq!(verify_with_python(&secret, &got, dir_b.path()), 1);

    // An invalid document changes nothing and names every problem.
    let mut bad = doc.clone();
    bad["ringhook"]["applications"] = json!([{ "id": "app_0ES9aaaaaaaaaaaaaaaaaaaaaaa", "uid": null, "name": "New",
        "metadata": "{}", "rateLimit": null, "createdMs": 1, "updatedMs": 1 }]);
    bad["ringhook"]["endpoints"][0]["url"] = json!("ftp://nowhere");
    bad["ringhook"]["endpoints"][1]["appId"] = json!("app_missing");
    let apps_before = count(&b, "/api/v1/app");
    let (s, v) = b.api("POST", "/api/v1/environment/import", Some(bad));
    assert_eq!(s, 422, "{v}");
    let text = v.to_string();
    assert!(
        text.contains("url") && text.contains("app_missing"),
        "{text}"
    );
    assert_eq!(count(&b, "/api/v1/app"), apps_before, "nothing imported");
    // An endpoint's delivery order is fixed at creation, on import too.
    let mut reordered = doc.clone();
    reordered["ringhook"]["endpoints"][0]["fifo"] = json!(true);
    let (s, v) = b.api("POST", "/api/v1/environment/import", Some(reordered));
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("fifo"), "{v}");
    let (s, v) = b.api(
        "POST",
        "/api/v1/environment/import",
        Some(json!({ "version": 7 })),
    );
    assert_eq!(s, 422, "{v}");
    // An endpoint id that is another application's is refused.
    let other = b.create_app("other");
    let mut moved = doc.clone();
    moved["ringhook"]["endpoints"][0]["appId"] = json!(other);
    let (s, v) = b.api("POST", "/api/v1/environment/import", Some(moved));
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("another application"), "{v}");
    // What the views show is checked as the API checks it.
    let mut shown = doc.clone();
    shown["ringhook"]["applications"][0]["metadata"] = json!("[1]");
    shown["ringhook"]["applications"][0]["createdMs"] = json!(u64::MAX);
    shown["ringhook"]["endpoints"][0]["method"] = json!("GET");
    shown["ringhook"]["endpoints"][0]["extraJson"] = json!("[]");
    shown["ringhook"]["endpoints"][0]["headers"] = json!([{ "name": "webhook-id", "value": "x" }]);
    shown["ringhook"]["endpoints"][0]["eventTypeHeader"] = json!("webhook-id");
    shown["ringhook"]["endpoints"][1]["secrets"] =
        json!([{ "key": "AAAA", "expiresMs": 0, "scheme": "ed25519" }]);
    let key = doc["ringhook"]["endpoints"][0]["secrets"][0].clone();
    shown["ringhook"]["endpoints"][0]["secrets"] = json!(vec![key; 9]);
    shown["ringhook"]["sources"][0]["config"] = json!("nope");
    let (s, v) = b.api("POST", "/api/v1/environment/import", Some(shown));
    assert_eq!(s, 422, "{v}");
    for field in [
        "metadata",
        "createdMs",
        "method",
        "extraJson",
        "headers",
        "eventTypeHeader",
        "32-byte seed",
        "at most 8 keys",
        "config",
    ] {
        assert!(v.to_string().contains(field), "{field}: {v}");
    }

    // The SDK's own calls.
    let out = common::run_python_script(
        "environment_sdk.py",
        &[format!("http://{}", b.http), TOKEN.into()],
    );
    assert!(out.contains("ok"), "{out}");
}
