//! What a source's type means: which types ringhook can verify, how a
//! type's `config` becomes a verification [`Scheme`], and how a request of
//! that type names its delivery id and event type. Pure functions of the
//! record, the headers and the body, tested by tables.

use super::verify::{Algorithm, Encoding, Scheme};
use crate::accept::NewMessage;
use crate::records::{RouteEventType, SourceRecord};
use serde_json::{Map, Value};

/// Types verified as Standard Webhooks with `config.secret` (`whsec_…`):
/// Svix itself and the providers that send through Svix.
const SVIX_FAMILY: &[&str] = &[
    "svix",
    "beehiiv",
    "brex",
    "clerk",
    "guesty",
    "incident-io",
    "lithic",
    "nash",
    "pleo",
    "psi-fi",
    "replicate",
    "resend",
    "safebase",
    "sardine",
    "stych",
];

/// Every type [`scheme`] takes (the API document's enum of `type`).
pub fn types() -> impl Iterator<Item = &'static str> {
    [
        "generic-webhook",
        "cron",
        "github",
        "stripe",
        "shopify",
        "slack",
    ]
    .into_iter()
    .chain(SVIX_FAMILY.iter().copied())
}

/// Why a source's `config` is refused (the API answers 422 with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("type {0} is not supported by ringhook (supported: generic-webhook, cron, github, stripe, shopify, slack, svix and the Svix-based providers)")]
    UnsupportedType(String),
    #[error("config.{0} is required")]
    Missing(&'static str),
    #[error("config.{field} {why}")]
    Invalid { field: &'static str, why: String },
    #[error("config must be a JSON object")]
    NotAnObject,
}

fn secret<'a>(config: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, ConfigError> {
    match config.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(ConfigError::Missing(field)),
        Some(_) => Err(ConfigError::Invalid {
            field,
            why: "must be a string".into(),
        }),
    }
}

/// The verification scheme of a type and its `config` (also the check the
/// API runs before a source is stored).
pub fn scheme(kind: &str, config: &Map<String, Value>) -> Result<Scheme, ConfigError> {
    if SVIX_FAMILY.contains(&kind) {
        let s = secret(config, "secret")?;
        let invalid = |e: crate::signing::SecretError| ConfigError::Invalid {
            field: "secret",
            why: e.to_string(),
        };
        // A sender that signs with ed25519 (`v1a`) is checked with its
        // public key.
        if s.starts_with(crate::signing::PUBLIC_KEY_PREFIX) {
            let public = crate::signing::parse_public_key(s).map_err(invalid)?;
            return Ok(Scheme::SvixPublic { public });
        }
        let key = crate::signing::parse_secret(s).map_err(invalid)?;
        return Ok(Scheme::Svix { key });
    }
    let bytes = |field| secret(config, field).map(|s| s.as_bytes().to_vec());
    match kind {
        "github" => match config.get("secret") {
            None | Some(Value::Null) => Ok(Scheme::Open),
            _ => Ok(Scheme::Github {
                secret: bytes("secret")?,
            }),
        },
        "stripe" => Ok(Scheme::Stripe {
            secret: bytes("secret")?,
        }),
        "shopify" => Ok(Scheme::Shopify {
            secret: bytes("secret")?,
        }),
        "slack" => Ok(Scheme::Slack {
            secret: bytes("secret")?,
        }),
        "cron" => {
            let schedule = secret(config, "schedule")?;
            super::cron::Schedule::parse(schedule).map_err(|e| ConfigError::Invalid {
                field: "schedule",
                why: e.to_string(),
            })?;
            match config.get("payload") {
                Some(Value::String(_)) => {}
                None | Some(Value::Null) => return Err(ConfigError::Missing("payload")),
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        field: "payload",
                        why: "must be a string".into(),
                    })
                }
            }
            // Fired by ringhook itself: nothing to verify, nothing received.
            Ok(Scheme::Open)
        }
        "generic-webhook" => match config.get("verify") {
            None | Some(Value::Null) => Ok(Scheme::Open),
            Some(Value::Object(v)) => generic(v),
            Some(_) => Err(ConfigError::Invalid {
                field: "verify",
                why: "must be an object".into(),
            }),
        },
        other => Err(ConfigError::UnsupportedType(other.to_string())),
    }
}

/// `config.verify` of a generic webhook.
fn generic(v: &Map<String, Value>) -> Result<Scheme, ConfigError> {
    let field = |name: &'static str| secret(v, name).map_err(|_| ConfigError::Missing(name));
    let header_name = |name: &'static str| -> Result<String, ConfigError> {
        let h = field(name)?;
        if h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err(ConfigError::Invalid {
                field: name,
                why: "must be a header name".into(),
            });
        }
        Ok(h.to_ascii_lowercase())
    };
    match v.get("kind").and_then(Value::as_str) {
        Some("header") => Ok(Scheme::Header {
            name: header_name("name")?,
            value: field("value")?.as_bytes().to_vec(),
        }),
        Some("basic") => Ok(Scheme::Basic {
            expected: format!("{}:{}", field("username")?, field("password")?).into_bytes(),
        }),
        Some("hmac") => {
            let algorithm = match v.get("algorithm").and_then(Value::as_str) {
                None | Some("sha256") => Algorithm::Sha256,
                Some("sha512") => Algorithm::Sha512,
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        field: "verify.algorithm",
                        why: "must be sha256 or sha512".into(),
                    })
                }
            };
            let encoding = match v.get("encoding").and_then(Value::as_str) {
                None | Some("hex") => Encoding::Hex,
                Some("base64") => Encoding::Base64,
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        field: "verify.encoding",
                        why: "must be hex or base64".into(),
                    })
                }
            };
            Ok(Scheme::Hmac {
                header: header_name("header")?,
                algorithm,
                encoding,
                prefix: v
                    .get("prefix")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                secret: field("secret")?.as_bytes().to_vec(),
            })
        }
        _ => Err(ConfigError::Invalid {
            field: "verify.kind",
            why: "must be header, basic or hmac".into(),
        }),
    }
}

/// The request headers that carry this source's credentials (a generic
/// source's shared-secret or HMAC header): the request log hides them
/// whatever their name.
pub fn secret_headers(scheme: &Scheme) -> Vec<&str> {
    match scheme {
        Scheme::Header { name, .. } => vec![name.as_str()],
        Scheme::Hmac { header, .. } => vec![header.as_str()],
        Scheme::Shopify { .. } => vec!["x-shopify-hmac-sha256"],
        _ => Vec::new(),
    }
}

/// The scheme of a stored source (its config was checked when stored).
pub fn scheme_of(src: &SourceRecord) -> Result<Scheme, ConfigError> {
    match serde_json::from_str::<Value>(&src.config) {
        Ok(Value::Object(config)) => scheme(&src.kind, &config),
        _ => Err(ConfigError::NotAnObject),
    }
}

/// Whether deciding on a request of this source reads fields of its JSON
/// body (its delivery id or event type, a handshake, a route's pointer):
/// GitHub and Shopify carry both in headers, so their bodies are only
/// checked, never parsed into a value.
pub fn reads_body_fields(src: &SourceRecord) -> bool {
    !matches!(src.kind.as_str(), "github" | "shopify")
        || src
            .routes
            .iter()
            .any(|r| matches!(r.event_type, RouteEventType::Pointer(_)))
}

/// The config as the API shows it: every secret replaced by `"********"`.
pub fn redacted_config(config: &str) -> Value {
    fn redact(v: &mut Value) {
        if let Value::Object(map) = v {
            for (k, v) in map.iter_mut() {
                let secretish = ["secret", "password", "value", "token"].contains(&k.as_str());
                match v {
                    Value::String(_) if secretish => *v = Value::String("********".into()),
                    _ => redact(v),
                }
            }
        }
    }
    let mut v: Value = serde_json::from_str(config).unwrap_or(Value::Object(Map::new()));
    redact(&mut v);
    v
}

/// The header named `name` (lower-case).
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A provider's event type as a ringhook event type: characters outside
/// `[a-zA-Z0-9-_.]` become `.`, at most 256 bytes; `None` when empty.
pub fn event_type_name(raw: &str) -> Option<String> {
    let mut out: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    out.truncate(256);
    (!out.is_empty()).then_some(out)
}

/// What a request says about itself: the provider's delivery id (for
/// deduplication) and its event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub delivery_id: Option<String>,
    pub event_type: String,
}

/// The delivery id and event type of a request of type `kind`.
pub fn identify(kind: &str, headers: &[(String, String)], body: Option<&Value>) -> Identity {
    let field = |path: &[&str]| -> Option<String> {
        let mut v = body?;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str().map(str::to_string)
    };
    let h = |name: &str| header(headers, name).map(str::to_string);
    let (id, event_type) = if SVIX_FAMILY.contains(&kind) {
        (
            h("webhook-id").or_else(|| h("svix-id")),
            field(&["type"]).or_else(|| field(&["eventType"])),
        )
    } else {
        match kind {
            "github" => (h("x-github-delivery"), h("x-github-event")),
            "stripe" => (field(&["id"]), field(&["type"])),
            "shopify" => (
                h("x-shopify-webhook-id").or_else(|| h("x-shopify-event-id")),
                h("x-shopify-topic"),
            ),
            "slack" => (
                field(&["event_id"]),
                field(&["event", "type"]).or_else(|| field(&["type"])),
            ),
            _ => (
                h("webhook-id")
                    .or_else(|| h("svix-id"))
                    .or_else(|| h("x-webhook-id"))
                    .or_else(|| h("idempotency-key")),
                field(&["type"]).or_else(|| field(&["eventType"])),
            ),
        }
    };
    Identity {
        delivery_id: id.filter(|i| !i.is_empty() && i.len() <= 256),
        event_type: event_type
            .as_deref()
            .and_then(event_type_name)
            .unwrap_or_else(|| "webhook".into()),
    }
}

/// The message payload for a request body: the body itself when it is a
/// JSON object ringhook accepts, else an object carrying it (`body` for
/// text, `bodyBase64` for other bytes) with its `contentType`.
pub fn message_payload(body: &[u8], content_type: Option<&str>) -> Vec<u8> {
    // `check` accepts exactly the JSON objects ringhook takes as payloads.
    if crate::accept::payload::check(body).is_ok() {
        return body.to_vec();
    }
    use base64::Engine;
    let wrapped = match std::str::from_utf8(body) {
        Ok(text) => serde_json::json!({ "body": text, "contentType": content_type }),
        Err(_) => serde_json::json!({
            "bodyBase64": base64::engine::general_purpose::STANDARD.encode(body),
            "contentType": content_type,
        }),
    };
    serde_json::to_vec(&wrapped).unwrap_or_default()
}

/// A route's event type for a request (`None`: the request names none, and
/// the route is skipped).
pub fn route_event_type(
    how: &RouteEventType,
    headers: &[(String, String)],
    body: Option<&Value>,
) -> Option<String> {
    match how {
        RouteEventType::Fixed(t) => Some(t.clone()),
        RouteEventType::Header(name) => header(headers, name).and_then(event_type_name),
        RouteEventType::Pointer(p) => body?.pointer(p)?.as_str().and_then(event_type_name),
    }
}

/// The messages one accepted request (or cron tick) becomes: one of the
/// source's own application (`eventId` the delivery id), and one per route
/// that names an event type (`eventId` `<source id>:<delivery id>`).
pub fn messages_for(
    src: &SourceRecord,
    event_type: String,
    event_id: Option<String>,
    payload: Vec<u8>,
    headers: &[(String, String)],
    parsed: Option<&Value>,
) -> Vec<NewMessage> {
    let mut out = Vec::with_capacity(1 + src.routes.len());
    for r in &src.routes {
        if let Some(event_type) = route_event_type(&r.event_type, headers, parsed) {
            out.push(NewMessage {
                app_id: r.app_id.clone(),
                event_type,
                // Scoped by the source: two sources routed into one
                // application (two cron sources on one schedule, say) must
                // not take each other's events for duplicates.
                event_id: event_id.as_ref().map(|id| format!("{}:{id}", src.id)),
                channels: Vec::new(),
                payload: payload.clone(),
            });
        }
    }
    out.insert(
        0,
        NewMessage {
            app_id: src.id.clone(),
            event_type,
            event_id,
            channels: Vec::new(),
            payload,
        },
    );
    out
}

/// An answer some providers expect instead of forwarding: GitHub's `ping`
/// (answered, not forwarded) and Slack's `url_verification` challenge.
pub fn handshake(kind: &str, headers: &[(String, String)], body: Option<&Value>) -> Option<Value> {
    match kind {
        "github" if header(headers, "x-github-event") == Some("ping") => {
            Some(serde_json::json!({ "ok": true }))
        }
        "slack" => {
            let body = body?;
            (body.get("type")?.as_str()? == "url_verification").then(|| {
                serde_json::json!({ "challenge": body.get("challenge").cloned().unwrap_or(Value::Null) })
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn every_listed_type_is_supported() {
        for kind in types() {
            let e = scheme(kind, &Map::new()).err();
            assert!(
                !matches!(e, Some(ConfigError::UnsupportedType(_))),
                "{kind}"
            );
        }
        assert!(matches!(
            scheme("nope", &Map::new()),
            Err(ConfigError::UnsupportedType(_))
        ));
    }

    #[test]
    fn scheme_table() {
        let whsec = crate::signing::format_secret(&[7u8; 24]);
        let rows: Vec<(&str, Value, Result<&str, ConfigError>)> = vec![
            ("svix", json!({ "secret": whsec }), Ok("Svix")),
            ("clerk", json!({ "secret": whsec }), Ok("Svix")),
            (
                "svix",
                json!({ "secret": "nope" }),
                Err(ConfigError::Invalid {
                    field: "secret",
                    why: "secret must start with whsec_ and carry base64".into(),
                }),
            ),
            ("svix", json!({}), Err(ConfigError::Missing("secret"))),
            ("github", json!({}), Ok("Open")),
            ("github", json!({ "secret": "s" }), Ok("Github")),
            ("stripe", json!({ "secret": "whsec_x" }), Ok("Stripe")),
            ("stripe", json!({}), Err(ConfigError::Missing("secret"))),
            (
                "stripe",
                json!({ "secret": 5 }),
                Err(ConfigError::Invalid {
                    field: "secret",
                    why: "must be a string".into(),
                }),
            ),
            ("shopify", json!({ "secret": "s" }), Ok("Shopify")),
            ("slack", json!({ "secret": "s" }), Ok("Slack")),
            ("generic-webhook", json!({}), Ok("Open")),
            (
                "generic-webhook",
                json!({ "verify": { "kind": "header", "name": "X-Token", "value": "v" } }),
                Ok("Header"),
            ),
            (
                "generic-webhook",
                json!({ "verify": { "kind": "basic", "username": "u", "password": "p" } }),
                Ok("Basic"),
            ),
            (
                "generic-webhook",
                json!({ "verify": { "kind": "hmac", "header": "X-Sig", "secret": "k" } }),
                Ok("Hmac"),
            ),
            (
                "generic-webhook",
                json!({ "verify": { "kind": "hmac", "header": "X-Sig", "secret": "k", "algorithm": "md5" } }),
                Err(ConfigError::Invalid {
                    field: "verify.algorithm",
                    why: "must be sha256 or sha512".into(),
                }),
            ),
            (
                "generic-webhook",
                json!({ "verify": { "kind": "header", "name": "X Token", "value": "v" } }),
                Err(ConfigError::Invalid {
                    field: "name",
                    why: "must be a header name".into(),
                }),
            ),
            (
                "generic-webhook",
                json!({ "verify": { "kind": "magic" } }),
                Err(ConfigError::Invalid {
                    field: "verify.kind",
                    why: "must be header, basic or hmac".into(),
                }),
            ),
            (
                "generic-webhook",
                json!({ "verify": "x" }),
                Err(ConfigError::Invalid {
                    field: "verify",
                    why: "must be an object".into(),
                }),
            ),
            (
                "cron",
                json!({ "schedule": "* * * * *", "payload": "{}" }),
                Ok("Open"),
            ),
            (
                "cron",
                json!({ "schedule": "* * * * *" }),
                Err(ConfigError::Missing("payload")),
            ),
            (
                "cron",
                json!({ "payload": "{}" }),
                Err(ConfigError::Missing("schedule")),
            ),
            (
                "zoom",
                json!({}),
                Err(ConfigError::UnsupportedType("zoom".into())),
            ),
        ];
        for (i, (kind, config, want)) in rows.into_iter().enumerate() {
            let got = scheme(kind, &obj(config)).map(|s| {
                let name = format!("{s:?}");
                name.split([' ', '{']).next().unwrap_or("").to_string()
            });
            assert_eq!(
                got.as_deref().map_err(Clone::clone),
                want,
                "row {i} ({kind})"
            );
        }
        let hmac = scheme(
            "generic-webhook",
            &obj(
                json!({ "verify": { "kind": "hmac", "header": "X-Sig", "secret": "k", "algorithm": "sha512", "encoding": "base64", "prefix": "sha512=" } }),
            ),
        );
        assert_eq!(
            hmac,
            Ok(Scheme::Hmac {
                header: "x-sig".into(),
                algorithm: Algorithm::Sha512,
                encoding: Encoding::Base64,
                prefix: "sha512=".into(),
                secret: b"k".to_vec()
            })
        );
    }

    #[test]
    fn identify_table() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let stripe = json!({ "id": "evt_1", "type": "invoice.paid" });
        let slack = json!({ "event_id": "Ev1", "event": { "type": "app_mention" } });
        type Row<'a> = (
            &'a str,
            Vec<(String, String)>,
            Option<Value>,
            Option<&'a str>,
            &'a str,
        );
        let rows: Vec<Row> = vec![
            (
                "github",
                h(&[
                    ("x-github-delivery", "d-1"),
                    ("x-github-event", "pull_request"),
                ]),
                None,
                Some("d-1"),
                "pull_request",
            ),
            (
                "stripe",
                h(&[]),
                Some(stripe),
                Some("evt_1"),
                "invoice.paid",
            ),
            (
                "shopify",
                h(&[
                    ("x-shopify-webhook-id", "w1"),
                    ("x-shopify-topic", "orders/create"),
                ]),
                None,
                Some("w1"),
                "orders.create",
            ),
            ("slack", h(&[]), Some(slack), Some("Ev1"), "app_mention"),
            (
                "svix",
                h(&[("svix-id", "msg_9")]),
                Some(json!({ "eventType": "user.created" })),
                Some("msg_9"),
                "user.created",
            ),
            (
                "generic-webhook",
                h(&[("idempotency-key", "k")]),
                Some(json!([1])),
                Some("k"),
                "webhook",
            ),
            ("generic-webhook", h(&[]), None, None, "webhook"),
            (
                "github",
                h(&[("x-github-delivery", "")]),
                None,
                None,
                "webhook",
            ),
        ];
        for (i, (kind, headers, body, id, et)) in rows.into_iter().enumerate() {
            let got = identify(kind, &headers, body.as_ref());
            assert_eq!(got.delivery_id.as_deref(), id, "row {i}");
            assert_eq!(got.event_type, et, "row {i}");
        }
        assert_eq!(event_type_name("a b/c"), Some("a.b.c".into()));
        assert_eq!(event_type_name(""), None);
    }

    #[test]
    fn payloads() {
        let obj = br#"{"a":1}"#;
        assert_eq!(message_payload(obj, None), obj.to_vec());
        let form = b"a=1&b=2";
        let wrapped: Value = serde_json::from_slice(&message_payload(
            form,
            Some("application/x-www-form-urlencoded"),
        ))
        .expect("json");
        assert_eq!(wrapped["body"], "a=1&b=2");
        let bin: Value = serde_json::from_slice(&message_payload(&[0xff, 0], None)).expect("json");
        assert_eq!(bin["bodyBase64"], "/wA=");
        let arr: Value = serde_json::from_slice(&message_payload(b"[1]", None)).expect("json");
        assert_eq!(arr["body"], "[1]");
    }

    /// A source whose requests are decided without parsing their body
    /// (`reads_body_fields` false) decides every request as it would with
    /// the body parsed: same identity, same handshake.
    #[test]
    fn sources_that_skip_the_body_parse_decide_the_same() {
        let body = json!({
            "id": "evt_1", "type": "invoice.paid", "eventType": "x.y",
            "event_id": "Ev1", "event": { "type": "app_mention" },
            "challenge": "c", "action": "opened"
        });
        let headers: Vec<(String, String)> = [
            ("x-github-delivery", "d-1"),
            ("x-github-event", "push"),
            ("x-shopify-webhook-id", "s-1"),
            ("x-shopify-topic", "orders/create"),
            ("webhook-id", "w-1"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let source = |kind: &str, routes: Vec<crate::records::SourceRoute>| SourceRecord {
            id: "src_1".into(),
            uid: None,
            name: "s".into(),
            kind: kind.into(),
            config: "{}".into(),
            metadata: "{}".into(),
            description: String::new(),
            disabled: false,
            token: "itk_1".into(),
            log_requests: false,
            rate_limit: None,
            max_body_bytes: None,
            routes,
            created_ms: 0,
            updated_ms: 0,
        };
        let mut skipping = 0;
        for kind in types() {
            let src = source(kind, Vec::new());
            if reads_body_fields(&src) {
                continue;
            }
            skipping += 1;
            assert_eq!(
                identify(kind, &headers, Some(&body)),
                identify(kind, &headers, None),
                "{kind}"
            );
            assert_eq!(
                handshake(kind, &headers, Some(&body)),
                handshake(kind, &headers, None),
                "{kind}"
            );
        }
        assert_eq!(skipping, 2, "github and shopify decide from headers");
        // A route that reads the body makes any source parse it.
        let pointer = crate::records::SourceRoute {
            app_id: "app_1".into(),
            event_type: RouteEventType::Pointer("/type".into()),
        };
        assert!(reads_body_fields(&source("github", vec![pointer])));
        assert!(reads_body_fields(&source("stripe", Vec::new())));
    }

    #[test]
    fn handshakes_and_redaction() {
        let ping = vec![("x-github-event".to_string(), "ping".to_string())];
        assert!(handshake("github", &ping, None).is_some());
        assert!(handshake("stripe", &ping, None).is_none());
        let challenge = json!({ "type": "url_verification", "challenge": "abc" });
        assert_eq!(
            handshake("slack", &[], Some(&challenge)),
            Some(json!({ "challenge": "abc" }))
        );
        let shown = redacted_config(
            r#"{"secret":"s","verify":{"kind":"basic","username":"u","password":"p"}}"#,
        );
        assert_eq!(
            shown,
            json!({ "secret": "********", "verify": { "kind": "basic", "username": "u", "password": "********" } })
        );
    }
}
