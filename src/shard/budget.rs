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
//! # Invariants
//! - `used` = live workers + pooled idle connections, and never exceeds
//!   `limit` except by workers that reuse their endpoint's idle connection
//!   (which moves one from the pool to the worker, see `Budget::start`);
//! - an endpoint is in `waiting` at most once (its queue's `waiting` flag).

use super::delivery::EndpointQueue;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Descriptors kept back from delivery connections for the rest of the
/// process: journal segments and reads, API and ingest connections (1,024 +
/// 256), DNS, standard streams.
pub const RESERVED_DESCRIPTORS: u64 = 2_048;
/// The smallest automatic budget per shard.
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
#[derive(Debug, PartialEq, Eq)]
pub enum Start {
    /// Start it (the room is taken).
    Go,
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
        let share = nofile.saturating_sub(RESERVED_DESCRIPTORS) / shards.max(1) as u64;
        usize::try_from(share)
            .unwrap_or(usize::MAX)
            .max(MIN_AUTO_CONNECTIONS)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Connections held: live workers plus pooled idle ones.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Whether room for one more worker of `id` exists (closing another
    /// endpoint's idle connection if needed); queues `id` when none does and
    /// it has no worker at all. The caller starts the worker on `Go`.
    pub fn start(&mut self, queues: &mut HashMap<Arc<str>, EndpointQueue>, id: &Arc<str>) -> Start {
        let (own_idle, in_flight, waiting) = match queues.get(id) {
            Some(q) => (!q.idle.is_empty(), q.in_flight, q.waiting),
            None => return Start::Later,
        };
        if waiting {
            return Start::Later;
        }
        // A worker that will reuse its endpoint's idle connection opens none.
        if self.used < self.limit || own_idle {
            return self.go(queues, id);
        }
        if in_flight > 0 {
            return Start::Later;
        }
        if self.close_oldest_idle(queues, id) {
            return self.go(queues, id);
        }
        if let Some(q) = queues.get_mut(id) {
            q.waiting = true;
            self.waiting.push_back(id.clone());
        }
        Start::Queued
    }

    fn go(&mut self, queues: &mut HashMap<Arc<str>, EndpointQueue>, id: &Arc<str>) -> Start {
        match queues.get_mut(id) {
            Some(q) => {
                q.in_flight += 1;
                self.used += 1;
                Start::Go
            }
            None => Start::Later,
        }
    }

    /// Closes the oldest idle connection of an endpoint other than `except`.
    fn close_oldest_idle(
        &mut self,
        queues: &mut HashMap<Arc<str>, EndpointQueue>,
        except: &Arc<str>,
    ) -> bool {
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

    /// A worker of `id` ended, holding a connection or not. Returns whether it
    /// may pool the connection (room is not wanted by waiting endpoints); the
    /// caller pools it with [`Budget::pooled`] or drops it.
    pub fn worker_ended(&mut self) -> bool {
        self.used = self.used.saturating_sub(1);
        self.waiting.is_empty()
    }

    /// A connection of `id` went into its endpoint's idle pool.
    pub fn pooled(&mut self, queues: &HashMap<Arc<str>, EndpointQueue>, id: &Arc<str>) {
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
    pub fn next_waiting(
        &mut self,
        queues: &mut HashMap<Arc<str>, EndpointQueue>,
    ) -> Option<Arc<str>> {
        while self.used < self.limit {
            let id = self.waiting.pop_front()?;
            let Some(q) = queues.get_mut(&id) else {
                continue;
            };
            q.waiting = false;
            if q.ready.is_empty() || q.in_flight > 0 {
                continue;
            }
            q.in_flight += 1;
            self.used += 1;
            return Some(id);
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

    fn queues(ids: &[&str]) -> (HashMap<Arc<str>, EndpointQueue>, Vec<Arc<str>>) {
        let ids: Vec<Arc<str>> = ids.iter().map(|s| Arc::from(*s)).collect();
        let mut q = HashMap::new();
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
        assert_eq!(b.start(&mut q, &ids[0]), Start::Go);
        assert_eq!(b.start(&mut q, &ids[0]), Start::Later);
        assert_eq!((b.used(), b.waiting()), (1, 0));
    }

    #[test]
    fn an_endpoint_without_a_worker_queues_and_gets_the_next_room() {
        let (mut q, ids) = queues(&["a", "b", "c"]);
        let mut b = Budget::new(1);
        assert_eq!(b.start(&mut q, &ids[0]), Start::Go);
        assert_eq!(b.start(&mut q, &ids[1]), Start::Queued);
        assert_eq!(b.start(&mut q, &ids[1]), Start::Later, "queued once");
        assert_eq!(b.start(&mut q, &ids[2]), Start::Queued);
        // a's worker ends: its connection must not be pooled while others wait.
        assert!(!b.worker_ended());
        if let Some(e) = q.get_mut(&ids[0]) {
            e.in_flight -= 1;
        }
        assert_eq!(b.next_waiting(&mut q).as_deref(), Some("b"));
        assert_eq!(b.next_waiting(&mut q), None, "full again");
        assert_eq!((b.used(), b.waiting()), (1, 1));
    }

    #[test]
    fn the_automatic_limit_shares_the_descriptors_left() {
        assert_eq!(Budget::auto_limit(20_000, 2), 8_976);
        assert_eq!(Budget::auto_limit(1_024, 1), MIN_AUTO_CONNECTIONS);
    }
}
