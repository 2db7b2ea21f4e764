//! A connection's deadline: the instant its current phase (a request head,
//! a request, an answer) must be done by, and the watchdog that ends the
//! connection when it passes, with one glommio timer per connection instead
//! of one per phase.
//!
//! Each phase moves the deadline (`Deadline::set`, a cell write); the
//! watchdog runs beside the connection's requests (`futures_lite::future::or`)
//! and arms a timer for at most `step`, the shortest phase. When the timer
//! fires it looks at the deadline: passed, the connection ends; moved
//! later, it arms again. A timer per phase cost two timer-tree inserts and
//! removals per request (2.7 % of a shard receiving webhooks).
//!
//! # Invariant
//! The armed timer never fires later than the deadline: a phase sets the
//! deadline to `now + phase` with `phase ≥ step`, and the timer was armed at
//! or before `now` for at most `step`, so a deadline set while it is armed
//! is never earlier than the timer. Asserted where the deadline is set.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The deadline of one connection's current phase.
#[derive(Debug)]
pub struct Deadline {
    at: Cell<Instant>,
    /// The shortest phase: the longest a timer is armed for.
    step: Duration,
    /// When the watchdog's timer fires (`None`: not armed).
    armed: Cell<Option<Instant>>,
}

impl Deadline {
    /// A deadline `first` from now, for phases of at least `step`.
    pub fn new(first: Duration, step: Duration) -> Self {
        assert!(first >= step, "no phase is shorter than the step");
        assert!(!step.is_zero(), "a watchdog waits for something");
        Deadline {
            at: Cell::new(Instant::now() + first),
            step,
            armed: Cell::new(None),
        }
    }

    /// Starts a phase that must end within `phase` from now.
    pub fn set(&self, phase: Duration) {
        assert!(phase >= self.step, "no phase is shorter than the step");
        let at = Instant::now() + phase;
        // The invariant: the armed timer comes first.
        assert!(
            self.armed.get().is_none_or(|armed| armed <= at),
            "a deadline never moves before the watchdog's timer"
        );
        self.at.set(at);
    }

    /// Ends when the deadline has passed.
    pub fn watchdog(&self) -> Watchdog<'_> {
        Watchdog {
            deadline: self,
            timer: None,
        }
    }
}

/// What the watchdog does when its timer fires: `None` when the deadline
/// has passed, else how long to arm the timer for. A pure step.
fn next_arm(now: Instant, deadline: Instant, step: Duration) -> Option<Duration> {
    (now < deadline).then(|| (deadline - now).min(step))
}

/// The future of [`Deadline::watchdog`].
pub struct Watchdog<'a> {
    deadline: &'a Deadline,
    timer: Option<glommio::timer::Timer>,
}

impl Future for Watchdog<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(timer) = self.timer.as_mut() {
                // Armed: nothing to look at until it fires (the invariant).
                if Pin::new(timer).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.timer = None;
                self.deadline.armed.set(None);
            }
            let now = Instant::now();
            let Some(arm) = next_arm(now, self.deadline.at.get(), self.deadline.step) else {
                return Poll::Ready(());
            };
            self.deadline.armed.set(Some(now + arm));
            self.timer = Some(glommio::timer::Timer::new(arm));
        }
    }
}

impl Drop for Watchdog<'_> {
    fn drop(&mut self) {
        self.deadline.armed.set(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_arm_table() {
        let t0 = Instant::now();
        let s = |ms| Duration::from_millis(ms);
        // (now after t0, deadline after t0, step) -> arm
        for (now, deadline, step, want) in [
            (0, 100, 10, Some(10)),
            (95, 100, 10, Some(5)),
            (100, 100, 10, None),
            (150, 100, 10, None),
            (0, 5, 10, Some(5)),
        ] {
            assert_eq!(
                next_arm(t0 + s(now), t0 + s(deadline), s(step)),
                want.map(s),
                "now {now} deadline {deadline} step {step}"
            );
        }
    }

    /// Driven by glommio's own timers: a connection whose deadline keeps
    /// moving lives on; one that stops moving it ends at its deadline,
    /// neither much before nor after.
    #[test]
    fn the_watchdog_ends_at_the_deadline_and_not_before() {
        glommio::LocalExecutor::default().run(async {
            let step = Duration::from_millis(20);
            let d = Deadline::new(Duration::from_millis(30), step);
            let start = Instant::now();
            let kept_alive = async {
                // Ten phases of 20 ms, each set 10 ms into the last: the
                // deadline is never reached while this runs.
                for _ in 0..10 {
                    glommio::timer::sleep(Duration::from_millis(10)).await;
                    d.set(step);
                }
                false
            };
            let expired = futures_lite::future::or(kept_alive, async {
                d.watchdog().await;
                true
            })
            .await;
            assert!(
                !expired,
                "the watchdog ended a connection that kept moving its deadline"
            );
            assert!(start.elapsed() >= Duration::from_millis(100));
            // Now nothing moves it: the watchdog ends within its phase.
            let stalled = Instant::now();
            d.set(Duration::from_millis(50));
            let ended = futures_lite::future::or(
                async {
                    d.watchdog().await;
                    true
                },
                async {
                    glommio::timer::sleep(Duration::from_secs(5)).await;
                    false
                },
            )
            .await;
            let took = stalled.elapsed();
            assert!(ended, "the watchdog did not end a stalled connection");
            assert!(took >= Duration::from_millis(50), "ended early: {took:?}");
            assert!(took < Duration::from_secs(2), "ended late: {took:?}");
        });
    }
}
