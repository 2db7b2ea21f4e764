//! Event types carry Svix's `schemas` (with examples), `deprecated`,
//! `groupName` and `featureFlag` (issue 12's "schemas and examples"): stored
//! in the catalog journal, kept across a restart, and the schema's example
//! is what `send-example` sends by default.

mod common;

use common::{wait_for, Engine, Sink};
use serde_json::json;
use std::time::Duration;

#[test]
fn event_types_keep_their_schemas_and_examples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &[]);
    let schemas = json!({
        "1": { "type": "object", "properties": { "orderId": { "type": "string" } },
               "examples": [{ "orderId": "o_1", "amount": 5 }] }
    });
    let (s, v) = engine.api(
        "POST",
        "/api/v1/event-type",
        Some(
            json!({ "name": "order.paid", "description": "paid", "schemas": schemas,
                     "deprecated": true, "groupName": "orders", "featureFlag": "beta" }),
        ),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["schemas"], schemas);
    assert_eq!(
        (v["deprecated"].as_bool(), v["groupName"].as_str()),
        (Some(true), Some("orders"))
    );
    // A PATCH of the description keeps them; one of `schemas` replaces them.
    let (s, v) = engine.api(
        "PATCH",
        "/api/v1/event-type/order.paid",
        Some(json!({ "description": "d2" })),
    );
    assert_eq!((s, v["schemas"].clone()), (200, schemas.clone()));
    let (s, v) = engine.api(
        "POST",
        "/api/v1/event-type",
        Some(json!({ "name": "bad", "schemas": [1] })),
    );
    assert_eq!(s, 422, "{v}");

    assert!(engine.stop());
    engine.spawn().expect("restart");
    let (s, v) = engine.api("GET", "/api/v1/event-type/order.paid", None);
    assert_eq!(s, 200);
    assert_eq!(
        (v["schemas"].clone(), v["featureFlag"].as_str()),
        (schemas, Some("beta"))
    );
    assert_eq!(v["description"], "d2");

    // send-example without a payload sends the schema's example.
    let sink = Sink::start();
    let app = engine.create_app("shop");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/e") }));
    let (s, _) = engine.api(
        "POST",
        &format!(
            "/api/v1/app/{app}/endpoint/{}/send-example",
            ep["id"].as_str().expect("id")
        ),
        Some(json!({ "eventType": "order.paid" })),
    );
    assert_eq!(s, 202);
    let got = wait_for("the example delivered", Duration::from_secs(10), || {
        sink.received().first().cloned()
    });
    assert_eq!(got.json(), json!({ "orderId": "o_1", "amount": 5 }));
}
