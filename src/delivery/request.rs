//! The HTTP request of one delivery: its body (the payload, with the
//! endpoint's extra JSON merged in), its headers (content type, the
//! Standard Webhooks id, timestamp and signature, the event-type header, a
//! source's provider headers, the endpoint's custom headers but the ones
//! the engine owns) and its encoding. No I/O.

use super::exchange::AttemptError;
use super::guard::Target;
use crate::http_wire::{check_field_name, encode_body, encode_field, encode_head, EncodeError};
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

/// The part of an endpoint version's requests that no message changes,
/// checked and encoded once (`worker::Prepared` keeps it): the request
/// line, `host`, the content type, the user agent and the endpoint's own
/// headers but the ones the engine owns.
pub(super) struct Head {
    fixed: Vec<u8>,
    /// The endpoint's event-type header, its name checked.
    topic: Option<String>,
}

impl Head {
    pub(super) fn new(endpoint: &EndpointRecord, target: &Target) -> Result<Head, AttemptError> {
        let encode = |e: EncodeError| AttemptError::Encode(e.to_string());
        let topic = endpoint.event_type_header.clone();
        if let Some(name) = &topic {
            check_field_name(name).map_err(encode)?;
        }
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(2 + endpoint.headers.len());
        headers.extend_from_slice(&[
            ("content-type", "application/json"),
            ("user-agent", "ringhook/0.1"),
        ]);
        for h in &endpoint.headers {
            let owned = topic
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(&h.name))
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
        let mut fixed = Vec::new();
        encode_head(
            &mut fixed,
            &endpoint.method,
            &target.authority,
            &target.path_and_query,
            &headers,
        )
        .map_err(encode)?;
        Ok(Head { fixed, topic })
    }
}

/// Signs and encodes one request of an attempt made at `at_ms` (its
/// `webhook-timestamp`), appending it to `out` (the run's bytes; left as it
/// was on error).
pub(super) fn encode(
    head: &Head,
    endpoint: &EndpointRecord,
    msg: &Message,
    (keys, signer): (&Keyed, &mut Signer),
    at_ms: u64,
    out: &mut Vec<u8>,
) -> Result<(), AttemptError> {
    let body = body_for(endpoint, msg);
    signer.sign(keys, at_ms, &msg.id, &body);
    let start = out.len();
    out.reserve(head.fixed.len() + 256 + body.len());
    out.extend_from_slice(&head.fixed);
    let fields = fields(head, msg, signer, out);
    if let Err(e) = fields {
        out.truncate(start);
        return Err(AttemptError::Encode(e.to_string()));
    }
    encode_body(out, &body);
    Ok(())
}

/// A message's own fields: the Standard Webhooks id, timestamp and
/// signature, the event-type header, and a source message's provider
/// fields (not in every provider's body).
fn fields(
    head: &Head,
    msg: &Message,
    signer: &Signer,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    encode_field(out, "webhook-id", &msg.id)?;
    encode_field(out, "webhook-timestamp", signer.timestamp())?;
    encode_field(out, "webhook-signature", signer.signature())?;
    if let Some(name) = &head.topic {
        encode_field(out, name, &msg.event_type)?;
    }
    if crate::ids::has_prefix(&msg.app_id, SOURCE_ID_PREFIX) {
        encode_field(out, SOURCE_EVENT_TYPE_HEADER, &msg.event_type)?;
        if let Some(id) = msg
            .event_id
            .as_deref()
            .filter(|v| v.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            encode_field(out, SOURCE_EVENT_ID_HEADER, id)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Loc;
    use crate::records::{HeaderPair, MessageRecord, SecretKey};

    fn endpoint(headers: &[(&str, &str)], topic: Option<&str>) -> EndpointRecord {
        let mut e = EndpointRecord::new(
            "ep_1".into(),
            "app_1".into(),
            "http://127.0.0.1:9/in?x=1".into(),
            1,
        );
        e.headers = headers
            .iter()
            .map(|(name, value)| HeaderPair {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect();
        e.event_type_header = topic.map(str::to_string);
        e.secrets = vec![SecretKey {
            key: b"0123456789abcdef0123456789abcdef".to_vec(),
            expires_ms: 0,
            scheme: Default::default(),
        }];
        e
    }

    fn message(app_id: &str, event_type: &str, event_id: Option<&str>) -> Message {
        let record = MessageRecord {
            id: "msg_1".into(),
            app_id: app_id.into(),
            event_type: event_type.into(),
            event_id: event_id.map(str::to_string),
            channels: Vec::new(),
            payload: br#"{"a":1}"#.to_vec(),
            created_ms: 1,
            destinations: Vec::new(),
        };
        let loc = Loc {
            journal: 0,
            pos: crate::journal::Position {
                segment_seq: 1,
                offset: 64,
            },
        };
        Message::from_record(record, loc).0
    }

    /// The fields of the first request in `bytes`, lower-cased names, and
    /// where it ends.
    fn parse(bytes: &[u8]) -> (Vec<(String, String)>, usize) {
        let mut fields = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut fields);
        let httparse::Status::Complete(head) = req.parse(bytes).expect("parses") else {
            panic!("incomplete head");
        };
        assert_eq!((req.method, req.path), (Some("POST"), Some("/in?x=1")));
        let fields: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|h| {
                let value = String::from_utf8(h.value.to_vec()).expect("ascii");
                (h.name.to_ascii_lowercase(), value)
            })
            .collect();
        let len: usize = fields
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .expect("content-length");
        (fields, head + len)
    }

    #[test]
    fn a_request_is_its_endpoints_head_and_its_messages_fields() {
        let e = endpoint(
            &[
                ("x-custom", "yes"),
                ("Content-Type", "text/plain"),
                ("webhook-id", "forged"),
                ("x-topic", "shadowed"),
            ],
            Some("x-topic"),
        );
        let target = Target::parse(&e.url).expect("target");
        let head = Head::new(&e, &target).expect("head");
        let keys = Keyed::new(&e.secrets);
        let mut signer = Signer::default();
        let mut out = b"before|".to_vec();
        let source = crate::ids::new_id(SOURCE_ID_PREFIX);
        let cases = [
            (message("app_1", "invoice.paid", None), vec![]),
            (
                message(&source, "push", Some("d-1")),
                vec![
                    ("x-ringhook-event-type", "push"),
                    ("x-ringhook-event-id", "d-1"),
                ],
            ),
        ];
        for (msg, extra) in &cases {
            let start = out.len();
            encode(
                &head,
                &e,
                msg,
                (&keys, &mut signer),
                1_700_000_000_000,
                &mut out,
            )
            .expect("encodes");
            let (fields, end) = parse(&out[start..]);
            assert_eq!(&out[start + end - 7..start + end], br#"{"a":1}"#);
            assert_eq!(start + end, out.len(), "nothing after the body");
            let get = |name: &str| -> Vec<&str> {
                fields
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
                    .collect()
            };
            // The engine's own fields win over the endpoint's.
            assert_eq!(get("content-type"), ["application/json"]);
            assert_eq!(get("webhook-id"), ["msg_1"]);
            assert_eq!(get("webhook-timestamp"), ["1700000000"]);
            assert_eq!(get("webhook-signature"), [signer.signature()]);
            assert_eq!(get("x-topic"), [&*msg.event_type]);
            assert_eq!(get("x-custom"), ["yes"]);
            assert_eq!(get("host"), ["127.0.0.1:9"]);
            for (name, value) in extra {
                assert_eq!(get(name), [*value]);
            }
            assert_eq!(fields.len(), 9 + extra.len(), "{fields:?}");
        }
        // A message field with a line break is refused and writes nothing.
        let before = out.clone();
        let bad = message("app_1", "a\r\nx-evil: 1", None);
        let refused = encode(&head, &e, &bad, (&keys, &mut signer), 1, &mut out);
        assert!(matches!(refused, Err(AttemptError::Encode(_))));
        assert_eq!(out, before);
        // An endpoint whose fixed part cannot be sent has no head.
        for (headers, topic) in [
            (&[("bad name", "v")][..], None),
            (&[("x-ok", "a\nb")][..], None),
            (&[][..], Some("content-length")),
        ] {
            let e = endpoint(headers, topic);
            assert!(Head::new(&e, &target).is_err(), "{headers:?} {topic:?}");
        }
    }
}
