//! `Gathering`: items put in by the tasks that run in one pass of a shard's
//! executor, taken out together by one task. The first `put` of a gathering
//! opens it, and its caller starts the task that takes it; that task yields
//! once first (`take_after_a_pass`), so the tasks the reactor wakes
//! meanwhile (reads and answers that completed) add theirs. Without the
//! yield the taking task ran before any other and every gathering held one
//! put. `shard::gather` (API and receive requests' messages) and
//! `delivery::settling` (workers' answered runs) are built on it.
//!
//! Single-threaded (`RefCell`): a gathering belongs to one shard.

use std::cell::RefCell;

/// Items gathered until the task that takes them runs (see the module).
pub struct Gathering<T> {
    /// `None`: no gathering is open (no task will take what is put here,
    /// so the next put opens one).
    waiting: RefCell<Option<Vec<T>>>,
}

impl<T> Default for Gathering<T> {
    fn default() -> Self {
        Gathering {
            waiting: RefCell::new(None),
        }
    }
}

impl<T> Gathering<T> {
    /// Adds `items`; true if this opened the gathering, in which case the
    /// caller starts the task that takes it.
    pub fn put(&self, items: impl IntoIterator<Item = T>) -> bool {
        let mut waiting = self.waiting.borrow_mut();
        let opened = waiting.is_none();
        waiting.get_or_insert_with(Vec::new).extend(items);
        opened
    }

    /// Lets the tasks already woken run once, then takes the gathering
    /// (closing it: the next put opens another).
    pub async fn take_after_a_pass(&self) -> Vec<T> {
        futures_lite::future::yield_now().await;
        self.waiting.borrow_mut().take().unwrap_or_default()
    }
}
