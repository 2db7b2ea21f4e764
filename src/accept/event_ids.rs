//! The `eventId` window: which producer idempotency keys a shard has seen.
//!
//! A home shard refuses a message whose (application, `eventId`) it accepted
//! within `idempotency_window_ms` (24 h). At 100,000 messages/s that window
//! could hold billions of keys, so it has two bounds: entries expire after the
//! window, and at most `max_event_ids_per_shard` are kept, the oldest evicted
//! first (the window is then shorter than 24 h for the oldest keys; a stated
//! trade-off, visible in `docs/ARCHITECTURE.md`). Keys are stored as a 128-bit
//! hash of the pair rather than the strings, and expiry pops from the front of
//! an insertion-ordered queue a little at every insert, so no pass over the
//! whole map ever stalls the shard. The map is a `split::SplitMap` of 64
//! tables, so growing it rehashes a 64th of the keys at a time.

use crate::split::SplitMap;
use std::collections::VecDeque;
use std::hash::Hasher;

/// One `eventId` window entry as recovery finds it: (app id, eventId) →
/// (message id, accepted at ms).
pub type DedupEntry = ((String, String), (String, u64));

/// A 128-bit digest of (application id, eventId): two independent 64-bit
/// hashes, so a false "duplicate" needs a collision of both (~2^-128 per pair).
fn key(app_id: &str, event_id: &str) -> u128 {
    let mut fnv: u64 = 0xcbf2_9ce4_8422_2325;
    let mut sip = std::collections::hash_map::DefaultHasher::new();
    for part in [app_id.as_bytes(), b"\0", event_id.as_bytes()] {
        for b in part {
            fnv ^= u64::from(*b);
            fnv = fnv.wrapping_mul(0x0100_0000_01b3);
        }
        sip.write(part);
    }
    (u128::from(fnv) << 64) | u128::from(sip.finish())
}

/// Tables the window's keys are split over (`split::SplitMap`).
const TABLES: usize = 64;

/// The shard's `eventId` window.
///
/// # Invariants
/// - every key in `map` has a slot in `order` with its `at_ms` (a key
///   accepted again after its window also keeps its stale slot, which
///   `pop_front` skips);
/// - `map.len() <= max`.
#[derive(Debug)]
pub struct EventIds {
    map: SplitMap<(Box<str>, u64)>,
    order: VecDeque<(u64, u128)>,
    window_ms: u64,
    max: usize,
}

impl EventIds {
    pub fn new(window_ms: u64, max: usize) -> EventIds {
        EventIds {
            map: SplitMap::new(TABLES),
            order: VecDeque::new(),
            window_ms,
            max: max.max(1),
        }
    }

    /// The message id first accepted with this key, if still in the window.
    pub fn get(&self, app_id: &str, event_id: &str, now_ms: u64) -> Option<&str> {
        self.map
            .get(&key(app_id, event_id))
            .filter(|(_, at)| now_ms.saturating_sub(*at) < self.window_ms)
            .map(|(id, _)| &**id)
    }

    /// Remembers a key accepted at `at_ms` as `msg_id`.
    pub fn insert(&mut self, app_id: &str, event_id: &str, msg_id: &str, at_ms: u64) {
        let k = key(app_id, event_id);
        // A key accepted again (its entry expired but not yet dropped) gets
        // a queue slot for its new time: the old slot no longer matches it,
        // and without one the key would never expire.
        let before = self.map.insert(k, (msg_id.into(), at_ms));
        if before.is_none_or(|(_, at)| at != at_ms) {
            self.order.push_back((at_ms, k));
        }
        // Bounded work per insert: expire up to a few old entries.
        self.expire(at_ms, 4);
        while self.map.len() > self.max && !self.order.is_empty() {
            self.pop_front();
        }
        debug_assert!(self.map.len() <= self.max, "every key has a queue slot");
    }

    /// Drops up to `budget` expired entries from the front.
    pub fn expire(&mut self, now_ms: u64, budget: usize) {
        for _ in 0..budget {
            match self.order.front() {
                Some((at, _)) if now_ms.saturating_sub(*at) >= self.window_ms => self.pop_front(),
                _ => return,
            }
        }
    }

    fn pop_front(&mut self) {
        if let Some((at, k)) = self.order.pop_front() {
            // A re-inserted key keeps its first queue slot; remove it only
            // if the map still holds that same insertion.
            if self.map.get(&k).is_some_and(|(_, a)| *a == at) {
                self.map.remove(&k);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_the_window_and_forgets_after() {
        let mut ids = EventIds::new(1_000, 100);
        ids.insert("app_1", "e1", "msg_a", 10);
        assert_eq!(ids.get("app_1", "e1", 500), Some("msg_a"));
        assert_eq!(ids.get("app_2", "e1", 500), None, "scoped per application");
        assert_eq!(ids.get("app_1", "e1", 1_010), None, "expired");
        ids.insert("app_1", "e2", "msg_b", 2_000);
        assert_eq!(ids.len(), 1, "the expired entry was dropped on insert");
    }

    /// A key accepted again after its window keeps expiring and counting:
    /// its stale queue slot does not hold it forever.
    #[test]
    fn a_key_accepted_again_after_its_window_expires_again() {
        let mut ids = EventIds::new(1_000, 2);
        ids.insert("app", "k", "msg_1", 0);
        // Expired, not yet dropped (no insert came by since).
        assert_eq!(ids.get("app", "k", 1_500), None);
        ids.insert("app", "k", "msg_2", 1_500);
        assert_eq!(ids.get("app", "k", 2_000), Some("msg_2"));
        assert_eq!(ids.get("app", "k", 2_500), None, "its new window ends");
        ids.insert("app", "other", "msg_3", 3_000);
        assert_eq!(ids.len(), 1, "the key expired again and was dropped");
        // At the cap, the stale and the new slots of a key never leave the
        // map over it.
        for i in 0..10u64 {
            ids.insert("app", "k", &format!("msg_k{i}"), 10_000 + i * 2_000);
            ids.insert("app", &format!("e{i}"), "msg_e", 10_000 + i * 2_000);
            assert!(ids.len() <= 2);
        }
    }

    #[test]
    fn the_oldest_are_evicted_at_the_cap() {
        let mut ids = EventIds::new(u64::MAX, 3);
        for (i, e) in ["a", "b", "c", "d"].iter().enumerate() {
            ids.insert("app", e, &format!("msg_{e}"), i as u64);
        }
        assert_eq!(ids.len(), 3);
        assert_eq!(ids.get("app", "a", 10), None);
        assert_eq!(ids.get("app", "d", 10), Some("msg_d"));
    }

    #[test]
    fn keys_spread_over_the_tables_are_all_found_and_counted() {
        let mut ids = EventIds::new(u64::MAX, 10_000);
        for i in 0..5_000 {
            ids.insert("app", &format!("e{i}"), &format!("msg_{i}"), i);
        }
        assert_eq!(ids.len(), 5_000);
        assert!(ids.map.all_tables_used(), "every table used");
        for i in (0..5_000).step_by(97) {
            assert_eq!(
                ids.get("app", &format!("e{i}"), 0),
                Some(&*format!("msg_{i}"))
            );
        }
        ids.insert("app", "e0", "msg_again", 9);
        assert_eq!(ids.len(), 5_000, "a re-insert is not counted twice");
    }

    #[test]
    fn the_app_and_event_id_boundary_is_unambiguous() {
        assert_ne!(key("ab", "c"), key("a", "bc"));
    }
}
