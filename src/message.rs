//! A message as the engine holds it once accepted: its metadata (id, type,
//! channels, where its record is) and its payload, and the per-thread string
//! interner that keeps repeated application ids and event types shared.
//!
//! Every room that handles messages (accept, delivery, the read path,
//! recovery) uses these types; this module does no I/O and knows nothing of
//! shards.

use crate::journal::Position;
use crate::limits::INTERNED_STRINGS_MAX;
use std::sync::Arc;

/// An id as an inline, fixed-size map key. Index maps compare keys inside
/// their nodes instead of following a pointer to each key's text (a cache
/// miss per comparison once a map holds 100,000 entries). Zero padding keeps
/// the order of the text (ids hold no NUL bytes). Engine ids are at most 33
/// bytes; a longer string is never a key.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct IdKey([u8; ID_KEY_BYTES]);

impl Ord for IdKey {
    /// The bytes' order, compared as five big-endian words, inline: the
    /// indexes' binary searches compare keys a dozen times per lookup, and
    /// the derived order calls `memcmp` for each (5 % of a pipelined run).
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let word = |k: &IdKey, i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&k.0[i * 8..i * 8 + 8]);
            u64::from_be_bytes(w)
        };
        for i in 0..ID_KEY_BYTES / 8 {
            let (a, b) = (word(self, i), word(other, i));
            if a != b {
                return a.cmp(&b);
            }
        }
        std::cmp::Ordering::Equal
    }
}

impl PartialOrd for IdKey {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

const ID_KEY_BYTES: usize = 40;

impl IdKey {
    /// The key of `id`, if it fits.
    pub fn new(id: &str) -> Option<IdKey> {
        let bytes = id.as_bytes();
        if bytes.len() > ID_KEY_BYTES || bytes.contains(&0) {
            return None;
        }
        let mut k = [0u8; ID_KEY_BYTES];
        k[..bytes.len()].copy_from_slice(bytes);
        Some(IdKey(k))
    }

    /// The key ordered as `id` is among keys, for range bounds (a too-long
    /// `id` is cut, which keeps it on the right side of every real key).
    pub fn bound(id: &str) -> IdKey {
        let mut k = [0u8; ID_KEY_BYTES];
        let n = id.len().min(ID_KEY_BYTES);
        k[..n].copy_from_slice(&id.as_bytes()[..n]);
        IdKey(k)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The id's bytes, without `as_str`'s UTF-8 check (for writers that
    /// check what they copy themselves, such as the ingest ACK).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0[..self.len()]
    }

    /// The id's length: where the zero padding starts, found a word at a
    /// time (the lowest byte of a word that is zero sets the lowest flag).
    fn len(&self) -> usize {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        for (i, w) in self.0.chunks_exact(8).enumerate() {
            let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            let zeros = v.wrapping_sub(ONES) & !v & HIGHS;
            if zeros != 0 {
                return i * 8 + (zeros.trailing_zeros() / 8) as usize;
            }
        }
        ID_KEY_BYTES
    }
}

impl std::ops::Deref for IdKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for IdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for IdKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Debug for IdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Where a record lives: the shard journal (`shard-<journal>`) and position.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    pub journal: u32,
    pub pos: Position,
}

/// What listings need to know about a message without reading it.
#[derive(Debug, Clone)]
pub struct MsgMeta {
    /// Inline: the metadata's only allocation is the `Arc` around it.
    pub id: IdKey,
    /// Interned (see [`intern`]): one allocation per distinct value.
    pub app_id: Arc<str>,
    pub event_type: Arc<str>,
    pub event_id: Option<String>,
    pub channels: Vec<String>,
    pub created_ms: u64,
    pub loc: Loc,
}

/// Strings `intern` answers from without hashing: a message interns its
/// application id and event type, and consecutive messages mostly repeat both.
const RECENT: usize = 2;

thread_local! {
    static INTERNED: std::cell::RefCell<std::collections::HashMap<Box<str>, Arc<str>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
    static RECENT_INTERNED: std::cell::RefCell<([Option<Arc<str>>; RECENT], usize)> =
        const { std::cell::RefCell::new(([const { None }; RECENT], 0)) };
}

/// One shared copy of a string that many messages repeat (application ids,
/// event types), per thread, so no lock is shared: a message's metadata then
/// allocates and frees only its own id. Bounded: past `INTERNED_STRINGS_MAX`
/// distinct strings the table starts over (earlier copies stay valid).
pub fn intern(s: &str) -> Arc<str> {
    RECENT_INTERNED.with(|r| {
        let mut r = r.borrow_mut();
        if let Some(a) = r.0.iter().flatten().find(|a| &***a == s) {
            return a.clone();
        }
        let a = intern_in_table(s);
        let next = r.1;
        r.0[next] = Some(a.clone());
        r.1 = (next + 1) % RECENT;
        a
    })
}

fn intern_in_table(s: &str) -> Arc<str> {
    INTERNED.with(|t| {
        let mut t = t.borrow_mut();
        if let Some(a) = t.get(s) {
            return a.clone();
        }
        if t.len() >= INTERNED_STRINGS_MAX {
            t.clear();
        }
        let a: Arc<str> = Arc::from(s);
        t.insert(s.into(), a.clone());
        a
    })
}

/// A message accepted into the engine, shared by all its deliveries: its
/// metadata (the very `Arc` the read-path indexes hold, so the id, type and
/// channels exist once per message) and its payload.
#[derive(Debug)]
pub struct Message {
    pub meta: Arc<MsgMeta>,
    pub payload: Box<[u8]>,
}

impl std::ops::Deref for Message {
    type Target = MsgMeta;
    fn deref(&self) -> &MsgMeta {
        &self.meta
    }
}

impl Message {
    /// The message of a journal record at `loc`, and the record's destinations.
    pub fn from_record(m: crate::records::MessageRecord, loc: Loc) -> (Message, Vec<String>) {
        let meta = MsgMeta {
            id: IdKey::bound(&m.id),
            app_id: intern(&m.app_id),
            event_type: intern(&m.event_type),
            event_id: m.event_id,
            channels: m.channels,
            created_ms: m.created_ms,
            loc,
        };
        let msg = Message {
            meta: Arc::new(meta),
            payload: m.payload.into_boxed_slice(),
        };
        (msg, m.destinations)
    }

    /// The index entry of this message.
    pub fn meta(&self) -> Arc<MsgMeta> {
        self.meta.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::IdKey;
    use proptest::prelude::*;

    proptest! {
        /// Keys order as their texts do, and give their texts back.
        #[test]
        fn keys_keep_their_text_and_its_order(a in "[ -~]{0,40}", b in "[ -~]{0,40}") {
            let (ka, kb) = (IdKey::new(&a).expect("fits"), IdKey::new(&b).expect("fits"));
            prop_assert_eq!(ka.as_bytes(), a.as_bytes());
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(ka == kb, a == b);
        }
    }

    proptest! {
        /// Any text that fits (bytes of every value but 0, from non-ASCII
        /// characters too) keeps its length and order.
        #[test]
        fn any_text_keeps_its_length_and_order(a in "\\PC{0,12}", b in "\\PC{0,12}") {
            prop_assume!(a.len() <= 40 && b.len() <= 40);
            let (ka, kb) = (IdKey::new(&a).expect("fits"), IdKey::new(&b).expect("fits"));
            prop_assert_eq!(ka.as_bytes(), a.as_bytes());
            prop_assert_eq!(ka.cmp(&kb), a.as_bytes().cmp(b.as_bytes()));
        }
    }

    #[test]
    fn lengths_at_every_word_boundary() {
        for n in 0..=40 {
            let s = "x".repeat(n);
            assert_eq!(IdKey::new(&s).expect("fits").as_bytes().len(), n);
        }
        assert!(IdKey::new(&"x".repeat(41)).is_none());
    }
}
