//! Journal record bodies: the rkyv types the engine writes and recovers.
//!
//! The journal itself stores opaque bodies tagged with a kind byte; this file
//! owns the mapping from kind to type. Bodies are versioned through the record
//! header's version byte (`RECORD_VERSION`); no `usize` appears on disk.

use rkyv::{Archive, Deserialize, Serialize};

/// Bytes as base64 text in JSON (the environment document's secrets).
mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// Version byte written with every record body defined here.
pub const RECORD_VERSION: u8 = 3;

/// The oldest body version this build reads. Version 1 differs from 2 in
/// one kind only: its `Attempt` bodies (`v1::AttemptRecord`) have no
/// `error_kind`; `decode_attempt` and `attempt_head` read both. Version 2
/// differs from 3 in one kind only: its `EndpointPut` bodies
/// (`v2::EndpointRecord`) have no `event_type_header`, `fifo`, `tls_*` or
/// `proxy_url` fields and no key `scheme`;
/// `decode_endpoint` reads all three.
pub const RECORD_VERSION_OLDEST: u8 = 1;

/// Why an attempt got no usable response, by the stable code
/// `AttemptRecord::error_kind` stores (code = index + 1). Append only: a
/// code, once written, keeps its meaning.
pub const ATTEMPT_ERROR_KINDS: [&str; 17] = [
    "target",
    "connect_refused",
    "connect_timeout",
    "connect",
    "tls",
    "write",
    "timeout",
    "read",
    "closed",
    "malformed",
    "not_answered",
    "encode",
    "not_sent",
    "tls_unknown_ca",
    "tls_expired",
    "tls_wrong_name",
    "proxy",
];

/// `AttemptRecord::error_kind` of an attempt that got a response (its
/// status code tells the rest) or of a decision without an attempt.
pub const ERROR_KIND_NONE: u8 = 0;

/// `AttemptRecord::error_kind` of a version-1 attempt that got no
/// response: the kind was not recorded then.
pub const ERROR_KIND_UNKNOWN: u8 = u8::MAX;

/// The stored code of the error kind at `ATTEMPT_ERROR_KINDS[index]`.
pub fn error_kind_code(index: usize) -> u8 {
    assert!(index < ATTEMPT_ERROR_KINDS.len());
    (index + 1) as u8
}

/// The name of a stored error-kind code: none for `ERROR_KIND_NONE`,
/// `"unknown"` for a code this build does not know.
pub fn error_kind_name(code: u8) -> Option<&'static str> {
    match code {
        ERROR_KIND_NONE => None,
        c => Some(
            ATTEMPT_ERROR_KINDS
                .get(usize::from(c) - 1)
                .copied()
                .unwrap_or("unknown"),
        ),
    }
}

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
    /// A notification rule is created or changed.
    RulePut = 10,
    /// A notification rule is deleted (with its state); the id is the rule's.
    RuleDelete = 11,
    /// A rule's state changed (ok ↔ firing).
    RuleState = 12,
    /// An operational event a catalog change makes, journaled with it.
    Notice = 13,
    /// A poller consumer's position (`…/poller/{endpoint}/consumer/{id}`).
    ConsumerPosition = 14,
    Message = 16,
    Attempt = 17,
    Resend = 18,
    IdempotentAnswer = 19,
    /// A request to an incoming source's receive URL, logged (`logRequests`).
    IncomingRequest = 20,
    /// A message's payload or an attempt's response body was expunged.
    Expunge = 21,
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
            10 => Kind::RulePut,
            11 => Kind::RuleDelete,
            12 => Kind::RuleState,
            13 => Kind::Notice,
            14 => Kind::ConsumerPosition,
            16 => Kind::Message,
            17 => Kind::Attempt,
            18 => Kind::Resend,
            19 => Kind::IdempotentAnswer,
            20 => Kind::IncomingRequest,
            21 => Kind::Expunge,
            _ => return None,
        })
    }
}

/// Why a record body could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("record body of kind {kind} failed validation: {why}")]
    Invalid { kind: u8, why: Invalid },
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("cannot encode record: {0}")]
    Encode(#[source] rkyv::rancor::Error),
    #[error("record version {found}, but this build reads versions {RECORD_VERSION_OLDEST} to {RECORD_VERSION}")]
    Version { found: u8 },
}

/// What is wrong with a record body that failed validation.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    /// Its bytes are not a valid archive of the kind's type (rkyv's
    /// bytecheck).
    #[error(transparent)]
    Layout(#[from] rkyv::rancor::Error),
    /// An attempt's outcome byte names no `Outcome`.
    #[error("unknown outcome {0}")]
    Outcome(u8),
}

/// Refuses a record body of a version this build cannot read (the header's
/// version byte, checked before any body is decoded).
pub fn check_version(version: u8) -> Result<(), RecordError> {
    match version {
        RECORD_VERSION_OLDEST..=RECORD_VERSION => Ok(()),
        found => Err(RecordError::Version { found }),
    }
}

/// Checks a record read from any journal as fully as decoding it would: its
/// version and its body for its kind (`journal check`).
pub fn validate(kind: u8, version: u8, body: &[u8]) -> Result<(), RecordError> {
    check_version(version)?;
    match Kind::from_u8(kind) {
        Some(Kind::AppPut) => decode_app(body).map(drop),
        Some(Kind::EndpointPut) => decode_endpoint(version, body).map(drop),
        Some(Kind::EventTypePut) => decode_event_type(body).map(drop),
        Some(Kind::SourcePut) => decode_source(body).map(drop),
        Some(Kind::EventTypeDetails) => decode_event_type_details(body).map(drop),
        Some(Kind::RulePut) => decode_rule(body).map(drop),
        Some(Kind::RuleState) => decode_rule_state(body).map(drop),
        Some(Kind::Notice) => decode_notice(body).map(drop),
        Some(Kind::ConsumerPosition) => decode_consumer(body).map(drop),
        Some(
            Kind::AppDelete
            | Kind::EndpointDelete
            | Kind::EventTypeDelete
            | Kind::SourceDelete
            | Kind::RuleDelete,
        ) => decode_delete(body).map(drop),
        Some(Kind::Message) => decode_message(body).map(drop),
        Some(Kind::Attempt) => decode_attempt(version, body).map(drop),
        Some(Kind::Resend) => decode_resend(body).map(drop),
        Some(Kind::IdempotentAnswer) => decode_answer(body).map(drop),
        Some(Kind::IncomingRequest) => decode_incoming_request(body).map(drop),
        Some(Kind::Expunge) => decode_expunge(body).map(drop),
        None => Err(RecordError::UnknownKind(kind)),
    }
}

/// An application (tenant).
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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

/// How a key signs (`signing`): the Standard Webhooks scheme it gives.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum KeyScheme {
    /// `v1`: HMAC-SHA256 with a shared `whsec_` key (24 to 64 bytes).
    #[default]
    Hmac,
    /// `v1a`: ed25519; the key is the 32-byte seed (`whsk_` on the API,
    /// `whpk_` for its public half).
    Ed25519,
}

/// One signing key of an endpoint; `expires_ms == 0` marks the current key.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKey {
    #[serde(with = "base64_bytes")]
    pub key: Vec<u8>,
    pub expires_ms: u64,
    /// New in version 3 (older keys are HMAC keys).
    #[serde(default)]
    pub scheme: KeyScheme,
}

/// One custom header sent with every delivery of an endpoint.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderPair {
    pub name: String,
    pub value: String,
}

/// A webhook subscription of an application.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
    /// A header that carries the message's event type to this endpoint
    /// (`eventTypeHeader`); none when absent. New in version 3.
    #[serde(default)]
    pub event_type_header: Option<String>,
    /// Delivered in acceptance order, one attempt at a time (`fifo`; fixed
    /// at creation). New in version 3.
    #[serde(default)]
    pub fifo: bool,
    /// PEM: the certificate authorities this endpoint trusts instead of
    /// the engine's (`caCert`); empty for the engine's. New in version 3.
    #[serde(default)]
    pub tls_ca: String,
    /// PEM: the client certificate chain and its private key presented to
    /// the receiver (`clientCert`, `clientKey`: mTLS); empty for none. New
    /// in version 3.
    #[serde(default)]
    pub tls_client_cert: String,
    #[serde(default)]
    pub tls_client_key: String,
    /// The egress proxy of this endpoint's deliveries (`proxyUrl`); empty
    /// for the engine's `proxy_url`. New in version 3.
    #[serde(default)]
    pub proxy_url: String,
}

impl EndpointRecord {
    /// An endpoint of `app_id` to `url` made at `now_ms`, with every other
    /// field at its default (all event types, POST, no keys, no extras).
    pub fn new(id: String, app_id: String, url: String, now_ms: u64) -> EndpointRecord {
        EndpointRecord {
            id,
            app_id,
            uid: None,
            url,
            description: String::new(),
            disabled: false,
            event_types: Vec::new(),
            channels: Vec::new(),
            headers: Vec::new(),
            method: "POST".into(),
            extra_json: String::new(),
            secrets: Vec::new(),
            rate_limit: None,
            metadata: "{}".into(),
            created_ms: now_ms,
            updated_ms: now_ms,
            event_type_header: None,
            fifo: false,
            tls_ca: String::new(),
            tls_client_cert: String::new(),
            tls_client_key: String::new(),
            proxy_url: String::new(),
        }
    }
}

/// A registered event type.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
    /// Why no usable response arrived: `ERROR_KIND_NONE`, a code of
    /// `ATTEMPT_ERROR_KINDS` (`error_kind_code`), or `ERROR_KIND_UNKNOWN`
    /// (read from a version-1 record). New in version 2.
    pub error_kind: u8,
}

mod incoming;
pub mod v1;
pub mod v2;

pub use incoming::{
    ArchivedIncomingRequestRecord, IncomingRequestRecord, RouteEventType, SourceRecord, SourceRoute,
};

/// What recovery's scan needs of an attempt record, read in place from a
/// body of either version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptHead<'a> {
    pub msg_id: &'a str,
    pub endpoint_id: &'a str,
    pub attempt_no: u32,
    pub at_ms: u64,
    pub outcome: u8,
    pub next_attempt_ms: u64,
}

macro_rules! attempt_head_of {
    ($a:expr) => {
        AttemptHead {
            msg_id: $a.msg_id.as_str(),
            endpoint_id: $a.endpoint_id.as_str(),
            attempt_no: $a.attempt_no.to_native(),
            at_ms: $a.at_ms.to_native(),
            outcome: $a.outcome,
            next_attempt_ms: $a.next_attempt_ms.to_native(),
        }
    };
}

/// Reads an attempt body's head in place (checked access), by its version.
pub fn attempt_head(version: u8, body: &[u8]) -> Result<AttemptHead<'_>, RecordError> {
    let invalid = |e: rkyv::rancor::Error| RecordError::Invalid {
        kind: Kind::Attempt as u8,
        why: Invalid::Layout(e),
    };
    check_version(version)?;
    Ok(match version {
        1 => {
            let a = rkyv::access::<v1::ArchivedAttemptRecord, rkyv::rancor::Error>(body)
                .map_err(invalid)?;
            attempt_head_of!(a)
        }
        _ => {
            let a = rkyv::access::<ArchivedAttemptRecord, rkyv::rancor::Error>(body)
                .map_err(invalid)?;
            attempt_head_of!(a)
        }
    })
}

/// Validates and deserializes an attempt body of either version.
pub fn decode_attempt(version: u8, body: &[u8]) -> Result<AttemptRecord, RecordError> {
    check_version(version)?;
    match version {
        1 => decode_attempt_v1(body).map(AttemptRecord::from),
        _ => decode_attempt_v2(body),
    }
}

/// A notification rule (`/api/v1/rule`): a signal of a scope compared with
/// a threshold over a window (`rules::Rule` is its checked form).
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleRecord {
    pub id: String,
    pub name: String,
    /// `all`, `app`, `endpoint`, `eventType` or `source`.
    pub scope: String,
    /// The scope's application (`app`, `endpoint`, and `eventType` when
    /// narrowed to one application); empty otherwise.
    pub app_id: String,
    /// The endpoint id, event type name or source id of the scope.
    pub target: String,
    /// `failure_rate`, `consecutive_failures`, `backlog`,
    /// `oldest_pending_seconds`, `e2e_p99_ms`, `attempts_per_minute`,
    /// `no_messages`.
    pub signal: String,
    /// `>`, `>=`, `<` or `<=`.
    pub comparison: String,
    pub threshold: f64,
    pub window_ms: u64,
    pub cooldown_ms: u64,
    pub disabled: bool,
    /// JSON object text.
    pub metadata: String,
    pub created_ms: u64,
    pub updated_ms: u64,
}

/// A rule's state after a change (journaled at each change, in the
/// catalog journal; compaction keeps the newest).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RuleStateRecord {
    pub rule_id: String,
    pub firing: bool,
    /// The observed value that made the change.
    pub value: f64,
    pub changed_ms: u64,
    /// Changes so far (names the change's operational event).
    pub changes: u64,
    /// When the rule last fired (its cooldown counts from there); 0: never.
    pub fired_ms: u64,
}

/// An operational event a catalog change makes (`endpoint.*`,
/// `source.*`), journaled in the same sync as the change: the message the
/// operational application gets, submitted after the change and again at
/// every start while it is recent (its `event_id` deduplicates).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NoticeRecord {
    pub event_id: String,
    pub event_type: String,
    /// The message's JSON payload.
    pub payload: Vec<u8>,
    pub at_ms: u64,
}

/// Where a named poller consumer is: the id of the last message it was
/// given (or a floor id, `ids::floor_at`, after a seek).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConsumerRecord {
    pub app_id: String,
    pub endpoint_id: String,
    pub consumer_id: String,
    pub iterator: String,
    pub at_ms: u64,
}

/// An expunge (`expunge`): the message's payload, or (with `attempt_id`)
/// one attempt's response body, is no longer shown or sent.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExpungeRecord {
    pub app_id: String,
    pub msg_id: String,
    /// Empty for the message's payload.
    pub attempt_id: String,
    pub at_ms: u64,
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
    rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(value, buf).map_err(RecordError::Encode)
}

macro_rules! decoder {
    ($name:ident, $ty:ty, $kind:expr) => {
        /// Validates (bytecheck) and deserializes a record body read from disk.
        pub fn $name(body: &[u8]) -> Result<$ty, RecordError> {
            rkyv::from_bytes::<$ty, rkyv::rancor::Error>(body).map_err(|e| RecordError::Invalid {
                kind: $kind as u8,
                why: Invalid::Layout(e),
            })
        }
    };
}

decoder!(decode_app, AppRecord, Kind::AppPut);
decoder!(decode_endpoint_v3, EndpointRecord, Kind::EndpointPut);
decoder!(decode_endpoint_v2, v2::EndpointRecord, Kind::EndpointPut);

/// Validates and deserializes an endpoint body of any version.
pub fn decode_endpoint(version: u8, body: &[u8]) -> Result<EndpointRecord, RecordError> {
    check_version(version)?;
    match version {
        1 | 2 => decode_endpoint_v2(body).map(EndpointRecord::from),
        _ => decode_endpoint_v3(body),
    }
}
decoder!(decode_event_type, EventTypeRecord, Kind::EventTypePut);
decoder!(decode_delete, DeleteRecord, Kind::AppDelete);
decoder!(decode_source, SourceRecord, Kind::SourcePut);
decoder!(
    decode_event_type_details,
    EventTypeDetailsRecord,
    Kind::EventTypeDetails
);
decoder!(decode_message, MessageRecord, Kind::Message);
decoder!(decode_rule, RuleRecord, Kind::RulePut);
decoder!(decode_rule_state, RuleStateRecord, Kind::RuleState);
decoder!(decode_notice, NoticeRecord, Kind::Notice);
decoder!(decode_expunge, ExpungeRecord, Kind::Expunge);
decoder!(decode_consumer, ConsumerRecord, Kind::ConsumerPosition);
decoder!(decode_attempt_v1, v1::AttemptRecord, Kind::Attempt);
decoder!(decode_attempt_v2, AttemptRecord, Kind::Attempt);
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
mod tests;
