//! Svix-shaped JSON views of catalog records and messages.
//!
//! Both spellings Svix has used are emitted (`filterTypes`/`eventTypes`,
//! `rateLimit`/`throttleRate`) so old and new SDKs read the same objects.
//! Event types carry their `schemas`, `deprecated`, `groupName` and
//! `featureFlag` from their details record, when they have one.
//! Fields the official SDKs require in a response (such as an event type's
//! `deprecated`) are always present, or the SDK refuses the whole object.

use crate::message::Message;
use crate::records::{AppRecord, EndpointRecord, EventTypeRecord};
use crate::time::rfc3339;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Parts of a header name that mark its value as a credential: no API view
/// shows it (`authorization`, `x-api-key`, `cookie`, `x-auth-token`, ...).
const SENSITIVE_PARTS: &[&str] = &[
    "auth",
    "cookie",
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "session",
    "credential",
    "signature",
    // Signatures named by their algorithm (`x-shopify-hmac-sha256`).
    "hmac",
];

/// Whether a header's value is a credential that no API view may show.
pub fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE_PARTS.iter().any(|part| name.contains(part))
}

fn object(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

pub fn app(a: &AppRecord) -> Value {
    json!({
        "id": a.id,
        "uid": a.uid,
        "name": a.name,
        "rateLimit": a.rate_limit,
        "throttleRate": a.rate_limit,
        "metadata": object(&a.metadata),
        "createdAt": rfc3339(a.created_ms),
        "updatedAt": rfc3339(a.updated_ms),
    })
}

pub fn endpoint(e: &EndpointRecord) -> Value {
    let types = (!e.event_types.is_empty()).then_some(&e.event_types);
    let channels = (!e.channels.is_empty()).then_some(&e.channels);
    // Credentials are stored and sent, never shown (`headers::is_sensitive`).
    let (sensitive, shown): (Vec<_>, Vec<_>) =
        e.headers.iter().partition(|h| is_sensitive(&h.name));
    let headers: serde_json::Map<String, Value> = shown
        .into_iter()
        .map(|h| (h.name.clone(), Value::String(h.value.clone())))
        .collect();
    let sensitive: Vec<&str> = sensitive.iter().map(|h| h.name.as_str()).collect();
    json!({
        "id": e.id,
        "uid": e.uid,
        "url": e.url,
        "description": e.description,
        "version": 1,
        "disabled": e.disabled,
        "filterTypes": types,
        "eventTypes": types,
        "channels": channels,
        "rateLimit": e.rate_limit,
        "throttleRate": e.rate_limit,
        "metadata": object(&e.metadata),
        "method": e.method,
        "headers": headers,
        "sensitiveHeaders": sensitive,
        "extraJson": if e.extra_json.is_empty() { Value::Null } else { object(&e.extra_json) },
        "eventTypeHeader": e.event_type_header,
        "fifo": e.fifo,
        // The CA bundle is public; the client certificate and key are
        // stored like secrets and never shown.
        "caCert": (!e.tls_ca.is_empty()).then_some(&e.tls_ca),
        "hasClientCert": !e.tls_client_cert.is_empty(),
        // A proxy URL may carry credentials: only whether one is set.
        "hasProxy": !e.proxy_url.is_empty(),
        "createdAt": rfc3339(e.created_ms),
        "updatedAt": rfc3339(e.updated_ms),
    })
}

pub fn event_type(
    t: &EventTypeRecord,
    d: Option<&crate::records::EventTypeDetailsRecord>,
) -> Value {
    let schemas = d
        .filter(|d| !d.schemas.is_empty())
        .map_or(Value::Null, |d| object(&d.schemas));
    json!({
        "name": t.name,
        "description": t.description,
        "archived": t.archived,
        "deprecated": d.is_some_and(|d| d.deprecated),
        "schemas": schemas,
        "groupName": d.and_then(|d| d.group_name.clone()),
        "featureFlag": d.and_then(|d| d.feature_flag.clone()),
        "createdAt": rfc3339(t.created_ms),
        "updatedAt": rfc3339(t.updated_ms),
    })
}

/// The example payload of an event type's newest schema version
/// (`schemas["<n>"].examples[0]`), if it has one that is an object.
pub fn schema_example(d: &crate::records::EventTypeDetailsRecord) -> Option<Value> {
    let schemas: serde_json::Map<String, Value> = serde_json::from_str(&d.schemas).ok()?;
    let (_, newest) = schemas
        .iter()
        .max_by_key(|(version, _)| version.parse::<u64>().unwrap_or(0))?;
    newest
        .get("examples")?
        .as_array()?
        .first()
        .filter(|e| e.is_object())
        .cloned()
}

pub fn message(m: &Message) -> Value {
    match crate::accept::payload::check(&m.payload)
        .ok()
        .and_then(|()| serde_json::from_slice::<&RawValue>(&m.payload).ok())
    {
        // `to_value` reads the payload again with serde_json's own depth
        // limit; a payload past it shows as null, not the whole view.
        Some(payload) => serde_json::to_value(MessageOut::new(m, payload)).unwrap_or_else(|_| {
            serde_json::to_value(MessageOut::new(m, RawValue::NULL)).unwrap_or(Value::Null)
        }),
        // A payload that no longer reads (written before the depth bound
        // existed) shows as null.
        None => serde_json::to_value(MessageOut::new(m, RawValue::NULL)).unwrap_or(Value::Null),
    }
}

/// The JSON text of a message's view with `payload` (its bytes, already
/// checked) as they are: what `POST …/msg` answers, written without building
/// a `Value` of the payload and serialising it again.
pub fn message_bytes(m: &Message, payload: &RawValue) -> Vec<u8> {
    serde_json::to_vec(&MessageOut::new(m, payload)).unwrap_or_default()
}

/// A message's view, Svix's `MessageOut`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageOut<'a> {
    id: &'a str,
    event_type: &'a str,
    event_id: Option<&'a str>,
    payload: &'a RawValue,
    channels: Option<&'a [String]>,
    timestamp: String,
}

impl<'a> MessageOut<'a> {
    fn new(m: &'a Message, payload: &'a RawValue) -> Self {
        MessageOut {
            id: m.id.as_str(),
            event_type: &m.event_type,
            event_id: m.event_id.as_deref(),
            payload,
            channels: (!m.channels.is_empty()).then_some(&m.channels[..]),
            timestamp: rfc3339(m.created_ms),
        }
    }
}

/// A page of a listing in Svix's `{data, iterator, prevIterator, done}` shape.
pub fn page(data: Vec<Value>, iterator: Option<String>, prev: Option<String>, done: bool) -> Value {
    json!({ "data": data, "iterator": iterator, "prevIterator": prev, "done": done })
}
