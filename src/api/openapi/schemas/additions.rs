//! Schemas of ringhook's own resources and answers: notification rules
//! (`api::rules`), the dashboard (`api::dashboard`), the environment
//! document's `ringhook` section and its records (`api::environment`,
//! Svix's `EnvironmentIn`/`Out` around it), portal and console sessions
//! (`api::auth`), and the endpoint statistics (`api::attempts`, Svix's
//! shapes with ringhook's `days`).

use super::*;

/// An unsigned 64-bit integer (milliseconds, in the catalog's records).
fn u64_() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
}

/// An unsigned 32-bit integer or `null` (optional limits in records).
fn u32_or_null() -> Value {
    json!({ "type": ["integer", "null"], "minimum": 0, "maximum": u32::MAX })
}

/// A catalog record as the environment document carries it: the fields
/// of the record type (serde, camelCase), unknown fields refused; each
/// required but the `optional` ones (`Option` fields, `null` or absent).
fn record(properties: Value, optional: &[&str]) -> Value {
    with(
        output(properties, optional),
        json!({ "additionalProperties": false }),
    )
}

/// JSON object text, as the records keep it.
fn json_text() -> Value {
    json!({ "type": "string", "description": "JSON object text" })
}

fn records() -> Value {
    let strings = || list(string());
    json!({
        "RinghookEnvironment": {
            "type": "object",
            "additionalProperties": false,
            "description": "ringhook's part of the environment document: the catalog's own records",
            "properties": {
                "applications": list(refer("RinghookApplicationRecord")),
                "endpoints": list(refer("RinghookEndpointRecord")),
                "sources": list(refer("RinghookSourceRecord")),
                "rules": list(refer("RinghookRuleRecord")),
            },
        },
        "RinghookApplicationRecord": record(json!({
            "id": string(), "uid": or_null(string()), "name": string(), "metadata": json_text(),
            "rateLimit": u32_or_null(), "createdMs": u64_(), "updatedMs": u64_(),
        }), &["uid", "rateLimit"]),
        "RinghookEndpointRecord": record(json!({
            "id": string(), "appId": string(), "uid": or_null(string()), "url": string(),
            "description": string(), "disabled": boolean(),
            "eventTypes": strings(), "channels": strings(),
            "headers": list(record(json!({ "name": string(), "value": string() }), &[])),
            "method": string(),
            "extraJson": { "type": "string", "description": "JSON object text; empty for none" },
            "secrets": list(record(json!({
                "key": { "type": "string", "description": "the key's bytes, base64" },
                "expiresMs": with(u64_(), json!({ "description": "0 for the current key" })),
                "scheme": { "type": "string", "enum": ["hmac", "ed25519"], "description": "default hmac" },
            }), &["scheme"])),
            "rateLimit": u32_or_null(), "metadata": json_text(),
            "createdMs": u64_(), "updatedMs": u64_(), "eventTypeHeader": or_null(string()),
            "fifo": boolean(),
            "tlsCa": with(string(), json!({ "description": "PEM; empty: the engine's trust" })),
            "tlsClientCert": with(string(), json!({ "description": "PEM; empty: none" })),
            "tlsClientKey": with(string(), json!({ "description": "PEM; empty: none" })),
            "proxyUrl": with(string(), json!({ "description": "empty: the engine's proxy_url" })),
        }), &["uid", "rateLimit", "eventTypeHeader", "fifo", "tlsCa", "tlsClientCert", "tlsClientKey", "proxyUrl"]),
        "RinghookSourceRecord": record(json!({
            "id": string(), "uid": or_null(string()), "name": string(), "kind": string(),
            "config": json_text(), "metadata": json_text(), "description": string(),
            "disabled": boolean(), "token": string(), "logRequests": boolean(),
            "rateLimit": u32_or_null(), "maxBodyBytes": u32_or_null(),
            "routes": list(record(json!({
                "appId": string(),
                "eventType": {
                    "type": "object", "minProperties": 1, "maxProperties": 1,
                    "additionalProperties": false,
                    "properties": { "fixed": string(), "header": string(), "pointer": string() },
                },
            }), &[])),
            "createdMs": u64_(), "updatedMs": u64_(),
        }), &["uid", "rateLimit", "maxBodyBytes"]),
        "RinghookRuleRecord": record(json!({
            "id": string(), "name": string(), "scope": string(), "appId": string(),
            "target": string(), "signal": string(), "comparison": string(),
            "threshold": { "type": "number" }, "windowMs": u64_(), "cooldownMs": u64_(),
            "disabled": boolean(), "metadata": json_text(),
            "createdMs": u64_(), "updatedMs": u64_(),
        }), &[]),
    })
}

/// A rule scope of `kind` needs these fields (not `null`).
fn needs(kind: &str, fields: &[&str]) -> Value {
    let given: Map<String, Value> = fields
        .iter()
        .map(|f| (f.to_string(), json!({ "type": "string" })))
        .collect();
    json!({
        "if": { "required": ["type"], "properties": { "type": { "const": kind } } },
        "then": { "required": fields, "properties": given },
    })
}

fn rules() -> Value {
    let signals: Vec<&str> = crate::rules::SIGNALS.iter().map(|(n, _)| *n).collect();
    let comparison = json!({ "type": "string", "enum": [">", ">=", "<", "<="] });
    let window_max = crate::rules::WINDOW_MS_MAX / 1000;
    let cooldown_max = crate::rules::COOLDOWN_MS_MAX / 1000;
    json!({
        "RuleIn": with(input(&["name", "scope", "signal"], json!({
            "name": { "type": "string", "minLength": 1, "maxLength": 256 },
            "scope": with(input(&["type"], json!({
                "type": { "type": "string", "enum": ["all", "app", "endpoint", "eventType", "source"] },
                "appId": with(or_null(text(256)), json!({ "description": "app and endpoint scopes; eventType, optionally" })),
                "endpointId": or_null(text(256)),
                "eventType": or_null(name()),
                "sourceId": or_null(text(256)),
            })), json!({ "allOf": [
                needs("app", &["appId"]), needs("endpoint", &["appId", "endpointId"]),
                needs("eventType", &["eventType"]), needs("source", &["sourceId"]),
            ] })),
            "signal": { "type": "string", "enum": signals, "description": "which ones a scope has: docs/api.md" },
            "comparison": with(or_null(comparison.clone()), json!({ "description": "required but for no_messages (default <)" })),
            "threshold": { "type": ["number", "null"], "description": "required but for no_messages (default 1)" },
            "windowSeconds": { "type": ["integer", "null"], "minimum": 1, "maximum": window_max, "default": 300 },
            "cooldownSeconds": { "type": ["integer", "null"], "minimum": 0, "maximum": cooldown_max, "default": 900 },
            "disabled": or_null(boolean()),
            "metadata": metadata_in(),
        })), json!({
            // A delivery-gap rule has defaults for both; every other needs them.
            "if": { "required": ["signal"], "properties": { "signal": { "const": "no_messages" } } },
            "else": {
                "required": ["comparison", "threshold"],
                "properties": { "comparison": comparison.clone(), "threshold": { "type": "number" } },
            },
        })),
        "RuleOut": output(json!({
            "id": string(), "name": string(),
            "scope": output(json!({
                "type": { "type": "string", "enum": ["all", "app", "endpoint", "eventType", "source"] },
                "appId": or_null(string()), "endpointId": string(),
                "eventType": string(), "sourceId": string(),
            }), &["appId", "endpointId", "eventType", "sourceId"]),
            "signal": { "type": "string", "enum": signals },
            "comparison": comparison, "threshold": { "type": "number" },
            "windowSeconds": count(), "cooldownSeconds": count(), "disabled": boolean(),
            "metadata": strings(),
            "state": output(json!({
                "status": { "type": "string", "enum": ["ok", "firing"] },
                "since": with(or_null(time()), json!({ "description": "when it last changed" })),
                "value": with(or_null(json!({ "type": "number" })), json!({ "description": "the value that changed it" })),
                "changes": count(),
            }), &[]),
            "createdAt": time(), "updatedAt": time(),
        }), &[]),
    })
}

fn others() -> Value {
    let capability = json!({
        "type": "string",
        "enum": ["ViewBase", "ViewEndpointSecret", "ManageEndpointSecret", "CreateAttempts", "ManageEndpoint"],
    });
    let stats = |more: Value| {
        output(
            with(
                json!({ "success": count(), "fail": count(), "canceled": count() }),
                more,
            ),
            &[],
        )
    };
    json!({
        "EndpointStats": stats(json!({
            "pending": count(), "sending": count(),
            "fifo": with(
                or_null(output(json!({ "held": count(), "blockedSince": or_null(time()) }), &[])),
                json!({ "description": "a FIFO endpoint's line: deliveries held behind its head, and since when the head has been failing; null for other endpoints" }),
            ),
        })),
        "EndpointAttemptStats": stats(json!({
            "days": with(
                list(refer("EndpointAttemptStatsDay")),
                json!({ "description": "per UTC day, oldest first; days without attempts left out" }),
            ),
        })),
        "EndpointAttemptStatsDay": stats(json!({ "date": { "type": "string", "format": "date" } })),
        "DashboardOut": output(json!({
            "sampleMs": count(),
            "errorKinds": with(list(string()), json!({ "description": "the kinds a sample's errors count, in order" })),
            "samples": with(list(refer("DashboardSample")), json!({ "description": "the last hour, oldest first" })),
            "endpoints": {
                "type": "object",
                "description": "the endpoints the samples' longestQueues name, by id",
                "additionalProperties": output(json!({ "appId": string(), "url": string() }), &[]),
            },
        }), &[]),
        "DashboardSample": output(json!({
            "atMs": count(), "intervalMs": count(), "messages": count(), "delivered": count(),
            "failedAttempts": count(), "errors": list(count()),
            "e2eP50Us": count(), "e2eP99Us": count(), "pending": count(), "deepestQueue": count(),
            "longestQueues": list(json!({
                "type": "array", "minItems": 2, "maxItems": 2,
                "prefixItems": [string(), count()],
                "description": "[endpoint id, deliveries queued or in flight]",
            })),
        }), &[]),
        "EnvironmentOut": output(json!({
            "version": { "type": "integer", "enum": [1] }, "createdAt": time(),
            "eventTypes": list(refer("EventTypeOut")),
            "settings": { "type": "object" }, "connectors": { "type": "array", "maxItems": 0 },
            "ringhook": refer("RinghookEnvironment"),
        }), &[]),
        "EnvironmentIn": input(&[], json!({
            "version": { "enum": [1, null] },
            "eventTypes": { "type": ["array", "null"], "items": refer("EventTypeIn") },
            "ringhook": or_null(refer("RinghookEnvironment")),
        })),
        "AppPortalAccessIn": input(&[], json!({
            "expiry": {
                "type": ["integer", "null"], "minimum": 1, "maximum": crate::console::access::PORTAL_EXPIRY_MAX_S,
                "description": "seconds",
            },
            "readOnly": or_null(boolean()),
            "capabilities": { "type": ["array", "null"], "items": capability, "description": "none: every one" },
        })),
        "AppPortalAccessOut": output(json!({ "url": string(), "token": string() }), &[]),
        "ApplicationTokenExpireIn": {
            "type": "object",
            "description": "not read: every portal session of the application ends",
        },
        "PortalSessionOut": output(json!({
            "appId": string(), "readOnly": boolean(), "capabilities": list(capability),
            "expiresAt": time(),
        }), &[]),
        "ConsoleSessionOut": output(json!({ "csrfToken": string(), "expiresAt": time() }), &[]),
    })
}

pub(super) fn schemas() -> Map<String, Value> {
    let mut all = entries(records());
    all.extend(entries(rules()));
    all.extend(entries(others()));
    all
}
