//! Records of the receiving side (issue 11): incoming sources (catalog
//! journal) and the request log's entries (shard 0's journal). Bodies are
//! versioned with the rest (`RECORD_VERSION`); decoded by `decode_source`
//! and `decode_incoming_request` in `records`.

use super::HeaderPair;
use rkyv::{Archive, Deserialize, Serialize};

/// An incoming source: a public receive URL (`/ingest/{token}`) whose
/// requests are verified by `kind`'s scheme and forwarded to the endpoints
/// of the source's own application (id = the source's id) and to `routes`.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceRoute {
    /// The application's id.
    pub app_id: String,
    /// The event type, fixed (`eventType`), from a request header
    /// (`eventTypeFromHeader`) or from the JSON body (`eventTypeFromPointer`).
    pub event_type: RouteEventType,
}

/// How a route names the event type of the messages it makes.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum RouteEventType {
    Fixed(String),
    Header(String),
    Pointer(String),
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
