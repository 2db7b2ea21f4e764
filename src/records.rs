//! Journal record bodies: the rkyv types the engine writes and recovers.
//!
//! The journal itself stores opaque bodies tagged with a kind byte; this file
//! owns the mapping from kind to type. Bodies are versioned through the record
//! header's version byte (`RECORD_VERSION`); no `usize` appears on disk.

use rkyv::{Archive, Deserialize, Serialize};

/// Version byte written with every record body defined here.
pub const RECORD_VERSION: u8 = 1;

/// Record kinds. Catalog kinds live in the catalog journal, the rest in shard journals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    AppPut = 1,
    AppDelete = 2,
    EndpointPut = 3,
    EndpointDelete = 4,
    EventTypePut = 5,
    /// Removal of an event type (`DELETE ...?expunge=true`); the id is its name.
    EventTypeDelete = 6,
    /// An incoming source is created or changed.
    SourcePut = 7,
    /// An incoming source is deleted; the id is the source's.
    SourceDelete = 8,
    /// An event type's schemas and Svix flags (next to its `EventTypePut`).
    EventTypeDetails = 9,
    Message = 16,
    Attempt = 17,
    Resend = 18,
    IdempotentAnswer = 19,
    /// A request to an incoming source's receive URL, logged (`logRequests`).
    IncomingRequest = 20,
}

impl Kind {
    pub fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::AppPut,
            2 => Kind::AppDelete,
            3 => Kind::EndpointPut,
            4 => Kind::EndpointDelete,
            5 => Kind::EventTypePut,
            6 => Kind::EventTypeDelete,
            7 => Kind::SourcePut,
            8 => Kind::SourceDelete,
            9 => Kind::EventTypeDetails,
            16 => Kind::Message,
            17 => Kind::Attempt,
            18 => Kind::Resend,
            19 => Kind::IdempotentAnswer,
            20 => Kind::IncomingRequest,
            _ => return None,
        })
    }
}

/// Why a record body could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("record body of kind {kind} failed validation: {reason}")]
    Invalid { kind: u8, reason: String },
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("cannot encode record: {0}")]
    Encode(String),
    #[error("record version {found}, but this build reads version {RECORD_VERSION}")]
    Version { found: u8 },
}

/// Refuses a record body of a version this build cannot read (the header's
/// version byte, checked before any body is decoded).
pub fn check_version(version: u8) -> Result<(), RecordError> {
    match version {
        RECORD_VERSION => Ok(()),
        found => Err(RecordError::Version { found }),
    }
}

/// Checks a record read from any journal as fully as decoding it would: its
/// version and its body for its kind (`journal check`).
pub fn validate(kind: u8, version: u8, body: &[u8]) -> Result<(), RecordError> {
    check_version(version)?;
    match Kind::from_u8(kind) {
        Some(Kind::AppPut) => decode_app(body).map(drop),
        Some(Kind::EndpointPut) => decode_endpoint(body).map(drop),
        Some(Kind::EventTypePut) => decode_event_type(body).map(drop),
        Some(Kind::SourcePut) => decode_source(body).map(drop),
        Some(Kind::EventTypeDetails) => decode_event_type_details(body).map(drop),
        Some(
            Kind::AppDelete | Kind::EndpointDelete | Kind::EventTypeDelete | Kind::SourceDelete,
        ) => decode_delete(body).map(drop),
        Some(Kind::Message) => decode_message(body).map(drop),
        Some(Kind::Attempt) => decode_attempt(body).map(drop),
        Some(Kind::Resend) => decode_resend(body).map(drop),
        Some(Kind::IdempotentAnswer) => decode_answer(body).map(drop),
        Some(Kind::IncomingRequest) => decode_incoming_request(body).map(drop),
        None => Err(RecordError::UnknownKind(kind)),
    }
}

/// An application (tenant).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AppRecord {
    pub id: String,
    pub uid: Option<String>,
    pub name: String,
    /// JSON object text.
    pub metadata: String,
    pub rate_limit: Option<u32>,
    pub created_ms: u64,
    pub updated_ms: u64,
}

/// An incoming source: a public receive URL (`/ingest/{token}`) whose
/// requests are verified by `kind`'s scheme and forwarded to the endpoints
/// of the source's own application (id = the source's id) and to `routes`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub id: String,
    pub uid: Option<String>,
    pub name: String,
    /// The Svix source type (`github`, `stripe`, `generic-webhook`, ...).
    pub kind: String,
    /// The type's configuration, JSON object text (secrets included).
    pub config: String,
    /// JSON object text.
    pub metadata: String,
    pub description: String,
    pub disabled: bool,
    /// The receive URL's secret path segment.
    pub token: String,
    pub log_requests: bool,
    /// Requests per second; none for unlimited.
    pub rate_limit: Option<u32>,
    /// Largest request body accepted; none for `max_body_bytes`.
    pub max_body_bytes: Option<u32>,
    pub routes: Vec<SourceRoute>,
    pub created_ms: u64,
    pub updated_ms: u64,
}

/// Where a source's requests also go: messages of an application.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SourceRoute {
    /// The application's id.
    pub app_id: String,
    /// The event type, fixed (`eventType`), from a request header
    /// (`eventTypeFromHeader`) or from the JSON body (`eventTypeFromPointer`).
    pub event_type: RouteEventType,
}

/// How a route names the event type of the messages it makes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum RouteEventType {
    Fixed(String),
    Header(String),
    Pointer(String),
}

/// One signing key of an endpoint; `expires_ms == 0` marks the current key.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SecretKey {
    pub key: Vec<u8>,
    pub expires_ms: u64,
}

/// One custom header sent with every delivery of an endpoint.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HeaderPair {
    pub name: String,
    pub value: String,
}

/// A webhook subscription of an application.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EndpointRecord {
    pub id: String,
    pub app_id: String,
    pub uid: Option<String>,
    pub url: String,
    pub description: String,
    pub disabled: bool,
    /// Empty means every event type.
    pub event_types: Vec<String>,
    pub channels: Vec<String>,
    pub headers: Vec<HeaderPair>,
    /// POST, PUT or PATCH.
    pub method: String,
    /// JSON object text merged into every delivered body; empty for none.
    pub extra_json: String,
    pub secrets: Vec<SecretKey>,
    pub rate_limit: Option<u32>,
    /// JSON object text.
    pub metadata: String,
    pub created_ms: u64,
    pub updated_ms: u64,
}

/// A registered event type.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EventTypeRecord {
    pub name: String,
    pub description: String,
    pub archived: bool,
    pub created_ms: u64,
    pub updated_ms: u64,
}

/// An event type's schemas (Svix's `{"<version>": <JSON Schema>}`, JSON
/// object text, empty for none) and flags, kept beside its
/// `EventTypeRecord` (a record of its own, so event types written before
/// it read as they were).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EventTypeDetailsRecord {
    pub name: String,
    pub schemas: String,
    pub deprecated: bool,
    pub group_name: Option<String>,
    pub feature_flag: Option<String>,
}

/// Deletion of a catalog entity by id.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeleteRecord {
    pub id: String,
    pub at_ms: u64,
}

/// A message accepted from a producer, with its fan-out fixed at acceptance.
///
/// Journaling the destinations (rather than recomputing them on recovery)
/// means endpoints created or changed later never receive older messages.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub id: String,
    pub app_id: String,
    pub event_type: String,
    pub event_id: Option<String>,
    pub channels: Vec<String>,
    pub payload: Vec<u8>,
    pub created_ms: u64,
    pub destinations: Vec<String>,
}

/// What an attempt decided about its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Outcome {
    /// 2xx: the delivery ended successfully.
    Succeeded = 1,
    /// Failed; another attempt is scheduled at `next_attempt_ms`.
    Retrying = 2,
    /// Failed and the schedule is exhausted: the delivery ended in failure.
    Failed = 3,
    /// The endpoint was deleted (or disabled): the delivery ended without an attempt.
    Cancelled = 4,
}

impl Outcome {
    pub fn from_u8(b: u8) -> Option<Outcome> {
        Some(match b {
            1 => Outcome::Succeeded,
            2 => Outcome::Retrying,
            3 => Outcome::Failed,
            4 => Outcome::Cancelled,
            _ => return None,
        })
    }

    /// True when the delivery needs no further attempt.
    pub fn is_final(self) -> bool {
        !matches!(self, Outcome::Retrying)
    }
}

/// One HTTP attempt of a delivery (or its cancellation).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub id: String,
    pub msg_id: String,
    pub endpoint_id: String,
    pub app_id: String,
    /// 0-based attempt number within the delivery.
    pub attempt_no: u32,
    pub at_ms: u64,
    /// HTTP status, or 0 when no response arrived (connect error, timeout).
    pub status_code: u16,
    pub duration_us: u32,
    /// An `Outcome` as u8.
    pub outcome: u8,
    pub next_attempt_ms: u64,
    /// The first bytes of the response body (or the error text).
    pub response: Vec<u8>,
}

/// A manually requested delivery of an existing message to one endpoint
/// (`resend`, or a `recover` task); journaled by the endpoint's owner shard
/// before the delivery starts, so a crash cannot lose it. Attempts of that
/// (message, endpoint) made at or after `at_ms` are manual (`triggerType` 1).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ResendRecord {
    pub msg_id: String,
    pub app_id: String,
    pub endpoint_id: String,
    pub at_ms: u64,
    /// Where the message record is: shard journal number, segment, offset.
    pub msg_journal: u32,
    pub msg_segment: u64,
    pub msg_offset: u64,
}

/// One request to a source's receive URL, as its request log keeps it
/// (shard 0's journal): sensitive header values replaced by `********`,
/// the body up to `REQUEST_LOG_BODY_BYTES_MAX`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IncomingRequestRecord {
    pub id: String,
    pub source_id: String,
    pub at_ms: u64,
    pub method: String,
    pub headers: Vec<HeaderPair>,
    pub body: Vec<u8>,
    /// The whole body's length (`body` may be cut).
    pub body_bytes: u64,
    /// The status answered.
    pub status: u16,
    /// The outcome's stable code (`accepted`, `bad_signature`, ...).
    pub outcome: String,
    /// The messages it became (or, for a duplicate, the ones it was).
    pub messages: Vec<String>,
}

/// A 2xx API answer stored for an `idempotency-key` (shard 0's journal), so
/// replays survive a restart for their 12 hours.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IdempotentAnswerRecord {
    /// SHA-256 of (token, path, key).
    pub key: Vec<u8>,
    pub status: u16,
    pub body: Vec<u8>,
    pub at_ms: u64,
}

/// A record body type the journal can hold (rkyv-serializable).
pub trait Body:
    for<'a> rkyv::Serialize<
    rkyv::api::high::HighSerializer<
        rkyv::util::AlignedVec,
        rkyv::ser::allocator::ArenaHandle<'a>,
        rkyv::rancor::Error,
    >,
>
{
}

impl<T> Body for T where
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            rkyv::util::AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rkyv::rancor::Error,
        >,
    >
{
}

/// Encodes a record body with rkyv into a new buffer.
pub fn encode<T: Body>(value: &T) -> Result<rkyv::util::AlignedVec, RecordError> {
    encode_into(value, rkyv::util::AlignedVec::new())
}

/// Encodes a record body into `buf` (cleared first), reusing its capacity; the
/// hot paths keep one such buffer per shard so encoding does not allocate.
pub fn encode_into<T: Body>(
    value: &T,
    mut buf: rkyv::util::AlignedVec,
) -> Result<rkyv::util::AlignedVec, RecordError> {
    buf.clear();
    rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(value, buf)
        .map_err(|e| RecordError::Encode(e.to_string()))
}

macro_rules! decoder {
    ($name:ident, $ty:ty, $kind:expr) => {
        /// Validates (bytecheck) and deserializes a record body read from disk.
        pub fn $name(body: &[u8]) -> Result<$ty, RecordError> {
            rkyv::from_bytes::<$ty, rkyv::rancor::Error>(body).map_err(|e| RecordError::Invalid {
                kind: $kind as u8,
                reason: e.to_string(),
            })
        }
    };
}

decoder!(decode_app, AppRecord, Kind::AppPut);
decoder!(decode_endpoint, EndpointRecord, Kind::EndpointPut);
decoder!(decode_event_type, EventTypeRecord, Kind::EventTypePut);
decoder!(decode_delete, DeleteRecord, Kind::AppDelete);
decoder!(decode_source, SourceRecord, Kind::SourcePut);
decoder!(
    decode_event_type_details,
    EventTypeDetailsRecord,
    Kind::EventTypeDetails
);
decoder!(decode_message, MessageRecord, Kind::Message);
decoder!(decode_attempt, AttemptRecord, Kind::Attempt);
decoder!(decode_resend, ResendRecord, Kind::Resend);
decoder!(
    decode_incoming_request,
    IncomingRequestRecord,
    Kind::IncomingRequest
);
decoder!(
    decode_answer,
    IdempotentAnswerRecord,
    Kind::IdempotentAnswer
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn aligned(bytes: &[u8]) -> rkyv::util::AlignedVec {
        let mut v = rkyv::util::AlignedVec::new();
        v.extend_from_slice(bytes);
        v
    }

    proptest! {
        #[test]
        fn message_records_round_trip(
            id in "msg_[a-zA-Z0-9]{1,27}",
            event_type in "[a-z.]{1,40}",
            event_id in proptest::option::of("[ -~]{0,60}"),
            channels in proptest::collection::vec("[a-z]{1,10}", 0..4),
            payload in proptest::collection::vec(any::<u8>(), 0..2000),
            created_ms in any::<u64>(),
            destinations in proptest::collection::vec("ep_[a-z0-9]{5}", 0..10),
        ) {
            let rec = MessageRecord { id, app_id: "app_x".into(), event_type, event_id, channels, payload, created_ms, destinations };
            let bytes = encode(&rec).expect("encodes");
            prop_assert_eq!(decode_message(&aligned(&bytes)).expect("decodes"), rec);
        }

        #[test]
        fn attempt_records_round_trip(attempt_no in any::<u32>(), status in any::<u16>(), next in any::<u64>(), response in proptest::collection::vec(any::<u8>(), 0..100)) {
            let rec = AttemptRecord { id: "atmpt_1".into(), msg_id: "msg_1".into(), endpoint_id: "ep_1".into(), app_id: "app_1".into(), attempt_no, at_ms: 5, status_code: status, duration_us: 7, outcome: Outcome::Retrying as u8, next_attempt_ms: next, response };
            let bytes = encode(&rec).expect("encodes");
            prop_assert_eq!(decode_attempt(&aligned(&bytes)).expect("decodes"), rec);
        }

        #[test]
        fn validate_accepts_what_encode_wrote_and_refuses_other_versions(version in any::<u8>()) {
            let rec = DeleteRecord { id: "ep_1".into(), at_ms: 3 };
            let bytes = aligned(&encode(&rec).expect("encodes"));
            let result = validate(Kind::EndpointDelete as u8, version, &bytes);
            prop_assert_eq!(result.is_ok(), version == RECORD_VERSION);
            prop_assert!(validate(99, RECORD_VERSION, &bytes).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_message(&aligned(&bytes));
            let _ = decode_endpoint(&aligned(&bytes));
        }
    }
}
