//! Turns the scan into engine state: pending deliveries and the read-path
//! indexes (the `eventId` windows are taken during the scan).
//!
//! Pending deliveries come from folding each delivery's sorted events, in
//! the same pass that picks each endpoint's newest deliveries. The
//! indexes keep at most `index_max_per_key` entries per application and per
//! endpoint, so only those candidates are materialised: the newest messages
//! per application and per endpoint, the newest attempts per endpoint and
//! every event of a candidate delivery. Their records are read back from the
//! journal (with their CRC) and applied in time order, as they happened.

use super::scan::{Event, EventKind, MsgInfo, Scan};
use super::{DeliveryState, RecoveryError};
use crate::config::Config;
use crate::delivery::{Delivery, Due, MsgRef};
use crate::message::{Message, MsgMeta};
use crate::placement::Placement;
use crate::reads::index::{AttemptEntry, Index};
use crate::reads::record::read_record_at;
use crate::records::{self, Kind, Outcome};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

/// The state of one delivery from its events (sorted by time).
fn fold(events: &[Event]) -> DeliveryState {
    let mut st = DeliveryState::default();
    for e in events {
        match e.kind {
            EventKind::Resend => st.resend_ms = st.resend_ms.max(Some(e.at_ms)),
            EventKind::Attempt => {
                let final_ = Outcome::from_u8(e.outcome).is_some_and(|o| o.is_final());
                if final_ {
                    st.final_ms = st.final_ms.max(Some(e.at_ms));
                } else if st.retrying.is_none_or(|(at, _, _)| e.at_ms >= at) {
                    st.retrying = Some((e.at_ms, e.attempt_no + 1, e.next_attempt_ms));
                }
            }
        }
    }
    st
}

/// Calls `f` for every delivery of every message found: (message number,
/// info, endpoint number, that delivery's events). A message's deliveries
/// are its destinations plus any endpoint it was resent to.
fn for_each_delivery(scan: &Scan, mut f: impl FnMut(u32, &MsgInfo, u32, &[Event])) {
    let mut at = 0;
    let mut endpoints: Vec<u32> = Vec::new();
    for (n, info) in scan.msgs.iter().enumerate() {
        let n = n as u32;
        // `events` is sorted by message number: this message's run starts at `at`.
        let from = at;
        while at < scan.events.len() && scan.events[at].msg == n {
            at += 1;
        }
        let Some(info) = info else {
            continue;
        };
        let events = &scan.events[from..at];
        endpoints.clear();
        endpoints.extend_from_slice(scan.dests_of(info));
        for e in events.iter().filter(|e| e.kind == EventKind::Resend) {
            if !endpoints.contains(&e.endpoint) {
                endpoints.push(e.endpoint);
            }
        }
        for &ep in &endpoints {
            let lo = events.partition_point(|e| e.endpoint < ep);
            let hi = events.partition_point(|e| e.endpoint <= ep);
            f(n, info, ep, &events[lo..hi]);
        }
    }
}

/// Every delivery, in one pass: the pending ones per owner shard, and per
/// endpoint the newest ones the index keeps (`index_max_per_key`, within
/// `retention_ms`), as (message created, message number).
pub struct Deliveries {
    pub pending: Vec<Vec<Due>>,
    pub count: u64,
    /// Deliveries taken as ended for the compaction horizon alone.
    pub ended_by_horizon: u64,
    pub newest: HashMap<u32, Newest<(u64, u32)>>,
}

/// The pending deliveries among every message's, and each endpoint's
/// newest messages. A delivery of a message created before
/// `compacted_before_ms` is ended, unless resent: no delivery was pending
/// for such a message when a compaction deleted segments, which may have
/// taken its final attempt record while its message record stayed.
pub fn deliveries(
    scan: &Scan,
    catalog: &crate::catalog::Catalog,
    config: &Config,
    now_ms: u64,
    compacted_before_ms: u64,
) -> Deliveries {
    let shards = config.shards;
    let placement = Placement::new(shards);
    let cap = config.index_max_per_key.max(1);
    let cutoff = now_ms.saturating_sub(config.retention_ms);
    let mut pending: Vec<Vec<Due>> = (0..shards).map(|_| Vec::new()).collect();
    let mut newest: HashMap<u32, Newest<(u64, u32)>> = HashMap::new();
    let mut count = 0;
    let mut ended_by_horizon = 0;
    for_each_delivery(scan, |m, info, ep, events| {
        if info.created_ms >= cutoff {
            let heap = newest.entry(ep).or_insert_with(|| Newest::new(cap));
            heap.push((info.created_ms, m));
        }
        let st = fold(events);
        if st.ended() {
            return;
        }
        if info.created_ms < compacted_before_ms && st.resend_ms.is_none() {
            ended_by_horizon += 1;
            return;
        }
        let (attempt_no, due_ms) = st.next();
        let name = scan.endpoints.name(ep);
        count += 1;
        // Recovered deliveries are cold: their attempts read the message
        // back from the journal, so recovery keeps no payload.
        let delivery = Delivery {
            msg: MsgRef::Cold(info.cold),
            endpoint_id: catalog.endpoint_name(name),
            attempt_no,
        };
        pending[placement.owner_of_endpoint(name)].push(delivery.due(due_ms));
    });
    // A FIFO endpoint's line forms in the order its deliveries arrive:
    // hand them over in acceptance order (`delivery::fifo::Key`), whatever
    // order the scan met them in.
    for shard in pending.iter_mut().filter(|_| catalog.has_fifo_endpoints()) {
        shard.sort_by_cached_key(|d| {
            let fifo = catalog
                .endpoint_by_id(&d.delivery.endpoint_id)
                .is_some_and(|e| e.fifo);
            fifo.then(|| crate::delivery::fifo::Key::of(&d.delivery.msg))
        });
    }
    Deliveries {
        pending,
        count,
        ended_by_horizon,
        newest,
    }
}

fn read_message(config: &Config, info: &MsgInfo) -> Result<records::MessageRecord, RecoveryError> {
    let loc = info.cold.loc();
    let bad = |reason: String| RecoveryError::Reread { loc, reason };
    let rec = read_record_at(config, loc, Kind::Message).map_err(|e| bad(e.to_string()))?;
    records::decode_message(&rec.body).map_err(|e| bad(e.to_string()))
}

/// Keeps the `cap` largest keys pushed (a bounded min-heap).
pub struct Newest<K: Ord> {
    cap: usize,
    heap: BinaryHeap<Reverse<K>>,
}

impl<K: Ord> Newest<K> {
    fn new(cap: usize) -> Self {
        Newest {
            cap,
            heap: BinaryHeap::new(),
        }
    }

    fn push(&mut self, k: K) {
        if self.heap.len() < self.cap {
            self.heap.push(Reverse(k));
        } else if let Some(mut low) = self.heap.peek_mut() {
            // Replacing the smallest in place: one sift instead of two.
            if k > low.0 {
                *low = Reverse(k);
            }
        }
    }

    fn into_iter(self) -> impl Iterator<Item = K> {
        self.heap.into_iter().map(|Reverse(k)| k)
    }
}

/// Builds every shard's read-path index from the candidates (see the module
/// docs): messages on their home shard, deliveries and attempts on the
/// endpoint's owner shard, events applied in time order.
pub fn indexes(
    scan: &Scan,
    config: &Config,
    now_ms: u64,
    newest: HashMap<u32, Newest<(u64, u32)>>,
) -> Result<Vec<Index>, RecoveryError> {
    let n = config.shards;
    let placement = Placement::new(n);
    let cap = config.index_max_per_key.max(1);
    let cutoff = now_ms.saturating_sub(config.retention_ms);
    let mut per_app: HashMap<u32, Newest<(u64, u32)>> = HashMap::new();
    let mut attempts: HashMap<u32, Newest<(u64, usize)>> = HashMap::new();
    for (i, info) in scan.msgs.iter().enumerate() {
        if let Some(info) = info.filter(|m| m.created_ms >= cutoff) {
            let heap = per_app.entry(info.app).or_insert_with(|| Newest::new(cap));
            heap.push((info.created_ms, i as u32));
        }
    }
    for (i, e) in scan.events.iter().enumerate() {
        let known = scan.msgs[e.msg as usize].is_some_and(|m| m.created_ms >= cutoff);
        if e.kind == EventKind::Attempt && known {
            let heap = attempts
                .entry(e.endpoint)
                .or_insert_with(|| Newest::new(cap));
            heap.push((e.at_ms, i));
        }
    }
    let app_msgs: Vec<u32> = per_app
        .into_values()
        .flat_map(|h| h.into_iter().map(|(_, m)| m))
        .collect();
    let deliveries: Vec<(u32, u32)> = newest
        .into_iter()
        .flat_map(|(ep, h)| h.into_iter().map(move |(_, m)| (m, ep)))
        .collect();
    let candidate: HashSet<(u32, u32)> = deliveries.iter().copied().collect();
    // Every event of a candidate delivery, and the newest attempts.
    let mut chosen: HashSet<usize> = attempts
        .into_values()
        .flat_map(|h| h.into_iter().map(|(_, i)| i))
        .collect();
    for (i, e) in scan.events.iter().enumerate() {
        if candidate.contains(&(e.msg, e.endpoint)) {
            chosen.insert(i);
        }
    }
    // Read back the metadata of every message involved, once.
    let mut metas: HashMap<u32, Arc<MsgMeta>> = HashMap::new();
    let involved = app_msgs
        .iter()
        .copied()
        .chain(deliveries.iter().map(|&(m, _)| m))
        .chain(chosen.iter().map(|&i| scan.events[i].msg));
    for m in involved {
        if metas.contains_key(&m) {
            continue;
        }
        let Some(info) = scan.msgs[m as usize] else {
            continue;
        };
        let rec = read_message(config, &info)?;
        let (msg, _) = Message::from_record(rec, info.cold.loc());
        metas.insert(m, msg.meta());
    }
    let mut indexes: Vec<Index> = (0..n)
        .map(|_| Index::new(config.retention_ms, config.index_max_per_key))
        .collect();
    for m in &app_msgs {
        if let Some(meta) = metas.get(m) {
            indexes[placement.home_of_app(&meta.app_id)].add_message(meta.clone());
        }
    }
    for (m, ep) in &deliveries {
        let name = scan.endpoints.name(*ep);
        if let Some(meta) = metas.get(m) {
            indexes[placement.owner_of_endpoint(name)].delivery_pending(name, meta, 0);
        }
    }
    let mut chosen: Vec<usize> = chosen.into_iter().collect();
    chosen.sort_unstable_by_key(|&i| (scan.events[i].at_ms, scan.events[i].kind, i));
    for i in chosen {
        let e = &scan.events[i];
        let Some(meta) = metas.get(&e.msg) else {
            continue;
        };
        let name = scan.endpoints.name(e.endpoint);
        let index = &mut indexes[placement.owner_of_endpoint(name)];
        match e.kind {
            EventKind::Resend => index.resend(name, meta, e.at_ms),
            EventKind::Attempt => {
                let loc = e.at.loc();
                let bad = |reason: String| RecoveryError::Reread { loc, reason };
                let rec =
                    read_record_at(config, loc, Kind::Attempt).map_err(|e| bad(e.to_string()))?;
                let a = records::decode_attempt(rec.version, &rec.body)
                    .map_err(|e| bad(e.to_string()))?;
                let Some(outcome) = Outcome::from_u8(a.outcome) else {
                    continue;
                };
                let entry = AttemptEntry {
                    manual: false,
                    id: Arc::from(a.id),
                    msg: meta.clone(),
                    endpoint_id: name.clone(),
                    status_code: a.status_code,
                    outcome,
                    at_ms: a.at_ms,
                    duration_us: a.duration_us,
                    loc,
                };
                index.add_attempt(entry, a.next_attempt_ms);
            }
        }
    }
    for index in &mut indexes {
        index.prune(now_ms);
    }
    Ok(indexes)
}
