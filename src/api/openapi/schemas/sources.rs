//! Incoming sources' schemas (`api::sources`, `api::receive`): Svix's
//! `IngestSourceIn`/`Out` with ringhook's additions (`description`,
//! `disabled`, `logRequests`, `rateLimit`, `maxBodyBytes`, `routes`), the
//! token rotation's answer, the request log's entries and the receive
//! URL's answer.

use super::*;

/// A route's event type: exactly one of the three ways to name it.
fn one_way() -> Value {
    json!({
        "oneOf": [
            { "required": ["eventType"] },
            { "required": ["eventTypeFromHeader"] },
            { "required": ["eventTypeFromPointer"] },
        ],
    })
}

pub(super) fn schemas() -> Map<String, Value> {
    let kinds: Vec<&str> = crate::incoming::source::types().collect();
    let route_in = with(
        input(
            &["app"],
            json!({
                "app": with(text(256), json!({ "description": "an application's id or uid" })),
                "eventType": name(),
                "eventTypeFromHeader": { "type": "string", "minLength": 1, "maxLength": 256 },
                "eventTypeFromPointer": {
                    "type": "string", "maxLength": 1024, "pattern": "^(/.*)?$",
                    "description": "an RFC 6901 pointer into the JSON body",
                },
            }),
        ),
        one_way(),
    );
    let route_out = with(
        output(
            json!({
                "app": with(string(), json!({ "description": "the application's id" })),
                "eventType": string(),
                "eventTypeFromHeader": string(),
                "eventTypeFromPointer": string(),
            }),
            &["eventType", "eventTypeFromHeader", "eventTypeFromPointer"],
        ),
        one_way(),
    );
    entries(json!({
        "IngestSourceIn": input(&["name", "type"], json!({
            "name": { "type": "string", "minLength": 1, "maxLength": 256 },
            "uid": or_null(name_uid()),
            "type": { "type": "string", "enum": kinds },
            "config": {
                "type": ["object", "null"],
                "description": "what the type verifies with (at most 8 KiB of JSON): `secret` (svix and the Svix-based providers: whsec_…; stripe, shopify, slack; github, optional), `schedule` and `payload` (cron), `verify` (generic-webhook, optional: {kind: header|basic|hmac, ...})",
            },
            "metadata": metadata_in(),
            "description": or_null(text(4096)),
            "disabled": or_null(boolean()),
            "logRequests": or_null(boolean()),
            "rateLimit": with(rate(), json!({ "description": "requests per second; 0 or none: unlimited" })),
            "maxBodyBytes": {
                "type": ["integer", "null"], "minimum": 0, "maximum": u32::MAX,
                "description": "at most the engine's max_body_bytes (its default)",
            },
            "routes": {
                "type": ["array", "null"], "maxItems": 16, "items": route_in,
                "description": "applications that also get a message of each request",
            },
        })),
        "IngestSourceOut": output(json!({
            "id": string(), "uid": or_null(string()), "name": string(), "type": string(),
            "config": { "type": "object", "description": "secrets shown as ********" },
            "metadata": strings(), "ingestUrl": string(), "description": string(),
            "disabled": boolean(), "logRequests": boolean(),
            "rateLimit": or_null(count()), "maxBodyBytes": or_null(count()),
            "routes": list(route_out), "createdAt": time(), "updatedAt": time(),
        }), &[]),
        "RotateTokenOut": output(json!({ "ingestUrl": string() }), &[]),
        "IngestRequestOut": output(json!({
            "id": string(), "sourceId": string(), "method": string(),
            "headers": with(strings(), json!({ "description": "credential values shown as ********" })),
            "bodyBytes": count(), "bodyTruncated": boolean(),
            "status": with(count(), json!({ "description": "the HTTP status answered" })),
            "outcome": with(string(), json!({ "description": "accepted, duplicate, handshake, too_large, a refusal's code, ..." })),
            "messages": list(string()), "createdAt": time(),
            "body": with(string(), json!({ "description": "the body as text (cut at the log's bound); empty once expunged" })),
            "bodyBase64": with(string(), json!({ "description": "the body, when it is not UTF-8" })),
            "bodyExpunged": { "type": "boolean", "enum": [true] },
        }), &["body", "bodyBase64", "bodyExpunged"]),
        "ReceiveOut": {
            "type": "object",
            "description": "{ok, messages} for a request taken, {ok} for a GitHub ping, {challenge} for Slack's URL verification",
            "properties": {
                "ok": boolean(),
                "messages": with(list(string()), json!({ "description": "the ids of the messages it became" })),
                "challenge": { "description": "Slack's challenge, echoed" },
            },
        },
    }))
}
