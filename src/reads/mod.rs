//! The read path: what the API's listings read, and how.
//!
//! - [`index`]: the bounded in-memory indexes of messages, deliveries and
//!   attempts (metadata and journal positions, never payloads), one per shard;
//! - [`record`]: reading a record's body back from its shard journal at a
//!   position, with the journal's own checks.
//!
//! Nothing here knows of shards or glommio: the runtime keeps one [`index::Index`]
//! per shard and the API reaches it through the runtime's mesh.

pub mod index;
pub mod record;
