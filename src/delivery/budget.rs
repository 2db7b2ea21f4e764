//! The shard's budget of outbound connections.
//!
//! Live delivery workers (each holds at most one connection) plus pooled idle
//! connections stay within `max_connections_per_shard`, so ten thousand
//! endpoints cannot use up the process's descriptors, which journal reads,
//! the API and ingest need too. At the limit, an endpoint that already has a
//! worker leaves its new deliveries to it; one with no worker takes the room
//! of another endpoint's oldest idle connection (closing it), or waits in
//! line until a worker ends: that worker then closes its connection instead
//! of pooling it and starts the first waiting endpoint's worker.
//!
//! While endpoints wait, every worker that has held its room for `TURN`
//! hands it on after its current run (`Budget::contended`), going to the
//! back of the line itself if its endpoint has deliveries left: under
//! contention endpoints take turns.
//!
//! # Invariants
//! - `used` = live workers + pooled idle connections <= `limit` (a worker
//!   started on its endpoint's idle connection takes it at once, so that
//!   connection's room becomes the worker's);
//! - an endpoint is in `waiting` at most once (its queue's `waiting` flag),
//!   and only with deliveries ready and no worker.

use super::conn::Conn;
use super::{EndpointQueue, Queues};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Descriptors kept back from delivery connections for the rest of the
/// process: journal segments and reads, API and ingest connections (1,024 +
/// 256), DNS, standard streams.
pub const RESERVED_DESCRIPTORS: u64 = 2_048;
/// How long a worker keeps its room while endpoints wait for one: long
/// enough that turns do not reconnect for every run (a TLS handshake costs
/// more than a run), short enough that a line of endpoints moves.
pub const TURN: std::time::Duration = std::time::Duration::from_millis(50);
/// The smallest automatic budget per shard, where the open-file limit allows.
pub const MIN_AUTO_CONNECTIONS: usize = 64;

/// The connection budget of one shard.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: usize,
    /// Endpoints that pooled an idle connection, oldest first; every endpoint
    /// with idle connections has an entry. An entry may be stale (its
    /// connections since reused or closed); eviction skips those, and the
    /// queue is pruned when it outgrows `4 * limit`.
    idle_order: VecDeque<Arc<str>>,
    /// Endpoints with deliveries ready and no worker, in arrival order.
    waiting: VecDeque<Arc<str>>,
}

/// What `Budget::start` decided for an endpoint that wants another worker.
pub enum Start {
    /// Start it, with the endpoint's idle connection if it had one (that
    /// connection's room becomes the worker's); otherwise the room is taken.
    Go(Option<Conn>),
    /// Not now: the endpoint's running worker will get to the delivery.
    Later,
    /// The endpoint waits in line for room.
    Queued,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget {
            limit: limit.max(1),
            used: 0,
            idle_order: VecDeque::new(),
            waiting: VecDeque::new(),
        }
    }

    /// The automatic budget for one of `shards` shards: an equal share of the
    /// open-file limit after `RESERVED_DESCRIPTORS`.
    pub fn auto_limit(nofile: u64, shards: usize) -> usize {
        let shards = shards.max(1) as u64;
        let share = nofile.saturating_sub(RESERVED_DESCRIPTORS) / shards;
        // With a small limit, still a little room, but never more than a
        // quarter of the descriptors over all shards.
        let floor = (MIN_AUTO_CONNECTIONS as u64)
            .min(nofile / 4 / shards)
            .max(1);
        usize::try_from(share.max(floor)).unwrap_or(usize::MAX)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Connections held: live workers plus pooled idle ones.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Whether room for one more worker of `id` exists (its own idle
    /// connection, free room, or another endpoint's oldest idle connection,
    /// closed); queues `id` when none does and it has no worker at all.
    pub fn start(&mut self, queues: &mut Queues, id: &Arc<str>) -> Start {
        let Some(q) = queues.get_mut(id) else {
            return Start::Later;
        };
        if q.waiting {
            return Start::Later;
        }
        // The worker takes its endpoint's idle connection right away, so the
        // connection never counts twice (a throttled worker sleeps first).
        if !q.idle.is_empty() || self.used < self.limit {
            return Start::Go(self.admit(q));
        }
        if q.in_flight > 0 {
            return Start::Later;
        }
        if self.close_oldest_idle(queues, id) {
            if let Some(q) = queues.get_mut(id) {
                return Start::Go(self.admit(q));
            }
        }
        self.enqueue(queues, id);
        Start::Queued
    }

    /// Puts `id` at the back of the line (once).
    fn enqueue(&mut self, queues: &mut Queues, id: &Arc<str>) {
        if let Some(q) = queues.get_mut(id) {
            if !q.waiting {
                q.waiting = true;
                self.waiting.push_back(id.clone());
            }
        }
    }

    /// Starts one more worker of `q`: with its idle connection if it has
    /// one (that connection's room becomes the worker's), else in new room.
    fn admit(&mut self, q: &mut EndpointQueue) -> Option<Conn> {
        q.in_flight += 1;
        let conn = q.idle.pop().map(|(c, _)| c);
        if conn.is_none() {
            self.used += 1;
        }
        conn
    }

    /// Closes the oldest idle connection of an endpoint other than `except`.
    fn close_oldest_idle(&mut self, queues: &mut Queues, except: &Arc<str>) -> bool {
        while let Some(owner) = self.idle_order.pop_front() {
            if owner == *except {
                continue;
            }
            if let Some(q) = queues.get_mut(&owner) {
                if !q.idle.is_empty() {
                    // Oldest first: the pool pushes at the back.
                    drop(q.idle.remove(0));
                    self.used -= 1;
                    if !q.idle.is_empty() {
                        self.idle_order.push_front(owner);
                    }
                    return true;
                }
            }
        }
        false
    }

    /// A worker took one of its endpoint's idle connections.
    pub fn reused_idle(&mut self) {
        self.used = self.used.saturating_sub(1);
    }

    /// A worker ended, holding a connection or not. Returns whether it may
    /// pool the connection (nobody waits for room); the caller pools it with
    /// [`Budget::pooled`] or drops it.
    pub fn worker_ended(&mut self) -> bool {
        self.used = self.used.saturating_sub(1);
        self.waiting.is_empty()
    }

    /// Whether endpoints are waiting for room: a worker that has held its
    /// room for `TURN` then hands it on after its current run, so endpoints
    /// take turns instead of a busy one keeping its connections for as long
    /// as it has a backlog.
    pub fn contended(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// An endpoint whose worker handed its room on with deliveries left, and
    /// no other worker: it goes to the back of the line.
    pub fn requeue(&mut self, queues: &mut Queues, id: &Arc<str>) {
        let left = queues
            .get(id)
            .is_some_and(|q| !q.ready.is_empty() && q.in_flight == 0);
        if left {
            self.enqueue(queues, id);
        }
    }

    /// A connection of `id` went into its endpoint's idle pool.
    pub fn pooled(&mut self, queues: &Queues, id: &Arc<str>) {
        self.used += 1;
        // One entry per endpoint in a row is enough (eviction re-queues an
        // endpoint that still has idle connections after giving one up).
        if self.idle_order.back() != Some(id) {
            self.idle_order.push_back(id.clone());
        }
        if self.idle_order.len() > 4 * self.limit {
            // Drop stale entries: keep one per idle connection still pooled.
            let mut left: HashMap<Arc<str>, usize> = HashMap::new();
            self.idle_order.retain(|e| {
                let n = left
                    .entry(e.clone())
                    .or_insert_with(|| queues.get(e).map_or(0, |q| q.idle.len()));
                let keep = *n > 0;
                *n = n.saturating_sub(1);
                keep
            });
        }
    }

    /// Idle connections closed by the sweep.
    pub fn closed_idle(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
    }

    /// The next waiting endpoint that can start a worker now, its room
    /// taken; `None` once the budget is full or nobody waits.
    pub fn next_waiting(&mut self, queues: &mut Queues) -> Option<(Arc<str>, Option<Conn>)> {
        while self.used < self.limit {
            let id = self.waiting.pop_front()?;
            let Some(q) = queues.get_mut(&id) else {
                continue;
            };
            q.waiting = false;
            if q.ready.is_empty() || q.in_flight > 0 {
                continue;
            }
            return Some((id, self.admit(q)));
        }
        None
    }

    /// Endpoints waiting for room.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(ids: &[&str]) -> (Queues, Vec<Arc<str>>) {
        let ids: Vec<Arc<str>> = ids.iter().map(|s| Arc::from(*s)).collect();
        let mut q = Queues::default();
        for id in &ids {
            let mut e = EndpointQueue::default();
            e.ready.push_back(0);
            q.insert(id.clone(), e);
        }
        (q, ids)
    }

    #[test]
    fn at_the_limit_a_second_worker_waits_for_the_first() {
        let (mut q, ids) = queues(&["a"]);
        let mut b = Budget::new(1);
        assert!(matches!(b.start(&mut q, &ids[0]), Start::Go(None)));
        assert!(matches!(b.start(&mut q, &ids[0]), Start::Later));
        assert_eq!((b.used(), b.waiting()), (1, 0));
    }

    #[test]
    fn an_endpoint_without_a_worker_queues_and_gets_the_next_room() {
        let (mut q, ids) = queues(&["a", "b", "c"]);
        let mut b = Budget::new(1);
        assert!(matches!(b.start(&mut q, &ids[0]), Start::Go(None)));
        assert!(matches!(b.start(&mut q, &ids[1]), Start::Queued));
        assert!(
            matches!(b.start(&mut q, &ids[1]), Start::Later),
            "queued once"
        );
        assert!(matches!(b.start(&mut q, &ids[2]), Start::Queued));
        assert!(b.contended());
        // a's worker ends after its run with deliveries left: its connection
        // must not be pooled while others wait, and a goes to the back.
        assert!(!b.worker_ended());
        if let Some(e) = q.get_mut(&ids[0]) {
            e.in_flight -= 1;
        }
        b.requeue(&mut q, &ids[0]);
        let next = b
            .next_waiting(&mut q)
            .map(|(id, conn)| (id, conn.is_none()));
        assert_eq!(next, Some((ids[1].clone(), true)));
        assert!(b.next_waiting(&mut q).is_none(), "full again");
        assert_eq!((b.used(), b.waiting()), (1, 2));
        // Turns go round: b's worker ends, c is next, then a.
        assert!(!b.worker_ended());
        if let Some(e) = q.get_mut(&ids[1]) {
            e.in_flight -= 1;
            e.ready.clear();
        }
        b.requeue(&mut q, &ids[1]);
        assert_eq!(
            b.next_waiting(&mut q).map(|(id, _)| id),
            Some(ids[2].clone())
        );
        assert_eq!(b.waiting(), 1);
    }

    #[test]
    fn the_automatic_limit_shares_the_descriptors_left() {
        assert_eq!(Budget::auto_limit(20_000, 2), 8_976);
        assert_eq!(Budget::auto_limit(1_024, 1), MIN_AUTO_CONNECTIONS);
        // Never more than a quarter of a small limit over all shards.
        assert_eq!(Budget::auto_limit(1_024, 16), 16);
        assert_eq!(Budget::auto_limit(8, 64), 1);
    }
}
