//! Shards: one pinned glommio executor per core, each owning a subset of endpoints.
//!
//! This is the only module that touches glommio's executor. A shard owns its
//! journal (via [`commit::Commit`]), the deliveries of the endpoints it owns,
//! their ready queues and keep-alive pools, and a timer wheel of retries.
//! Shards talk only through bounded glommio channel-mesh queues carrying
//! [`ShardMsg`]; the catalog is read through a lock-free `ArcSwap` snapshot.
//!
//! Ownership: an application's *home* shard (where its messages are journaled
//! and its `eventId`s deduplicated) is `hash(app_id) % N`; an endpoint's *owner*
//! shard (which delivers to it) is `hash(endpoint_id) % N`, with a stable
//! FNV-1a hash so that restarts with the same N agree.

pub mod budget;
pub mod cold;
pub mod commit;
pub mod compaction;
pub mod conn;
pub mod delivery;
pub mod engine;
pub mod event_ids;
pub mod exchange;
pub mod guard;
pub mod index;
pub mod ingest;
pub mod manual;
pub mod notify;
pub mod query;
pub mod resolver;
pub mod state;
pub mod tasks;
pub mod throttle;

use crate::catalog::Catalog;
use crate::config::Config;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub use engine::{run, EngineError};

/// Stable 64-bit FNV-1a, used for shard placement.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The shard that owns `id` among `shards`.
pub fn shard_of(id: &str, shards: usize) -> usize {
    (stable_hash(id) % shards.max(1) as u64) as usize
}

/// Most strings one thread's interner holds before it starts afresh.
const INTERNED_MAX: usize = 65_536;

/// Strings `intern` answers from without hashing: a message interns its
/// application id and event type, and consecutive messages mostly repeat both.
const RECENT: usize = 2;

thread_local! {
    static INTERNED: std::cell::RefCell<std::collections::HashMap<Box<str>, Arc<str>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
    static RECENT_INTERNED: std::cell::RefCell<([Option<Arc<str>>; RECENT], usize)> =
        const { std::cell::RefCell::new(([const { None }; RECENT], 0)) };
}

/// One shared copy of a string that many messages repeat (application ids,
/// event types), per thread, so no lock is shared: a message's metadata then
/// allocates and frees only its own id. Bounded: past `INTERNED_MAX`
/// distinct strings the table starts over (earlier copies stay valid).
pub fn intern(s: &str) -> Arc<str> {
    RECENT_INTERNED.with(|r| {
        let mut r = r.borrow_mut();
        if let Some(a) = r.0.iter().flatten().find(|a| &***a == s) {
            return a.clone();
        }
        let a = intern_in_table(s);
        let next = r.1;
        r.0[next] = Some(a.clone());
        r.1 = (next + 1) % RECENT;
        a
    })
}

fn intern_in_table(s: &str) -> Arc<str> {
    INTERNED.with(|t| {
        let mut t = t.borrow_mut();
        if let Some(a) = t.get(s) {
            return a.clone();
        }
        if t.len() >= INTERNED_MAX {
            t.clear();
        }
        let a: Arc<str> = Arc::from(s);
        t.insert(s.into(), a.clone());
        a
    })
}

/// A message accepted into the engine, shared by all its deliveries: its
/// metadata (the very `Arc` the read-path indexes hold, so the id, type and
/// channels exist once per message) and its payload.
#[derive(Debug)]
pub struct Message {
    pub meta: Arc<index::MsgMeta>,
    pub payload: Box<[u8]>,
}

impl std::ops::Deref for Message {
    type Target = index::MsgMeta;
    fn deref(&self) -> &index::MsgMeta {
        &self.meta
    }
}

impl Message {
    /// The message of a journal record at `loc`, and the record's destinations.
    pub fn from_record(
        m: crate::records::MessageRecord,
        loc: index::Loc,
    ) -> (Message, Vec<String>) {
        let meta = index::MsgMeta {
            id: index::IdKey::bound(&m.id),
            app_id: intern(&m.app_id),
            event_type: intern(&m.event_type),
            event_id: m.event_id,
            channels: m.channels,
            created_ms: m.created_ms,
            loc,
        };
        let msg = Message {
            meta: Arc::new(meta),
            payload: m.payload.into_boxed_slice(),
        };
        (msg, m.destinations)
    }

    /// The index entry of this message.
    pub fn meta(&self) -> Arc<index::MsgMeta> {
        self.meta.clone()
    }
}

/// The message a pending delivery is for.
///
/// Fresh deliveries share the accepted message in memory. A delivery that
/// waits for a retry (or was recovered at start) keeps only where the
/// message's record is and when it was created; its attempt reads the record
/// back from the journal. Millions of waiting retries then cost a few dozen
/// bytes each instead of their payloads and metadata.
#[derive(Debug, Clone)]
pub enum MsgRef {
    Hot(Arc<Message>),
    Cold(ColdRef),
}

/// A message's record position and creation time in 16 bytes: every waiting
/// retry holds one (segments are at most 4 GiB, see `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColdRef {
    journal: u32,
    segment_seq: u32,
    offset: u32,
    /// Creation time in whole seconds, rounded down (only compaction's
    /// "oldest pending" bound reads it, and older is the safe side).
    created_s: u32,
}

impl ColdRef {
    /// Segment numbers stay below 2^32 (the journal refuses to roll past)
    /// and offsets below 4 GiB (`segment_bytes` is checked by `config`).
    pub fn new(loc: index::Loc, created_ms: u64) -> ColdRef {
        ColdRef {
            journal: loc.journal,
            segment_seq: u32::try_from(loc.pos.segment_seq).unwrap_or(u32::MAX),
            offset: u32::try_from(loc.pos.offset).unwrap_or(u32::MAX),
            created_s: u32::try_from(created_ms / 1000).unwrap_or(u32::MAX),
        }
    }

    pub fn loc(&self) -> index::Loc {
        index::Loc {
            journal: self.journal,
            pos: crate::journal::Position {
                segment_seq: u64::from(self.segment_seq),
                offset: u64::from(self.offset),
            },
        }
    }
}

impl MsgRef {
    pub fn created_ms(&self) -> u64 {
        match self {
            MsgRef::Hot(m) => m.created_ms,
            MsgRef::Cold(c) => u64::from(c.created_s) * 1000,
        }
    }

    /// The cold form of this reference.
    pub fn cold(&self) -> MsgRef {
        match self {
            MsgRef::Hot(m) => MsgRef::Cold(ColdRef::new(m.loc, m.created_ms)),
            cold => cold.clone(),
        }
    }
}

/// One (message, endpoint) delivery handed to its owner shard.
#[derive(Debug)]
pub struct Pending {
    pub msg: MsgRef,
    /// Shared by every pending delivery to the endpoint (interned).
    pub endpoint_id: Arc<str>,
    /// The number of the next attempt (0 for the first).
    pub attempt_no: u32,
    /// When it is due (0: now).
    pub due_ms: u64,
}

/// A pending delivery as the owner shard holds it until it ends (48 bytes;
/// when it is due is known to the timer wheel or the ready queue).
#[derive(Debug)]
pub struct Slot {
    pub msg: MsgRef,
    pub endpoint_id: Arc<str>,
    pub attempt_no: u32,
}

/// A message a producer wants accepted; `app_id` is already resolved.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub app_id: String,
    pub event_type: String,
    pub event_id: Option<String>,
    pub channels: Vec<String>,
    pub payload: Vec<u8>,
}

/// Why one message of a batch was not accepted.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum IngestError {
    #[error("unknown application")]
    UnknownApp,
    #[error("duplicate eventId; first accepted as {0}")]
    Duplicate(String),
    #[error("invalid message: {0}")]
    Invalid(String),
    #[error("engine is shutting down or overloaded")]
    Unavailable,
    #[error("journal append failed: {0}")]
    Journal(String),
}

/// The result for one message of a batch.
pub type IngestResult = Result<Arc<Message>, IngestError>;

/// A closure run on another shard by `ShardMsg::Query`.
pub type QueryFn = Box<dyn FnOnce(&std::rc::Rc<state::Shard>) + Send>;

/// What shards send each other.
pub enum ShardMsg {
    /// Accept messages of applications homed on the receiving shard.
    Ingest {
        events: Vec<NewMessage>,
        reply: futures_channel::oneshot::Sender<Vec<IngestResult>>,
    },
    /// Deliveries for endpoints owned by the receiving shard.
    Deliver(Vec<Pending>),
    /// A read (or a manual delivery) run on the receiving shard's state; the
    /// closure answers through its own oneshot and never blocks (see
    /// `query::on`). The read path's indexes are reached only this way.
    Query(QueryFn),
}

/// Engine-wide state shared by every shard (read-mostly, lock-free).
pub struct Shared {
    pub config: Config,
    pub retry_schedule_ms: Vec<u64>,
    pub catalog: ArcSwap<Catalog>,
    pub tokens: Vec<String>,
    pub stopping: AtomicBool,
    /// Each shard's latest published metrics snapshot.
    pub metrics: crate::metrics::Published,
    /// Pending deliveries per shard, published for ingest's back-pressure check.
    pub pending: Vec<AtomicU64>,
    /// Oldest pending message time per shard (`u64::MAX` if none), published
    /// each compaction tick.
    pub oldest_pending_ms: Vec<AtomicU64>,
}

impl Shared {
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// True while some shard holds `max_pending_per_shard` deliveries.
    pub fn is_overloaded(&self) -> bool {
        let max = self.config.max_pending_per_shard as u64;
        self.pending
            .iter()
            .any(|p| p.load(Ordering::Relaxed) >= max)
    }
}
