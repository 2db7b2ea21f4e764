//! Per-shard hierarchical hashed timing wheel that decides *when* a delivery is retried.
//!
//! The wheel owns only the schedule: callers keep delivery records in their own storage and hand
//! the wheel a `u32` index ("handle"). Holding plain handles rather than futures or callbacks lets
//! one shard keep tens of millions of pending retries in one flat slab, with O(1) insert and
//! cancel and an `advance` that costs O(expired + occupied slots passed).
//!
//! Layout: 6 levels of 64 slots at 1 ms resolution; a level-`l` slot is `64^l` ms wide, so the
//! levels span 2^36 ms (about 795 days). A timer sits at the level of the highest 6-bit digit in
//! which its deadline differs from `now_ms`, so a 10 h retry starts at level 4 and cascades down
//! at most four times. Later deadlines (such as `u64::MAX / 2`) wait in one overflow list that is
//! re-examined only when time reaches the 2^36 ms block of its earliest deadline.
//!
//! Memory: a timer is one 24-byte `Node` in a `Vec` slab. Slot lists are intrusive rings headed by
//! 385 sentinel nodes in the same slab (9,240 bytes per wheel), and occupancy is one inline `u64`
//! bitmap per level. The slab grows by a quarter when full rather than doubling, so at a peak it
//! holds at most 1.25 nodes (30 bytes) per timer plus the sentinels. Measured by
//! `million_timers_over_ten_hours_fire_once`: 28.46 bytes per timer grown from `new`, 24.01 with
//! `with_capacity`.

use std::mem::size_of;

/// Bits of time that one level resolves; 64 slots keep a level's occupancy in one `u64`.
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = SLOTS as u64 - 1;
const LEVELS: usize = 6;
const WHEEL_SLOTS: usize = SLOTS * LEVELS;
/// Low bits of a deadline that the levels resolve; deadlines differing above them overflow.
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// Slab index of the overflow ring's sentinel, right after the wheel slots' sentinels.
const OVERFLOW: u32 = WHEEL_SLOTS as u32;
/// Slab indexes below this are sentinels, never timers.
const SENTINELS: u32 = OVERFLOW + 1;
/// Marks "no node": the end of the free list and the `prev` of a free node.
const NIL: u32 = u32::MAX;
/// The slab never grows by fewer nodes than this, so small wheels do not reallocate constantly.
const MIN_GROWTH: usize = 1024;

/// One timer, or a slot's sentinel when its index is below `SENTINELS`.
#[derive(Clone, Copy, Debug)]
struct Node {
    deadline_ms: u64,
    handle: u32,
    prev: u32,
    next: u32,
    generation: u32,
}

/// A fresh node, not yet in any ring or list.
const FREE_NODE: Node = Node {
    deadline_ms: 0,
    handle: 0,
    prev: NIL,
    next: NIL,
    generation: 0,
};

// The memory budget (≤ 32 bytes per timer) rests on the node size, occupancy on one `u64` per
// level, and slot-start arithmetic on shifting by `WHEEL_BITS` without overflow.
const _: () = assert!(size_of::<Node>() == 24);
const _: () = assert!(SLOTS == u64::BITS as usize);
const _: () = assert!(WHEEL_BITS < u64::BITS);

/// Identifies one scheduled timer; it goes stale once that timer fires or is cancelled.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

/// A hierarchical hashed timing wheel of `u32` handles with millisecond deadlines.
///
/// # Invariants
///
/// 1. Slab indexes below `SENTINELS` are sentinels: index `l * 64 + s` heads the ring of level
///    `l`, slot `s`, and `OVERFLOW` heads the overflow ring. Every live timer is in exactly one
///    ring, namely `sentinel_for(deadline_ms)` under the *current* `now_ms`: its level is the
///    highest 6-bit digit in which `max(deadline_ms, now_ms)` differs from `now_ms`. Hence every
///    timer at level `l` is due later than every timer at a lower level, and the lowest occupied
///    slot of the lowest occupied level is always the earliest; `advance` keeps this true by only
///    ever moving time to the start of that slot or to a point before it.
/// 2. Bit `s` of `occupied[l]` is set iff the ring of level `l`, slot `s` is non-empty. At level
///    0 no bit below `now_ms`'s digit is set; at higher levels none at or below it.
/// 3. Free nodes have `prev == NIL` and are chained through `next` from `free_head`; live nodes
///    and sentinels never have `prev == NIL`.
/// 4. A node's generation is bumped whenever it is freed, so a `TimerId` matches only the timer it
///    was issued for (until the same slab slot has been reused 2^32 times).
/// 5. `len` counts live timers. `overflow_min_ms` is at most every overflow deadline (`u64::MAX`
///    when the overflow is empty) and `past_min_ms` at most every live deadline behind the clock
///    (`u64::MAX` when none is); cancels may leave them stale, which keeps them lower bounds.
#[derive(Debug)]
pub struct TimerWheel {
    nodes: Vec<Node>,
    free_head: u32,
    occupied: [u64; LEVELS],
    now_ms: u64,
    len: usize,
    overflow_min_ms: u64,
    past_min_ms: u64,
}

impl TimerWheel {
    /// Creates an empty wheel whose clock reads `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self::with_capacity(now_ms, 0)
    }

    /// Creates an empty wheel with room for `timers` timers before the slab has to grow.
    pub fn with_capacity(now_ms: u64, timers: usize) -> Self {
        let mut nodes = Vec::with_capacity(timers.saturating_add(SENTINELS as usize));
        // Each sentinel starts as an empty ring pointing at itself.
        nodes.extend((0..SENTINELS).map(|index| Node {
            prev: index,
            next: index,
            ..FREE_NODE
        }));
        Self {
            nodes,
            free_head: NIL,
            occupied: [0; LEVELS],
            now_ms,
            len: 0,
            overflow_min_ms: u64::MAX,
            past_min_ms: u64::MAX,
        }
    }

    /// Schedules `handle` to expire once time reaches `deadline_ms`.
    ///
    /// A deadline at or before `now_ms` expires on the next `advance`, whatever time that names.
    ///
    /// # Panics
    ///
    /// If the slab already holds `u32::MAX` nodes (sentinels included), about 4.29 billion timers.
    pub fn insert(&mut self, deadline_ms: u64, handle: u32) -> TimerId {
        let index = self.alloc();
        let node = &mut self.nodes[index as usize];
        node.deadline_ms = deadline_ms;
        node.handle = handle;
        let generation = node.generation;
        if deadline_ms < self.now_ms {
            self.past_min_ms = self.past_min_ms.min(deadline_ms);
        }
        self.link(index);
        self.len += 1;
        TimerId { index, generation }
    }

    /// Returns the handle if the timer was still pending; stale ids (already fired/cancelled, slot
    /// reused) return None — generations make that safe.
    pub fn cancel(&mut self, id: TimerId) -> Option<u32> {
        // Ids are only minted by `insert`, but one from another wheel must not reach a sentinel.
        let node = self
            .nodes
            .get(id.index as usize)
            .filter(|_| id.index >= SENTINELS);
        let is_pending = |node: &&Node| node.generation == id.generation && node.prev != NIL;
        let handle = node.filter(is_pending)?.handle;
        self.unlink(id.index);
        self.release(id.index);
        self.len -= 1;
        Some(handle)
    }

    /// Moves time to now_ms (never backwards; a smaller now is ignored) and appends every handle
    /// whose deadline_ms <= now_ms to `expired` (any order), removing them.
    pub fn advance(&mut self, now_ms: u64, expired: &mut Vec<u32>) {
        let target_ms = now_ms.max(self.now_ms);
        // Visit occupied slots in time order; each visit either fires a level-0 slot or cascades
        // a higher slot's timers down, so the loop runs once per occupied slot passed.
        let reached = |&(_, start_ms): &(u32, u64)| start_ms <= target_ms;
        while let Some((sentinel, start_ms)) = self.next_slot().filter(reached) {
            // One compare per slot visit is cheap, and it turns a broken invariant 1 into a panic
            // rather than a clock that runs backwards and a loop that never ends.
            assert!(start_ms >= self.now_ms, "slots are never behind the clock");
            self.now_ms = start_ms;
            self.drain(sentinel, expired);
        }
        // Every remaining slot starts after target_ms, so it still lies ahead of the new clock
        // and on the same higher digits, which keeps invariant 1.
        self.now_ms = target_ms;
        self.past_min_ms = u64::MAX;
    }

    /// A lower bound on the earliest pending deadline, for how long the shard may sleep: None when
    /// empty. It may be earlier than the true earliest deadline (e.g. a higher-level slot boundary)
    /// but never later.
    pub fn next_wake_ms(&self) -> Option<u64> {
        // Deadlines behind the clock sit in the slot due now, so only `past_min_ms` is earlier.
        let wake_ms = self
            .next_slot()
            .map(|(_, start_ms)| start_ms.min(self.past_min_ms));
        debug_assert_eq!(wake_ms.is_some(), self.len > 0, "invariant 2");
        wake_ms
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The wheel's clock: the latest time passed to `new` or `advance`.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Bytes of heap the wheel holds (slab + slot arrays), for the memory budget metric.
    pub fn heap_bytes(&self) -> usize {
        // Slot heads are sentinels inside the slab and the bitmaps are inline, so the slab is all.
        self.nodes.capacity() * size_of::<Node>()
    }

    /// The earliest occupied slot's sentinel and the time its first deadline can be due.
    fn next_slot(&self) -> Option<(u32, u64)> {
        for (level, &bits) in self.occupied.iter().enumerate() {
            let shift = SLOT_BITS * level as u32;
            let digit = (self.now_ms >> shift) & SLOT_MASK;
            // Bits at or below the clock's digit; level 0 may hold the digit itself (due now).
            let behind = u64::MAX >> (SLOT_MASK - digit) >> u32::from(level == 0);
            debug_assert_eq!(bits & behind, 0, "invariant 2");
            if bits != 0 {
                let slot = u64::from(bits.trailing_zeros());
                let block_ms = self.now_ms & !((1u64 << (shift + SLOT_BITS)) - 1);
                let sentinel = (level * SLOTS) as u32 + slot as u32;
                return Some((sentinel, block_ms | slot << shift));
            }
        }
        if self.nodes[OVERFLOW as usize].next == OVERFLOW {
            return None;
        }
        let start_ms = self.overflow_min_ms & !((1u64 << WHEEL_BITS) - 1);
        debug_assert!(start_ms > self.now_ms, "overflow is past the clock");
        Some((OVERFLOW, start_ms))
    }

    /// Empties one ring at the clock's current position: level 0 fires, the rest re-link lower.
    fn drain(&mut self, sentinel: u32, expired: &mut Vec<u32>) {
        let head = sentinel as usize;
        let mut cursor = self.nodes[head].next;
        // Detach the chain first: re-linking may put overflow timers back into this very ring.
        (self.nodes[head].prev, self.nodes[head].next) = (sentinel, sentinel);
        self.mark_empty(sentinel);
        let fires = (sentinel as usize) < SLOTS;
        while cursor != sentinel {
            let node = self.nodes[cursor as usize];
            if fires {
                debug_assert!(node.deadline_ms <= self.now_ms, "fires on time");
                expired.push(node.handle);
                self.release(cursor);
                self.len -= 1;
            } else {
                self.link(cursor);
            }
            cursor = node.next;
        }
    }

    /// The ring a deadline belongs in under the current clock (invariant 1).
    fn sentinel_for(&self, deadline_ms: u64) -> u32 {
        let due_ms = deadline_ms.max(self.now_ms);
        let diff = due_ms ^ self.now_ms;
        // The highest differing bit picks the level; equal times are due now, at level 0.
        let level = diff.checked_ilog2().unwrap_or(0) / SLOT_BITS;
        if level as usize >= LEVELS {
            return OVERFLOW;
        }
        let slot = (due_ms >> (level * SLOT_BITS)) & SLOT_MASK;
        level * SLOTS as u32 + slot as u32
    }

    /// Appends a node to the tail of the ring its deadline belongs in.
    fn link(&mut self, index: u32) {
        let deadline_ms = self.nodes[index as usize].deadline_ms;
        let sentinel = self.sentinel_for(deadline_ms);
        if sentinel == OVERFLOW {
            self.overflow_min_ms = self.overflow_min_ms.min(deadline_ms);
        } else {
            let slot = sentinel as usize;
            self.occupied[slot / SLOTS] |= 1 << (slot % SLOTS);
        }
        let tail = self.nodes[sentinel as usize].prev;
        let node = &mut self.nodes[index as usize];
        (node.prev, node.next) = (tail, sentinel);
        self.nodes[tail as usize].next = index;
        self.nodes[sentinel as usize].prev = index;
    }

    /// Removes a live node from its ring without needing to know which ring that is.
    fn unlink(&mut self, index: u32) {
        let Node { prev, next, .. } = self.nodes[index as usize];
        debug_assert!(prev != NIL && next != NIL, "invariant 3");
        self.nodes[prev as usize].next = next;
        self.nodes[next as usize].prev = prev;
        // Neighbours coincide only when the sentinel is left alone, i.e. the ring is now empty.
        if prev == next {
            debug_assert!(prev < SENTINELS, "rings hold a sentinel");
            self.mark_empty(prev);
        }
    }

    fn mark_empty(&mut self, sentinel: u32) {
        let slot = sentinel as usize;
        if slot < WHEEL_SLOTS {
            self.occupied[slot / SLOTS] &= !(1 << (slot % SLOTS));
        } else {
            self.overflow_min_ms = u64::MAX;
        }
    }

    /// Takes a node from the free list, or from the end of the slab.
    fn alloc(&mut self) -> u32 {
        if self.free_head != NIL {
            let index = self.free_head;
            let node = &self.nodes[index as usize];
            debug_assert_eq!(node.prev, NIL, "invariant 3");
            self.free_head = node.next;
            return index;
        }
        if self.nodes.len() == self.nodes.capacity() {
            // Grow by a quarter, not Vec's doubling, so a full slab holds at most 1.25 nodes per
            // timer (30 bytes) and stays within the 32-byte budget; growth is still geometric, so
            // pushes stay amortised O(1), and glibc moves large blocks by remapping, not copying.
            let extra = (self.nodes.len() / 4).max(MIN_GROWTH);
            self.nodes.reserve_exact(extra);
        }
        let index = self.nodes.len();
        assert!(index < NIL as usize, "timer wheel slab is full");
        self.nodes.push(FREE_NODE);
        index as u32
    }

    /// Returns an unlinked node to the free list.
    fn release(&mut self, index: u32) {
        let node = &mut self.nodes[index as usize];
        // Bumping the generation is what turns every outstanding TimerId for this node stale.
        node.generation = node.generation.wrapping_add(1);
        node.prev = NIL;
        node.next = self.free_head;
        self.free_head = index;
    }

    /// Walks every ring and the free list and checks all invariants; O(slab), so tests only.
    #[cfg(test)]
    fn check_invariants(&self) {
        let mut live = 0;
        for sentinel in 0..SENTINELS {
            let mut prev = sentinel;
            let mut cursor = self.nodes[sentinel as usize].next;
            while cursor != sentinel {
                let node = self.nodes[cursor as usize];
                assert!(cursor >= SENTINELS, "rings hold one sentinel each");
                assert_eq!(node.prev, prev, "ring links are symmetric");
                assert_eq!(self.sentinel_for(node.deadline_ms), sentinel, "invariant 1");
                if sentinel == OVERFLOW {
                    assert!(self.overflow_min_ms <= node.deadline_ms, "invariant 5");
                }
                if node.deadline_ms < self.now_ms {
                    assert!(self.past_min_ms <= node.deadline_ms, "invariant 5");
                }
                (live, prev, cursor) = (live + 1, cursor, node.next);
            }
            assert_eq!(self.nodes[sentinel as usize].prev, prev, "symmetric links");
            if (sentinel as usize) < WHEEL_SLOTS {
                let slot = sentinel as usize;
                let bit = self.occupied[slot / SLOTS] >> (slot % SLOTS) & 1;
                assert_eq!(bit == 1, prev != sentinel, "invariant 2");
            }
        }
        assert_eq!(live, self.len, "invariant 5: len counts live timers");
        let (mut free, mut cursor) = (0, self.free_head);
        while cursor != NIL {
            assert_eq!(self.nodes[cursor as usize].prev, NIL, "invariant 3");
            (free, cursor) = (free + 1, self.nodes[cursor as usize].next);
        }
        assert_eq!(SENTINELS as usize + live + free, self.nodes.len());
        // Calling next_slot runs its debug check of invariant 2 against the clock.
        assert_eq!(self.next_slot().is_some(), self.len > 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const HOUR_MS: u64 = 3_600_000;

    /// Advances, checks every invariant, and returns the expired handles sorted (order is free).
    fn step(wheel: &mut TimerWheel, now_ms: u64) -> Vec<u32> {
        let mut expired = Vec::new();
        wheel.advance(now_ms, &mut expired);
        wheel.check_invariants();
        expired.sort_unstable();
        expired
    }

    /// A xorshift generator, so the big test needs no runtime dependency and is reproducible.
    fn next_random(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn past_and_present_deadlines_fire_on_next_advance() {
        let mut wheel = TimerWheel::new(1_000);
        wheel.insert(10, 1);
        wheel.insert(1_000, 2);
        wheel.insert(1_001, 3);
        assert_eq!(wheel.next_wake_ms(), Some(10));
        // Advancing to the current time (or before it) still fires what is already due.
        assert_eq!(step(&mut wheel, 999), [1, 2]);
        assert_eq!(wheel.now_ms(), 1_000);
        assert_eq!(wheel.next_wake_ms(), Some(1_001));
        assert_eq!(step(&mut wheel, 1_000), [0u32; 0]);
        assert_eq!(step(&mut wheel, 1_001), [3]);
        assert_eq!((wheel.is_empty(), wheel.next_wake_ms()), (true, None));
    }

    #[test]
    fn far_deadlines_wait_in_the_wheel_or_overflow() {
        let retry_ms = 5 + 10 * HOUR_MS;
        let beyond_ms = 5 + (1 << WHEEL_BITS) + 7;
        let mut wheel = TimerWheel::new(5);
        let retry = wheel.insert(retry_ms, 1);
        wheel.insert(u64::MAX / 2, 2);
        wheel.insert(u64::MAX, 3);
        wheel.insert(beyond_ms, 4);
        assert!(wheel.next_wake_ms() <= Some(retry_ms));
        assert_eq!(step(&mut wheel, retry_ms - 1), [0u32; 0]);
        assert_eq!(wheel.next_wake_ms(), Some(retry_ms));
        assert_eq!(step(&mut wheel, retry_ms), [1]);
        assert_eq!(wheel.cancel(retry), None);
        assert!(wheel.next_wake_ms() <= Some(beyond_ms));
        assert_eq!(step(&mut wheel, beyond_ms - 1), [0u32; 0]);
        assert_eq!(step(&mut wheel, beyond_ms), [4]);
        assert_eq!(step(&mut wheel, u64::MAX / 2 - 1), [0u32; 0]);
        assert!(wheel.next_wake_ms() <= Some(u64::MAX / 2));
        assert_eq!(step(&mut wheel, u64::MAX / 2), [2]);
        assert_eq!(step(&mut wheel, u64::MAX - 1), [0u32; 0]);
        assert_eq!(step(&mut wheel, u64::MAX), [3]);
        assert!(wheel.is_empty());
    }

    #[test]
    fn cancel_before_and_after_fire_and_stale_ids() {
        let mut wheel = TimerWheel::new(0);
        let a = wheel.insert(50, 7);
        let b = wheel.insert(50, 8);
        assert_eq!((wheel.cancel(a), wheel.cancel(a)), (Some(7), None));
        assert_eq!(wheel.len(), 1);
        // The freed node is reused at once; its old id must not reach the new timer.
        let c = wheel.insert(60, 9);
        assert!(c.index == a.index && c != a);
        assert_eq!(wheel.cancel(a), None);
        assert_eq!(step(&mut wheel, 50), [8]);
        assert_eq!(wheel.cancel(b), None);
        let d = wheel.insert(70, 10);
        assert!(d.index == b.index && d != b);
        assert_eq!((wheel.cancel(b), wheel.cancel(d)), (None, Some(10)));
        assert_eq!(wheel.cancel(c), Some(9));
        // Forged or foreign ids are refused rather than corrupting a sentinel or panicking.
        assert_eq!(wheel.cancel(TimerId { index: 3, ..c }), None);
        assert_eq!(wheel.cancel(TimerId { index: NIL, ..c }), None);
        assert!(wheel.is_empty() && step(&mut wheel, 100).is_empty());
    }

    #[test]
    fn huge_jumps_fire_everything_due() {
        let mut wheel = TimerWheel::with_capacity(0, 2_000);
        for handle in 0..2_000u32 {
            // Deadlines spread over the levels and past the wheel's span into overflow.
            let deadline_ms = u64::from(handle).wrapping_mul(0x9E37_79B9_7F4A) % (1 << 40);
            wheel.insert(deadline_ms, handle);
        }
        assert_eq!(step(&mut wheel, 1 << 40), (0..2_000).collect::<Vec<_>>());
        wheel.insert(wheel.now_ms() + 1, 1);
        wheel.insert(3, 2);
        assert_eq!(wheel.next_wake_ms(), Some(3));
        assert_eq!(step(&mut wheel, u64::MAX), [1, 2]);
    }

    #[test]
    fn one_ms_steps_across_level_boundaries() {
        let (start_ms, end_ms) = ((1 << 12) - 70, (1 << 18) + 70);
        let mut wheel = TimerWheel::new(start_ms);
        let mut deadlines: Vec<u64> = (start_ms..start_ms + 300).collect();
        let boundaries = [1 << 12, 1 << 18].map(|b| [b - 1, b, b + 1, b + 64]);
        deadlines.extend(boundaries.iter().flatten().chain([&end_ms]));
        for (handle, &deadline_ms) in deadlines.iter().enumerate() {
            wheel.insert(deadline_ms, handle as u32);
        }
        for now_ms in start_ms..=end_ms {
            let due = (0..deadlines.len() as u32).filter(|&h| deadlines[h as usize] == now_ms);
            assert_eq!(step(&mut wheel, now_ms), due.collect::<Vec<_>>());
            let earliest_ms = deadlines.iter().copied().filter(|&d| d > now_ms).min();
            assert!(wheel.next_wake_ms() <= earliest_ms);
            assert!(wheel.next_wake_ms() > Some(now_ms) || earliest_ms.is_none());
        }
        assert!(wheel.is_empty());
    }

    #[test]
    fn million_timers_over_ten_hours_fire_once() {
        const SPAN_MS: u64 = 10 * HOUR_MS;
        let mut rng = 0x2545_F491_4F6C_DD1D;
        let (mut wheel, mut deadlines) = (TimerWheel::new(0), Vec::new());
        for handle in 0..1_000_000 {
            deadlines.push(1 + next_random(&mut rng) % SPAN_MS);
            wheel.insert(deadlines[handle as usize], handle);
        }
        let grown = wheel.heap_bytes() as f64 / wheel.len() as f64;
        let sized = TimerWheel::with_capacity(0, deadlines.len()).heap_bytes() as f64 / 1e6;
        eprintln!("heap per timer: grown from new {grown:.2} B, with_capacity {sized:.2} B");
        assert!(wheel.heap_bytes() <= 32 * wheel.len());
        let (mut fired, mut expired) = (vec![false; deadlines.len()], Vec::new());
        let mut now_ms = 0;
        while now_ms < SPAN_MS {
            // Mix sub-slot steps with multi-minute jumps so every level gets cascaded.
            let step_ms = next_random(&mut rng) % if now_ms % 2 == 0 { 100 } else { 300_000 };
            let before_ms = now_ms;
            now_ms = (now_ms + 1 + step_ms).min(SPAN_MS);
            expired.clear();
            wheel.advance(now_ms, &mut expired);
            for &handle in &expired {
                let deadline_ms = deadlines[handle as usize];
                assert!(before_ms < deadline_ms && deadline_ms <= now_ms, "on time");
                assert!(!fired[handle as usize], "handle {handle} fired twice");
                fired[handle as usize] = true;
            }
        }
        assert!(fired.iter().all(|&f| f), "every timer fired");
        assert!(wheel.is_empty());
        wheel.check_invariants();
    }

    /// Insert offsets are relative to the clock; negative ones exercise past deadlines.
    #[derive(Clone, Debug)]
    enum Op {
        Insert(i64),
        Cancel(usize),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => prop_oneof![0..300i64, 0..70_000i64, 0..40_000_000i64].prop_map(Op::Insert),
            1 => prop_oneof![-100_000..0i64, 0..300i64].prop_map(Op::Insert),
            2 => any::<usize>().prop_map(Op::Cancel),
            4 => prop_oneof![0..100u64, 0..5_000u64, 0..50_000_000u64].prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn matches_btreemap_model(
            start_ms in prop_oneof![0..1_000u64, 0..(1u64 << 40)],
            ops in proptest::collection::vec(op(), 1..400),
        ) {
            let mut wheel = TimerWheel::new(start_ms);
            let mut model: BTreeMap<u32, u64> = BTreeMap::new();
            let mut ids: Vec<(TimerId, u32)> = Vec::new();
            for (handle, op) in (0u32..).zip(ops) {
                match op {
                    Op::Insert(offset_ms) => {
                        let deadline_ms = wheel.now_ms().saturating_add_signed(offset_ms);
                        ids.push((wheel.insert(deadline_ms, handle), handle));
                        model.insert(handle, deadline_ms);
                    }
                    Op::Cancel(pick) if !ids.is_empty() => {
                        let (id, owner) = ids[pick % ids.len()];
                        prop_assert_eq!(wheel.cancel(id), model.remove(&owner).map(|_| owner));
                    }
                    Op::Cancel(_) => {}
                    Op::Advance(step_ms) => {
                        let now_ms = wheel.now_ms() + step_ms;
                        let due: Vec<u32> =
                            model.iter().filter(|(_, &d)| d <= now_ms).map(|(&h, _)| h).collect();
                        model.retain(|_, d| *d > now_ms);
                        prop_assert_eq!(step(&mut wheel, now_ms), due);
                    }
                }
                prop_assert_eq!(wheel.len(), model.len());
                let earliest_ms = model.values().min().copied();
                prop_assert_eq!(wheel.next_wake_ms().is_some(), earliest_ms.is_some());
                prop_assert!(wheel.next_wake_ms() <= earliest_ms);
                wheel.check_invariants();
            }
        }
    }
}
