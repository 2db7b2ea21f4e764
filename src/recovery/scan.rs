//! The compact state recovery gathers while it reads the shard journals.
//!
//! Nothing here holds a payload or a copy of a record: a message is a number
//! (its id hashed to 128 bits), its record position, creation time,
//! application and destinations (interned numbers); an attempt or a resend is
//! a fixed-size `Event`. About 100 bytes per message and 40 per attempt, so
//! ten million of each fit in a couple of GiB and are sorted in seconds. The
//! `eventId`s younger than the idempotency window are copied while their
//! record is at hand; what the read-path indexes need beyond that is read
//! back from the journal for the few records they keep (see `rebuild`).

use crate::delivery::ColdRef;
use crate::message::Loc;
use crate::records::{
    self as records, ArchivedIncomingRequestRecord, ArchivedMessageRecord, ArchivedResendRecord,
    Kind, Outcome, RecordError,
};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

/// Dense numbers for strings (application and endpoint ids).
#[derive(Default)]
pub struct Names {
    map: HashMap<Box<str>, u32>,
    pub list: Vec<Arc<str>>,
}

impl Names {
    pub fn number(&mut self, s: &str) -> u32 {
        if let Some(&n) = self.map.get(s) {
            return n;
        }
        let n = self.list.len() as u32;
        self.map.insert(s.into(), n);
        self.list.push(Arc::from(s));
        n
    }

    pub fn name(&self, n: u32) -> &Arc<str> {
        &self.list[n as usize]
    }
}

/// A message whose record was found.
#[derive(Clone, Copy)]
pub struct MsgInfo {
    pub cold: ColdRef,
    pub created_ms: u64,
    pub app: u32,
    /// Its destinations: `dests[dests_at..dests_at + dests_len]`.
    pub dests_at: u32,
    pub dests_len: u32,
}

/// What an `Event` records.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(u8)]
pub enum EventKind {
    /// Ordered first: a resend and its first attempt can share a
    /// millisecond, and the attempt then counts as manual.
    Resend = 0,
    Attempt = 1,
}

/// An attempt or a resend of one (message, endpoint) delivery.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub msg: u32,
    pub endpoint: u32,
    pub at_ms: u64,
    pub kind: EventKind,
    /// Attempts: an `Outcome` as u8.
    pub outcome: u8,
    /// Attempts: the attempt's number and when the next one is due.
    pub attempt_no: u32,
    pub next_attempt_ms: u64,
    /// Where the record is (attempts are read back for the index).
    pub at: ColdRef,
}

/// Everything the scan keeps.
#[derive(Default)]
pub struct Scan {
    /// Message id (hashed) → message number.
    numbers: HashMap<u128, u32>,
    /// Per message number; `None` until (unless) its record is read.
    pub msgs: Vec<Option<MsgInfo>>,
    pub dests: Vec<u32>,
    pub apps: Names,
    pub endpoints: Names,
    pub events: Vec<Event>,
    /// Idempotency answers, kept whole (they are few and small).
    pub answers: Vec<crate::records::IdempotentAnswerRecord>,
    /// `eventId`s of messages younger than the idempotency window, taken
    /// while their records are at hand.
    pub event_ids: Vec<crate::accept::event_ids::DedupEntry>,
    /// Messages created before this keep no `eventId` entry.
    pub event_ids_since_ms: u64,
    /// The newest cron tick fired, per source (from its messages' `eventId`).
    pub cron_fired: HashMap<String, u64>,
    /// Logged incoming requests: (source id, entry).
    pub requests: Vec<(String, crate::reads::index::RequestEntry)>,
    /// Expunged message and attempt ids, with when (`expunge`).
    pub expunged: HashMap<String, u64>,
}

/// A 128-bit key for a message id: SipHash for one half and a cheap
/// multiply-rotate fold of the bytes for the other, so two ids share a key
/// only if both collide (around 10^-25 among ten million ids).
fn id_key(id: &str) -> u128 {
    let mut h =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    h.write(id.as_bytes());
    let mut fold: u64 = 0x9e37_79b9_7f4a_7c15 ^ id.len() as u64;
    for chunk in id.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        fold =
            (fold.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(0x2127_599b_f432_5c37);
    }
    (u128::from(h.finish()) << 64) | u128::from(fold)
}

fn invalid(kind: Kind, e: rkyv::rancor::Error) -> RecordError {
    RecordError::Invalid {
        kind: kind as u8,
        why: records::Invalid::Layout(e),
    }
}

impl Scan {
    /// An empty scan that keeps the `eventId`s of messages created after
    /// `event_ids_since_ms`.
    pub fn new(event_ids_since_ms: u64) -> Scan {
        Scan {
            event_ids_since_ms,
            ..Default::default()
        }
    }

    /// The number of message `id`, given on first sight (from its record or
    /// from an attempt or resend that names it).
    fn msg_number(&mut self, id: &str) -> u32 {
        let next = self.msgs.len() as u32;
        let n = *self.numbers.entry(id_key(id)).or_insert(next);
        if n == next {
            self.msgs.push(None);
        }
        n
    }

    /// Folds one shard-journal record in; returns its time (for segment times).
    pub fn visit(
        &mut self,
        kind: u8,
        version: u8,
        body: &[u8],
        loc: Loc,
    ) -> Result<u64, RecordError> {
        match Kind::from_u8(kind) {
            Some(Kind::Message) => {
                let m = rkyv::access::<ArchivedMessageRecord, rkyv::rancor::Error>(body)
                    .map_err(|e| invalid(Kind::Message, e))?;
                let created_ms = m.created_ms.to_native();
                let n = self.msg_number(m.id.as_str());
                let dests_at = self.dests.len() as u32;
                for d in m.destinations.iter() {
                    let e = self.endpoints.number(d.as_str());
                    self.dests.push(e);
                }
                let info = MsgInfo {
                    cold: ColdRef::new(loc, created_ms),
                    created_ms,
                    app: self.apps.number(m.app_id.as_str()),
                    dests_at,
                    dests_len: self.dests.len() as u32 - dests_at,
                };
                if let Some(eid) = m.event_id.as_ref() {
                    if let Some(tick) = crate::incoming::cron::tick_of(eid.as_str()) {
                        let last = self.cron_fired.entry(m.app_id.to_string()).or_insert(0);
                        *last = (*last).max(tick);
                    }
                    if created_ms > self.event_ids_since_ms {
                        self.event_ids.push((
                            (m.app_id.to_string(), eid.to_string()),
                            (m.id.to_string(), created_ms),
                        ));
                    }
                }
                self.msgs[n as usize] = Some(info);
                Ok(created_ms)
            }
            Some(Kind::Attempt) => {
                let a = records::attempt_head(version, body)?;
                let outcome = a.outcome;
                if Outcome::from_u8(outcome).is_none() {
                    return Err(RecordError::Invalid {
                        kind,
                        why: records::Invalid::Outcome(outcome),
                    });
                }
                let at_ms = a.at_ms;
                let event = Event {
                    msg: self.msg_number(a.msg_id),
                    endpoint: self.endpoints.number(a.endpoint_id),
                    at_ms,
                    kind: EventKind::Attempt,
                    outcome,
                    attempt_no: a.attempt_no,
                    next_attempt_ms: a.next_attempt_ms,
                    at: ColdRef::new(loc, at_ms),
                };
                self.events.push(event);
                Ok(at_ms)
            }
            Some(Kind::Resend) => {
                let r = rkyv::access::<ArchivedResendRecord, rkyv::rancor::Error>(body)
                    .map_err(|e| invalid(Kind::Resend, e))?;
                let at_ms = r.at_ms.to_native();
                let event = Event {
                    msg: self.msg_number(r.msg_id.as_str()),
                    endpoint: self.endpoints.number(r.endpoint_id.as_str()),
                    at_ms,
                    kind: EventKind::Resend,
                    outcome: 0,
                    attempt_no: 0,
                    next_attempt_ms: 0,
                    at: ColdRef::new(loc, at_ms),
                };
                self.events.push(event);
                Ok(at_ms)
            }
            Some(Kind::IdempotentAnswer) => {
                let a = crate::records::decode_answer(body)?;
                let at_ms = a.at_ms;
                self.answers.push(a);
                Ok(at_ms)
            }
            Some(Kind::IncomingRequest) => {
                let r = rkyv::access::<ArchivedIncomingRequestRecord, rkyv::rancor::Error>(body)
                    .map_err(|e| invalid(Kind::IncomingRequest, e))?;
                let at_ms = r.at_ms.to_native();
                if let Some(id) = crate::message::IdKey::new(r.id.as_str()) {
                    let entry = crate::reads::index::RequestEntry { id, at_ms, loc };
                    self.requests.push((r.source_id.to_string(), entry));
                }
                Ok(at_ms)
            }
            Some(Kind::Expunge) => {
                let e = crate::records::decode_expunge(body)?;
                let id = match e.attempt_id.is_empty() {
                    true => e.msg_id,
                    false => e.attempt_id,
                };
                self.expunged.insert(id, e.at_ms);
                Ok(e.at_ms)
            }
            _ => Err(RecordError::UnknownKind(kind)),
        }
    }

    /// Sorts the events by delivery, then time (resends first within a
    /// millisecond), so each delivery's history is one contiguous run.
    pub fn sort_events(&mut self) {
        self.events
            .sort_unstable_by_key(|e| (e.msg, e.endpoint, e.at_ms, e.kind));
    }

    pub fn dests_of(&self, m: &MsgInfo) -> &[u32] {
        let at = m.dests_at as usize;
        &self.dests[at..at + m.dests_len as usize]
    }
}
