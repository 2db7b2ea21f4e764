//! Delivery: everything between a pending delivery and its attempt's record.
//!
//! [`Deliveries`] is the one owner of a shard's deliveries: the slab of
//! pending deliveries, the timer wheel of waiting retries, the endpoints'
//! ready queues and idle pools, the connection budget, the failure streaks
//! behind auto-disable, and the segment files kept open for cold reads. The
//! runtime hands it deliveries ([`Deliveries::accept`]), fires due retries
//! ([`Deliveries::fire_due`]) and sweeps it once a second; everything else
//! happens in its worker tasks (`worker`).
//!
//! The rooms inside: `worker` (the worker task: prepare, sign, send, settle),
//! `request` (one delivery's signed HTTP request),
//! `decision` (the pure decisions: run length, retry, speed), `exchange`
//! (a run's requests and responses on one connection), `conn` (TCP/TLS),
//! `guard` (URL parsing and the SSRF guard), `resolver` (DNS off the shard
//! thread), `throttle` (token buckets), `budget` (the connection budget),
//! `cold` (reading a waiting retry's message back through io_uring),
//! `fifo` (the line of a FIFO endpoint's deliveries), `tls` (whom
//! deliveries trust, which certificate they present), `proxy` (the egress
//! proxy's CONNECT tunnel), `upkeep` (the timer loop's sweep, compaction's
//! bound, the cold-read files).
//!
//! This room knows nothing of shards' channels or of the API: it asks the
//! runtime for what only another shard can do (disabling an endpoint, on
//! shard 0) through [`Deliveries::take_disable_requests`].

pub mod budget;
pub mod cold;
pub mod conn;
pub mod deadlines;
pub mod decision;
pub mod exchange;
pub mod failure_log;
pub mod fifo;
pub mod guard;
pub mod proxy;
mod request;
pub mod resolver;
mod settling;
mod snapshot;
pub mod steps;
pub mod throttle;
pub mod tls;
mod upkeep;
mod worker;

use crate::commit::Commit;
use crate::limits::{DISABLE_REQUESTS_MAX, HOT_MESSAGE_OVERHEAD_BYTES};
use crate::message::{Loc, Message};
use crate::metrics::ShardStats;
use crate::notify::Notify;
use crate::reads::index::Index;
use crate::shared::Shared;
use crate::wheel::TimerWheel;
use conn::Conn;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub use request::RESERVED_HEADERS;

/// The message a pending delivery is for.
///
/// Fresh deliveries share the accepted message in memory, while the shard's
/// budget for messages in ready queues has room (invariant 6 of
/// `Deliveries`). A delivery that waits for a retry, was recovered at start,
/// or joined a ready queue past that budget keeps only where the message's
/// record is and when it was created; its attempt reads the record back
/// from the journal. Millions of waiting deliveries then cost a few dozen
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
    pub fn new(loc: Loc, created_ms: u64) -> ColdRef {
        ColdRef {
            journal: loc.journal,
            segment_seq: u32::try_from(loc.pos.segment_seq).unwrap_or(u32::MAX),
            offset: u32::try_from(loc.pos.offset).unwrap_or(u32::MAX),
            created_s: u32::try_from(created_ms / 1000).unwrap_or(u32::MAX),
        }
    }

    pub fn loc(&self) -> Loc {
        Loc {
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

    /// What keeping this message costs in memory, for the hot budget
    /// (`max_hot_ready_bytes_per_shard`); 0 for a cold one. Counted per
    /// delivery: a message several deliveries share counts once for each,
    /// so the budget's count is an upper estimate of the memory.
    pub fn hot_bytes(&self) -> u64 {
        match self {
            MsgRef::Hot(m) => m.payload.len() as u64 + HOT_MESSAGE_OVERHEAD_BYTES,
            MsgRef::Cold(_) => 0,
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

/// A delivery: one message to one endpoint, from fan-out until it ends
/// (succeeded, failed or cancelled). Its states are in its type: a
/// `Delivery<MsgRef>` waits (in its owner's slab, while the timer wheel or a
/// ready queue holds its handle, or in a hand-off between shards), a
/// `Delivery<Arc<Message>>` is loaded for an attempt. The read path keeps
/// its own view of it (`reads::index::DeliveryEntry`: status, attempts).
#[derive(Debug)]
pub struct Delivery<M = MsgRef> {
    pub msg: M,
    /// Shared by every pending delivery to the endpoint (interned).
    pub endpoint_id: Arc<str>,
    /// The number of the next attempt (0 for the first).
    pub attempt_no: u32,
}

/// A waiting delivery costs 48 bytes in the slab (plus its wheel node).
const _: () = assert!(std::mem::size_of::<Delivery>() == 48);

/// A delivery handed to its owner shard (by fan-out, recovery or a resend)
/// with when it is due.
#[derive(Debug)]
pub struct Due {
    pub delivery: Delivery,
    /// When it is due (0: now).
    pub due_ms: u64,
}

impl Delivery {
    /// A new delivery of `msg` to `endpoint_id`, before its first attempt.
    pub fn new(msg: MsgRef, endpoint_id: Arc<str>) -> Delivery {
        Delivery {
            msg,
            endpoint_id,
            attempt_no: 0,
        }
    }

    /// Handed over due at `due_ms` (0: now).
    pub fn due(self, due_ms: u64) -> Due {
        Due {
            delivery: self,
            due_ms,
        }
    }
}

/// The shard's endpoint queues by endpoint id (a randomly seeded
/// `foldhash`: several lookups per delivery, where SipHash was 2 % of a
/// pipelined run; endpoint ids come from authenticated API users, and the
/// catalog's size is bounded).
pub type Queues = foldhash::HashMap<Arc<str>, EndpointQueue>;

/// One endpoint's queue and pool on its owner shard.
#[derive(Default)]
pub struct EndpointQueue {
    pub ready: VecDeque<usize>,
    /// A FIFO endpoint's line (`fifo`): only its head is ever in `ready`,
    /// the wheel or an attempt; the rest wait here.
    pub fifo: Option<Box<fifo::Line>>,
    pub in_flight: usize,
    /// Idle keep-alive connections with the time they went idle.
    pub idle: Vec<(conn::Conn, u64)>,
    /// Paces attempts when the endpoint has a throttle rate.
    pub bucket: throttle::TokenBucket,
    /// Set when a pipelined run to the endpoint got its first answer but lost a
    /// later request (timeout, broken connection): from then on the endpoint
    /// gets one request at a time (until the engine restarts).
    pub no_pipelining: bool,
    /// Recent time per answered request in µs (moving average over runs;
    /// 0 until the first run): a fast receiver gets full runs.
    pub per_request_us: u32,
    /// In line for room in the shard's connection budget (`budget`).
    pub waiting: bool,
    /// The endpoint version's parsed URL, TLS configuration, proxy and
    /// readied signing keys, kept across workers (`worker::prepared`).
    prepared: Option<Rc<worker::Prepared>>,
}

/// Why the owner shard wants an endpoint disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisableReason {
    /// The receiver answered 410 Gone.
    Gone,
    /// Every attempt failed for this long (`auto_disable_after_ms`).
    FailingFor { ms: u64 },
}

impl std::fmt::Display for DisableReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisableReason::Gone => f.write_str("it answered 410 Gone"),
            DisableReason::FailingFor { ms } => write!(f, "every attempt failed for {ms} ms"),
        }
    }
}

/// A request to disable an endpoint, for the runtime to carry to shard 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisableRequest {
    pub endpoint_id: String,
    pub reason: DisableReason,
    /// When the endpoint's failure streak began.
    pub fail_since_ms: u64,
}

/// How long an idle keep-alive connection is kept.
pub const IDLE_CONNECTION_MS: u64 = 15_000;

/// Handles borrowed from the rest of the shard that delivery writes to.
pub struct Ports {
    /// This shard's number (its journal's, for attempt records' `Loc`s).
    pub shard: usize,
    pub shared: Arc<Shared>,
    /// The shard journal's group commit: attempt records go there.
    pub commit: Rc<Commit>,
    /// The read path's index: attempts and delivery states go there.
    pub index: Rc<RefCell<Index>>,
    pub stats: Rc<RefCell<ShardStats>>,
    /// Hands an operational notice to the runtime, which makes it a durable
    /// message; answers whether it was accepted. An attempt's notice is
    /// handed over (and waited for) before the attempt's record is written,
    /// so a crash between the two repeats the attempt, and with it the
    /// notice (under the repeated attempt's new id: an attempt in flight at
    /// a crash may be reported twice). A notice refused five times
    /// (`worker::NOTICE_RETRY_MS`), or while the shard stops, is lost with
    /// an error log and the attempt recorded without it.
    pub notices: NoticeSink,
}

/// See [`Ports::notices`].
pub type NoticeSink = Rc<
    dyn Fn(
        crate::operational::Notice,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool>>>,
>;

/// Who runs a shard's delivery workers.
pub enum Workers {
    /// Tasks on the shard's glommio executor (`worker::run`): the engine.
    Tasks,
    /// Starts kept in a line for the simulator to play with the worker's
    /// own steps (`steps`), its receivers simulated.
    Played(RefCell<VecDeque<Arc<str>>>),
}

/// The deliveries of the endpoints one shard owns.
///
/// # Invariants
/// 1. every live slab handle is in exactly one of: the timer wheel, one
///    ready queue, a worker's attempt (`in_attempt` counts those), or held
///    in a FIFO endpoint's line behind its head, so
///    `slots.len() == wheel.len() + Σ ready + in_attempt + Σ held`;
/// 2. the connection budget's `used == Σ in_flight (live workers) + Σ idle
///    (pooled connections)`, and `used <= limit` (see `budget`);
/// 3. `in_flight` of a queue never exceeds `max_in_flight_per_endpoint`;
/// 4. an attempt's record is appended before its delivery is freed or re-armed;
///
/// 5. a FIFO endpoint has at most one delivery in its ready queue, the
///    wheel or an attempt: its line's head.
/// 6. `hot_ready_bytes` is the `hot_bytes` of the messages held by the
///    deliveries in ready queues, and at most the configured
///    `max_hot_ready_bytes_per_shard`: a delivery joining a queue past it
///    lets go of its message.
///
/// 1-3, 5 and 6 are checked after every change in debug builds
/// ([`Deliveries::check`]).
pub struct Deliveries {
    ports: Ports,
    slots: RefCell<slab::Slab<Delivery>>,
    wheel: RefCell<TimerWheel>,
    queues: RefCell<Queues>,
    /// Outbound connections held by workers and idle pools, within a bound.
    conns: RefCell<budget::Budget>,
    /// Handles taken off a ready queue by a worker and not yet settled.
    in_attempt: Cell<usize>,
    /// Memory held by the messages of deliveries in ready queues
    /// (invariant 6).
    hot_ready_bytes: Cell<u64>,
    /// Segment files kept open for cold reads (`cold`).
    cold_files: crate::reads::files::Files,
    /// Endpoint id → start of its current failure streak (auto-disable);
    /// entries go on success, on disable, or when the endpoint is deleted.
    failing_since: RefCell<HashMap<String, u64>>,
    disable_requests: RefCell<Vec<DisableRequest>>,
    /// Which failed attempts are logged (one per endpoint per 10 s).
    failure_log: RefCell<failure_log::FailureLog>,
    /// Deliveries and attempt errors per application (`metrics::AppCounts`),
    /// and when they were last published.
    app_counts: RefCell<crate::metrics::AppCountsMap>,
    app_counts_published_ms: Cell<u64>,
    /// Wakes the runtime's timer loop: a retry was armed, or a request waits.
    kick: Notify,
    /// Buffers of ended workers, for the next to start (at most
    /// `WIRES_SPARE_MAX`).
    spare_wires: exchange::Spares,
    /// The time limits of requests in flight (fired by the timer loop).
    deadlines: deadlines::Deadlines,
    /// Answered runs of this shard's workers waiting to be settled together.
    settling: settling::Settling,
    workers: Workers,
}

impl Deliveries {
    /// An owner with nothing pending and a connection budget of `connections`.
    pub fn new(ports: Ports, connections: usize, workers: Workers) -> Rc<Deliveries> {
        Rc::new(Deliveries {
            ports,
            slots: RefCell::new(slab::Slab::new()),
            wheel: RefCell::new(TimerWheel::new(crate::time::now_ms())),
            queues: RefCell::new(Queues::default()),
            conns: RefCell::new(budget::Budget::new(connections)),
            in_attempt: Cell::new(0),
            hot_ready_bytes: Cell::new(0),
            cold_files: Default::default(),
            failing_since: RefCell::new(HashMap::new()),
            failure_log: RefCell::new(failure_log::FailureLog::default()),
            app_counts: RefCell::new(Default::default()),
            app_counts_published_ms: Cell::new(0),
            disable_requests: RefCell::new(Vec::new()),
            kick: Notify::default(),
            spare_wires: exchange::Spares::default(),
            deadlines: deadlines::Deadlines::default(),
            settling: settling::Settling::default(),
            workers,
        })
    }

    /// Takes deliveries for endpoints this shard owns: due ones go to their
    /// endpoint's ready queue, the others into the timer wheel.
    /// Seeds the failure streaks recovery derived from the attempt records
    /// (`recovery::streaks`), so auto-disable keeps its clock across restarts.
    pub fn resume_streaks(&self, streaks: HashMap<String, u64>) {
        self.failing_since.borrow_mut().extend(streaks);
    }

    pub fn accept(self: &Rc<Self>, batch: Vec<Due>) {
        let now = crate::time::now_ms();
        let mut armed = false;
        let mut last: Option<(Arc<Message>, Arc<crate::message::MsgMeta>)> = None;
        for Due {
            delivery: p,
            due_ms,
        } in batch
        {
            // Fresh deliveries enter the index here (recovered, cold ones were
            // indexed by recovery). Consecutive deliveries of one message share
            // its index entry.
            if let MsgRef::Hot(m) = &p.msg {
                let meta = match &last {
                    Some((lm, meta)) if Arc::ptr_eq(lm, m) => meta.clone(),
                    _ => {
                        let meta = m.meta();
                        last = Some((m.clone(), meta.clone()));
                        meta
                    }
                };
                self.ports
                    .index
                    .borrow_mut()
                    .delivery_pending(&p.endpoint_id, &meta, due_ms);
            }
            let due = due_ms;
            let handle = self.slots.borrow_mut().insert(p);
            self.ports.shared.pending[self.ports.shard].fetch_add(1, Ordering::Relaxed);
            if due <= now {
                self.enqueue(handle);
            } else if self.admit(handle) != fifo::Admit::Held {
                self.wheel.borrow_mut().insert(due, handle as u32);
                armed = true;
            }
        }
        if armed {
            self.kick.notify();
        }
        self.check();
    }

    /// Moves due retries to their ready queues.
    pub fn fire_due(self: &Rc<Self>, now_ms: u64, expired: &mut Vec<u32>) {
        self.wheel.borrow_mut().advance(now_ms, expired);
        for handle in expired.drain(..) {
            self.enqueue(handle as usize);
        }
        self.check();
    }

    /// When the next waiting retry is due, if any waits.
    pub fn next_wake_ms(&self) -> Option<u64> {
        self.wheel.borrow().next_wake_ms()
    }

    /// The requests' time limits, which the timer loop fires.
    pub fn deadlines(&self) -> &deadlines::Deadlines {
        &self.deadlines
    }

    /// Resolves when a retry was armed or a disable request waits.
    pub async fn kicked(&self) {
        self.kick.wait().await
    }

    /// Disable requests made since the last call, for shard 0.
    pub fn take_disable_requests(&self) -> Vec<DisableRequest> {
        std::mem::take(&mut *self.disable_requests.borrow_mut())
    }

    /// The endpoint of the live delivery at `handle`.
    fn endpoint_of(&self, handle: usize) -> Option<Arc<str>> {
        self.slots
            .borrow()
            .get(handle)
            .map(|p| p.endpoint_id.clone())
    }

    /// Whether the endpoint is FIFO (a catalog lookup: only when its queue
    /// is made, or for a delivery that waits without a queue).
    fn is_fifo(&self, endpoint_id: &str) -> bool {
        self.ports
            .shared
            .catalog
            .load()
            .endpoint_by_id(endpoint_id)
            .is_some_and(|e| e.fifo)
    }

    /// A new queue for `endpoint_id`, with a line if it is FIFO.
    fn new_queue(&self, endpoint_id: &str) -> EndpointQueue {
        EndpointQueue {
            fifo: self.is_fifo(endpoint_id).then(Box::default),
            ..EndpointQueue::default()
        }
    }

    /// Hands a delivery that will wait in the wheel to its endpoint's line,
    /// if the endpoint is FIFO (`Head` otherwise: it waits as any other).
    fn admit(&self, handle: usize) -> fifo::Admit {
        let Some(endpoint_id) = self.endpoint_of(handle) else {
            return fifo::Admit::Head;
        };
        let mut queues = self.queues.borrow_mut();
        if !queues.contains_key(&endpoint_id) {
            if !self.is_fifo(&endpoint_id) {
                return fifo::Admit::Head;
            }
            queues.insert(endpoint_id.clone(), self.new_queue(&endpoint_id));
        }
        match queues.get_mut(&endpoint_id) {
            Some(q) => self.admit_to(q, handle),
            None => fifo::Admit::Head,
        }
    }

    /// `q`'s line takes the delivery (`Head` if `q` has none). A held
    /// delivery lets go of its message until its turn (see `MsgRef`).
    fn admit_to(&self, q: &mut EndpointQueue, handle: usize) -> fifo::Admit {
        let Some(line) = q.fifo.as_mut() else {
            return fifo::Admit::Head;
        };
        let mut slots = self.slots.borrow_mut();
        let Some(p) = slots.get_mut(handle) else {
            return fifo::Admit::Head;
        };
        let admit = line.admit(handle, fifo::Key::of(&p.msg));
        if admit == fifo::Admit::Held {
            p.msg = p.msg.cold();
        }
        admit
    }

    /// Puts a delivery on its endpoint's ready queue, starting a worker if
    /// allowed (a FIFO endpoint's delivery behind its head is held instead).
    fn enqueue(self: &Rc<Self>, handle: usize) {
        let Some(endpoint_id) = self.endpoint_of(handle) else {
            return;
        };
        let config = &self.ports.shared.config;
        let mut queues = self.queues.borrow_mut();
        let q = match queues.get_mut(&endpoint_id) {
            Some(q) => q,
            None => queues
                .entry(endpoint_id.clone())
                .or_insert_with(|| self.new_queue(&endpoint_id)),
        };
        if q.fifo.is_some() && self.admit_to(q, handle) == fifo::Admit::Held {
            return;
        }
        self.join_ready(handle);
        q.ready.push_back(handle);
        let wanted = decision::workers_wanted(q, config.pipeline_depth);
        if q.in_flight >= config.max_in_flight_per_endpoint || q.in_flight >= wanted {
            return;
        }
        let start = self.conns.borrow_mut().start(&mut queues, &endpoint_id);
        drop(queues);
        if let budget::Start::Go(conn) = start {
            self.start_worker(endpoint_id, conn, false);
        }
    }

    /// Starts a worker for `endpoint_id`, which the budget has counted: a
    /// task on the shard's executor (`yield_first` when started by a worker
    /// that ends, see `worker::run`), or a start in the simulator's line.
    pub fn start_worker(
        self: &Rc<Self>,
        endpoint_id: Arc<str>,
        conn: Option<Conn>,
        yield_first: bool,
    ) {
        match &self.workers {
            Workers::Tasks if yield_first => {
                let d = self.clone();
                glommio::spawn_local(async move {
                    futures_lite::future::yield_now().await;
                    worker::run(d, endpoint_id, conn).await;
                })
                .detach();
            }
            Workers::Tasks => {
                glommio::spawn_local(worker::run(self.clone(), endpoint_id, conn)).detach();
            }
            Workers::Played(line) => {
                debug_assert!(conn.is_none(), "the simulator pools no connections");
                line.borrow_mut().push_back(endpoint_id);
            }
        }
    }

    /// The next worker the simulator is to play (`Workers::Played`): it
    /// runs the worker's steps (`steps`) and ends with `steps::end_worker`.
    pub fn next_played(&self) -> Option<Arc<str>> {
        match &self.workers {
            Workers::Played(line) => line.borrow_mut().pop_front(),
            Workers::Tasks => None,
        }
    }

    /// Reads a message back from the journal through io_uring (cold
    /// retries, manual resends).
    pub async fn read_message(
        &self,
        loc: Loc,
    ) -> Result<crate::records::MessageRecord, cold::ColdReadError> {
        cold::read_message(&self.cold_files, &self.ports.shared.config, loc).await
    }

    /// Frees a settled delivery's slot. The end of a FIFO endpoint's head
    /// puts the next in line on the ready queue, where the worker settling
    /// this one (every `free` is a worker's) takes it on its next turn.
    fn free(&self, handle: usize) {
        let Some(p) = self.slots.borrow_mut().try_remove(handle) else {
            return;
        };
        self.ports.shared.pending[self.ports.shard].fetch_sub(1, Ordering::Relaxed);
        let mut queues = self.queues.borrow_mut();
        let Some(q) = queues.get_mut(&p.endpoint_id) else {
            return;
        };
        if let Some(next) = q.fifo.as_mut().and_then(|line| line.ended(handle)) {
            debug_assert!(q.in_flight > 0, "fifo: a worker takes the next in line");
            self.join_ready(next);
            q.ready.push_back(next);
        }
    }

    /// A delivery about to join a ready queue keeps its message in memory
    /// while the shard's hot budget has room, and is counted in it; else it
    /// lets go of the message (invariant 6).
    fn join_ready(&self, handle: usize) {
        let mut slots = self.slots.borrow_mut();
        let Some(p) = slots.get_mut(handle) else {
            return;
        };
        let bytes = p.msg.hot_bytes();
        let used = self.hot_ready_bytes.get();
        if used + bytes <= self.ports.shared.config.max_hot_ready_bytes_per_shard {
            self.hot_ready_bytes.set(used + bytes);
        } else {
            p.msg = p.msg.cold();
        }
    }

    /// Deliveries a worker took off a ready queue leave the hot budget.
    fn left_ready(&self, handles: &[usize]) {
        let slots = self.slots.borrow();
        let bytes: u64 = handles
            .iter()
            .filter_map(|h| slots.get(*h))
            .map(|p| p.msg.hot_bytes())
            .sum();
        let used = self.hot_ready_bytes.get();
        assert!(
            bytes <= used,
            "invariant 6: the hot budget counts what leaves it"
        );
        self.hot_ready_bytes.set(used - bytes);
    }

    /// Arms a delivery's next attempt in the wheel (a FIFO endpoint's head
    /// that does so blocks its line).
    fn arm(&self, due_ms: u64, handle: usize) {
        let endpoint_id = self
            .slots
            .borrow()
            .get(handle)
            .map(|p| p.endpoint_id.clone());
        if let Some(id) = endpoint_id {
            let mut queues = self.queues.borrow_mut();
            if let Some(line) = queues.get_mut(&id).and_then(|q| q.fifo.as_mut()) {
                line.head_failed(handle, crate::time::now_ms());
            }
        }
        self.wheel.borrow_mut().insert(due_ms, handle as u32);
        self.kick.notify();
    }

    /// A FIFO endpoint's line: how many wait behind its head, and since
    /// when the head has been failing; `None` unless the endpoint is FIFO
    /// and has deliveries here.
    pub fn fifo_state(&self, endpoint_id: &str) -> Option<fifo::LineState> {
        let queues = self.queues.borrow();
        let line = queues.get(endpoint_id)?.fifo.as_ref()?;
        Some(fifo::LineState {
            held: line.held(),
            blocked_since_ms: line.blocked_since_ms(),
        })
    }

    /// A worker settled one of the handles it took off a ready queue (freed
    /// it or armed its next attempt).
    fn settled(&self) {
        let n = self.in_attempt.get();
        assert!(
            n > 0,
            "invariant 1: a worker settled a handle it did not take"
        );
        self.in_attempt.set(n - 1);
        self.check();
    }

    /// Asks the runtime to have shard 0 disable an endpoint.
    fn request_disable(&self, endpoint_id: &str, reason: DisableReason, fail_since_ms: u64) {
        let mut requests = self.disable_requests.borrow_mut();
        if requests.len() < DISABLE_REQUESTS_MAX {
            requests.push(DisableRequest {
                endpoint_id: endpoint_id.to_string(),
                reason,
                fail_since_ms,
            });
        }
        drop(requests);
        self.kick.notify();
    }

    /// Checks invariants 1-3, 5 and 6 (debug builds only; O(endpoints +
    /// deliveries in ready queues)).
    fn check(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let (Ok(slots), Ok(wheel), Ok(queues), Ok(conns)) = (
            self.slots.try_borrow(),
            self.wheel.try_borrow(),
            self.queues.try_borrow(),
            self.conns.try_borrow(),
        ) else {
            return;
        };
        let ready: usize = queues.values().map(|q| q.ready.len()).sum();
        let held: usize = queues
            .values()
            .filter_map(|q| q.fifo.as_ref())
            .map(|l| l.held())
            .sum();
        assert_eq!(
            slots.len(),
            wheel.len() + ready + self.in_attempt.get() + held,
            "invariant 1: every delivery is in the wheel, a ready queue, an attempt or a line"
        );
        assert!(
            queues
                .values()
                .all(|q| q.fifo.is_none() || (q.ready.len() <= 1 && q.in_flight <= 1)),
            "invariant 5: a FIFO endpoint has one delivery under way at most"
        );
        let hot: u64 = queues
            .values()
            .flat_map(|q| q.ready.iter())
            .filter_map(|h| slots.get(*h))
            .map(|p| p.msg.hot_bytes())
            .sum();
        assert_eq!(
            hot,
            self.hot_ready_bytes.get(),
            "invariant 6: the hot budget counts the messages ready queues hold"
        );
        assert!(
            hot <= self.ports.shared.config.max_hot_ready_bytes_per_shard,
            "invariant 6: within the hot budget"
        );
        let workers: usize = queues.values().map(|q| q.in_flight).sum();
        let idle: usize = queues.values().map(|q| q.idle.len()).sum();
        assert_eq!(
            conns.used(),
            workers + idle,
            "invariant 2: the budget counts live workers and pooled connections"
        );
        assert!(
            conns.used() <= conns.limit(),
            "invariant 2: within the budget"
        );
        let cap = self.ports.shared.config.max_in_flight_per_endpoint;
        assert!(
            queues.values().all(|q| q.in_flight <= cap),
            "invariant 3: workers per endpoint within the cap"
        );
    }
}
