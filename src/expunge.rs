//! Expunged contents (Svix's `message.expunge_content` and
//! `message_attempt.expunge_content`): the ids of messages whose payload
//! and attempts whose response body may no longer be read, engine-wide.
//! Each expunge is an `Expunge` record in shard 0's journal, made durable
//! before the API answers, and recovery rebuilds the set from them; reads
//! (listings, the poller, the console) show `{}` / `""` in their place, and
//! a message's pending deliveries are cancelled, never sent. The bytes
//! themselves leave the disk with the journal segment that holds them
//! (`retention_ms` after the message was accepted, by compaction).
//!
//! # Bounds
//! At most `EXPUNGED_MAX` ids; an entry is dropped `retention_ms` after its
//! expunge, when the message it names is past its retention too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// Most expunged ids kept (about 100 bytes each).
pub const EXPUNGED_MAX: usize = 1_000_000;

/// The set is full.
#[derive(Debug, thiserror::Error)]
#[error("at most {EXPUNGED_MAX} expunged contents are kept")]
pub struct Full;

/// Expunged message and attempt ids, with when they were expunged.
#[derive(Default)]
pub struct Expunged {
    /// Whether any id is in the set: the delivery path's one check while
    /// nothing was ever expunged.
    any: AtomicBool,
    ids: RwLock<HashMap<String, u64>>,
}

impl Expunged {
    pub fn new(ids: HashMap<String, u64>) -> Expunged {
        Expunged {
            any: AtomicBool::new(!ids.is_empty()),
            ids: RwLock::new(ids),
        }
    }

    /// Whether a message's content was expunged, by its key: the delivery
    /// path's check, which reads the key's text only when anything was
    /// ever expunged.
    pub fn contains_key(&self, id: &crate::message::IdKey) -> bool {
        self.any.load(Ordering::Relaxed) && self.contains(id.as_str())
    }

    pub fn contains(&self, id: &str) -> bool {
        self.any.load(Ordering::Relaxed)
            && self
                .ids
                .read()
                .map(|ids| ids.contains_key(id))
                .unwrap_or(false)
    }

    pub fn insert(&self, id: &str, at_ms: u64) -> Result<(), Full> {
        let Ok(mut ids) = self.ids.write() else {
            return Err(Full);
        };
        if !ids.contains_key(id) && ids.len() >= EXPUNGED_MAX {
            return Err(Full);
        }
        ids.insert(id.to_string(), at_ms);
        self.any.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Forgets expunges made before `before_ms`.
    pub fn prune(&self, before_ms: u64) {
        if let Ok(mut ids) = self.ids.write() {
            ids.retain(|_, at| *at >= before_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_until_pruned() {
        let e = Expunged::default();
        assert!(!e.contains("msg_1"));
        e.insert("msg_1", 10).expect("room");
        e.insert("atmpt_2", 20).expect("room");
        assert!(e.contains("msg_1") && e.contains("atmpt_2"));
        e.prune(15);
        assert!(!e.contains("msg_1") && e.contains("atmpt_2"));
        let rebuilt = Expunged::new(HashMap::from([("msg_3".to_string(), 5)]));
        assert!(rebuilt.contains("msg_3"));
    }
}
