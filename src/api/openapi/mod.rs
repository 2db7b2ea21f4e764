//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document of every route
//! ringhook serves (the Svix dialect and ringhook's additions), built from
//! one table ([`OPERATIONS`]). Every JSON request body and every JSON
//! success answer has a named component schema ([`SCHEMAS`]): the schemas
//! (`schemas`) describe each body field by field, as the handlers read
//! and answer it, under Svix's names where Svix has the same body, and
//! pages as `ListResponse_<item>`. Every operation may answer a `4XX` (and
//! a 503) in the shared error shape. The unit tests below check the table
//! against the router (no undocumented route, no documented path without
//! one), that no JSON body is left unnamed and that every `$ref` resolves;
//! `tests/openapi.rs` validates the document with `openapi-spec-validator`
//! and runs Schemathesis against a real engine with it (an answer that
//! contradicts its schema fails it).

mod schemas;

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

/// The named schemas of every operation's JSON bodies (components in
/// [`schemas`]): operation id, request body, success response. Pages are
/// `ListResponse_<item>`.
#[rustfmt::skip]
const SCHEMAS: &[(&str, Option<&str>, Option<&str>)] = &[
    ("openapi", None, Some("OpenApiDocument")),
    ("app_list", None, Some("ListResponse_ApplicationOut")),
    ("app_create", Some("ApplicationIn"), Some("ApplicationOut")),
    ("app_get", None, Some("ApplicationOut")),
    ("app_upsert", Some("ApplicationIn"), Some("ApplicationOut")),
    ("app_patch", Some("ApplicationPatch"), Some("ApplicationOut")),
    ("endpoint_list", None, Some("ListResponse_EndpointOut")),
    ("endpoint_create", Some("EndpointIn"), Some("EndpointOut")),
    ("endpoint_get", None, Some("EndpointOut")),
    ("endpoint_upsert", Some("EndpointUpdate"), Some("EndpointOut")),
    ("endpoint_patch", Some("EndpointPatch"), Some("EndpointOut")),
    ("endpoint_get_secret", None, Some("EndpointSecretOut")),
    ("endpoint_rotate_secret", Some("EndpointSecretRotateIn"), Some("EndpointSecretOut")),
    ("endpoint_get_headers", None, Some("EndpointHeadersOut")),
    ("endpoint_set_headers", Some("EndpointHeadersIn"), None),
    ("endpoint_patch_headers", Some("EndpointHeadersPatchIn"), None),
    ("endpoint_get_stats", None, Some("EndpointStats")),
    ("endpoint_get_attempt_stats", None, Some("EndpointAttemptStats")),
    ("endpoint_recover", Some("RecoverIn"), Some("RecoverOut")),
    ("endpoint_replay_missing", Some("ReplayIn"), Some("ReplayOut")),
    ("endpoint_bulk_replay", Some("BulkReplayIn"), Some("ReplayOut")),
    ("endpoint_send_example", Some("EventExampleIn"), Some("MessageOut")),
    ("attempted_messages", None, Some("ListResponse_EndpointMessageOut")),
    ("message_list", None, Some("ListResponse_MessageOut")),
    ("message_create", Some("MessageIn"), Some("MessageOut")),
    ("message_precheck", Some("MessagePrecheckIn"), Some("MessagePrecheckOut")),
    ("message_bulk_expunge", Some("BulkExpungeContentsIn"), Some("BulkExpungeContentsOut")),
    ("message_expunge_all", None, Some("ExpungeAllContentsOut")),
    ("message_get", None, Some("MessageOut")),
    ("attempted_destinations", None, Some("ListResponse_MessageEndpointOut")),
    ("attempt_get", None, Some("MessageAttemptOut")),
    ("attempt_resend", None, Some("EmptyResponse")),
    ("attempt_list_by_endpoint", None, Some("ListResponse_MessageAttemptOut")),
    ("attempt_list_by_msg", None, Some("ListResponse_MessageAttemptOut")),
    ("poller_poll", None, Some("PollingEndpointOut")),
    ("poller_consumer_poll", None, Some("PollingEndpointOut")),
    ("poller_consumer_seek", Some("PollingEndpointConsumerSeekIn"), Some("PollingEndpointConsumerSeekOut")),
    ("event_type_list", None, Some("ListResponse_EventTypeOut")),
    ("event_type_create", Some("EventTypeIn"), Some("EventTypeOut")),
    ("event_type_import_openapi", Some("EventTypeImportOpenApiIn"), Some("EventTypeImportOpenApiOut")),
    ("event_type_get", None, Some("EventTypeOut")),
    ("event_type_upsert", Some("EventTypeUpdate"), Some("EventTypeOut")),
    ("event_type_patch", Some("EventTypePatch"), Some("EventTypeOut")),
    ("background_task_list", None, Some("ListResponse_BackgroundTaskOut")),
    ("background_task_get", None, Some("BackgroundTaskOut")),
    ("stats_app_usage", Some("AppUsageStatsIn"), Some("AppUsageStatsOut")),
    ("stats_event_types", None, Some("AggregateEventTypesOut")),
    ("stats_dashboard", None, Some("DashboardOut")),
    ("environment_export", None, Some("EnvironmentOut")),
    ("environment_import", Some("EnvironmentIn"), None),
    ("rule_list", None, Some("ListResponse_RuleOut")),
    ("rule_create", Some("RuleIn"), Some("RuleOut")),
    ("rule_get", None, Some("RuleOut")),
    ("rule_replace", Some("RuleIn"), Some("RuleOut")),
    ("op_endpoint_list", None, Some("ListResponse_OperationalWebhookEndpointOut")),
    ("op_endpoint_create", Some("OperationalWebhookEndpointIn"), Some("OperationalWebhookEndpointOut")),
    ("op_endpoint_get", None, Some("OperationalWebhookEndpointOut")),
    ("op_endpoint_upsert", Some("OperationalWebhookEndpointUpdate"), Some("OperationalWebhookEndpointOut")),
    ("op_endpoint_patch", Some("OperationalWebhookEndpointPatch"), Some("OperationalWebhookEndpointOut")),
    ("op_endpoint_get_secret", None, Some("OperationalWebhookEndpointSecretOut")),
    ("op_endpoint_rotate_secret", Some("OperationalWebhookEndpointSecretIn"), Some("OperationalWebhookEndpointSecretOut")),
    ("op_endpoint_get_headers", None, Some("OperationalWebhookEndpointHeadersOut")),
    ("op_endpoint_set_headers", Some("OperationalWebhookEndpointHeadersIn"), None),
    ("op_endpoint_patch_headers", Some("OperationalWebhookEndpointHeadersPatchIn"), None),
    ("auth_app_portal_access", Some("AppPortalAccessIn"), Some("AppPortalAccessOut")),
    ("auth_portal_self", None, Some("PortalSessionOut")),
    ("auth_expire_all", Some("ApplicationTokenExpireIn"), None),
    ("source_list", None, Some("ListResponse_IngestSourceOut")),
    ("source_create", Some("IngestSourceIn"), Some("IngestSourceOut")),
    ("source_get", None, Some("IngestSourceOut")),
    ("source_upsert", Some("IngestSourceIn"), Some("IngestSourceOut")),
    ("source_rotate_token", None, Some("RotateTokenOut")),
    ("source_requests", None, Some("ListResponse_IngestRequestOut")),
    ("source_endpoint_list", None, Some("ListResponse_IngestEndpointOut")),
    ("source_endpoint_create", Some("IngestEndpointIn"), Some("IngestEndpointOut")),
    ("source_endpoint_get", None, Some("IngestEndpointOut")),
    ("source_endpoint_upsert", Some("IngestEndpointUpdate"), Some("IngestEndpointOut")),
    ("source_endpoint_patch", Some("IngestEndpointPatch"), Some("IngestEndpointOut")),
    ("source_endpoint_get_secret", None, Some("IngestEndpointSecretOut")),
    ("source_endpoint_rotate_secret", Some("IngestEndpointSecretIn"), Some("IngestEndpointSecretOut")),
    ("source_endpoint_get_headers", None, Some("IngestEndpointHeadersOut")),
    ("source_endpoint_set_headers", Some("IngestEndpointHeadersIn"), None),
    ("source_endpoint_patch_headers", Some("IngestEndpointHeadersPatchIn"), None),
    ("receive", None, Some("ReceiveOut")),
    ("console_session", None, Some("ConsoleSessionOut")),
    ("console_sign_in", None, Some("ConsoleSessionOut")),
];

/// Operations whose body may be left out (read as `{}`, or not read).
#[rustfmt::skip]
const OPTIONAL_BODIES: &[&str] = &[
    "endpoint_rotate_secret", "op_endpoint_rotate_secret", "source_endpoint_rotate_secret",
    "auth_app_portal_access", "auth_expire_all",
];

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

/// A reference to a component schema.
fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The success response of an operation answering `out`, whose JSON body
/// (if any) is the component `named` (a plain object if unnamed, which the
/// tests refuse).
fn success(out: Out, named: Option<&str>) -> Value {
    let json_body = || {
        let schema = named.map_or_else(|| json!({ "type": "object" }), reference);
        json!({ "content": { "application/json": { "schema": schema } } })
    };
    let mut v = match out {
        Object | Page => json_body(),
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
    let error = json!({ "application/json": { "schema": reference("Error") } });
    let mut paths = Map::new();
    for Op(method, path, id, body, status, out, auth) in OPERATIONS {
        let named = SCHEMAS.iter().find(|(op_id, _, _)| op_id == id);
        let (request, response) = named.map_or((None, None), |(_, req, res)| (*req, *res));
        let mut op = json!({
            "operationId": id,
            "parameters": params(path),
            "responses": {
                status.to_string(): success(*out, response),
                "4XX": { "description": "refused: the error's `code` says why", "content": error },
                "503": {
                    "description": "the engine is stopping, overloaded, or a shard cannot be reached",
                    "content": error,
                },
            },
        });
        // An upsert creates what is not there yet (201, the same body); the
        // root answers the console page when a client follows its redirect.
        if *method == "put" && matches!(out, Object) {
            op["responses"]["201"] = success(Object, response);
        }
        if *path == "/" {
            op["responses"]["200"] = success(Html, None);
        }
        if *body {
            let schema = request.map_or_else(|| json!({ "type": "object" }), reference);
            op["requestBody"] = json!({
                "required": !OPTIONAL_BODIES.contains(id),
                "content": { "application/json": { "schema": schema } },
            });
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
            "schemas": schemas::schemas(),
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
        let routed: BTreeSet<&str> = super::super::table::route_paths().collect();
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

    #[test]
    fn every_json_body_has_a_named_schema() {
        for Op(_, _, id, body, _, out, _) in OPERATIONS {
            let named = SCHEMAS.iter().find(|(op_id, _, _)| op_id == id);
            let (req, res) = named.map_or((None, None), |(_, req, res)| (*req, *res));
            assert_eq!(
                *body,
                req.is_some(),
                "{id}: a request schema iff a JSON body"
            );
            let json_out = matches!(out, Object | Page);
            assert_eq!(
                json_out,
                res.is_some(),
                "{id}: a response schema iff a JSON success"
            );
            if let (Page, Some(res)) = (out, res) {
                assert!(
                    res.starts_with("ListResponse_"),
                    "{id}: a page is a ListResponse_"
                );
            }
        }
        for (id, _, _) in SCHEMAS {
            assert!(
                OPERATIONS.iter().any(|op| op.2 == *id),
                "{id}: named schemas of an operation that does not exist"
            );
        }
        let ids: BTreeSet<&str> = SCHEMAS.iter().map(|s| s.0).collect();
        assert_eq!(ids.len(), SCHEMAS.len(), "one row per operation");
        for id in OPTIONAL_BODIES {
            assert!(
                OPERATIONS.iter().any(|op| op.2 == *id && op.3),
                "{id}: an optional body of an operation with none"
            );
        }
    }

    /// Every `$ref` in `v`, with where it is.
    fn refs<'a>(v: &'a Value, at: &str, out: &mut Vec<(String, &'a str)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", Value::String(r)) => out.push((at.to_string(), r)),
                        _ => refs(x, &format!("{at}/{k}"), out),
                    }
                }
            }
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    refs(x, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_every_schema_is_used() {
        let doc = document();
        let components = doc["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut found = Vec::new();
        refs(&doc, "", &mut found);
        let mut used = BTreeSet::new();
        for (at, r) in &found {
            let name = r.strip_prefix("#/components/schemas/");
            assert!(
                name.is_some_and(|n| components.contains_key(n)),
                "{at}: {r} names no component"
            );
            used.extend(name);
        }
        for name in components.keys() {
            assert!(used.contains(name.as_str()), "{name} is never used");
        }
    }

    /// Every object schema in `v` that lists `required` fields, with where
    /// it is (a `oneOf` branch naming only `required` is not one).
    fn objects<'a>(v: &'a Value, at: &str, out: &mut Vec<(String, &'a Map<String, Value>)>) {
        match v {
            Value::Object(m) => {
                let object =
                    m.get("type") == Some(&json!("object")) || m.contains_key("properties");
                if object && m.contains_key("required") {
                    out.push((at.to_string(), m));
                }
                for (k, x) in m {
                    objects(x, &format!("{at}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    objects(x, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn required_fields_are_described() {
        let doc = document();
        let mut found = Vec::new();
        objects(&doc["components"]["schemas"], "", &mut found);
        assert!(!found.is_empty());
        for (at, schema) in found {
            let props = schema.get("properties").and_then(Value::as_object);
            let required = schema.get("required").and_then(Value::as_array);
            for name in required.into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                assert!(
                    props.is_some_and(|p| p.contains_key(name)),
                    "{at}: required {name} is not among its properties"
                );
            }
        }
    }
}
