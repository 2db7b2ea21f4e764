//! `IdLog`: the read-path indexes' ordered map from an id to its entry,
//! built for how the engine fills them.
//!
//! Engine ids sort by the time they were minted (`ids`), so nearly every
//! insert carries a key above every key already there, and trimming takes
//! the lowest keys. A `BTreeMap` pays a search from the root and node
//! splits and merges for each (with 40-byte keys, ~11 % of an ingest
//! profile). Here an entry whose key is above every key present is pushed
//! onto the end of a sorted `VecDeque` (`tail`), and the lowest entry is
//! popped off its front: O(1) for both. Any other insert (a clock step
//! back, deliveries from several home shards interleaving, recovery's
//! order) goes into a `BTreeMap` (`rest`), so no order of inserts costs
//! more than a `BTreeMap` would. Reads merge the two.
//!
//! Lookups mostly go in key order too, in a stream or two (deliveries are
//! claimed, and later answered, about as they were accepted), so each
//! starts at the entries after the last two found (`fingers`) before it
//! searches.
//!
//! # Invariants
//! 1. `tail` is sorted by key, strictly increasing.
//! 2. No key is in both `tail` and `rest`.
//! 3. Entries leave `tail` only from its front, each counted in `popped`,
//!    so `popped + i` names `tail[i]` for as long as it stays.

use crate::message::IdKey;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::iter::Peekable;
use std::ops::Bound;

/// An ordered map from `IdKey` to `V` (see the module).
#[derive(Debug)]
pub struct IdLog<V> {
    tail: VecDeque<(IdKey, V)>,
    rest: BTreeMap<IdKey, V>,
    /// Entries popped off `tail`'s front so far (invariant 3).
    popped: u64,
    /// Where in `tail` the last two lookups that found their key found it,
    /// as `popped + i`; `fingers[stale]` is the older.
    fingers: [Cell<u64>; 2],
    stale: Cell<usize>,
}

impl<V> Default for IdLog<V> {
    fn default() -> Self {
        IdLog {
            tail: VecDeque::new(),
            rest: BTreeMap::new(),
            popped: 0,
            fingers: [Cell::new(0), Cell::new(0)],
            stale: Cell::new(0),
        }
    }
}

impl<V> IdLog<V> {
    pub fn len(&self) -> usize {
        self.tail.len() + self.rest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tail.is_empty() && self.rest.is_empty()
    }

    /// Whether `key` is above every key present.
    fn above_all(&self, key: &IdKey) -> bool {
        self.tail.back().is_none_or(|(k, _)| key > k)
            && self.rest.last_key_value().is_none_or(|(k, _)| key > k)
    }

    /// `key`'s index in `tail` (`Err`: where it would go), searched from
    /// the back: the engine looks up recent entries most (a delivery
    /// answered, its attempt recorded), so probes at 1, 2, 4, ... from the
    /// end bracket the key in a few entries next to each other before a
    /// binary search of that bracket, instead of a binary search's probes
    /// spread over the whole tail (each a likely cache miss).
    fn in_tail(&self, key: &IdKey) -> Result<usize, usize> {
        // The entry after each of the last two found, then that one (a
        // finger behind `popped` wraps to an index past the end).
        for (f, finger) in self.fingers.iter().enumerate() {
            let last = finger.get().wrapping_sub(self.popped) as usize;
            for i in [last.wrapping_add(1), last] {
                if self.tail.get(i).is_some_and(|(k, _)| k == key) {
                    finger.set(self.popped + i as u64);
                    self.stale.set(1 - f);
                    return Ok(i);
                }
            }
        }
        let found = self.search_tail(key);
        if let Ok(i) = found {
            let f = self.stale.get();
            self.fingers[f].set(self.popped + i as u64);
            self.stale.set(1 - f);
        }
        found
    }

    /// `in_tail`'s search when the fingers miss.
    fn search_tail(&self, key: &IdKey) -> Result<usize, usize> {
        // key < tail[hi] whenever hi < len; key > tail[lo - 1] when lo > 0.
        let mut hi = self.tail.len();
        let mut lo = 0;
        let mut step = 1;
        while step <= hi {
            let i = hi - step;
            match self.tail[i].0.cmp(key) {
                Ordering::Equal => return Ok(i),
                Ordering::Less => {
                    lo = i + 1;
                    break;
                }
                Ordering::Greater => {
                    hi = i;
                    step *= 2;
                }
            }
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.tail[mid].0.cmp(key) {
                Ordering::Equal => return Ok(mid),
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
            }
        }
        Err(lo)
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: IdKey, value: V) -> Option<V> {
        if self.above_all(&key) {
            self.tail.push_back((key, value));
            self.check(&key);
            return None;
        }
        if let Ok(i) = self.in_tail(&key) {
            return Some(std::mem::replace(&mut self.tail[i].1, value));
        }
        let replaced = self.rest.insert(key, value);
        self.check(&key);
        replaced
    }

    /// The entry of `key`, inserted with `make` if there is none.
    pub fn get_or_insert_with(&mut self, key: IdKey, make: impl FnOnce() -> V) -> &mut V {
        if self.above_all(&key) {
            self.tail.push_back((key, make()));
            self.check(&key);
            let last = self.tail.len() - 1;
            return &mut self.tail[last].1;
        }
        match self.in_tail(&key) {
            Ok(i) => &mut self.tail[i].1,
            Err(_) => self.rest.entry(key).or_insert_with(make),
        }
    }

    pub fn get(&self, key: &IdKey) -> Option<&V> {
        match self.in_tail(key) {
            Ok(i) => Some(&self.tail[i].1),
            Err(_) => self.rest.get(key),
        }
    }

    pub fn get_mut(&mut self, key: &IdKey) -> Option<&mut V> {
        match self.in_tail(key) {
            Ok(i) => Some(&mut self.tail[i].1),
            Err(_) => self.rest.get_mut(key),
        }
    }

    /// Whether the lowest entry is `tail`'s (else `rest`'s, if any).
    fn lowest_in_tail(&self) -> bool {
        match (self.tail.front(), self.rest.first_key_value()) {
            (Some((t, _)), Some((r, _))) => t < r,
            (front, _) => front.is_some(),
        }
    }

    /// The entry with the lowest key.
    pub fn first_key_value(&self) -> Option<(&IdKey, &V)> {
        if self.lowest_in_tail() {
            self.tail.front().map(|(k, v)| (k, v))
        } else {
            self.rest.first_key_value()
        }
    }

    /// Removes the entry with the lowest key.
    pub fn pop_first(&mut self) -> Option<(IdKey, V)> {
        if self.lowest_in_tail() {
            self.popped += 1;
            self.tail.pop_front()
        } else {
            self.rest.pop_first()
        }
    }

    /// Every value, lowest key first.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.range(Bound::Unbounded, Bound::Unbounded, false)
            .map(|(_, v)| v)
    }

    /// Every value, highest key first.
    pub fn values_newest_first(&self) -> impl Iterator<Item = &V> {
        self.range(Bound::Unbounded, Bound::Unbounded, true)
            .map(|(_, v)| v)
    }

    /// `tail`'s entries within `(lo, hi)`, as a range of its indexes.
    fn tail_range(&self, lo: &Bound<IdKey>, hi: &Bound<IdKey>) -> std::ops::Range<usize> {
        let start = match lo {
            Bound::Included(b) => self.tail.partition_point(|(k, _)| k < b),
            Bound::Excluded(b) => self.tail.partition_point(|(k, _)| k <= b),
            Bound::Unbounded => 0,
        };
        let end = match hi {
            Bound::Included(b) => self.tail.partition_point(|(k, _)| k <= b),
            Bound::Excluded(b) => self.tail.partition_point(|(k, _)| k < b),
            Bound::Unbounded => self.tail.len(),
        };
        start..end.max(start)
    }

    /// The entries with keys within `(lo, hi)`, lowest first, or highest
    /// first with `highest_first`.
    pub fn range(
        &self,
        lo: Bound<IdKey>,
        hi: Bound<IdKey>,
        highest_first: bool,
    ) -> impl Iterator<Item = (&IdKey, &V)> {
        let tail = self.tail.range(self.tail_range(&lo, &hi));
        // An empty range: `BTreeMap::range` panics on an inverted one.
        let empty = match (&lo, &hi) {
            (Bound::Included(l), Bound::Included(h)) => l > h,
            (Bound::Included(l) | Bound::Excluded(l), Bound::Included(h) | Bound::Excluded(h)) => {
                l >= h
            }
            _ => false,
        };
        let rest = (!empty)
            .then(|| self.rest.range((lo, hi)))
            .into_iter()
            .flatten();
        let tail = tail.map(|(k, v)| (k, v));
        if highest_first {
            Merged::new(
                Box::new(tail.rev()),
                Box::new(rest.rev()),
                Ordering::Greater,
            )
        } else {
            Merged::new(Box::new(tail), Box::new(rest), Ordering::Less)
        }
    }

    /// Invariants 1 and 2 where an insert of `key` could break them, after
    /// every insert in debug builds (O(log n), so tests of full indexes stay
    /// fast; the property test checks whole logs against a `BTreeMap`).
    fn check(&self, key: &IdKey) {
        if cfg!(debug_assertions) {
            let at = self.in_tail(key);
            if let Ok(i) = at {
                assert!(
                    (i == 0 || self.tail[i - 1].0 < *key)
                        && self.tail.get(i + 1).is_none_or(|(k, _)| key < k),
                    "IdLog's tail is sorted (invariant 1)"
                );
            }
            assert!(
                at.is_err() || !self.rest.contains_key(key),
                "no key is in both parts of an IdLog (invariant 2)"
            );
        }
    }
}

type Side<'a, V> = Box<dyn Iterator<Item = (&'a IdKey, &'a V)> + 'a>;

/// Two key-ordered iterators merged into one: the entry whose key compares
/// as `first` to the other's comes out first.
struct Merged<'a, V> {
    a: Peekable<Side<'a, V>>,
    b: Peekable<Side<'a, V>>,
    first: Ordering,
}

impl<'a, V> Merged<'a, V> {
    fn new(a: Side<'a, V>, b: Side<'a, V>, first: Ordering) -> Self {
        Merged {
            a: a.peekable(),
            b: b.peekable(),
            first,
        }
    }
}

impl<'a, V> Iterator for Merged<'a, V> {
    type Item = (&'a IdKey, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let take_a = match (self.a.peek(), self.b.peek()) {
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb) == self.first,
            (a, _) => a.is_some(),
        };
        if take_a {
            self.a.next()
        } else {
            self.b.next()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(n: u16) -> IdKey {
        IdKey::new(&format!("msg_{n:05}")).expect("fits")
    }

    fn bound(kind: u8, n: u16) -> Bound<IdKey> {
        match kind % 3 {
            0 => Bound::Included(key(n)),
            1 => Bound::Excluded(key(n)),
            _ => Bound::Unbounded,
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Upsert(u16),
        PopFirst,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            // Mostly rising keys, as the engine mints them, some not.
            4 => (0u16..3000).prop_map(Op::Insert),
            1 => (0u16..3000).prop_map(Op::Upsert),
            1 => Just(Op::PopFirst),
        ]
    }

    proptest! {
        /// Against a `BTreeMap` fed the same operations: the same entries,
        /// in the same order, for every range either way.
        #[test]
        fn behaves_as_a_btreemap(
            ops in proptest::collection::vec(op(), 0..400),
            rising in any::<bool>(),
            ranges in proptest::collection::vec((any::<u8>(), 0u16..3000, any::<u8>(), 0u16..3000), 8),
        ) {
            let mut log = IdLog::default();
            let mut model = BTreeMap::new();
            let mut next = 0u16;
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Insert(n) | Op::Upsert(n) => {
                        let n = if rising && matches!(op, Op::Insert(_)) { next += 1; next } else { n };
                        prop_assert_eq!(log.insert(key(n), i), model.insert(key(n), i));
                    }
                    Op::PopFirst => prop_assert_eq!(log.pop_first(), model.pop_first()),
                }
                prop_assert_eq!(log.len(), model.len());
                prop_assert_eq!(log.first_key_value(), model.first_key_value());
            }
            for (k, v) in &model {
                prop_assert_eq!(log.get(k), Some(v));
            }
            for n in (0..3002).step_by(7) {
                prop_assert_eq!(log.get(&key(n)), model.get(&key(n)));
            }
            let values: Vec<_> = log.values().copied().collect();
            let want: Vec<_> = model.values().copied().collect();
            prop_assert_eq!(&values, &want);
            let mut newest: Vec<_> = log.values_newest_first().copied().collect();
            newest.reverse();
            prop_assert_eq!(newest, want);
            for (lk, ln, hk, hn) in ranges {
                let (lo, hi) = (bound(lk, ln), bound(hk, hn));
                let valid = match (&lo, &hi) {
                    (Bound::Included(l), Bound::Included(h)) => l <= h,
                    (Bound::Included(l) | Bound::Excluded(l), Bound::Included(h) | Bound::Excluded(h)) => l < h,
                    _ => true,
                };
                let want: Vec<_> = if valid { model.range((lo, hi)).collect() } else { vec![] };
                let got: Vec<_> = log.range(lo, hi, false).collect();
                prop_assert_eq!(&got, &want);
                let mut back: Vec<_> = log.range(lo, hi, true).collect();
                back.reverse();
                prop_assert_eq!(back, want);
            }
        }
    }

    #[test]
    fn the_search_from_the_back_finds_what_a_binary_search_finds() {
        for len in 0u16..70 {
            let mut log = IdLog::default();
            for n in 0..len {
                log.insert(key(2 * n + 1), n);
            }
            for probe in 0..2 * len + 2 {
                let want = log.tail.binary_search_by(|(k, _)| k.cmp(&key(probe)));
                assert_eq!(log.in_tail(&key(probe)), want, "len {len}, probe {probe}");
            }
        }
    }

    /// Lookups in key order, in two interleaved streams, start at the
    /// entries after the last two found, and stay right while entries
    /// leave the front under the fingers.
    #[test]
    fn the_fingers_follow_lookups_in_order_and_survive_pops() {
        let mut log = IdLog::default();
        for n in 0..100 {
            log.insert(key(2 * n), n);
        }
        for n in 0..100u16 {
            assert_eq!(log.get(&key(2 * n)), Some(&n));
            let at = |f: usize| log.fingers[f].get();
            assert_eq!(
                at(1 - log.stale.get()),
                u64::from(n),
                "found where it points"
            );
            assert_eq!(log.get(&key(2 * n + 1)), None);
            // A second stream, 50 entries ahead.
            if n < 50 {
                assert_eq!(log.get(&key(2 * (n + 50))), Some(&(n + 50)));
                assert_eq!(at(1 - log.stale.get()), u64::from(n + 50));
            }
            if n % 3 == 0 {
                // Pops the entry under the finger, or ones before it.
                assert!(log.pop_first().is_some());
            }
        }
        assert_eq!(log.popped, 34);
        // Backwards, and after the finger fell behind the front.
        for n in (34..100u16).rev() {
            assert_eq!(log.get(&key(2 * n)), Some(&n));
        }
        while log.pop_first().is_some() {}
        assert_eq!(log.get(&key(198)), None);
        log.insert(key(500), 5);
        assert_eq!(log.get(&key(500)), Some(&5));
    }

    #[test]
    fn rising_keys_stay_in_the_tail_and_others_go_aside() {
        let mut log = IdLog::default();
        for n in 10..20 {
            log.insert(key(n), n);
        }
        assert_eq!((log.tail.len(), log.rest.len()), (10, 0));
        log.insert(key(5), 5); // below everything
        log.insert(key(15), 150); // replaces in the tail
        *log.get_or_insert_with(key(30), || 0) += 30; // above everything
        *log.get_or_insert_with(key(12), || 0) += 1; // present
        assert_eq!((log.tail.len(), log.rest.len()), (11, 1));
        assert_eq!(log.get(&key(15)), Some(&150));
        assert_eq!(log.get(&key(12)), Some(&13));
        assert_eq!(log.pop_first(), Some((key(5), 5)));
        assert_eq!(log.first_key_value(), Some((&key(10), &10)));
    }
}
