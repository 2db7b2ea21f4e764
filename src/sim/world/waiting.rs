//! Accepted batches waiting for a group commit, as the runtime's accept
//! tasks wait (`Accept::accept`: the batch journaled, then
//! `Commit::durable`). In half the seeds a producer's batch is journaled
//! and its waiter registered with the shard's `Commit`; batches of several
//! producers then share the flusher's next group commit, and each is
//! acknowledged and fanned out when its waiter is woken, in the order the
//! `Commit` woke them (the order the runtime's executor runs woken tasks
//! in). A crash takes the waiting batches unacknowledged.

use super::World;
use crate::accept::Accepted;
use crate::journal::Lsn;
use crate::sim::oracle::Violation;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// A journaled batch: its home shard, the position that must be durable
/// before it is acknowledged, its messages' ids and their destinations.
pub(super) struct Batch {
    pub home: usize,
    pub wait_for: Option<Lsn>,
    pub ids: Vec<String>,
    pub fan: Vec<Accepted>,
}

type Wait = Pin<Box<dyn Future<Output = ()>>>;

/// The batches waiting for their group commit, by registration number.
#[derive(Default)]
pub(super) struct Waiting {
    next: u64,
    batches: BTreeMap<u64, (Batch, Wait)>,
    /// Registration numbers of the waiters woken, in wake order.
    woken: Arc<Mutex<VecDeque<u64>>>,
}

impl Waiting {
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// A crash: the waiting batches die with the process.
    pub fn clear(&mut self) {
        self.batches.clear();
        self.woken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn waker(&self, id: u64) -> Waker {
        Waker::from(Arc::new(WakeTo {
            id,
            woken: self.woken.clone(),
        }))
    }
}

/// Wakes by noting its registration number.
struct WakeTo {
    id: u64,
    woken: Arc<Mutex<VecDeque<u64>>>,
}

impl Wake for WakeTo {
    fn wake(self: Arc<Self>) {
        self.woken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(self.id);
    }
}

impl World {
    /// Waits for `batch`'s group commit as an accept task does: the
    /// shard's `Commit::durable`, polled once to register (a batch already
    /// durable is acknowledged at once).
    pub(super) fn wait_for_commit(&mut self, batch: Batch) -> Result<(), Violation> {
        let Some(lsn) = batch.wait_for else {
            self.acknowledge(batch);
            return Ok(());
        };
        let Some(waiting) = self.waiting.as_mut() else {
            return Err("a batch waits in a seed that does not gather".into());
        };
        let commit = self.cores[batch.home].commit.clone();
        let mut wait: Wait = Box::pin(async move { commit.durable(lsn).await });
        let id = waiting.next;
        waiting.next += 1;
        let waker = waiting.waker(id);
        match wait.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(()) => self.acknowledge(batch),
            Poll::Pending => {
                waiting.batches.insert(id, (batch, wait));
            }
        }
        Ok(())
    }

    /// After group commits: acknowledges and fans out the batches whose
    /// waiters they woke, in wake order. A woken waiter must be done: its
    /// batch is durable.
    pub(super) fn acknowledge_woken(&mut self) -> Result<(), Violation> {
        loop {
            let Some(waiting) = self.waiting.as_mut() else {
                return Ok(());
            };
            let next = waiting
                .woken
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front();
            let Some(id) = next else {
                return Ok(());
            };
            let Some((batch, mut wait)) = waiting.batches.remove(&id) else {
                continue;
            };
            let waker = waiting.waker(id);
            if wait
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
            {
                return Err(format!(
                    "a batch's waiter on journal {} was woken before its group commit",
                    batch.home
                ));
            }
            let durable = self.cores[batch.home].commit.durable_lsn();
            if batch.wait_for.is_some_and(|lsn| durable < lsn) {
                return Err(format!(
                    "a batch waiting for {:?} on journal {} was acknowledged at {durable:?}",
                    batch.wait_for, batch.home
                ));
            }
            self.counters.batches_waited += 1;
            self.acknowledge(batch);
        }
    }
}
