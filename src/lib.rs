//! ringhook: a durable, thread-per-core webhook delivery engine.
//!
//! Crate map, in data-flow order:
//! - [`config`]: embedded defaults, TOML file, overrides.
//! - [`ingest`]: the Unix-socket ingest protocol (frames, server, Rust client).
//! - [`api`]: the HTTP API in the Svix `/api/v1` dialect.
//! - [`catalog`]: applications, endpoints, event types; immutable snapshots.
//! - [`journal`]: the append-only, checksummed, group-committed log.
//! - [`records`]: the rkyv record bodies stored in the journal.
//! - [`recovery`]: rebuilds all in-memory state from the journals at start.
//! - [`shard`]: the glommio executors: ingest, fan-out, delivery, retries.
//! - [`wheel`]: the per-shard hierarchical timer wheel of retries.
//! - [`http_wire`]: HTTP/1.1 request encoding and response parsing for delivery.
//! - [`metrics`]: per-shard counters and histograms, Prometheus text.
//! - [`signing`]: Standard Webhooks signatures.
//! - [`ids`], [`time`]: identifiers and clocks.

pub mod api;
pub mod catalog;
pub mod config;
pub mod http_wire;
pub mod ids;
pub mod ingest;
pub mod journal;
pub mod metrics;
pub mod records;
pub mod recovery;
pub mod shard;
pub mod signing;
pub mod split;
pub mod time;
pub mod wheel;
