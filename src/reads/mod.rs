//! The read path: what the API's listings read, and how.
//!
//! - [`index`]: the bounded in-memory indexes of messages, deliveries and
//!   attempts (metadata and journal positions, never payloads), one per shard;
//! - [`record`]: reading a record's body back from its shard journal at a
//!   position, with the journal's own checks (blocking, for recovery);
//! - [`files`]: the same read through io_uring with recently used segment
//!   files kept open, for everything that runs on a shard (listings, cold
//!   retries), so no shard blocks on a disk read.
//!
//! Nothing here knows of shards: the runtime keeps one [`index::Index`] and
//! two [`files::Files`] per shard, and the API reaches them through the
//! runtime's mesh or its own shard.

pub mod files;
pub mod idlog;
pub mod index;
pub mod record;
