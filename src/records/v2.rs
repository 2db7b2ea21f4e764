//! Record bodies as versions 1 and 2 wrote them, where they differ from
//! version 3 (today's): kind 3 `EndpointPut` had no `event_type_header`,
//! `fifo`, `tls_*` or `proxy_url` fields, and its keys (`SecretKey`) no `scheme` (every key was an
//! HMAC key).
//! Frozen: these types must never change, since such bodies stay on disk.

use rkyv::{Archive, Deserialize, Serialize};

/// An endpoint's signing key before version 3.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SecretKey {
    pub key: Vec<u8>,
    pub expires_ms: u64,
}

/// Kind 3 before version 3.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EndpointRecord {
    pub id: String,
    pub app_id: String,
    pub uid: Option<String>,
    pub url: String,
    pub description: String,
    pub disabled: bool,
    pub event_types: Vec<String>,
    pub channels: Vec<String>,
    pub headers: Vec<super::HeaderPair>,
    pub method: String,
    pub extra_json: String,
    pub secrets: Vec<SecretKey>,
    pub rate_limit: Option<u32>,
    pub metadata: String,
    pub created_ms: u64,
    pub updated_ms: u64,
}

impl From<EndpointRecord> for super::EndpointRecord {
    fn from(e: EndpointRecord) -> super::EndpointRecord {
        let now = e.created_ms;
        super::EndpointRecord {
            uid: e.uid,
            description: e.description,
            disabled: e.disabled,
            event_types: e.event_types,
            channels: e.channels,
            headers: e.headers,
            method: e.method,
            extra_json: e.extra_json,
            secrets: e
                .secrets
                .into_iter()
                .map(|k| super::SecretKey {
                    key: k.key,
                    expires_ms: k.expires_ms,
                    scheme: super::KeyScheme::Hmac,
                })
                .collect(),
            rate_limit: e.rate_limit,
            metadata: e.metadata,
            updated_ms: e.updated_ms,
            // What version 3 added keeps its defaults.
            ..super::EndpointRecord::new(e.id, e.app_id, e.url, now)
        }
    }
}
