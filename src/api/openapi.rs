//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document of every route
//! ringhook serves (the Svix dialect and ringhook's additions), built from
//! one table ([`OPERATIONS`]). The central bodies have named schemas
//! ([`SCHEMAS`]); the other request bodies are JSON objects (each handler
//! checks its fields and answers a 422 listing what is wrong); responses
//! name their success status and shape, and every operation may answer a
//! `4XX` in the shared error shape. `tests/openapi.rs` checks
//! the table against the router (no undocumented route, no documented path
//! without one), validates the document with `openapi-spec-validator`, and
//! runs Schemathesis against a real engine with it.

use serde_json::{json, Map, Value};

/// What an operation answers on success.
#[derive(Clone, Copy)]
enum Out {
    /// A JSON object.
    Object,
    /// Svix's page: `{data, iterator, prevIterator, done}`.
    Page,
    /// No body.
    Empty,
    /// Text (Prometheus exposition).
    Text,
    /// An HTML page or a console file.
    Html,
    /// A redirect.
    Redirect,
}

/// One operation: method, path, operation id, whether it takes a JSON
/// body, its success status and what that answers, whether it needs the
/// bearer token.
struct Op(
    &'static str,
    &'static str,
    &'static str,
    bool,
    u16,
    Out,
    bool,
);

use Out::*;

#[rustfmt::skip]
const OPERATIONS: &[Op] = &[
    Op("get", "/api/v1/health", "health", false, 204, Empty, false),
    Op("get", "/api/v1/ready", "ready", false, 204, Empty, false),
    Op("get", "/metrics", "metrics", false, 200, Text, true),
    Op("get", "/api/v1/openapi.json", "openapi", false, 200, Object, false),
    Op("get", "/api/v1/app", "app_list", false, 200, Page, true),
    Op("post", "/api/v1/app", "app_create", true, 201, Object, true),
    Op("get", "/api/v1/app/{app}", "app_get", false, 200, Object, true),
    Op("put", "/api/v1/app/{app}", "app_upsert", true, 200, Object, true),
    Op("patch", "/api/v1/app/{app}", "app_patch", true, 200, Object, true),
    Op("delete", "/api/v1/app/{app}", "app_delete", false, 204, Empty, true),
    Op("get", "/api/v1/app/{app}/endpoint", "endpoint_list", false, 200, Page, true),
    Op("post", "/api/v1/app/{app}/endpoint", "endpoint_create", true, 201, Object, true),
    Op("get", "/api/v1/app/{app}/endpoint/{ep}", "endpoint_get", false, 200, Object, true),
    Op("put", "/api/v1/app/{app}/endpoint/{ep}", "endpoint_upsert", true, 200, Object, true),
    Op("patch", "/api/v1/app/{app}/endpoint/{ep}", "endpoint_patch", true, 200, Object, true),
    Op("delete", "/api/v1/app/{app}/endpoint/{ep}", "endpoint_delete", false, 204, Empty, true),
    Op("get", "/api/v1/app/{app}/endpoint/{ep}/secret", "endpoint_get_secret", false, 200, Object, true),
    Op("post", "/api/v1/app/{app}/endpoint/{ep}/secret/rotate", "endpoint_rotate_secret", true, 200, Object, true),
    Op("get", "/api/v1/app/{app}/endpoint/{ep}/headers", "endpoint_get_headers", false, 200, Object, true),
    Op("put", "/api/v1/app/{app}/endpoint/{ep}/headers", "endpoint_set_headers", true, 204, Empty, true),
    Op("patch", "/api/v1/app/{app}/endpoint/{ep}/headers", "endpoint_patch_headers", true, 204, Empty, true),
    Op("get", "/api/v1/app/{app}/endpoint/{ep}/stats", "endpoint_get_stats", false, 200, Object, true),
    Op("get", "/api/v1/app/{app}/endpoint/{ep}/attempt-stats", "endpoint_get_attempt_stats", false, 200, Object, true),
    Op("post", "/api/v1/app/{app}/endpoint/{ep}/recover", "endpoint_recover", true, 202, Object, true),
    Op("post", "/api/v1/app/{app}/endpoint/{ep}/replay-missing", "endpoint_replay_missing", true, 202, Object, true),
    Op("post", "/api/v1/app/{app}/endpoint/{ep}/bulk-replay", "endpoint_bulk_replay", true, 202, Object, true),
    Op("post", "/api/v1/app/{app}/endpoint/{ep}/send-example", "endpoint_send_example", true, 202, Object, true),
    Op("get", "/api/v1/app/{app}/endpoint/{ep}/msg", "attempted_messages", false, 200, Page, true),
    Op("get", "/api/v1/app/{app}/msg", "message_list", false, 200, Page, true),
    Op("post", "/api/v1/app/{app}/msg", "message_create", true, 202, Object, true),
    Op("post", "/api/v1/app/{app}/msg/precheck/active", "message_precheck", true, 200, Object, true),
    Op("post", "/api/v1/app/{app}/msg/bulk-expunge", "message_bulk_expunge", true, 200, Object, true),
    Op("post", "/api/v1/app/{app}/msg/expunge-all-contents", "message_expunge_all", false, 202, Object, true),
    Op("get", "/api/v1/app/{app}/msg/{msg}", "message_get", false, 200, Object, true),
    Op("delete", "/api/v1/app/{app}/msg/{msg}/content", "message_expunge", false, 204, Empty, true),
    Op("get", "/api/v1/app/{app}/msg/{msg}/endpoint", "attempted_destinations", false, 200, Page, true),
    Op("get", "/api/v1/app/{app}/msg/{msg}/attempt/{attempt}", "attempt_get", false, 200, Object, true),
    Op("delete", "/api/v1/app/{app}/msg/{msg}/attempt/{attempt}/content", "attempt_expunge", false, 204, Empty, true),
    Op("post", "/api/v1/app/{app}/msg/{msg}/endpoint/{ep}/resend", "attempt_resend", false, 202, Object, true),
    Op("get", "/api/v1/app/{app}/attempt/endpoint/{ep}", "attempt_list_by_endpoint", false, 200, Page, true),
    Op("get", "/api/v1/app/{app}/attempt/msg/{msg}", "attempt_list_by_msg", false, 200, Page, true),
    Op("get", "/api/v1/app/{app}/poller/{ep}", "poller_poll", false, 200, Object, true),
    Op("get", "/api/v1/app/{app}/poller/{ep}/consumer/{consumer}", "poller_consumer_poll", false, 200, Object, true),
    Op("post", "/api/v1/app/{app}/poller/{ep}/consumer/{consumer}/seek", "poller_consumer_seek", true, 200, Object, true),
    Op("get", "/api/v1/event-type", "event_type_list", false, 200, Page, true),
    Op("post", "/api/v1/event-type", "event_type_create", true, 201, Object, true),
    Op("post", "/api/v1/event-type/import/openapi", "event_type_import_openapi", true, 200, Object, true),
    Op("get", "/api/v1/event-type/{name}", "event_type_get", false, 200, Object, true),
    Op("put", "/api/v1/event-type/{name}", "event_type_upsert", true, 200, Object, true),
    Op("patch", "/api/v1/event-type/{name}", "event_type_patch", true, 200, Object, true),
    Op("delete", "/api/v1/event-type/{name}", "event_type_delete", false, 204, Empty, true),
    Op("get", "/api/v1/background-task", "background_task_list", false, 200, Page, true),
    Op("get", "/api/v1/background-task/{task}", "background_task_get", false, 200, Object, true),
    Op("post", "/api/v1/stats/usage/app", "stats_app_usage", true, 202, Object, true),
    Op("put", "/api/v1/stats/usage/event-types", "stats_event_types", false, 202, Object, true),
    Op("get", "/api/v1/stats/dashboard", "stats_dashboard", false, 200, Object, true),
    Op("post", "/api/v1/environment/export", "environment_export", false, 200, Object, true),
    Op("post", "/api/v1/environment/import", "environment_import", true, 204, Empty, true),
    Op("get", "/api/v1/rule", "rule_list", false, 200, Page, true),
    Op("post", "/api/v1/rule", "rule_create", true, 201, Object, true),
    Op("get", "/api/v1/rule/{rule}", "rule_get", false, 200, Object, true),
    Op("put", "/api/v1/rule/{rule}", "rule_replace", true, 200, Object, true),
    Op("delete", "/api/v1/rule/{rule}", "rule_delete", false, 204, Empty, true),
    Op("get", "/api/v1/operational-webhook/endpoint", "op_endpoint_list", false, 200, Page, true),
    Op("post", "/api/v1/operational-webhook/endpoint", "op_endpoint_create", true, 201, Object, true),
    Op("get", "/api/v1/operational-webhook/endpoint/{ep}", "op_endpoint_get", false, 200, Object, true),
    Op("put", "/api/v1/operational-webhook/endpoint/{ep}", "op_endpoint_upsert", true, 200, Object, true),
    Op("patch", "/api/v1/operational-webhook/endpoint/{ep}", "op_endpoint_patch", true, 200, Object, true),
    Op("delete", "/api/v1/operational-webhook/endpoint/{ep}", "op_endpoint_delete", false, 204, Empty, true),
    Op("get", "/api/v1/operational-webhook/endpoint/{ep}/secret", "op_endpoint_get_secret", false, 200, Object, true),
    Op("post", "/api/v1/operational-webhook/endpoint/{ep}/secret/rotate", "op_endpoint_rotate_secret", true, 200, Object, true),
    Op("get", "/api/v1/operational-webhook/endpoint/{ep}/headers", "op_endpoint_get_headers", false, 200, Object, true),
    Op("put", "/api/v1/operational-webhook/endpoint/{ep}/headers", "op_endpoint_set_headers", true, 204, Empty, true),
    Op("patch", "/api/v1/operational-webhook/endpoint/{ep}/headers", "op_endpoint_patch_headers", true, 204, Empty, true),
    Op("post", "/api/v1/auth/app-portal-access/{app}", "auth_app_portal_access", true, 200, Object, true),
    Op("get", "/api/v1/auth/portal", "auth_portal_self", false, 200, Object, true),
    Op("post", "/api/v1/auth/logout", "auth_logout", false, 204, Empty, true),
    Op("post", "/api/v1/auth/app/{app}/expire-all", "auth_expire_all", true, 204, Empty, true),
    Op("get", "/ingest/api/v1/source", "source_list", false, 200, Page, true),
    Op("post", "/ingest/api/v1/source", "source_create", true, 201, Object, true),
    Op("get", "/ingest/api/v1/source/{src}", "source_get", false, 200, Object, true),
    Op("put", "/ingest/api/v1/source/{src}", "source_upsert", true, 200, Object, true),
    Op("delete", "/ingest/api/v1/source/{src}", "source_delete", false, 204, Empty, true),
    Op("post", "/ingest/api/v1/source/{src}/token/rotate", "source_rotate_token", false, 200, Object, true),
    Op("get", "/ingest/api/v1/source/{src}/request", "source_requests", false, 200, Page, true),
    Op("get", "/ingest/api/v1/source/{src}/endpoint", "source_endpoint_list", false, 200, Page, true),
    Op("post", "/ingest/api/v1/source/{src}/endpoint", "source_endpoint_create", true, 201, Object, true),
    Op("get", "/ingest/api/v1/source/{src}/endpoint/{ep}", "source_endpoint_get", false, 200, Object, true),
    Op("put", "/ingest/api/v1/source/{src}/endpoint/{ep}", "source_endpoint_upsert", true, 200, Object, true),
    Op("patch", "/ingest/api/v1/source/{src}/endpoint/{ep}", "source_endpoint_patch", true, 200, Object, true),
    Op("delete", "/ingest/api/v1/source/{src}/endpoint/{ep}", "source_endpoint_delete", false, 204, Empty, true),
    Op("get", "/ingest/api/v1/source/{src}/endpoint/{ep}/secret", "source_endpoint_get_secret", false, 200, Object, true),
    Op("post", "/ingest/api/v1/source/{src}/endpoint/{ep}/secret/rotate", "source_endpoint_rotate_secret", true, 200, Object, true),
    Op("get", "/ingest/api/v1/source/{src}/endpoint/{ep}/headers", "source_endpoint_get_headers", false, 200, Object, true),
    Op("put", "/ingest/api/v1/source/{src}/endpoint/{ep}/headers", "source_endpoint_set_headers", true, 204, Empty, true),
    Op("patch", "/ingest/api/v1/source/{src}/endpoint/{ep}/headers", "source_endpoint_patch_headers", true, 204, Empty, true),
    Op("post", "/ingest/{token}", "receive", false, 200, Object, false),
    Op("get", "/", "root", false, 302, Redirect, false),
    Op("get", "/console", "console", false, 200, Html, false),
    Op("get", "/console/{file}", "console_file", false, 200, Html, false),
    Op("get", "/portal", "portal", false, 200, Html, false),
    Op("get", "/console/api/session", "console_session", false, 200, Object, false),
    Op("post", "/console/api/session", "console_sign_in", false, 200, Object, false),
    Op("delete", "/console/api/session", "console_sign_out", false, 204, Empty, false),
];

/// Operations whose bodies have a named schema (components below):
/// operation id, request body, success response.
#[rustfmt::skip]
const SCHEMAS: &[(&str, Option<&str>, Option<&str>)] = &[
    ("app_create", Some("ApplicationIn"), Some("ApplicationOut")),
    ("app_get", None, Some("ApplicationOut")),
    ("app_upsert", Some("ApplicationIn"), Some("ApplicationOut")),
    ("event_type_create", Some("EventTypeIn"), Some("EventTypeOut")),
    ("event_type_get", None, Some("EventTypeOut")),
    ("event_type_upsert", Some("EventTypeIn"), Some("EventTypeOut")),
    ("message_create", Some("MessageIn"), Some("MessageOut")),
    ("message_get", None, Some("MessageOut")),
    ("message_precheck", Some("MessagePrecheckIn"), Some("MessagePrecheckOut")),
    ("endpoint_get", None, Some("EndpointOut")),
    ("endpoint_create", None, Some("EndpointOut")),
    ("rule_get", None, Some("RuleOut")),
    ("rule_create", None, Some("RuleOut")),
    ("poller_consumer_seek", Some("SeekIn"), Some("SeekOut")),
    ("endpoint_recover", Some("RangeIn"), Some("TaskOut")),
    ("endpoint_replay_missing", Some("RangeIn"), Some("TaskOut")),
    ("background_task_get", None, Some("TaskOut")),
];

fn schemas() -> Value {
    let text = |max: u64| json!({ "type": "string", "minLength": 1, "maxLength": max });
    let name = json!({ "type": "string", "pattern": "^[a-zA-Z0-9\\-_.]{1,256}$" });
    let time = json!({ "type": "string", "format": "date-time" });
    let strings = json!({ "type": "object", "additionalProperties": { "type": "string" } });
    json!({
        "Error": {
            "type": "object",
            "required": ["code", "detail"],
            "properties": { "code": { "type": "string" }, "detail": {} },
        },
        "Page": {
            "type": "object",
            "required": ["data", "done"],
            "properties": {
                "data": { "type": "array", "items": { "type": "object" } },
                "iterator": { "type": ["string", "null"] },
                "prevIterator": { "type": ["string", "null"] },
                "done": { "type": "boolean" },
            },
        },
        "ApplicationIn": {
            "type": "object",
            "required": ["name"],
            "properties": { "name": text(256), "metadata": strings },
        },
        "ApplicationOut": {
            "type": "object",
            "required": ["id", "name", "uid", "metadata", "createdAt", "updatedAt"],
            "properties": {
                "id": { "type": "string" }, "name": { "type": "string" },
                "uid": { "type": ["string", "null"] }, "metadata": strings,
                "createdAt": time, "updatedAt": time,
            },
        },
        "EventTypeIn": {
            "type": "object",
            "properties": { "description": { "type": "string", "maxLength": 4096 }, "archived": { "type": "boolean" } },
        },
        "EventTypeOut": {
            "type": "object",
            "required": ["name", "description", "archived", "deprecated", "createdAt", "updatedAt"],
            "properties": {
                "name": name, "description": { "type": "string" }, "archived": { "type": "boolean" },
                "deprecated": { "type": "boolean" }, "createdAt": time, "updatedAt": time,
            },
        },
        "MessageIn": {
            "type": "object",
            "required": ["eventType", "payload"],
            "properties": { "eventType": name, "payload": { "type": "object" } },
        },
        "MessageOut": {
            "type": "object",
            "required": ["id", "eventType", "payload", "timestamp"],
            "properties": {
                "id": { "type": "string" }, "eventType": { "type": "string" },
                "eventId": { "type": ["string", "null"] }, "payload": { "type": "object" },
                "channels": { "type": ["array", "null"], "items": { "type": "string" } },
                "timestamp": time,
            },
        },
        "MessagePrecheckIn": {
            "type": "object",
            "required": ["eventType"],
            "properties": { "eventType": name },
        },
        "MessagePrecheckOut": {
            "type": "object",
            "required": ["active"],
            "properties": { "active": { "type": "boolean" } },
        },
        "EndpointOut": {
            "type": "object",
            "required": ["id", "url", "description", "disabled", "version", "createdAt", "updatedAt", "metadata"],
            "properties": {
                "id": { "type": "string" }, "url": { "type": "string" },
                "description": { "type": "string" }, "disabled": { "type": "boolean" },
                "version": { "type": "integer" }, "metadata": strings,
                "filterTypes": { "type": ["array", "null"], "items": { "type": "string" } },
                "channels": { "type": ["array", "null"], "items": { "type": "string" } },
                "createdAt": time, "updatedAt": time,
            },
        },
        "RuleOut": {
            "type": "object",
            "required": ["id", "name", "scope", "signal", "comparison", "threshold", "windowSeconds", "cooldownSeconds", "state"],
            "properties": {
                "id": { "type": "string" }, "name": { "type": "string" },
                "scope": { "type": "object", "required": ["type"] },
                "signal": { "type": "string" }, "comparison": { "enum": [">", ">=", "<", "<="] },
                "threshold": { "type": "number" }, "windowSeconds": { "type": "integer" },
                "cooldownSeconds": { "type": "integer" },
                "state": { "type": "object", "required": ["status"], "properties": { "status": { "enum": ["ok", "firing"] } } },
            },
        },
        "SeekIn": { "type": "object", "required": ["after"], "properties": { "after": time } },
        "SeekOut": { "type": "object", "required": ["iterator"], "properties": { "iterator": { "type": "string" } } },
        "RangeIn": {
            "type": "object",
            "required": ["since"],
            "properties": { "since": time, "until": time },
        },
        "TaskOut": {
            "type": "object",
            "required": ["id", "status", "task", "updatedAt"],
            "properties": {
                "id": { "type": "string" }, "status": { "enum": ["running", "finished", "failed"] },
                "task": { "type": "string" }, "updatedAt": time,
            },
        },
    })
}

/// The paths the document names (for the router check).
pub fn paths() -> impl Iterator<Item = &'static str> {
    OPERATIONS.iter().map(|op| op.1)
}

fn params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
        })
        .collect()
}

fn success(out: Out) -> Value {
    let json_body =
        |schema: Value| json!({ "content": { "application/json": { "schema": schema } } });
    let mut v = match out {
        Object => json_body(json!({ "type": "object" })),
        Page => json_body(json!({ "$ref": "#/components/schemas/Page" })),
        Empty | Redirect => json!({}),
        Text => json!({ "content": { "text/plain": { "schema": { "type": "string" } } } }),
        Html => json!({ "content": {
            "text/html": { "schema": { "type": "string" } },
            "text/javascript": { "schema": { "type": "string" } },
            "text/css": { "schema": { "type": "string" } },
        } }),
    };
    v["description"] = json!("success");
    v
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for Op(method, path, id, body, status, out, auth) in OPERATIONS {
        let mut op = json!({
            "operationId": id,
            "parameters": params(path),
            "responses": {
                status.to_string(): success(*out),
                "4XX": {
                    "description": "refused: the error's `code` says why",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
                },
                "503": {
                    "description": "the engine is stopping, overloaded, or a shard cannot be reached",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
                },
            },
        });
        // An upsert creates what is not there yet (201); the root answers
        // the console page when a client follows its redirect.
        if *method == "put" && matches!(out, Object) {
            op["responses"]["201"] = success(Object);
        }
        if *path == "/" {
            op["responses"]["200"] = success(Html);
        }
        let named = SCHEMAS.iter().find(|(op_id, _, _)| op_id == id);
        let reference = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
        if *body {
            let schema = named
                .and_then(|(_, req, _)| *req)
                .map_or_else(|| json!({ "type": "object" }), reference);
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": schema } },
            });
        }
        if let Some(res) = named.and_then(|(_, _, res)| *res) {
            op["responses"][status.to_string()]["content"]["application/json"]["schema"] =
                reference(res);
        }
        if !*auth {
            op["security"] = json!([]);
        }
        let item = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        item[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "ringhook",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Svix /api/v1 dialect and ringhook's additions; see docs/api.md.",
        },
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_document_names_every_route_and_only_routes() {
        let documented: BTreeSet<&str> = paths().collect();
        let routed: BTreeSet<&str> = super::super::routes::route_paths().collect();
        let missing: Vec<_> = routed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routed).collect();
        assert!(
            missing.is_empty(),
            "routes not in the document: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "documented paths with no route: {extra:?}"
        );
        let ids: BTreeSet<&str> = OPERATIONS.iter().map(|op| op.2).collect();
        assert_eq!(ids.len(), OPERATIONS.len(), "operation ids are unique");
    }
}
