//! The endpoint family's schemas (`api::endpoints`, `api::headers`): one
//! set of handlers serves the endpoints of applications, the operators'
//! operational endpoints and sources' endpoints, so each shape is named
//! three times, after Svix's names for each (`EndpointIn`,
//! `OperationalWebhookEndpointIn`, `IngestEndpointIn`, ...), and is the
//! same under each name.

use super::*;

/// Svix's name prefix of each family and the name of its rotation body.
#[rustfmt::skip]
const FAMILIES: &[(&str, &str)] = &[
    ("Endpoint", "EndpointSecretRotateIn"),
    ("OperationalWebhookEndpoint", "OperationalWebhookEndpointSecretIn"),
    ("IngestEndpoint", "IngestEndpointSecretIn"),
];

/// A custom header's value: no control characters but tab.
fn header_value() -> Value {
    json!({
        "type": "string",
        "maxLength": crate::limits::HEADER_VALUE_BYTES_MAX,
        "pattern": "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*$",
    })
}

/// Custom headers by name (an HTTP token, not `webhook-*` nor one the
/// engine sets: those are refused), each value `value`.
fn headers(value: Value) -> Value {
    json!({
        "type": "object",
        "propertyNames": { "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$" },
        "additionalProperties": value,
        "maxProperties": crate::limits::ENDPOINT_HEADERS_MAX,
        "description": "not webhook-* nor a header the engine sets (host, content-type, ...)",
    })
}

/// A PEM text field of an endpoint body (`null` clears it).
fn pem(description: &str) -> Value {
    json!({
        "type": ["string", "null"], "maxLength": crate::limits::ENDPOINT_PEM_BYTES_MAX,
        "description": description,
    })
}

/// The fields an endpoint body may carry (`secret` only where `secret`).
fn endpoint_in(secret: bool) -> Value {
    let mut v = json!({
        "url": {
            "type": "string", "maxLength": crate::limits::URL_BYTES_MAX,
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
            "description": "http or https, without credentials; its host must not resolve to a private address unless allow_private_targets",
        },
        "uid": or_null(name_uid()),
        "description": or_null(text(4096)),
        "disabled": or_null(boolean()),
        "filterTypes": with(names_in(), json!({ "description": "the event types it takes; none: every type" })),
        "eventTypes": with(names_in(), json!({ "description": "an alias of filterTypes" })),
        "channels": names_in(),
        "rateLimit": rate(),
        "throttleRate": with(rate(), json!({ "description": "an alias of rateLimit" })),
        "metadata": metadata_in(),
        "headers": or_null(headers(header_value())),
        "method": {
            "type": ["string", "null"],
            "pattern": "^([Pp][Oo][Ss][Tt]|[Pp][Uu][Tt]|[Pp][Aa][Tt][Cc][Hh])$",
            "description": "POST, PUT or PATCH, in any case; default POST",
        },
        "extraJson": { "type": ["object", "null"], "description": "merged into every delivered body" },
        "eventTypeHeader": {
            "type": ["string", "null"], "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$",
            "description": "a header carrying the message's event type on every delivery; not one the engine writes nor webhook-id/-timestamp/-signature",
        },
        "caCert": pem("PEM certificate authorities this endpoint trusts instead of the engine's; null clears"),
        "clientCert": pem("PEM client certificate chain presented to the receiver (mTLS); given with clientKey; never shown back"),
        "clientKey": pem("PEM private key of clientCert; never shown back"),
        "proxyUrl": {
            "type": ["string", "null"], "maxLength": crate::limits::URL_BYTES_MAX,
            "description": "http://[user:password@]host:port of a CONNECT proxy this endpoint's deliveries tunnel through (null: the engine's proxy_url); never shown back",
        },
        "fifo": {
            "type": ["boolean", "null"],
            "description": "deliver in acceptance order, one at a time (fixed at creation: a different value on PUT or PATCH is a 422)",
        },
    });
    if secret {
        v["secret"] = json!({
            "type": ["string", "null"], "maxLength": 256,
            "description": "whsec_ (HMAC) or whsk_ (ed25519 seed and public key) and base64; a whsec_ is generated when absent",
        });
    }
    v
}

/// An endpoint as the API shows it (`views::endpoint`).
fn endpoint_out() -> Value {
    output(
        json!({
            "id": string(), "uid": or_null(string()), "url": string(), "description": string(),
            "version": { "type": "integer", "enum": [1] }, "disabled": boolean(),
            "filterTypes": or_null(list(string())), "eventTypes": or_null(list(string())),
            "channels": or_null(list(string())),
            "rateLimit": or_null(count()), "throttleRate": or_null(count()),
            "metadata": strings(), "method": { "type": "string", "enum": ["POST", "PUT", "PATCH"] },
            "headers": with(strings(), json!({ "description": "custom headers but the sensitive ones" })),
            "sensitiveHeaders": with(list(string()), json!({ "description": "names of headers whose values are not shown" })),
            "extraJson": { "type": ["object", "null"] }, "eventTypeHeader": or_null(string()),
            "fifo": boolean(),
            "caCert": or_null(string()),
            "hasClientCert": with(boolean(), json!({ "description": "whether a client certificate is presented (it and its key are never shown)" })),
            "hasProxy": with(boolean(), json!({ "description": "whether the endpoint has its own egress proxy (its URL may hold credentials: not shown)" })),
            "createdAt": time(), "updatedAt": time(),
        }),
        &[],
    )
}

/// The schemas of one family.
fn family(prefix: &str, rotate: &str) -> Map<String, Value> {
    let mut patch = endpoint_in(false);
    if let Some(url) = patch.get_mut("url").and_then(Value::as_object_mut) {
        url.insert(
            "description".into(),
            json!("given: replaces the URL (not null)"),
        );
    }
    // At most 64 headers after the change, however many the body names.
    let mut patch_headers = or_null(headers(or_null(header_value())));
    if let Some(o) = patch_headers.as_object_mut() {
        o.remove("maxProperties");
        o.insert(
            "description".into(),
            json!("sets these (names match case-insensitively); a null value removes one"),
        );
    }
    let mut m = Map::new();
    let mut put = |name: String, v: Value| {
        m.insert(name, v);
    };
    put(format!("{prefix}In"), input(&["url"], endpoint_in(true)));
    put(
        format!("{prefix}Update"),
        with(
            input(&["url"], endpoint_in(true)),
            json!({ "description": "absent fields take their defaults; secret, headers, method and extraJson are kept unless given; secret is read only when the PUT creates the endpoint" }),
        ),
    );
    put(format!("{prefix}Patch"), input(&[], patch));
    put(format!("{prefix}Out"), endpoint_out());
    put(
        format!("{prefix}SecretOut"),
        output(
            json!({ "key": with(string(), json!({ "description": "whsec_…, or whpk_… (an ed25519 key's public half)" })) }),
            &[],
        ),
    );
    put(
        rotate.to_string(),
        input(
            &[],
            json!({
                "key": {
                    "type": ["string", "null"], "maxLength": 256,
                    "description": "whsec_… or whsk_…; when absent, generated of the current key's kind",
                },
                "gracePeriodSeconds": {
                    "type": ["integer", "null"], "minimum": 0, "maximum": crate::limits::SECRET_GRACE_SECS_MAX,
                    "description": "how long the old key co-signs; default secret_rotation_grace_ms",
                },
            }),
        ),
    );
    put(
        format!("{prefix}HeadersIn"),
        input(&["headers"], json!({ "headers": headers(header_value()) })),
    );
    put(
        format!("{prefix}HeadersPatchIn"),
        input(
            &[],
            json!({
                "headers": patch_headers,
                "deleteHeaders": names_in(),
            }),
        ),
    );
    put(
        format!("{prefix}HeadersOut"),
        output(
            json!({
                "headers": strings(),
                "sensitive": with(list(string()), json!({ "description": "names of headers whose values are not shown" })),
            }),
            &[],
        ),
    );
    m
}

pub(super) fn schemas() -> Map<String, Value> {
    let mut all = Map::new();
    for (prefix, rotate) in FAMILIES {
        all.extend(family(prefix, rotate));
    }
    all
}
