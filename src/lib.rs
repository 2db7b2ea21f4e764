//! ringhook: a durable, thread-per-core webhook delivery engine.
//!
//! Crate map, in data-flow order (each room names what it owns):
//! - [`engine`]: what `ringhook serve` starts, in order.
//! - [`config`]: embedded defaults, TOML file, overrides.
//! - [`ingest`]: the Unix-socket ingest protocol (frames, server, Rust client).
//! - [`api`]: the HTTP API in the Svix `/api/v1` dialect.
//! - [`shard`]: the runtime: executors, the channel mesh, timer loops, routing.
//! - [`accept`]: journaling producers' messages on their home shard.
//! - [`delivery`]: pending deliveries, workers, attempts, retry decisions.
//! - [`reads`]: the read path's indexes and record reads.
//! - [`recovery`]: rebuilds all in-memory state from the journals at start.
//! - [`commit`]: a shard journal's group commit.
//! - [`journal`]: the append-only, checksummed, group-committed log.
//! - [`records`]: the rkyv record bodies stored in the journal.
//! - [`catalog`]: applications, endpoints, event types; immutable snapshots.
//! - [`message`], [`placement`], [`shared`], [`datadir`]: the nouns every
//!   room uses: a message, which shard owns what, engine-wide state, the
//!   data directory's layout.
//! - [`wheel`]: the per-shard hierarchical timer wheel of retries.
//! - [`http_wire`]: HTTP/1.1 request encoding and response parsing for delivery.
//! - [`metrics`]: per-shard counters and histograms, Prometheus text.
//! - [`signing`]: Standard Webhooks signatures.
//! - [`sim`]: the deterministic simulator behind `ringhook-sim`.
//! - [`failpoint`]: deliberate failures switched on from the environment.
//! - [`fuzz`]: the bodies of the fuzz targets (every parser of outside bytes).
//! - [`ids`], [`time`], [`split`], [`notify`]: identifiers, clocks, a split
//!   hash map, a single-waiter wake-up.

pub mod accept;
pub mod api;
pub mod catalog;
pub mod commit;
pub mod config;
pub mod console;
pub mod datadir;
pub mod delivery;
pub mod engine;
pub mod expunge;
pub mod failpoint;
pub mod fuzz;
pub mod gathering;
pub mod history;
pub mod http_wire;
pub mod ids;
pub mod incoming;
pub mod ingest;
pub mod journal;
pub mod limits;
pub mod logging;
pub mod message;
pub mod metrics;
pub mod notify;
pub mod operational;
pub mod placement;
pub mod reads;
pub mod records;
pub mod recovery;
pub mod rules;
pub mod shard;
pub mod shared;
pub mod signing;
pub mod sim;
pub mod split;
pub mod ticker;
pub mod time;
pub mod wheel;
