//! The catalog half of the Svix `/api/v1` dialect, end to end: applications,
//! endpoints and event types (create, get, list, PUT upsert, PATCH, DELETE),
//! secret rotation with co-signing, custom headers, `idempotency-key` replay
//! and inline application creation. Each test runs a real `ringhook serve`
//! and, where deliveries matter, a real HTTP sink.

mod common;

use common::{verify_with_python, wait_for, Engine, Sink, TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

/// A POST with an `idempotency-key` header; returns (status, raw body).
fn post_with_key(engine: &Engine, path: &str, key: &str, body: Value) -> (u16, String) {
    let res = ureq::post(&format!("http://{}{}", engine.http, path))
        .timeout(Duration::from_secs(10))
        .set("authorization", &format!("Bearer {TOKEN}"))
        .set("idempotency-key", key)
        .send_json(body);
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {path}: {e}"),
    };
    let status = resp.status();
    (status, resp.into_string().unwrap_or_default())
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|v| v["id"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The first 422 location in a Svix validation error.
fn loc(v: &Value) -> Value {
    v["detail"][0]["loc"].clone()
}

#[test]
fn applications_round_trip_upsert_patch_and_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &["--shards", "2"]);

    let (s, a) = engine.api(
        "POST",
        "/api/v1/app",
        Some(json!({ "name": "Acme", "uid": "acme", "metadata": { "tier": "gold" }, "throttleRate": 10 })),
    );
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().expect("id").to_string();
    assert_eq!(
        (&a["uid"], &a["throttleRate"], &a["metadata"]["tier"]),
        (&json!("acme"), &json!(10), &json!("gold"))
    );
    for key in [&id, "acme"] {
        let (s, g) = engine.api("GET", &format!("/api/v1/app/{key}"), None);
        assert_eq!((s, &g["id"]), (200, &json!(id)));
    }
    let (s, v) = engine.api(
        "POST",
        "/api/v1/app",
        Some(json!({ "name": "x", "uid": "acme" })),
    );
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")));
    let (s, v) = engine.api(
        "POST",
        "/api/v1/app?get_if_exists=true",
        Some(json!({ "name": "x", "uid": "acme" })),
    );
    assert_eq!((s, &v["id"]), (200, &json!(id)));

    // PUT upsert: creates with the path as uid, then replaces.
    let (s, created) = engine.api("PUT", "/api/v1/app/beta", Some(json!({ "name": "Beta" })));
    assert_eq!((s, &created["uid"]), (201, &json!("beta")), "{created}");
    let beta = created["id"].as_str().expect("id").to_string();
    let (s, replaced) = engine.api(
        "PUT",
        "/api/v1/app/beta",
        Some(json!({ "name": "Beta 2", "metadata": { "k": "v" } })),
    );
    assert_eq!(s, 200, "{replaced}");
    assert_eq!(
        (&replaced["id"], &replaced["uid"], &replaced["name"]),
        (&json!(beta), &json!("beta"), &json!("Beta 2"))
    );
    assert_eq!(replaced["createdAt"], created["createdAt"]);
    let (s, _) = engine.api(
        "PUT",
        &format!("/api/v1/app/app_{}", "0".repeat(27)),
        Some(json!({ "name": "n" })),
    );
    assert_eq!(s, 404, "an absent id is not taken as a uid");
    let (s, v) = engine.api("PUT", "/api/v1/app/gamma", Some(json!({})));
    assert_eq!((s, loc(&v)), (422, json!(["body", "name"])));

    // PATCH changes only what it names; null clears.
    let (s, p) = engine.api(
        "PATCH",
        "/api/v1/app/acme",
        Some(json!({ "name": "Acme Inc", "throttleRate": null })),
    );
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (
            &p["name"],
            &p["throttleRate"],
            &p["metadata"]["tier"],
            &p["uid"]
        ),
        (
            &json!("Acme Inc"),
            &Value::Null,
            &json!("gold"),
            &json!("acme")
        )
    );
    assert!(p["updatedAt"].as_str() >= a["updatedAt"].as_str());
    let (s, v) = engine.api("PATCH", "/api/v1/app/acme", Some(json!({ "uid": "beta" })));
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")));

    let (s, list) = engine.api("GET", "/api/v1/app?limit=1", None);
    assert_eq!(s, 200);
    assert_eq!(
        (ids(&list), &list["done"]),
        (vec![id.clone()], &json!(false))
    );
    let next = list["iterator"].as_str().expect("iterator").to_string();
    let (_, list) = engine.api("GET", &format!("/api/v1/app?limit=1&iterator={next}"), None);
    assert_eq!(
        (ids(&list), &list["done"]),
        (vec![beta.clone()], &json!(true))
    );
    let (s, v) = engine.api("GET", "/api/v1/app?limit=251", None);
    assert_eq!((s, loc(&v)), (422, json!(["query", "limit"])));

    // DELETE, then 404; the catalog journal replays the same state.
    let (s, _) = engine.api("DELETE", "/api/v1/app/acme", None);
    assert_eq!(s, 204);
    for key in [&id, "acme"] {
        let (s, v) = engine.api("GET", &format!("/api/v1/app/{key}"), None);
        assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
    }
    let (s, _) = engine.api("DELETE", "/api/v1/app/acme", None);
    assert_eq!(s, 404);
    assert!(engine.stop(), "clean stop");
    engine.spawn().expect("restart");
    let (_, list) = engine.api("GET", "/api/v1/app", None);
    assert_eq!(ids(&list), vec![beta.clone()]);
    let (_, b) = engine.api("GET", "/api/v1/app/beta", None);
    assert_eq!(
        (&b["name"], &b["metadata"]),
        (&json!("Beta 2"), &json!({ "k": "v" }))
    );
}

#[test]
fn endpoints_round_trip_and_disabled_ones_receive_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let app = engine.create_app("endpoints");
    let base = format!("/api/v1/app/{app}/endpoint");

    let on = engine.create_endpoint(
        &app,
        json!({ "url": sink.url("/on"), "description": "on", "filterTypes": ["a.b"] }),
    );
    let on_id = on["id"].as_str().expect("id").to_string();
    // PUT upsert creates with the path as uid, then replaces.
    let (s, off) = engine.api(
        "PUT",
        &format!("{base}/off-ep"),
        Some(json!({ "url": sink.url("/off"), "channels": ["eu"] })),
    );
    assert_eq!((s, &off["uid"]), (201, &json!("off-ep")), "{off}");
    let secret_before = engine.secret(&app, "off-ep");
    let (s, rep) = engine.api(
        "PUT",
        &format!("{base}/off-ep"),
        Some(
            json!({ "url": sink.url("/off"), "description": "replaced", "metadata": { "m": "1" } }),
        ),
    );
    assert_eq!(s, 200, "{rep}");
    assert_eq!(
        (
            &rep["id"],
            &rep["description"],
            &rep["channels"],
            &rep["createdAt"]
        ),
        (
            &off["id"],
            &json!("replaced"),
            &Value::Null,
            &off["createdAt"]
        )
    );
    assert_eq!(
        engine.secret(&app, "off-ep"),
        secret_before,
        "PUT keeps the secret"
    );

    // PATCH: only the named fields change; updatedAt moves, createdAt stays.
    let (s, p) = engine.api(
        "PATCH",
        &format!("{base}/off-ep"),
        Some(json!({ "disabled": true })),
    );
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (
            &p["disabled"],
            &p["description"],
            &p["metadata"],
            &p["createdAt"]
        ),
        (
            &json!(true),
            &json!("replaced"),
            &json!({ "m": "1" }),
            &off["createdAt"]
        )
    );
    assert!(p["updatedAt"].as_str() >= off["updatedAt"].as_str());
    let (s, v) = engine.api(
        "PATCH",
        &format!("{base}/{on_id}"),
        Some(json!({ "url": null })),
    );
    assert_eq!((s, loc(&v)), (422, json!(["body", "url"])));
    let (s, v) = engine.api(
        "PATCH",
        &format!("{base}/{on_id}"),
        Some(json!({ "url": "http://user:pw@127.0.0.1/x" })),
    );
    assert_eq!((s, loc(&v)), (422, json!(["body", "url"])));

    let (s, g) = engine.api("GET", &format!("{base}/{on_id}"), None);
    assert_eq!((s, &g["filterTypes"]), (200, &json!(["a.b"])));
    let (_, list) = engine.api("GET", &base, None);
    assert_eq!(ids(&list).len(), 2);

    // The disabled endpoint receives nothing; its enabled sibling does.
    let m1 = engine.send(&app, "a.b", json!({ "n": 1 }));
    let m2 = engine.send(&app, "a.b", json!({ "n": 2 }));
    wait_for("both at /on", DEADLINE, || {
        let ids = sink.ids();
        (ids.contains(&m1) && ids.contains(&m2)).then_some(())
    });
    assert!(sink.received().iter().all(|r| r.path == "/on"));
    // Re-enabled, it receives again.
    let (s, _) = engine.api(
        "PATCH",
        &format!("{base}/off-ep"),
        Some(json!({ "disabled": false })),
    );
    assert_eq!(s, 200);
    let m3 = engine.send(&app, "a.b", json!({ "n": 3 }));
    wait_for("m3 at /off", DEADLINE, || {
        sink.received()
            .iter()
            .any(|r| r.path == "/off" && r.webhook_id() == m3)
            .then_some(())
    });

    // DELETE, then 404; later messages go to the remaining endpoint only.
    let (s, _) = engine.api("DELETE", &format!("{base}/off-ep"), None);
    assert_eq!(s, 204);
    let (s, _) = engine.api("GET", &format!("{base}/off-ep"), None);
    assert_eq!(s, 404);
    let (s, _) = engine.api("DELETE", &format!("{base}/off-ep"), None);
    assert_eq!(s, 404);
    let (_, list) = engine.api("GET", &base, None);
    assert_eq!(ids(&list), vec![on_id.clone()]);
    let m4 = engine.send(&app, "a.b", json!({ "n": 4 }));
    wait_for("m4 at /on", DEADLINE, || {
        sink.ids().contains(&m4).then_some(())
    });
    let to_off: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|r| r.path == "/off")
        .map(|r| r.webhook_id().to_string())
        .collect();
    assert_eq!(to_off, vec![m3], "the deleted endpoint got only m3");

    // Deleting the application removes its endpoints with it.
    let (s, _) = engine.api("DELETE", &format!("/api/v1/app/{app}"), None);
    assert_eq!(s, 204);
    let (s, _) = engine.api("GET", &format!("{base}/{on_id}"), None);
    assert_eq!(s, 404);
    let (s, _) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/msg"),
        Some(json!({ "eventType": "a.b", "payload": {} })),
    );
    assert_eq!(s, 404);
}

#[test]
fn rotated_secrets_co_sign_until_their_grace_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let app = engine.create_app("rotation");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/hook") }));
    let ep = ep["id"].as_str().expect("id").to_string();
    let old = engine.secret(&app, &ep);
    let rotate = format!("/api/v1/app/{app}/endpoint/{ep}/secret/rotate");

    let (s, v) = engine.api("POST", &rotate, Some(json!({})));
    assert_eq!(s, 200, "{v}");
    let new = engine.secret(&app, &ep);
    assert_eq!(v["key"].as_str(), Some(new.as_str()));
    assert_ne!(old, new);
    let m = engine.send(&app, "a.b", json!({ "rotated": true }));
    let r = wait_for("delivery", DEADLINE, || {
        sink.received().into_iter().find(|r| r.webhook_id() == m)
    });
    let sig = r
        .headers
        .get("webhook-signature")
        .cloned()
        .unwrap_or_default();
    assert_eq!(sig.matches("v1,").count(), 2, "{sig}");
    assert_eq!(
        verify_with_python(&old, std::slice::from_ref(&r), dir.path()),
        1
    );
    assert_eq!(verify_with_python(&new, &[r], dir.path()), 1);

    // A given key becomes current; a zero grace retires the previous one at
    // once, while the first key is still in its 24 h grace.
    let given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (s, v) = engine.api(
        "POST",
        &rotate,
        Some(json!({ "key": given, "gracePeriodSeconds": 0 })),
    );
    assert_eq!((s, v["key"].as_str()), (200, Some(given)), "{v}");
    let m = engine.send(&app, "a.b", json!({ "rotated": 2 }));
    let r = wait_for("second delivery", DEADLINE, || {
        sink.received().into_iter().find(|r| r.webhook_id() == m)
    });
    let sig = r
        .headers
        .get("webhook-signature")
        .cloned()
        .unwrap_or_default();
    assert_eq!(sig.matches("v1,").count(), 2, "{sig}");
    assert_eq!(
        verify_with_python(given, std::slice::from_ref(&r), dir.path()),
        1
    );
    assert_eq!(verify_with_python(&old, &[r], dir.path()), 1);

    let (s, v) = engine.api("POST", &rotate, Some(json!({ "key": "nope" })));
    assert_eq!((s, loc(&v)), (422, json!(["body", "key"])));
}

#[test]
fn headers_are_set_patched_redacted_and_delivered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "1"]);
    let sink = Sink::start();
    let app = engine.create_app("headers");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/h") }));
    let ep = ep["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/app/{app}/endpoint/{ep}/headers");

    let (s, _) = engine.api(
        "PUT",
        &path,
        Some(json!({ "headers": { "x-team": "billing", "Authorization": "Bearer s3cret" } })),
    );
    assert_eq!(s, 204);
    let (s, v) = engine.api("GET", &path, None);
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({ "headers": { "x-team": "billing" }, "sensitive": ["Authorization"] })
    );
    let (s, _) = engine.api(
        "PATCH",
        &path,
        Some(json!({ "headers": { "x-extra": "1", "X-Team": null } })),
    );
    assert_eq!(s, 204);
    let (_, v) = engine.api("GET", &path, None);
    assert_eq!(v["headers"], json!({ "x-extra": "1" }));

    // Names the engine owns cannot be set, by any route.
    for (method, p, body) in [
        (
            "PUT",
            path.clone(),
            json!({ "headers": { "webhook-signature": "v1,forged" } }),
        ),
        (
            "PATCH",
            path.clone(),
            json!({ "headers": { "Host": "evil" } }),
        ),
        (
            "POST",
            format!("/api/v1/app/{app}/endpoint"),
            json!({ "url": sink.url("/x"), "headers": { "content-length": "1" } }),
        ),
        (
            "PATCH",
            format!("/api/v1/app/{app}/endpoint/{ep}"),
            json!({ "headers": { "Webhook-Id": "x" } }),
        ),
    ] {
        let (s, v) = engine.api(method, &p, Some(body));
        assert_eq!(
            (s, loc(&v)),
            (422, json!(["body", "headers"])),
            "{method} {p}: {v}"
        );
    }
    let (_, v) = engine.api("GET", &path, None);
    assert_eq!(
        v["headers"],
        json!({ "x-extra": "1" }),
        "refused changes changed nothing"
    );

    let m = engine.send(&app, "a.b", json!({}));
    let r = wait_for("delivery", DEADLINE, || {
        sink.received().into_iter().find(|r| r.webhook_id() == m)
    });
    assert_eq!(r.headers.get("x-extra").map(String::as_str), Some("1"));
    assert_eq!(
        r.headers.get("authorization").map(String::as_str),
        Some("Bearer s3cret")
    );
    assert!(!r.headers.contains_key("x-team"));
}

#[test]
fn event_types_round_trip_archive_and_expunge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &[]);
    let (s, t) = engine.api(
        "POST",
        "/api/v1/event-type",
        Some(json!({ "name": "invoice.paid", "description": "Paid" })),
    );
    assert_eq!(s, 201, "{t}");
    assert_eq!(
        (&t["archived"], &t["deprecated"]),
        (&json!(false), &json!(false))
    );
    let (s, _) = engine.api(
        "POST",
        "/api/v1/event-type",
        Some(json!({ "name": "invoice.paid", "description": "again" })),
    );
    assert_eq!(s, 409);
    let (s, v) = engine.api(
        "POST",
        "/api/v1/event-type",
        Some(json!({ "name": "bad name", "description": "" })),
    );
    assert_eq!((s, loc(&v)), (422, json!(["body", "name"])));

    let (s, u) = engine.api(
        "PUT",
        "/api/v1/event-type/user.created",
        Some(json!({ "description": "New user" })),
    );
    assert_eq!((s, &u["name"]), (201, &json!("user.created")));
    let (s, u2) = engine.api(
        "PUT",
        "/api/v1/event-type/user.created",
        Some(json!({ "description": "A new user" })),
    );
    assert_eq!(
        (s, &u2["description"], &u2["createdAt"]),
        (200, &json!("A new user"), &u["createdAt"])
    );
    let (s, p) = engine.api(
        "PATCH",
        "/api/v1/event-type/invoice.paid",
        Some(json!({ "description": "Invoice paid" })),
    );
    assert_eq!((s, &p["description"]), (200, &json!("Invoice paid")));

    let names = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|t| t["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let (_, list) = engine.api("GET", "/api/v1/event-type?limit=1", None);
    assert_eq!(
        (names(&list), &list["done"]),
        (vec!["invoice.paid".to_string()], &json!(false))
    );

    // DELETE archives: hidden from the list unless include_archived.
    let (s, _) = engine.api("DELETE", "/api/v1/event-type/invoice.paid", None);
    assert_eq!(s, 204);
    let (s, g) = engine.api("GET", "/api/v1/event-type/invoice.paid", None);
    assert_eq!((s, &g["archived"]), (200, &json!(true)));
    let (_, list) = engine.api("GET", "/api/v1/event-type", None);
    assert_eq!(names(&list), vec!["user.created"]);
    let (_, list) = engine.api("GET", "/api/v1/event-type?include_archived=true", None);
    assert_eq!(names(&list), vec!["invoice.paid", "user.created"]);
    // Creating it again unarchives it.
    let (s, t) = engine.api(
        "POST",
        "/api/v1/event-type",
        Some(json!({ "name": "invoice.paid", "description": "back" })),
    );
    assert_eq!((s, &t["archived"]), (201, &json!(false)));

    // expunge removes it; the journal replays both changes.
    let (s, _) = engine.api(
        "DELETE",
        "/api/v1/event-type/user.created?expunge=true",
        None,
    );
    assert_eq!(s, 204);
    let (s, _) = engine.api("GET", "/api/v1/event-type/user.created", None);
    assert_eq!(s, 404);
    assert!(engine.stop(), "clean stop");
    engine.spawn().expect("restart");
    let (_, list) = engine.api("GET", "/api/v1/event-type?include_archived=true", None);
    assert_eq!(names(&list), vec!["invoice.paid"]);
    assert_eq!(list["data"][0]["description"], json!("back"));
}

#[test]
fn idempotency_keys_replay_the_first_answer_and_create_nothing_new() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();

    let (s1, b1) = post_with_key(&engine, "/api/v1/app", "k-app", json!({ "name": "first" }));
    let (s2, b2) = post_with_key(&engine, "/api/v1/app", "k-app", json!({ "name": "second" }));
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(b1, b2, "the replay is the first answer, byte for byte");
    let app_answer = b1.clone();
    let (_, list) = engine.api("GET", "/api/v1/app", None);
    assert_eq!(ids(&list).len(), 1, "the replay created nothing");
    let app: Value = serde_json::from_str(&b1).expect("json");
    let app = app["id"].as_str().expect("id").to_string();
    engine.create_endpoint(&app, json!({ "url": sink.url("/i") }));

    // A failed request is not remembered: the same key may then succeed.
    let msg_path = format!("/api/v1/app/{app}/msg");
    let (s, _) = post_with_key(
        &engine,
        &msg_path,
        "k-msg",
        json!({ "eventType": "bad name", "payload": {} }),
    );
    assert_eq!(s, 422);
    let msg = json!({ "eventType": "a.b", "payload": { "n": 1 } });
    let (s1, b1) = post_with_key(&engine, &msg_path, "k-msg", msg.clone());
    let (s2, b2) = post_with_key(&engine, &msg_path, "k-msg", msg.clone());
    assert_eq!((s1, s2, &b1), (202, 202, &b2));
    let first: Value = serde_json::from_str(&b1).expect("json");
    let first = first["id"].as_str().expect("id").to_string();
    // A new key is a new message; the sink sees each message once.
    let (_, b3) = post_with_key(&engine, &msg_path, "k-msg-2", msg);
    let second: Value = serde_json::from_str(&b3).expect("json");
    let second = second["id"].as_str().expect("id").to_string();
    assert_ne!(first, second);
    wait_for("both messages", DEADLINE, || {
        let ids = sink.ids();
        (ids.contains(&first) && ids.contains(&second)).then_some(())
    });
    let m3 = engine.send(&app, "a.b", json!({ "n": 3 }));
    wait_for("a later message", DEADLINE, || {
        sink.ids().contains(&m3).then_some(())
    });
    assert_eq!(sink.count(), 3, "the replayed POST delivered nothing extra");

    // Keys are scoped per path.
    let (s, b) = post_with_key(
        &engine,
        "/api/v1/event-type",
        "k-app",
        json!({ "name": "x.y", "description": "" }),
    );
    assert_eq!(s, 201, "{b}");

    // Answers are journaled: the replay survives kill -9.
    engine.kill9();
    engine.spawn().expect("restart");
    let (s4, b4) = post_with_key(&engine, "/api/v1/app", "k-app", json!({ "name": "third" }));
    assert_eq!((s4, &b4), (201, &app_answer), "replayed after a restart");
    let (_, list) = engine.api("GET", "/api/v1/app", None);
    assert_eq!(ids(&list).len(), 1, "still one application");
}

#[test]
fn a_message_with_an_inline_application_creates_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let (s, v) = engine.api(
        "POST",
        "/api/v1/app/tenant-7/msg",
        Some(json!({ "eventType": "a.b", "payload": {} })),
    );
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
    let (s, v) = engine.api(
        "POST",
        "/api/v1/app/tenant-7/msg",
        Some(json!({
            "eventType": "a.b",
            "payload": { "n": 1 },
            "application": { "name": "Tenant 7", "uid": "tenant-7" },
        })),
    );
    assert_eq!(s, 202, "{v}");
    let (s, app) = engine.api("GET", "/api/v1/app/tenant-7", None);
    assert_eq!((s, &app["name"]), (200, &json!("Tenant 7")));
    // The application exists now: the inline object is ignored.
    let (s, _) = engine.api(
        "POST",
        "/api/v1/app/tenant-7/msg",
        Some(json!({ "eventType": "a.b", "payload": {}, "application": { "name": "Other" } })),
    );
    assert_eq!(s, 202);
    let (_, app2) = engine.api("GET", "/api/v1/app/tenant-7", None);
    assert_eq!(app2["name"], json!("Tenant 7"));
    let (s, v) = engine.api(
        "POST",
        "/api/v1/app/tenant-8/msg",
        Some(json!({ "eventType": "a.b", "payload": {}, "application": { "name": "T", "uid": "tenant-9" } })),
    );
    assert_eq!((s, loc(&v)), (422, json!(["body", "application"])));
    let (s, _) = engine.api("GET", "/api/v1/app/tenant-8", None);
    assert_eq!(s, 404);
}

#[test]
fn the_official_svix_sdk_drives_every_catalog_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let sink = Sink::start();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/catalog_sdk.py");
    let out = std::process::Command::new(common::python())
        .arg(script)
        .arg(format!("http://{}", engine.http))
        .arg(TOKEN)
        .arg(sink.url("/sdk"))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "svix SDK run failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

/// Pages of applications over the API, forwards, backwards through
/// `prevIterator` and in descending order, list exactly the integrator's
/// applications: a source's application is never among them, and a page
/// next to it is still `done` where the list ends. After a restart (the
/// catalog replayed) the pages are the same.
#[test]
fn application_pages_go_both_ways_and_never_list_a_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &["--shards", "1"]);
    let apps: Vec<String> = (0..5)
        .map(|i| engine.create_app(&format!("page-{i}")))
        .collect();
    let (s, src) = engine.api(
        "POST",
        "/ingest/api/v1/source",
        Some(json!({ "name": "gh", "type": "github", "config": { "secret": "gh-secret" } })),
    );
    assert_eq!(s, 201, "{src}");
    let get = |engine: &Engine, query: &str| {
        let (s, page) = engine.api("GET", &format!("/api/v1/app?{query}"), None);
        assert_eq!(s, 200, "{page}");
        page
    };
    let check = |engine: &Engine| {
        let first = get(engine, "limit=2");
        assert_eq!(
            (ids(&first), &first["done"]),
            (apps[..2].to_vec(), &json!(false))
        );
        let it = first["iterator"].as_str().expect("iterator");
        let second = get(engine, &format!("limit=2&iterator={it}"));
        assert_eq!(ids(&second), apps[2..4].to_vec());
        let it = second["iterator"].as_str().expect("iterator");
        let last = get(engine, &format!("limit=2&iterator={it}"));
        assert_eq!(
            (ids(&last), &last["done"]),
            (apps[4..].to_vec(), &json!(true))
        );
        // Back from the last page: the two before it, and not done.
        let prev = last["prevIterator"].as_str().expect("prevIterator");
        let back = get(engine, &format!("limit=2&iterator={prev}"));
        assert_eq!(
            (ids(&back), &back["done"]),
            (apps[2..4].to_vec(), &json!(false))
        );
        // Descending: newest first, the source's application nowhere.
        let down = get(engine, "limit=3&order=descending");
        let newest: Vec<String> = apps.iter().rev().take(3).cloned().collect();
        assert_eq!((ids(&down), &down["done"]), (newest, &json!(false)));
        let it = down["iterator"].as_str().expect("iterator");
        let rest = get(engine, &format!("limit=3&order=descending&iterator={it}"));
        let oldest: Vec<String> = apps[..2].iter().rev().cloned().collect();
        assert_eq!((ids(&rest), &rest["done"]), (oldest, &json!(true)));
    };
    check(&engine);
    engine.kill9();
    engine.spawn().expect("restarts");
    check(&engine);
}
