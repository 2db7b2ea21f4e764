//! The time limits of a shard's requests in flight (a response's wait, a
//! request's write, a read-until-close body's quiet spell): one timing wheel
//! (`wheel::TimerWheel`) on the monotonic clock, fired by the shard's timer
//! loop, instead of a glommio timer per response.
//!
//! A glommio timer is an entry in the reactor's ordered map, inserted when a
//! response starts waiting and removed when it arrives: two cold tree walks
//! per delivery once thousands of requests wait on slow receivers (3.3 % of
//! the engine's CPU in that benchmark). Here a wait costs a slab entry and
//! a wheel node, each inserted and freed in O(1).
//!
//! # Invariants
//! 1. Every entry of `waits` is either pending, with exactly one timer in the
//!    wheel whose handle is its key, or fired, with none: `check` asserts
//!    `wheel.len() == pending`.
//! 2. A limit never ends early: a wait started at `t` with limit `l` fires
//!    at a `fire_due` whose clock reads at least `t + l` (the wheel fires a
//!    deadline only once its clock reaches it, and the clock is
//!    `Instant`-based, so a wall-clock step moves nothing). It ends at most
//!    50 ms (the timer loop's longest sleep) after that, plus the shard's
//!    scheduling: the loop sleeps no longer than `next_wake`.

use crate::wheel::TimerWheel;
use futures_util::FutureExt;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// One wait in the wheel.
struct Wait {
    timer: crate::wheel::TimerId,
    waker: Option<Waker>,
    fired: bool,
}

struct Inner {
    wheel: TimerWheel,
    waits: slab::Slab<Wait>,
    /// Waits whose timer is still in the wheel (invariant 1).
    pending: usize,
    expired: Vec<u32>,
}

/// A shard's request time limits (see the module comment).
pub struct Deadlines {
    /// The wheel's clock is milliseconds since this instant.
    base: Instant,
    inner: RefCell<Inner>,
}

/// A limit ran out before the work it bounded ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl Default for Deadlines {
    fn default() -> Deadlines {
        Deadlines {
            base: Instant::now(),
            inner: RefCell::new(Inner {
                wheel: TimerWheel::new(0),
                waits: slab::Slab::new(),
                pending: 0,
                expired: Vec::new(),
            }),
        }
    }
}

impl Deadlines {
    /// The wheel's clock now: whole milliseconds since `base`.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `work`, or gives up once `limit` has passed (`Elapsed`). The
    /// limit starts when `work` first waits, not before: work that is ready
    /// at once never touches the wheel. (A plain function, not an `async`
    /// one: the returned future holds `work` once, which keeps the worker's
    /// task small.)
    pub fn within<'a, T: 'a>(
        &'a self,
        limit: Duration,
        work: impl Future<Output = T> + 'a,
    ) -> impl Future<Output = Result<T, Elapsed>> + 'a {
        let expiry = Expiry {
            deadlines: self,
            limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
            key: None,
        };
        futures_lite::future::or(
            FutureExt::map(work, Ok),
            FutureExt::map(expiry, |()| Err(Elapsed)),
        )
    }

    /// Ends every wait whose limit has passed (wakes its task). Called by the
    /// shard's timer loop on each pass.
    pub fn fire_due(&self) {
        let now = self.now_ms();
        let mut wakers = Vec::new();
        {
            let mut inner = self.inner.borrow_mut();
            let Inner {
                wheel,
                waits,
                pending,
                expired,
            } = &mut *inner;
            wheel.advance(now, expired);
            for key in expired.drain(..) {
                let Some(wait) = waits.get_mut(key as usize) else {
                    panic!("invariant 1: a fired timer has its wait");
                };
                assert!(!wait.fired, "invariant 1: a wait fires once");
                wait.fired = true;
                *pending -= 1;
                wakers.extend(wait.waker.take());
            }
            check(&inner);
        }
        // Woken outside the borrow: glommio may run a woken task at once.
        for w in wakers {
            w.wake();
        }
    }

    /// How long the timer loop may sleep before the next limit can end
    /// (`None`: no request waits).
    pub fn next_wake(&self) -> Option<Duration> {
        let next = self.inner.borrow().wheel.next_wake_ms()?;
        Some(Duration::from_millis(next.saturating_sub(self.now_ms())))
    }

    /// Requests waiting on a limit now (tests).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.inner.borrow().pending
    }
}

fn check(inner: &Inner) {
    debug_assert_eq!(inner.wheel.len(), inner.pending, "invariant 1");
    debug_assert!(inner.pending <= inner.waits.len(), "invariant 1");
}

/// Resolves once its limit has passed; registers in the wheel at its first
/// poll and leaves it when dropped.
struct Expiry<'a> {
    deadlines: &'a Deadlines,
    limit_ms: u64,
    key: Option<usize>,
}

impl Future for Expiry<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let d = self.deadlines;
        let mut inner = d.inner.borrow_mut();
        match self.key {
            None => {
                // The clock reads whole milliseconds, rounded down: one
                // more keeps a limit from ending early (invariant 2).
                let due = d.now_ms().saturating_add(self.limit_ms).saturating_add(1);
                let Inner {
                    wheel,
                    waits,
                    pending,
                    ..
                } = &mut *inner;
                let entry = waits.vacant_entry();
                let key = entry.key();
                let handle = u32::try_from(key).unwrap_or_else(|_| panic!("4 billion waits"));
                let timer = wheel.insert(due, handle);
                entry.insert(Wait {
                    timer,
                    waker: Some(cx.waker().clone()),
                    fired: false,
                });
                *pending += 1;
                check(&inner);
                drop(inner);
                self.key = Some(key);
                Poll::Pending
            }
            Some(key) => {
                let Some(wait) = inner.waits.get_mut(key) else {
                    panic!("a registered wait stays until its expiry is dropped");
                };
                if wait.fired {
                    return Poll::Ready(());
                }
                match &mut wait.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Expiry<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut inner = self.deadlines.inner.borrow_mut();
        let wait = inner.waits.remove(key);
        if !wait.fired {
            let cancelled = inner.wheel.cancel(wait.timer);
            assert_eq!(cancelled, Some(key as u32), "invariant 1");
            inner.pending -= 1;
        }
        check(&inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// The shard's timer loop, reduced to what the deadlines need.
    async fn ticker(d: Rc<Deadlines>, stop: Rc<std::cell::Cell<bool>>) {
        while !stop.get() {
            d.fire_due();
            let wait = d.next_wake().unwrap_or(Duration::from_millis(5));
            glommio::timer::sleep(wait.clamp(Duration::from_millis(1), Duration::from_millis(5)))
                .await;
        }
    }

    #[test]
    fn a_limit_ends_waiting_work_not_before_it_and_ready_work_never_waits() {
        glommio::LocalExecutor::default().run(async {
            let d = Rc::new(Deadlines::default());
            let stop = Rc::new(std::cell::Cell::new(false));
            let t = glommio::spawn_local(ticker(d.clone(), stop.clone()));
            // Ready at once: never registered.
            assert_eq!(d.within(Duration::from_millis(1), async { 7 }).await, Ok(7));
            assert_eq!(d.waiting(), 0);
            // Work that ends first wins, and leaves nothing in the wheel.
            let quick = d.within(Duration::from_secs(5), async {
                glommio::timer::sleep(Duration::from_millis(20)).await;
                1
            });
            assert_eq!(quick.await, Ok(1));
            assert_eq!(d.waiting(), 0);
            // Work that never ends is cut off at its limit, not before.
            let started = Instant::now();
            let stuck = d.within(
                Duration::from_millis(60),
                futures_lite::future::pending::<()>(),
            );
            assert_eq!(stuck.await, Err(Elapsed));
            let took = started.elapsed();
            assert!(took >= Duration::from_millis(60), "ended early: {took:?}");
            assert!(took < Duration::from_secs(2), "ended late: {took:?}");
            assert_eq!(d.waiting(), 0);
            // Many waits at once, half cut off, half done: each ends once.
            let mut runs = Vec::new();
            for i in 0..200u64 {
                let d = d.clone();
                runs.push(glommio::spawn_local(async move {
                    let work = async move {
                        let ms = if i % 2 == 0 { 5 } else { 10_000 };
                        glommio::timer::sleep(Duration::from_millis(ms)).await;
                    };
                    d.within(Duration::from_millis(100), work).await
                }));
            }
            let mut cut = 0;
            for r in runs {
                if r.await == Err(Elapsed) {
                    cut += 1;
                }
            }
            assert_eq!(cut, 100);
            assert_eq!(d.waiting(), 0);
            assert_eq!(d.inner.borrow().waits.len(), 0);
            stop.set(true);
            t.await;
        });
    }
}
