//! Placement: which shard is an application's *home* (where its messages are
//! journaled and its `eventId`s deduplicated) and which shard *owns* an
//! endpoint (delivers to it, keeps its queues, attempts and failure streak).
//!
//! This is the one place that decides it. Nothing else hashes an id to a
//! shard or assumes how it is done, so that a later clustered mode (nodes
//! sharing partitions through a replicated log) can move ownership by
//! changing this module alone. Today the answer is a stable FNV-1a hash of
//! the id modulo the shard count, so restarts with the same count agree, and
//! recovery re-homes pending work when the count changes.

/// The shard count in force and the rule that maps ids onto it.
///
/// # Invariants
/// - `shards` is at least 1 (`config` bounds it to 1-256);
/// - every answer is below `shards`, and the same for the same id and count.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    shards: usize,
}

impl Placement {
    pub fn new(shards: usize) -> Placement {
        assert!(shards >= 1, "a placement needs at least one shard");
        Placement { shards }
    }

    /// How many shards ids are placed on.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The home shard of an application: its messages, `eventId` window and
    /// message listings live there.
    pub fn home_of_app(&self, app_id: &str) -> usize {
        self.place(app_id)
    }

    /// The owner shard of an endpoint: its deliveries, queues, connections,
    /// attempts and failure streak live there.
    pub fn owner_of_endpoint(&self, endpoint_id: &str) -> usize {
        self.place(endpoint_id)
    }

    fn place(&self, id: &str) -> usize {
        if self.shards == 1 {
            return 0;
        }
        let shard = (stable_hash(id) % self.shards as u64) as usize;
        debug_assert!(shard < self.shards);
        shard
    }
}

/// Stable 64-bit FNV-1a: the same on every build and platform, unlike
/// `std`'s randomly keyed hasher.
fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_is_stable_and_in_range() {
        // Known FNV-1a values: a change here moves every journal's pending
        // work to other shards after an upgrade.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        for shards in 1..=16 {
            let p = Placement::new(shards);
            for id in ["app_1", "ep_2", "", "a much longer identifier than most"] {
                let home = p.home_of_app(id);
                assert!(home < shards);
                assert_eq!(home, p.home_of_app(id));
                assert_eq!(p.owner_of_endpoint(id), home, "one rule for both today");
            }
        }
        assert_eq!(Placement::new(1).home_of_app("anything"), 0);
    }
}
