//! FIFO endpoints: the line of one endpoint's deliveries, delivered in the
//! order their messages were accepted, one at a time.
//!
//! A [`Line`] has a head (the one delivery that may be attempted: in the
//! timer wheel, the ready queue or a worker's attempt, like any delivery)
//! and the deliveries held behind it, in [`Key`] order. When the head ends
//! (succeeded, failed for good, or cancelled: `Deliveries::free`) the first
//! held delivery becomes the head and goes to the ready queue; a head that
//! fails and retries holds the others back (head-of-line blocking). Pure:
//! no I/O, no clock.
//!
//! # Invariants
//! - a line without a head holds nothing;
//! - the head is never among the held ones, and the held ones are sorted.
//!
//! Bounds: a line holds at most the shard's pending deliveries
//! (`max_pending_per_shard`).

use super::MsgRef;
use std::collections::VecDeque;

/// Where a delivery stands in its endpoint's line: its message's
/// acceptance time (whole seconds, the precision a waiting retry keeps) and
/// journal position, so the order is the same whether the delivery came
/// from fan-out or from recovery. Within one journal, position is
/// acceptance order; an application's messages are accepted on one shard
/// (its home) until the shard count changes, and the seconds order the
/// journals of before and after such a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    created_s: u64,
    journal: u32,
    segment_seq: u64,
    offset: u64,
}

impl Key {
    /// The key of a delivery of `msg`.
    pub fn of(msg: &MsgRef) -> Key {
        let loc = match msg {
            MsgRef::Hot(m) => m.loc,
            MsgRef::Cold(c) => c.loc(),
        };
        Key {
            created_s: msg.created_ms() / 1000,
            journal: loc.journal,
            segment_seq: loc.pos.segment_seq,
            offset: loc.pos.offset,
        }
    }
}

/// What the API and metrics show of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineState {
    /// Deliveries waiting behind the head.
    pub held: usize,
    /// Since when the head has been failing.
    pub blocked_since_ms: Option<u64>,
}

/// What a line says of a delivery handed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// It is the head: schedule it as any delivery.
    Head,
    /// It waits behind the head.
    Held,
}

/// One FIFO endpoint's line.
#[derive(Debug, Default)]
pub struct Line {
    head: Option<usize>,
    held: VecDeque<(Key, usize)>,
    /// When the head's first attempt failed (it blocks the line since).
    blocked_since_ms: Option<u64>,
}

impl Line {
    /// Takes a delivery (`handle`, at `key`): the head again (a retry that
    /// came due), the new head of an empty line, or held in key order.
    pub fn admit(&mut self, handle: usize, key: Key) -> Admit {
        match self.head {
            Some(h) if h == handle => Admit::Head,
            None => {
                self.head = Some(handle);
                self.check();
                Admit::Head
            }
            Some(_) => {
                let at = self.held.partition_point(|(k, _)| *k <= key);
                self.held.insert(at, (key, handle));
                self.check();
                Admit::Held
            }
        }
    }

    /// The delivery `handle` ended: if it was the head, the first held
    /// delivery becomes the head (returned, for the ready queue).
    pub fn ended(&mut self, handle: usize) -> Option<usize> {
        if self.head != Some(handle) {
            return None;
        }
        self.blocked_since_ms = None;
        self.head = self.held.pop_front().map(|(_, h)| h);
        self.check();
        self.head
    }

    /// The head's attempt failed and it will try again at its next time.
    pub fn head_failed(&mut self, handle: usize, now_ms: u64) {
        if self.head == Some(handle) && self.blocked_since_ms.is_none() {
            self.blocked_since_ms = Some(now_ms);
        }
    }

    /// Deliveries waiting behind the head.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Whether the line has no delivery at all.
    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Since when the head has been failing (`None` while it has not).
    pub fn blocked_since_ms(&self) -> Option<u64> {
        self.blocked_since_ms
    }

    fn check(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        assert!(
            self.head.is_some() || self.held.is_empty(),
            "fifo: a line without a head holds nothing"
        );
        assert!(
            self.held.iter().all(|(_, h)| Some(*h) != self.head),
            "fifo: the head is not held"
        );
        assert!(
            self.held
                .iter()
                .zip(self.held.iter().skip(1))
                .all(|(a, b)| a.0 <= b.0),
            "fifo: the held deliveries are in key order"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(created_s: u64, offset: u64) -> Key {
        Key {
            created_s,
            journal: 0,
            segment_seq: 1,
            offset,
        }
    }

    #[test]
    fn one_head_at_a_time_and_the_rest_in_key_order() {
        let mut line = Line::default();
        assert!(line.is_empty());
        assert_eq!(line.admit(10, key(1, 64)), Admit::Head);
        // Arrivals out of order (a resend of an older message, recovery)
        // are held in key order.
        assert_eq!(line.admit(12, key(1, 192)), Admit::Held);
        assert_eq!(line.admit(11, key(1, 128)), Admit::Held);
        assert_eq!(line.admit(13, key(0, 900)), Admit::Held);
        // The head coming due again is still the head.
        assert_eq!(line.admit(10, key(1, 64)), Admit::Head);
        assert_eq!(line.held(), 3);
        // A failing head blocks the line from its first failure on.
        line.head_failed(10, 500);
        line.head_failed(10, 900);
        line.head_failed(11, 700);
        assert_eq!(line.blocked_since_ms(), Some(500));
        // Only the head's end moves the line.
        assert_eq!(line.ended(12), None);
        assert_eq!(line.ended(10), Some(13));
        assert_eq!(line.blocked_since_ms(), None);
        assert_eq!(line.ended(13), Some(11));
        assert_eq!(line.ended(11), Some(12));
        assert_eq!(line.ended(12), None);
        assert!(line.is_empty());
    }

    #[test]
    fn keys_order_by_second_then_journal_position() {
        let a = key(5, 900);
        let b = key(6, 64);
        let c = Key {
            journal: 1,
            ..key(6, 0)
        };
        assert!(a < b && b < c);
    }
}
