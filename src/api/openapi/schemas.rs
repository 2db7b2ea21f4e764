//! The OpenAPI document's component schemas: the shapes the handlers read
//! and answer, field by field, with Svix's names where Svix has the same
//! body. This file holds the helpers, the shared error and page shapes and
//! the Svix core (applications, event types, messages, attempts, tasks,
//! usage statistics); `endpoints` the endpoint family (of applications, of
//! operators and of sources), `sources` the ingest sources and receive
//! URLs, `additions` ringhook's own resources.
//!
//! The rules: a request schema names the fields its handler reads, with
//! the bounds it enforces where simple (lengths, ranges, enums), and
//! accepts `null` where the handler reads `null` as absent; a response
//! schema marks `required` exactly the fields the view always writes, and
//! is nullable where the view can write `null`. `additionalProperties` is
//! left open unless the handler refuses unknown fields.

mod additions;
mod endpoints;
mod sources;

use serde_json::{json, Map, Value};

/// The page item schemas: each has a `ListResponse_<item>`.
const PAGED: &[&str] = &[
    "ApplicationOut",
    "EndpointOut",
    "OperationalWebhookEndpointOut",
    "IngestEndpointOut",
    "EventTypeOut",
    "MessageOut",
    "EndpointMessageOut",
    "MessageEndpointOut",
    "MessageAttemptOut",
    "BackgroundTaskOut",
    "RuleOut",
    "IngestSourceOut",
    "IngestRequestOut",
];

/// A string of at most `max` characters.
pub(super) fn text(max: u64) -> Value {
    json!({ "type": "string", "maxLength": max })
}

pub(super) fn string() -> Value {
    json!({ "type": "string" })
}

pub(super) fn boolean() -> Value {
    json!({ "type": "boolean" })
}

/// A count or other non-negative integer.
pub(super) fn count() -> Value {
    json!({ "type": "integer", "minimum": 0 })
}

/// An RFC 3339 date-time (UTC, milliseconds when the engine writes it).
pub(super) fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

/// A name of `[a-zA-Z0-9-_.]`, 1 to 256 (event types, channels, uids).
pub(super) fn name() -> Value {
    json!({ "type": "string", "pattern": "^[a-zA-Z0-9\\-_.]{1,256}$" })
}

/// An object of strings (metadata, headers as shown).
pub(super) fn strings() -> Value {
    json!({ "type": "object", "additionalProperties": { "type": "string" } })
}

/// `metadata` in a request: at most 64 keys of strings (8 KiB of JSON).
pub(super) fn metadata_in() -> Value {
    json!({
        "type": ["object", "null"],
        "additionalProperties": { "type": "string" },
        "maxProperties": 64,
        "description": "at most 64 keys and 8 KiB of JSON",
    })
}

/// A rate limit (per second), none for unlimited.
pub(super) fn rate() -> Value {
    json!({ "type": ["integer", "null"], "minimum": 0, "maximum": u32::MAX })
}

pub(super) fn list(item: Value) -> Value {
    json!({ "type": "array", "items": item })
}

/// A list of event type names or channels in a request (at most 1,000).
pub(super) fn names_in() -> Value {
    json!({
        "type": ["array", "null"],
        "maxItems": 1000,
        "items": { "type": "string", "minLength": 1, "maxLength": 256 },
    })
}

/// A reference to another component.
pub(super) fn refer(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// `schema` or `null`.
pub(super) fn or_null(mut schema: Value) -> Value {
    if schema.get("$ref").is_some() {
        return json!({ "anyOf": [schema, { "type": "null" }] });
    }
    if let Some(o) = schema.as_object_mut() {
        match o.get_mut("type") {
            Some(Value::String(t)) => {
                let t = std::mem::take(t);
                o.insert("type".into(), json!([t, "null"]));
            }
            Some(Value::Array(types)) => types.push(json!("null")),
            _ => {}
        }
        if let Some(Value::Array(values)) = o.get_mut("enum") {
            values.push(Value::Null);
        }
    }
    schema
}

/// A request body: an object with these properties, of which `required`
/// must be there.
pub(super) fn input(required: &[&str], properties: Value) -> Value {
    let mut v = json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        v["required"] = json!(required);
    }
    v
}

/// A response body: an object with these properties, each always there
/// but `optional`.
pub(super) fn output(properties: Value, optional: &[&str]) -> Value {
    let required: Vec<&String> = properties
        .as_object()
        .map(|p| {
            p.keys()
                .filter(|k| !optional.contains(&k.as_str()))
                .collect()
        })
        .unwrap_or_default();
    json!({ "type": "object", "required": required, "properties": properties })
}

/// The properties of `base` and `more` together (`more` wins).
pub(super) fn with(mut base: Value, more: Value) -> Value {
    if let (Some(b), Value::Object(m)) = (base.as_object_mut(), more) {
        b.extend(m);
    }
    base
}

/// The entries of an object (a group of named schemas).
pub(super) fn entries(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Svix's page of `item`s.
fn page(item: &str) -> Value {
    output(
        json!({
            "data": list(refer(item)),
            "iterator": or_null(string()),
            "prevIterator": or_null(string()),
            "done": boolean(),
        }),
        &[],
    )
}

/// A delivery's status (`MessageStatus`) and its text.
pub(super) fn status() -> Value {
    json!({ "type": "integer", "enum": [0, 1, 2, 3, 4], "description": "0 success, 1 pending, 2 fail, 3 sending, 4 canceled" })
}

pub(super) fn status_text() -> Value {
    json!({ "type": "string", "enum": ["success", "pending", "fail", "sending", "canceled"] })
}

/// A background task as it is answered when started (Svix's `RecoverOut`,
/// `ReplayOut`, ...), with `more` properties.
fn task(more: Value) -> Value {
    output(
        with(
            json!({
                "id": string(),
                "status": { "type": "string", "enum": ["running", "finished", "failed"] },
                "task": {
                    "type": "string",
                    "enum": ["endpoint.recover", "endpoint.replay", "endpoint.bulk-replay",
                             "application.purge_content", "application.stats", "event-type.aggregate"],
                },
                "updatedAt": time(),
            }),
            more,
        ),
        &[],
    )
}

/// `since` (required) and `until`, RFC 3339.
fn range(more: Value) -> Value {
    input(
        &["since"],
        with(json!({ "since": time(), "until": or_null(time()) }), more),
    )
}

/// The fields of a message as the API shows it (`MessageOut`).
fn message() -> Value {
    json!({
        "id": string(),
        "eventType": string(),
        "eventId": or_null(string()),
        "payload": { "type": "object", "description": "{} once expunged, or when listed without content" },
        "channels": or_null(list(string())),
        "tags": { "type": "null", "description": "ringhook has no message tags" },
        "timestamp": time(),
    })
}

fn core() -> Map<String, Value> {
    let application = |required: &[&str], name: Value| {
        input(
            required,
            json!({
                "name": name,
                "uid": or_null(name_uid()),
                "metadata": metadata_in(),
                "throttleRate": rate(),
                "rateLimit": with(rate(), json!({ "description": "an alias of throttleRate" })),
            }),
        )
    };
    let app_name = json!({ "type": "string", "minLength": 1, "maxLength": 256 });
    let event_type = |required: &[&str], more: Value| {
        input(
            required,
            with(
                json!({
                    "description": or_null(text(4096)),
                    "archived": or_null(boolean()),
                    "schemas": {
                        "type": ["object", "null"],
                        "additionalProperties": { "type": "object" },
                        "description": "JSON Schemas by version, e.g. {\"1\": {...}}; at most 64 KiB of JSON",
                    },
                    "deprecated": or_null(boolean()),
                    "groupName": or_null(text(256)),
                    "featureFlag": or_null(text(256)),
                }),
                more,
            ),
        )
    };
    entries(json!({
        "Error": {
            "type": "object",
            "required": ["code", "detail"],
            "properties": { "code": { "type": "string" }, "detail": {} },
        },
        "EmptyResponse": { "type": "object", "maxProperties": 0 },
        "OpenApiDocument": {
            "type": "object",
            "required": ["openapi", "info", "paths", "components"],
            "properties": {
                "openapi": string(), "info": { "type": "object" },
                "paths": { "type": "object" }, "components": { "type": "object" },
            },
        },
        "ApplicationIn": application(&["name"], app_name.clone()),
        "ApplicationPatch": application(&[], app_name),
        "ApplicationOut": output(json!({
            "id": string(), "uid": or_null(string()), "name": string(),
            "rateLimit": or_null(count()), "throttleRate": or_null(count()),
            "metadata": strings(), "createdAt": time(), "updatedAt": time(),
        }), &[]),
        "EventTypeIn": event_type(&["name"], json!({ "name": name() })),
        "EventTypeUpdate": event_type(&[], json!({})),
        "EventTypePatch": event_type(&[], json!({})),
        "EventTypeOut": output(json!({
            "name": string(), "description": string(), "archived": boolean(),
            "deprecated": boolean(), "schemas": { "type": ["object", "null"] },
            "groupName": or_null(string()), "featureFlag": or_null(string()),
            "createdAt": time(), "updatedAt": time(),
        }), &[]),
        "EventTypeImportOpenApiIn": input(&[], json!({
            "spec": { "type": ["object", "null"], "description": "an OpenAPI 3.1 document; give spec or specRaw" },
            "specRaw": { "type": ["string", "null"], "description": "the document as JSON or YAML text" },
            "dryRun": or_null(boolean()),
            "replaceAll": or_null(boolean()),
        })),
        "EventTypeImportOpenApiOut": output(json!({
            "data": output(json!({
                "modified": list(string()),
                "to_modify": list(refer("EventTypeFromOpenApi")),
            }), &["to_modify"]),
        }), &[]),
        "EventTypeFromOpenApi": output(json!({
            "name": string(), "description": string(), "schemas": { "type": ["object", "null"] },
            "deprecated": boolean(), "groupName": or_null(string()),
            "featureFlags": { "description": "the webhook's x-svix-feature-flags as given; null without" },
        }), &[]),
        "MessageIn": input(&["eventType", "payload"], json!({
            "eventType": name(),
            "eventId": { "type": ["string", "null"], "minLength": 1, "maxLength": 256 },
            "payload": { "type": "object", "description": "nested at most 128 levels deep" },
            "channels": { "type": ["array", "null"], "maxItems": 10, "items": name() },
            "application": or_null(refer("ApplicationIn")),
        })),
        "MessageOut": output(message(), &["tags"]),
        "EndpointMessageOut": output(
            with(message(), json!({
                "status": status(), "statusText": status_text(), "nextAttempt": or_null(time()),
            })),
            &[],
        ),
        "MessagePrecheckIn": input(&["eventType"], json!({ "eventType": name(), "channels": names_in() })),
        "MessagePrecheckOut": output(json!({ "active": boolean() }), &[]),
        "BulkExpungeContentsIn": input(&[], json!({
            "ids": with(names_in(), json!({ "description": "message ids or eventIds" })),
        })),
        "BulkExpungeContentsOut": output(json!({
            "results": {
                "type": "object",
                "additionalProperties": { "type": "string", "enum": ["expunged", "not-found"] },
            },
        }), &[]),
        "MessageAttemptOut": output(json!({
            "id": string(), "msgId": string(), "endpointId": string(), "url": string(),
            "response": string(), "responseStatusCode": count(), "responseDurationMs": count(),
            "errorKind": { "type": ["string", "null"], "description": "why there was no usable response" },
            "status": status(), "statusText": status_text(),
            "triggerType": { "type": "integer", "enum": [0, 1], "description": "0 scheduled, 1 manual" },
            "timestamp": time(), "msg": refer("MessageOut"),
        }), &["msg"]),
        "MessageEndpointOut": output(json!({
            "id": string(), "uid": or_null(string()), "url": string(), "description": string(),
            "disabled": boolean(), "rateLimit": or_null(count()), "throttleRate": or_null(count()),
            "eventTypes": or_null(list(string())), "filterTypes": or_null(list(string())),
            "channels": or_null(list(string())), "createdAt": time(), "updatedAt": time(),
            "status": status(), "statusText": status_text(), "nextAttempt": or_null(time()),
        }), &[]),
        "PollingEndpointOut": output(json!({
            "data": list(refer("MessageOut")), "iterator": string(), "done": boolean(),
        }), &[]),
        "PollingEndpointConsumerSeekIn": input(&["after"], json!({ "after": time() })),
        "PollingEndpointConsumerSeekOut": output(json!({ "iterator": string() }), &[]),
        "EventExampleIn": input(&["eventType"], json!({
            "eventType": name(),
            "payload": {
                "type": ["object", "null"],
                "description": "default: the newest schema's first example, {\"success\": true} for svix.ping",
            },
        })),
        "RecoverIn": range(json!({})),
        "ReplayIn": range(json!({})),
        "BulkReplayIn": range(json!({
            "eventTypes": names_in(),
            "channel": or_null(text(256)),
            "status": with(or_null(status()), json!({ "description": "the delivery's MessageStatus" })),
            "tag": { "type": "null", "description": "refused unless null: ringhook has no tags" },
            "statusCodeClass": { "type": "null", "description": "refused unless null" },
        })),
        "RecoverOut": task(json!({})),
        "ReplayOut": task(json!({})),
        "ExpungeAllContentsOut": task(json!({})),
        "AggregateEventTypesOut": task(json!({})),
        "BackgroundTaskOut": task(json!({ "data": { "type": "object" } })),
        "AppUsageStatsIn": input(&["since", "until"], json!({
            "since": time(), "until": time(),
            "appIds": with(names_in(), json!({ "description": "ids or uids; none: every application" })),
        })),
        "AppUsageStatsOut": task(json!({ "unresolvedAppIds": list(string()) })),
    }))
}

/// A uid in a request (not shaped like an id).
pub(super) fn name_uid() -> Value {
    with(
        name(),
        json!({ "description": "not shaped like an id (app_…, ep_…, src_…)" }),
    )
}

/// Every component schema.
pub fn schemas() -> Value {
    let mut all = core();
    all.extend(endpoints::schemas());
    all.extend(sources::schemas());
    all.extend(additions::schemas());
    for item in PAGED {
        all.insert(format!("ListResponse_{item}"), page(item));
    }
    Value::Object(all)
}
