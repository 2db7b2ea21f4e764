//! The HTTP request of one delivery: its body (the payload, with the
//! endpoint's extra JSON merged in), its headers (content type, the
//! Standard Webhooks id, timestamp and signature, the event-type header, a
//! source's provider headers, the endpoint's custom headers but the ones
//! the engine owns) and its encoding. No I/O.

use super::exchange::AttemptError;
use super::guard::Target;
use crate::http_wire::encode_request;
use crate::message::Message;
use crate::records::EndpointRecord;
use crate::signing::{Keyed, Signer};

/// Header names the engine owns; endpoint headers cannot override them.
pub const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    SOURCE_EVENT_TYPE_HEADER,
    SOURCE_EVENT_ID_HEADER,
];

/// The id prefix of incoming sources, whose application ids are theirs.
const SOURCE_ID_PREFIX: &str = "src";
/// Headers carrying a source message's event type and the provider's
/// delivery id (its `eventId`) to the source's endpoints.
const SOURCE_EVENT_TYPE_HEADER: &str = "x-ringhook-event-type";
const SOURCE_EVENT_ID_HEADER: &str = "x-ringhook-event-id";

/// The delivered body: the payload, with the endpoint's extra JSON merged in.
fn body_for<'a>(endpoint: &EndpointRecord, msg: &'a Message) -> std::borrow::Cow<'a, [u8]> {
    if endpoint.extra_json.is_empty() {
        return std::borrow::Cow::Borrowed(&msg.payload);
    }
    let merged = crate::accept::payload::parse(&msg.payload)
        .ok()
        .zip(serde_json::from_str::<serde_json::Value>(&endpoint.extra_json).ok())
        .and_then(|(mut body, extra)| {
            let (Some(obj), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra)
            else {
                return None;
            };
            for (k, v) in extra {
                obj.insert(k, v);
            }
            serde_json::to_vec(&body).ok()
        });
    match merged {
        Some(b) => std::borrow::Cow::Owned(b),
        None => std::borrow::Cow::Borrowed(&msg.payload),
    }
}

/// Signs and encodes one request of an attempt made at `at_ms` (its
/// `webhook-timestamp`), appending it to `out` (the run's bytes).
pub(super) fn encode(
    endpoint: &EndpointRecord,
    target: &Target,
    msg: &Message,
    (keys, signer): (&Keyed, &mut Signer),
    at_ms: u64,
    out: &mut Vec<u8>,
) -> Result<(), AttemptError> {
    let body = body_for(endpoint, msg);
    signer.sign(keys, at_ms, &msg.id, &body);
    let mut headers: Vec<(&str, &str)> = Vec::with_capacity(6 + endpoint.headers.len());
    headers.extend_from_slice(&[
        ("content-type", "application/json"),
        ("user-agent", "ringhook/0.1"),
        ("webhook-id", &msg.id),
        ("webhook-timestamp", signer.timestamp()),
        ("webhook-signature", signer.signature()),
    ]);
    let topic = endpoint.event_type_header.as_deref();
    if let Some(name) = topic {
        headers.push((name, &msg.event_type));
    }
    // A source's messages tell its endpoints what the provider called the
    // event and its delivery (they are not in every provider's body).
    if crate::ids::has_prefix(&msg.app_id, SOURCE_ID_PREFIX) {
        headers.push((SOURCE_EVENT_TYPE_HEADER, &msg.event_type));
        if let Some(id) = msg
            .event_id
            .as_deref()
            .filter(|v| v.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            headers.push((SOURCE_EVENT_ID_HEADER, id));
        }
    }
    for h in &endpoint.headers {
        let owned = topic.is_some_and(|t| t.eq_ignore_ascii_case(&h.name))
            || h.name
                .get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("webhook-"))
            || RESERVED_HEADERS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&h.name));
        if !owned {
            headers.push((&h.name, &h.value));
        }
    }
    encode_request(
        out,
        &endpoint.method,
        &target.authority,
        &target.path_and_query,
        &headers,
        &body,
    )
    .map_err(|e| AttemptError::Encode(e.to_string()))
}
