//! A single-executor wake-up signal for one waiting task.
//!
//! The journal flusher and the timer loop each park on one of these; producers
//! on the same shard call [`Notify::notify`]. It is `!Send` on purpose: shards
//! never share it, so a `Cell` suffices and no lock is taken.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A coalescing, single-waiter notification.
///
/// # Invariants
/// - at most one task waits at a time (the owner loop);
/// - a `notify` before `wait` is remembered, so no wake-up is lost.
#[derive(Default)]
pub struct Notify {
    pending: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Notify {
    /// Marks the signal and wakes the waiter, if any.
    pub fn notify(&self) {
        self.pending.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Completes once `notify` has been called since the last completion.
    pub fn wait(&self) -> Wait<'_> {
        Wait { notify: self }
    }
}

/// Future returned by [`Notify::wait`].
pub struct Wait<'a> {
    notify: &'a Notify,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.pending.replace(false) {
            Poll::Ready(())
        } else {
            self.notify.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        }
    }
}
