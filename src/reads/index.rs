//! Bounded in-memory indexes of the read path: messages and attempts by
//! position in the journal, never their payloads.
//!
//! Each shard keeps, for the applications it is home to, the messages it
//! journaled (per application, keyed by time-sortable id), and for the endpoints
//! it owns, one `DeliveryEntry` per (endpoint, message) with its current status
//! and the attempts made (by endpoint, newest first). Entries hold metadata
//! used by filters plus a [`Loc`] naming the journal record; bodies (payloads,
//! response texts) are read back from the journal on demand
//! (`journal::read_record`, which re-checks the CRC).
//!
//! # Bounds
//! Every map keyed by application or endpoint holds at most
//! `index_max_per_key` entries (oldest dropped first on insert) and entries
//! older than `retention_ms` are pruned from the shard's timer loop. Ids are
//! time-sortable, so "oldest" is simply the first key of each map (an
//! [`IdLog`]: O(1) inserts of rising ids and removals of the oldest).
//!
//! The indexes are rebuilt at start by `recovery` from the same records, so a
//! listing after a restart shows what it showed before.

mod poll;
mod window;

pub use window::{Window, WindowQuery};

use super::idlog::IdLog;
use crate::limits::ATTEMPTS_PER_DELIVERY_MAX;
pub use crate::message::{IdKey, Loc, MsgMeta};
use crate::records::Outcome;
use foldhash::{HashMap, HashMapExt};
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

/// Keys `page_of` can page over: ordered like their text.
pub trait PageKey: Ord {
    fn text(&self) -> &str;
    /// The key ordered as `text` is, for a range bound.
    fn bound(text: &str) -> Self;
}

impl PageKey for IdKey {
    fn text(&self) -> &str {
        self.as_str()
    }
    fn bound(text: &str) -> Self {
        IdKey::bound(text)
    }
}

impl PageKey for Arc<str> {
    fn text(&self) -> &str {
        self
    }
    fn bound(text: &str) -> Self {
        Arc::from(text)
    }
}

impl PageKey for String {
    fn text(&self) -> &str {
        self
    }
    fn bound(text: &str) -> Self {
        text.to_string()
    }
}

/// Svix's `MessageStatus` of a delivery or an attempt.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    Success = 0,
    Pending = 1,
    Fail = 2,
    Sending = 3,
    Canceled = 4,
}

impl Status {
    pub fn text(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Pending => "pending",
            Status::Fail => "fail",
            Status::Sending => "sending",
            Status::Canceled => "canceled",
        }
    }

    /// The status an attempt with this outcome shows.
    pub fn of_attempt(outcome: Outcome) -> Status {
        match outcome {
            Outcome::Succeeded => Status::Success,
            Outcome::Retrying | Outcome::Failed => Status::Fail,
            Outcome::Cancelled => Status::Canceled,
        }
    }

    /// The status a delivery shows after an attempt with this outcome.
    pub fn of_delivery(outcome: Outcome) -> Status {
        match outcome {
            Outcome::Succeeded => Status::Success,
            Outcome::Retrying => Status::Pending,
            Outcome::Failed => Status::Fail,
            Outcome::Cancelled => Status::Canceled,
        }
    }
}

/// One (message, endpoint) delivery on the endpoint's owner shard.
#[derive(Debug, Clone)]
pub struct DeliveryEntry {
    pub msg: Arc<MsgMeta>,
    /// Interned: one allocation per endpoint, shared by its deliveries.
    pub endpoint_id: Arc<str>,
    pub status: Status,
    /// When the next attempt is due, if one is scheduled.
    pub next_attempt_ms: Option<u64>,
    /// Attempts made at or after this time were manual (a resend); 0: none.
    pub manual_from_ms: u64,
    /// Keys of its attempts, oldest first (bounded).
    pub attempts: VecDeque<IdKey>,
}

/// One attempt on the endpoint's owner shard.
#[derive(Debug, Clone)]
pub struct AttemptEntry {
    pub id: Arc<str>,
    pub msg: Arc<MsgMeta>,
    pub endpoint_id: Arc<str>,
    pub status_code: u16,
    pub outcome: Outcome,
    pub at_ms: u64,
    pub duration_us: u32,
    pub manual: bool,
    /// The attempt record (its `response` text is read from there).
    pub loc: Loc,
}

/// Filters shared by the listings; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub before_ms: Option<u64>,
    pub after_ms: Option<u64>,
    pub event_types: Vec<String>,
    pub channel: Option<String>,
    pub status: Option<u8>,
    pub status_code_class: Option<u16>,
}

impl Filter {
    pub fn message(&self, m: &MsgMeta) -> bool {
        self.before_ms.is_none_or(|b| m.created_ms < b)
            && self.after_ms.is_none_or(|a| m.created_ms > a)
            && (self.event_types.is_empty()
                || self.event_types.iter().any(|t| **t == *m.event_type))
            && self.channel.as_ref().is_none_or(|c| m.channels.contains(c))
    }

    fn delivery(&self, d: &DeliveryEntry) -> bool {
        self.message(&d.msg) && self.status.is_none_or(|s| s == d.status as u8)
    }

    fn attempt(&self, a: &AttemptEntry) -> bool {
        let class = match a.status_code {
            0 => 0,
            c => c / 100 * 100,
        };
        self.before_ms.is_none_or(|b| a.at_ms < b)
            && self.after_ms.is_none_or(|x| a.at_ms > x)
            && (self.event_types.is_empty()
                || self.event_types.iter().any(|t| **t == *a.msg.event_type))
            && self
                .channel
                .as_ref()
                .is_none_or(|c| a.msg.channels.contains(c))
            && self
                .status
                .is_none_or(|s| s == Status::of_attempt(a.outcome) as u8)
            && self.status_code_class.is_none_or(|c| c == class)
    }
}

/// Which page of a newest-first listing to return.
#[derive(Debug, Clone)]
pub struct PageReq {
    pub limit: usize,
    /// An id: continue with older entries. `-<id>`: the newer page before it.
    pub iterator: Option<String>,
}

impl Default for PageReq {
    /// Svix's default page size.
    fn default() -> Self {
        PageReq {
            limit: 50,
            iterator: None,
        }
    }
}

/// One page, newest first, in Svix's iterator terms.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub iterator: Option<String>,
    pub prev_iterator: Option<String>,
    pub done: bool,
}

/// An ordered map `page_of` pages over.
pub trait Ordered<K, V> {
    /// Entries with keys within `(lo, hi)`, lowest first or highest first.
    fn entries<'a>(
        &'a self,
        lo: Bound<K>,
        hi: Bound<K>,
        highest_first: bool,
    ) -> impl Iterator<Item = (&'a K, &'a V)>
    where
        K: 'a,
        V: 'a;
}

impl<K: Ord, V> Ordered<K, V> for BTreeMap<K, V> {
    fn entries<'a>(
        &'a self,
        lo: Bound<K>,
        hi: Bound<K>,
        highest_first: bool,
    ) -> impl Iterator<Item = (&'a K, &'a V)>
    where
        K: 'a,
        V: 'a,
    {
        let range = self.range((lo, hi));
        let (fwd, back) = if highest_first {
            (None, Some(range.rev()))
        } else {
            (Some(range), None)
        };
        fwd.into_iter().flatten().chain(back.into_iter().flatten())
    }
}

impl<V> Ordered<IdKey, V> for IdLog<V> {
    fn entries<'a>(
        &'a self,
        lo: Bound<IdKey>,
        hi: Bound<IdKey>,
        highest_first: bool,
    ) -> impl Iterator<Item = (&'a IdKey, &'a V)>
    where
        V: 'a,
    {
        self.range(lo, hi, highest_first)
    }
}

/// Pages over `map` (keys are time-sortable ids) newest first.
pub fn page_of<K: PageKey, V, T>(
    map: &impl Ordered<K, V>,
    req: &PageReq,
    keep: impl Fn(&V) -> bool,
    out: impl Fn(&V) -> T,
) -> Page<T> {
    let limit = req.limit.max(1);
    let mut picked: Vec<(&K, &V)>;
    let backwards = req.iterator.as_deref().and_then(|i| i.strip_prefix('-'));
    let more;
    if let Some(from) = backwards {
        picked = map
            .entries(Bound::Excluded(K::bound(from)), Bound::Unbounded, false)
            .filter(|(_, v)| keep(v))
            .take(limit + 1)
            .collect();
        more = picked.len() > limit;
        picked.truncate(limit);
        picked.reverse();
    } else {
        let upper = match req.iterator.as_deref() {
            Some(i) => Bound::Excluded(K::bound(i)),
            None => Bound::Unbounded,
        };
        picked = map
            .entries(Bound::Unbounded, upper, true)
            .filter(|(_, v)| keep(v))
            .take(limit + 1)
            .collect();
        more = picked.len() > limit;
        picked.truncate(limit);
    }
    let iterator = picked
        .last()
        .map(|(k, _)| k.text().to_string())
        .or_else(|| req.iterator.clone());
    let prev_iterator = picked.first().map(|(k, _)| format!("-{}", k.text()));
    Page {
        items: picked.iter().map(|(_, v)| out(v)).collect(),
        iterator,
        prev_iterator,
        // Going backwards, older entries always remain after this page.
        done: backwards.is_none() && !more,
    }
}

/// `page_of` over an index map that may not exist yet (an empty page).
fn page_in<V, T>(
    map: Option<&IdLog<V>>,
    req: &PageReq,
    keep: impl Fn(&V) -> bool,
    out: impl Fn(&V) -> T,
) -> Page<T> {
    match map {
        Some(map) => page_of(map, req, keep, out),
        None => page_of(&IdLog::<V>::default(), req, keep, out),
    }
}

/// Drops the oldest entries beyond `cap` and those created before `cutoff_ms`.
fn trim<V>(map: &mut IdLog<V>, cap: usize, cutoff_ms: u64, time: impl Fn(&V) -> u64) {
    while map.len() > cap {
        map.pop_first();
    }
    while map
        .first_key_value()
        .is_some_and(|(_, v)| time(v) < cutoff_ms)
    {
        map.pop_first();
    }
}

/// One shard's read-path indexes.
#[derive(Debug)]
pub struct Index {
    retention_ms: u64,
    cap: usize,
    /// Home shard: application id → message id → message.
    messages: HashMap<Arc<str>, IdLog<Arc<MsgMeta>>>,
    /// Owner shard: endpoint id → message id → delivery.
    deliveries: HashMap<Arc<str>, IdLog<DeliveryEntry>>,
    /// Owner shard: endpoint id → attempt id → attempt.
    attempts: HashMap<Arc<str>, IdLog<AttemptEntry>>,
    /// Shard 0: source id → request id → logged request (`logRequests`).
    requests: HashMap<Arc<str>, IdLog<RequestEntry>>,
}

/// A logged incoming request: its id, when, and where its record is.
#[derive(Debug, Clone, Copy)]
pub struct RequestEntry {
    pub id: IdKey,
    pub at_ms: u64,
    pub loc: Loc,
}

impl Index {
    pub fn new(retention_ms: u64, cap: usize) -> Index {
        Index {
            retention_ms,
            cap: cap.max(1),
            messages: HashMap::new(),
            deliveries: HashMap::new(),
            attempts: HashMap::new(),
            requests: HashMap::new(),
        }
    }

    /// Indexes a logged request of a source (on shard 0).
    pub fn add_request(&mut self, source_id: &str, entry: RequestEntry) {
        let per_source = self.requests.entry(Arc::from(source_id)).or_default();
        per_source.insert(entry.id, entry);
        while per_source.len() > self.cap {
            per_source.pop_first();
        }
    }

    /// A source's logged requests, newest first.
    pub fn list_requests(&self, source_id: &str, req: &PageReq) -> Page<RequestEntry> {
        page_in(self.requests.get(source_id), req, |_| true, |r| *r)
    }

    /// Forgets a deleted source's log.
    pub fn forget_requests(&mut self, source_id: &str) {
        self.requests.remove(source_id);
    }

    /// Indexes a message journaled on this (home) shard.
    pub fn add_message(&mut self, m: Arc<MsgMeta>) {
        let key = m.id;
        let per_app = match self.messages.get_mut(&m.app_id) {
            Some(map) => map,
            None => self.messages.entry(m.app_id.clone()).or_default(),
        };
        per_app.insert(key, m);
        while per_app.len() > self.cap {
            per_app.pop_first();
        }
    }

    pub fn message(&self, app_id: &str, msg_id: &str) -> Option<Arc<MsgMeta>> {
        self.messages
            .get(app_id)?
            .get(&IdKey::new(msg_id)?)
            .cloned()
    }

    pub fn list_messages(&self, app_id: &str, f: &Filter, req: &PageReq) -> Page<Arc<MsgMeta>> {
        page_in(self.messages.get(app_id), req, |m| f.message(m), Arc::clone)
    }

    /// A delivery handed to this (owner) shard, next attempted at `due_ms`
    /// (0: now): known deliveries become pending again (a resend, or a
    /// recovered delivery at start), new ones are added.
    pub fn delivery_pending(&mut self, endpoint_id: &Arc<str>, msg: &Arc<MsgMeta>, due_ms: u64) {
        let next = (due_ms > 0).then_some(due_ms);
        let key = msg.id;
        let per_ep = match self.deliveries.get_mut(endpoint_id) {
            Some(map) => map,
            None => self.deliveries.entry(endpoint_id.clone()).or_default(),
        };
        let d = per_ep.get_or_insert_with(key, || DeliveryEntry {
            msg: msg.clone(),
            endpoint_id: endpoint_id.clone(),
            status: Status::Pending,
            next_attempt_ms: next,
            manual_from_ms: 0,
            attempts: VecDeque::new(),
        });
        d.status = Status::Pending;
        d.next_attempt_ms = next;
        while per_ep.len() > self.cap {
            per_ep.pop_first();
        }
    }

    /// A manual delivery requested at `at_ms`; its attempts are manual.
    pub fn resend(&mut self, endpoint_id: &Arc<str>, msg: &Arc<MsgMeta>, at_ms: u64) {
        self.delivery_pending(endpoint_id, msg, 0);
        if let Some(d) = self.delivery_mut(endpoint_id, &msg.id) {
            if d.manual_from_ms == 0 {
                d.manual_from_ms = at_ms.max(1);
            }
        }
    }

    /// By the message's key as its metadata holds it: no text to turn
    /// back into a key on the delivery path.
    fn delivery_mut(&mut self, endpoint_id: &str, msg_id: &IdKey) -> Option<&mut DeliveryEntry> {
        self.deliveries.get_mut(endpoint_id)?.get_mut(msg_id)
    }

    /// An attempt of this delivery is under way.
    pub fn set_sending(&mut self, endpoint_id: &str, msg_id: &IdKey) {
        if let Some(d) = self.delivery_mut(endpoint_id, msg_id) {
            d.status = Status::Sending;
        }
    }

    /// Indexes an attempt, marks it manual when its delivery was resent
    /// before it, and moves the delivery (if still indexed) to the attempt's
    /// outcome. One lookup of the delivery: this runs for every attempt.
    pub fn add_attempt(&mut self, mut a: AttemptEntry, next_attempt_ms: u64) {
        a.manual = false;
        let Some(key) = IdKey::new(&a.id) else {
            return;
        };
        if let Some(d) = self.delivery_mut(&a.endpoint_id, &a.msg.id) {
            // The delivery's copy: a message read back from the journal for
            // this attempt would otherwise be kept twice.
            a.msg = d.msg.clone();
            a.manual = d.manual_from_ms != 0 && a.at_ms >= d.manual_from_ms;
            d.status = Status::of_delivery(a.outcome);
            d.next_attempt_ms = (a.outcome == Outcome::Retrying).then_some(next_attempt_ms);
            d.attempts.push_back(key);
            if d.attempts.len() > ATTEMPTS_PER_DELIVERY_MAX {
                d.attempts.pop_front();
            }
        }
        let per_ep = match self.attempts.get_mut(&a.endpoint_id) {
            Some(map) => map,
            None => self.attempts.entry(a.endpoint_id.clone()).or_default(),
        };
        per_ep.insert(key, a);
        while per_ep.len() > self.cap {
            per_ep.pop_first();
        }
    }

    pub fn delivery(&self, endpoint_id: &str, msg_id: &str) -> Option<&DeliveryEntry> {
        self.deliveries.get(endpoint_id)?.get(&IdKey::new(msg_id)?)
    }

    /// Every delivery of `msg_id` on this shard.
    pub fn deliveries_of(&self, msg_id: &str) -> Vec<DeliveryEntry> {
        let Some(key) = IdKey::new(msg_id) else {
            return Vec::new();
        };
        self.deliveries
            .values()
            .filter_map(|m| m.get(&key).cloned())
            .collect()
    }

    /// Every attempt of `msg_id` on this shard.
    pub fn attempts_of(&self, msg_id: &str) -> Vec<AttemptEntry> {
        let mut out = Vec::new();
        let Some(key) = IdKey::new(msg_id) else {
            return out;
        };
        for d in self.deliveries.values().filter_map(|m| m.get(&key)) {
            if let Some(per_ep) = self.attempts.get(&d.endpoint_id) {
                out.extend(d.attempts.iter().filter_map(|id| per_ep.get(id).cloned()));
            }
        }
        out
    }

    pub fn list_endpoint_messages(
        &self,
        endpoint_id: &str,
        f: &Filter,
        req: &PageReq,
    ) -> Page<DeliveryEntry> {
        let map = self.deliveries.get(endpoint_id);
        page_in(map, req, |d| f.delivery(d), DeliveryEntry::clone)
    }

    pub fn list_endpoint_attempts(
        &self,
        endpoint_id: &str,
        f: &Filter,
        req: &PageReq,
    ) -> Page<AttemptEntry> {
        let map = self.attempts.get(endpoint_id);
        page_in(map, req, |a| f.attempt(a), AttemptEntry::clone)
    }

    /// Deliveries of an endpoint by status, indexed by `Status as usize`.
    pub fn stats(&self, endpoint_id: &str, since_ms: u64, until_ms: u64) -> [u64; 5] {
        let mut counts = [0u64; 5];
        for d in self
            .deliveries
            .get(endpoint_id)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|d| (since_ms..until_ms).contains(&d.msg.created_ms))
        {
            counts[d.status as usize] += 1;
        }
        counts
    }

    /// The endpoint's attempts made in `since_ms..until_ms` by what they
    /// show, per UTC day (days since the epoch, ascending; days with none
    /// left out): (success, fail, canceled). At most one entry per day of
    /// what the index holds.
    pub fn attempt_stats(
        &self,
        endpoint_id: &str,
        since_ms: u64,
        until_ms: u64,
    ) -> Vec<(u64, [u64; 3])> {
        let mut days: BTreeMap<u64, [u64; 3]> = BTreeMap::new();
        for a in self
            .attempts
            .get(endpoint_id)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|a| (since_ms..until_ms).contains(&a.at_ms))
        {
            let counts = days.entry(a.at_ms / crate::time::DAY_MS).or_default();
            match Status::of_attempt(a.outcome) {
                Status::Success => counts[0] += 1,
                Status::Canceled => counts[2] += 1,
                _ => counts[1] += 1,
            }
        }
        days.into_iter().collect()
    }

    /// Messages whose delivery to `endpoint_id` ended failed, created in
    /// `since_ms..until_ms`.
    pub fn failed_since(
        &self,
        endpoint_id: &str,
        since_ms: u64,
        until_ms: u64,
    ) -> Vec<Arc<MsgMeta>> {
        self.deliveries
            .get(endpoint_id)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|d| {
                d.status == Status::Fail
                    && d.msg.created_ms >= since_ms
                    && d.msg.created_ms < until_ms
            })
            .map(|d| d.msg.clone())
            .collect()
    }

    /// Drops entries older than the retention period.
    pub fn prune(&mut self, now_ms: u64) {
        let cutoff = now_ms.saturating_sub(self.retention_ms);
        let cap = self.cap;
        for per_app in self.messages.values_mut() {
            trim(per_app, cap, cutoff, |m| m.created_ms);
        }
        self.messages.retain(|_, m| !m.is_empty());
        for per_ep in self.deliveries.values_mut() {
            trim(per_ep, cap, cutoff, |d| d.msg.created_ms);
        }
        self.deliveries.retain(|_, m| !m.is_empty());
        for per_ep in self.attempts.values_mut() {
            trim(per_ep, cap, cutoff, |a| a.at_ms);
        }
        self.attempts.retain(|_, m| !m.is_empty());
        for per_source in self.requests.values_mut() {
            trim(per_source, cap, cutoff, |r| r.at_ms);
        }
        self.requests.retain(|_, m| !m.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Position;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn id_keys_order_and_read_back_like_their_text(
            a in "[0-9A-Za-z_]{0,40}",
            b in "[0-9A-Za-z_]{0,40}",
        ) {
            let (ka, kb) = (IdKey::new(&a).expect("fits"), IdKey::new(&b).expect("fits"));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(ka.as_str(), a.as_str());
            prop_assert_eq!(IdKey::bound(&a), ka);
        }
    }

    #[test]
    fn id_keys_refuse_what_they_cannot_hold() {
        assert!(IdKey::new(&"x".repeat(41)).is_none());
        assert!(IdKey::new("a\0b").is_none());
        // A too-long bound still sorts after every shorter key it starts with.
        let long = "msg_".to_string() + &"z".repeat(60);
        assert!(IdKey::bound(&long) > IdKey::new("msg_zzz").expect("fits"));
    }

    fn meta(id: &str, ms: u64, et: &str) -> Arc<MsgMeta> {
        Arc::new(MsgMeta {
            id: IdKey::bound(id),
            app_id: "app".into(),
            event_type: et.into(),
            event_id: None,
            channels: vec![],
            created_ms: ms,
            loc: Loc {
                journal: 0,
                pos: Position {
                    segment_seq: 1,
                    offset: 64,
                },
            },
        })
    }

    #[test]
    fn pages_newest_first_forward_and_back() {
        let mut ix = Index::new(1_000_000, 100);
        for i in 0..7u64 {
            ix.add_message(meta(&format!("msg_{i}"), 10 + i, "a"));
        }
        let req = |it: Option<String>| PageReq {
            limit: 3,
            iterator: it,
        };
        let p1 = ix.list_messages("app", &Filter::default(), &req(None));
        let ids =
            |p: &Page<Arc<MsgMeta>>| p.items.iter().map(|m| m.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&p1), ["msg_6", "msg_5", "msg_4"]);
        assert!(!p1.done);
        let p2 = ix.list_messages("app", &Filter::default(), &req(p1.iterator.clone()));
        assert_eq!(ids(&p2), ["msg_3", "msg_2", "msg_1"]);
        let p3 = ix.list_messages("app", &Filter::default(), &req(p2.iterator.clone()));
        assert_eq!(ids(&p3), ["msg_0"]);
        assert!(p3.done);
        let back = ix.list_messages("app", &Filter::default(), &req(p2.prev_iterator.clone()));
        assert_eq!(ids(&back), ids(&p1));
    }

    #[test]
    fn attempt_stats_count_each_utc_day_apart_within_the_range() {
        let mut ix = Index::new(u64::MAX / 4, 100);
        let day = crate::time::DAY_MS;
        let m = meta("msg_1", 5 * day, "a");
        let attempts = [
            (5 * day + 1, Outcome::Retrying),
            (5 * day + 2, Outcome::Succeeded),
            (7 * day - 1, Outcome::Failed),
            (7 * day, Outcome::Succeeded),
            (9 * day, Outcome::Succeeded),
        ];
        for (i, (at_ms, outcome)) in attempts.into_iter().enumerate() {
            let a = AttemptEntry {
                id: format!("atmpt_{i}").into(),
                msg: m.clone(),
                endpoint_id: "ep".into(),
                status_code: 200,
                outcome,
                at_ms,
                duration_us: 1,
                manual: false,
                loc: m.loc,
            };
            ix.add_attempt(a, 0);
        }
        assert_eq!(
            ix.attempt_stats("ep", 0, u64::MAX),
            vec![
                (5, [1, 1, 0]),
                (6, [0, 1, 0]),
                (7, [1, 0, 0]),
                (9, [1, 0, 0])
            ]
        );
        assert_eq!(
            ix.attempt_stats("ep", 5 * day + 2, 9 * day),
            vec![(5, [1, 0, 0]), (6, [0, 1, 0]), (7, [1, 0, 0])],
            "since inclusive, until exclusive"
        );
        assert!(ix.attempt_stats("other", 0, u64::MAX).is_empty());
    }

    #[test]
    fn cap_and_retention_bound_every_map() {
        let mut ix = Index::new(100, 3);
        for i in 0..5u64 {
            let m = meta(&format!("msg_{i}"), 1000 + i * 10, "a");
            ix.add_message(m.clone());
            ix.delivery_pending(&Arc::from("ep"), &m, 0);
        }
        let all = PageReq {
            limit: 50,
            iterator: None,
        };
        assert_eq!(
            ix.list_messages("app", &Filter::default(), &all)
                .items
                .len(),
            3
        );
        assert!(ix.message("app", "msg_0").is_none());
        assert_eq!(ix.stats("ep", 0, u64::MAX)[Status::Pending as usize], 3);
        ix.prune(1000 + 135);
        assert_eq!(
            ix.list_messages("app", &Filter::default(), &all)
                .items
                .len(),
            1
        );
        assert_eq!(ix.stats("ep", 0, u64::MAX)[Status::Pending as usize], 1);
        assert!(ix.message("app", "msg_4").is_some());
    }
}
