//! The shard runtime: one pinned glommio executor per core, the channel mesh
//! between them, each shard's timer loop, start and stop.
//!
//! A shard holds its rooms ([`state::Shard`]): the accept path
//! (`crate::accept`), the deliveries of the endpoints it owns
//! (`crate::delivery`), the read path's index (`crate::reads`) and its
//! journal's group commit (`crate::commit`). Shards talk only through
//! bounded glommio channel-mesh queues carrying [`ShardMsg`]; the catalog is
//! read through a lock-free `ArcSwap` snapshot. Which shard is whose home or
//! owner is `crate::placement`'s to say.
//!
//! - `runtime`: executors, pinning, the mesh, the timer loop, start and stop;
//! - `route`: a batch to its home shards, deliveries to their owners;
//! - `gather`: single API and receive requests' messages into batches;
//! - `query`: typed requests to the shard that holds the data;
//! - `manual`: resends and `recover`; `compaction`: deleting old segments;
//! - `tasks`: the background-task table.

pub mod compaction;
pub mod gather;
pub mod manual;
pub mod outbox;
pub mod query;
pub mod route;
pub mod runtime;
pub mod state;
pub mod tasks;

use crate::accept::{IngestResult, NewMessage};
use crate::delivery::{DisableRequest, Due};

pub use route::submit;
pub use runtime::{RuntimeError, Services};
pub use state::Shard;

/// What shards send each other.
pub enum ShardMsg {
    /// Accept messages of applications homed on the receiving shard.
    Ingest {
        events: Vec<NewMessage>,
        reply: futures_channel::oneshot::Sender<Vec<IngestResult>>,
    },
    /// Deliveries for endpoints owned by the receiving shard.
    Deliver(Vec<Due>),
    /// Disable an endpoint (sent to shard 0, which owns the catalog journal).
    Disable(DisableRequest),
    /// A read of the receiving shard's index, or a manual delivery there
    /// (see `query`); the answer goes back over the oneshot. The read path's
    /// indexes are reached only this way.
    Request {
        request: query::Request,
        reply: futures_channel::oneshot::Sender<query::Answer>,
    },
}
