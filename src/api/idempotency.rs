//! `idempotency-key` on POST: the first 2xx answer for a key is replayed.
//!
//! A key is scoped by the bearer token and the request path (hashed with
//! SHA-256 into a fixed 32-byte key, so a long token or key costs no memory).
//! The first request with a key marks it in flight; a second one arriving
//! while the first runs gets 409 rather than running twice. A 2xx answer is
//! stored for `TTL_MS` (12 h) and replayed byte for byte; any other answer
//! clears the mark so the client may retry.
//!
//! The table lives on shard 0's thread (the only one serving the API), so it
//! is a `thread_local` rather than shared state, and it is bounded: at most
//! `IDEMPOTENCY_KEYS_MAX` stored answers and `IDEMPOTENCY_BYTES_MAX` bytes of bodies; beyond either,
//! the oldest answers are evicted first. An answer larger than `IDEMPOTENCY_BYTES_MAX`
//! is not stored. Stored answers are journaled in shard 0's journal (kind
//! `IdempotentAnswer`) and restored at start, so replays survive a restart;
//! the record is not waited on (like attempt records), so a power loss in
//! the group-commit window may forget the newest ones.

use super::http::{error, Response};
use crate::limits::{IDEMPOTENCY_BYTES_MAX, IDEMPOTENCY_KEYS_MAX, IDEMPOTENCY_KEY_BYTES_MAX};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

/// How long a stored answer is replayed.
pub const TTL_MS: u64 = 12 * 3600 * 1000;

type Key = [u8; 32];

enum Entry {
    InFlight,
    Done {
        status: u16,
        body: Vec<u8>,
        at_ms: u64,
    },
}

/// The bounded table: entries by key, and stored answers in insertion order.
#[derive(Default)]
struct Table {
    entries: HashMap<Key, Entry>,
    order: VecDeque<(Key, u64)>,
    bytes: usize,
}

impl Table {
    /// Removes the oldest stored answer, if its entry is still that answer.
    fn evict_front(&mut self) {
        let Some((key, at)) = self.order.pop_front() else {
            return;
        };
        if let Some(Entry::Done { at_ms, body, .. }) = self.entries.get(&key) {
            if *at_ms == at {
                self.bytes -= body.len();
                self.entries.remove(&key);
            }
        }
    }

    fn expire(&mut self, now_ms: u64) {
        while self
            .order
            .front()
            .is_some_and(|(_, at)| now_ms.saturating_sub(*at) >= TTL_MS)
        {
            self.evict_front();
        }
    }

    fn store(&mut self, key: Key, status: u16, body: Vec<u8>, now_ms: u64) {
        if body.len() > IDEMPOTENCY_BYTES_MAX {
            self.entries.remove(&key);
            return;
        }
        while !self.order.is_empty()
            && (self.order.len() >= IDEMPOTENCY_KEYS_MAX
                || self.bytes + body.len() > IDEMPOTENCY_BYTES_MAX)
        {
            self.evict_front();
        }
        self.bytes += body.len();
        self.order.push_back((key, now_ms));
        self.entries.insert(
            key,
            Entry::Done {
                status,
                body,
                at_ms: now_ms,
            },
        );
    }
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table::default());
}

/// What to do with a POST carrying an idempotency key.
pub enum Begin {
    /// Run the handler, then call [`Guard::finish`] with its answer.
    Run(Guard),
    /// Answer this instead (a replay, a 409 in flight, or a 422 bad key).
    Answer(Response),
}

/// The in-flight mark of one key; dropping it unfinished clears the mark.
pub struct Guard {
    key: Key,
    finished: bool,
}

/// Looks the key up; marks it in flight when it is new.
pub fn begin(token: &str, path: &str, idempotency_key: &str) -> Begin {
    if idempotency_key.is_empty() || idempotency_key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
        return Begin::Answer(error(
            422,
            "validation_error",
            serde_json::json!([{
                "loc": ["header", "idempotency-key"],
                "msg": format!("must be 1 to {IDEMPOTENCY_KEY_BYTES_MAX} bytes"),
                "type": "value_error",
            }]),
        ));
    }
    let mut h = Sha256::new();
    for part in [token, path, idempotency_key] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let key: Key = h.finalize().into();
    let now = crate::time::now_ms();
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        t.expire(now);
        match t.entries.get(&key) {
            Some(Entry::Done { status, body, .. }) => Begin::Answer(Response {
                status: *status,
                body: body.clone(),
                content_type: None,
                headers: Vec::new(),
            }),
            Some(Entry::InFlight) => Begin::Answer(error(
                409,
                "conflict",
                "a request with this idempotency-key is in progress",
            )),
            None => {
                t.entries.insert(key, Entry::InFlight);
                Begin::Run(Guard {
                    key,
                    finished: false,
                })
            }
        }
    })
}

impl Guard {
    /// Stores a 2xx answer for replay and returns the record to journal;
    /// any other answer clears the mark.
    pub fn finish(mut self, resp: &Response) -> Option<crate::records::IdempotentAnswerRecord> {
        self.finished = true;
        let now = crate::time::now_ms();
        let stored = TABLE.with(|t| {
            let mut t = t.borrow_mut();
            if (200..300).contains(&resp.status) {
                t.store(self.key, resp.status, resp.body.clone(), now);
                true
            } else {
                t.entries.remove(&self.key);
                false
            }
        });
        (stored && resp.body.len() <= IDEMPOTENCY_BYTES_MAX).then(|| {
            crate::records::IdempotentAnswerRecord {
                key: self.key.to_vec(),
                status: resp.status,
                body: resp.body.clone(),
                at_ms: now,
            }
        })
    }
}

/// Refills the table at start from journaled answers (oldest first); those
/// older than `TTL_MS` are skipped. Runs on shard 0's thread.
pub fn restore(answers: Vec<crate::records::IdempotentAnswerRecord>) {
    let now = crate::time::now_ms();
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        for a in answers {
            let Ok(key) = <Key>::try_from(a.key.as_slice()) else {
                continue;
            };
            if now.saturating_sub(a.at_ms) < TTL_MS {
                t.store(key, a.status, a.body, a.at_ms);
            }
        }
    });
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.finished {
            TABLE.with(|t| {
                t.borrow_mut().entries.remove(&self.key);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(b: Begin) -> Guard {
        match b {
            Begin::Run(g) => g,
            Begin::Answer(r) => panic!("expected to run, got {}", r.status),
        }
    }

    #[test]
    fn replays_2xx_refuses_in_flight_and_forgets_failures() {
        let g = run(begin("t", "/p", "k1"));
        assert!(matches!(begin("t", "/p", "k1"), Begin::Answer(r) if r.status == 409));
        g.finish(&Response {
            status: 201,
            body: b"{\"id\":1}".to_vec(),
            content_type: None,
            headers: Vec::new(),
        });
        match begin("t", "/p", "k1") {
            Begin::Answer(r) => assert_eq!((r.status, r.body), (201, b"{\"id\":1}".to_vec())),
            Begin::Run(_) => panic!("expected a replay"),
        }
        // Scoped by token and path.
        drop(run(begin("u", "/p", "k1")));
        drop(run(begin("t", "/q", "k1")));
        // A failure is not stored, and a dropped guard clears its mark.
        run(begin("t", "/p", "k2")).finish(&Response {
            status: 422,
            body: Vec::new(),
            content_type: None,
            headers: Vec::new(),
        });
        drop(run(begin("t", "/p", "k2")));
        drop(run(begin("t", "/p", "k2")));
        assert!(matches!(begin("t", "/p", ""), Begin::Answer(r) if r.status == 422));
    }

    #[test]
    fn table_evicts_oldest_past_its_bounds_and_expires() {
        let mut t = Table::default();
        let k = |i: u32| {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&i.to_le_bytes());
            key
        };
        for i in 0..(IDEMPOTENCY_KEYS_MAX as u32 + 10) {
            t.store(k(i), 200, Vec::new(), 1);
        }
        assert_eq!(t.order.len(), IDEMPOTENCY_KEYS_MAX);
        assert!(!t.entries.contains_key(&k(0)) && t.entries.contains_key(&k(10)));
        t.store(k(u32::MAX - 1), 200, vec![1], 1);
        t.store(k(u32::MAX), 200, vec![0; IDEMPOTENCY_BYTES_MAX], 2);
        assert_eq!(t.bytes, IDEMPOTENCY_BYTES_MAX);
        assert_eq!(
            t.order.len(),
            1,
            "the byte bound evicted every older answer"
        );
        t.expire(2 + TTL_MS);
        assert!(t.entries.is_empty() && t.bytes == 0);
    }
}
