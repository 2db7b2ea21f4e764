//! Accepting messages: routing to the home shard, dedup, journaling, fan-out.
//!
//! A batch may name applications homed on several shards; [`submit`] splits it,
//! sends each part to its home shard, and reassembles the answers in order.
//! On the home shard, [`accept_local`] appends one `Message` record per
//! accepted message, waits once for group commit to cover the last of them,
//! and only then hands deliveries to the endpoints' owner shards: an
//! acknowledged message is always in the journal before any attempt is made.

use super::index::Loc;
use super::state::Shard;
use super::{
    delivery, shard_of, IngestError, IngestResult, Message, MsgRef, NewMessage, Pending, ShardMsg,
};
use crate::ids;
use crate::records::{Kind, MessageRecord};
use std::rc::Rc;
use std::sync::Arc;

/// Accepts a batch from any shard's listener; results are in input order.
pub async fn submit(shard: &Rc<Shard>, events: Vec<NewMessage>) -> Vec<IngestResult> {
    let n = shard.count;
    if n == 1 {
        return accept_local(shard, events).await;
    }
    let total = events.len();
    let mut parts: Vec<(Vec<usize>, Vec<NewMessage>)> = (0..n).map(|_| (vec![], vec![])).collect();
    for (i, e) in events.into_iter().enumerate() {
        let home = shard_of(&e.app_id, n);
        parts[home].0.push(i);
        parts[home].1.push(e);
    }
    let mut results: Vec<IngestResult> = vec![Err(IngestError::Unavailable); total];
    let mut local = None;
    let mut waits = Vec::new();
    for (home, (idx, evs)) in parts.into_iter().enumerate() {
        if evs.is_empty() {
            continue;
        }
        if home == shard.id {
            local = Some((idx, evs));
            continue;
        }
        let Some(senders) = &shard.senders else {
            continue;
        };
        let (tx, rx) = futures_channel::oneshot::channel();
        let msg = ShardMsg::Ingest {
            events: evs,
            reply: tx,
        };
        if senders.send_to(home, msg).await.is_ok() {
            waits.push((idx, rx));
        }
    }
    if let Some((idx, evs)) = local {
        for (i, r) in idx.into_iter().zip(accept_local(shard, evs).await) {
            results[i] = r;
        }
    }
    for (idx, rx) in waits {
        if let Ok(answer) = rx.await {
            for (i, r) in idx.into_iter().zip(answer) {
                results[i] = r;
            }
        }
    }
    results
}

/// Accepts messages of applications homed on this shard.
pub async fn accept_local(shard: &Rc<Shard>, events: Vec<NewMessage>) -> Vec<IngestResult> {
    accept_local_to(shard, events, None).await
}

/// Like `accept_local`; with `only`, each message goes to that endpoint
/// alone instead of the catalog's fan-out (`send-example`).
pub async fn accept_local_to(
    shard: &Rc<Shard>,
    events: Vec<NewMessage>,
    only: Option<&str>,
) -> Vec<IngestResult> {
    if shard.shared.is_stopping() || shard.shared.is_overloaded() {
        return vec![Err(IngestError::Unavailable); events.len()];
    }
    shard.ingest_in_flight.set(shard.ingest_in_flight.get() + 1);
    let results = accept_batch(shard, events, only).await;
    shard.ingest_in_flight.set(shard.ingest_in_flight.get() - 1);
    results
}

/// The body of [`accept_local_to`], between its in-flight accounting.
async fn accept_batch(
    shard: &Rc<Shard>,
    events: Vec<NewMessage>,
    only: Option<&str>,
) -> Vec<IngestResult> {
    let catalog = shard.shared.catalog.load();
    let now = crate::time::now_ms();
    let mut results = Vec::with_capacity(events.len());
    let mut fan = Vec::new();
    let mut last_lsn = None;
    let mut saw_duplicate = false;
    for ev in events {
        if catalog.app(&ev.app_id).is_none() {
            results.push(Err(IngestError::UnknownApp));
            continue;
        }
        if let Some(eid) = &ev.event_id {
            let dedup = shard.dedup.borrow();
            if let Some(mid) = dedup.get(&ev.app_id, eid, now) {
                saw_duplicate = true;
                results.push(Err(IngestError::Duplicate(mid.to_string())));
                continue;
            }
        }
        let destinations = match only {
            Some(ep) => vec![ep.to_string()],
            None => catalog.fan_out(&ev.app_id, &ev.event_type, &ev.channels),
        };
        let rec = MessageRecord {
            id: ids::new_id_at("msg", now),
            app_id: ev.app_id,
            event_type: ev.event_type,
            event_id: ev.event_id,
            channels: ev.channels,
            payload: ev.payload,
            created_ms: now,
            destinations,
        };
        let appended = shard
            .commit
            .append_record_at(Kind::Message, &rec)
            .map_err(|e| IngestError::Journal(e.to_string()));
        let loc = match appended {
            Ok((lsn, pos)) => {
                last_lsn = Some(lsn);
                Loc {
                    journal: shard.id as u32,
                    pos,
                }
            }
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        };
        if let Some(eid) = &rec.event_id {
            shard
                .dedup
                .borrow_mut()
                .insert(&rec.app_id, eid, &rec.id, now);
        }
        let (msg, destinations) = Message::from_record(rec, loc);
        let msg = Arc::new(msg);
        shard.index.borrow_mut().add_message(msg.meta());
        fan.push((msg.clone(), destinations));
        results.push(Ok(msg));
    }
    // A duplicate's original may still be waiting for its group commit (a
    // producer retrying after a timeout); "already accepted" must not be
    // said before it is durable, so wait for everything written so far.
    if saw_duplicate {
        last_lsn = Some(shard.commit.written_lsn());
    }
    if let Some(lsn) = last_lsn {
        shard.commit.durable(lsn).await;
    }
    shard.stats.borrow_mut().messages_ingested += fan.len() as u64;
    fan_out(shard, fan).await;
    results
}

/// Hands the deliveries of durable messages to their owner shards.
pub async fn fan_out(shard: &Rc<Shard>, fan: Vec<(Arc<Message>, Vec<String>)>) {
    let n = shard.count;
    let catalog = shard.shared.catalog.load();
    let mut per: Vec<Vec<Pending>> = (0..n).map(|_| Vec::new()).collect();
    for (msg, dests) in fan {
        for endpoint_id in dests {
            per[shard_of(&endpoint_id, n)].push(Pending {
                msg: MsgRef::Hot(msg.clone()),
                endpoint_id: catalog.endpoint_name(&endpoint_id),
                attempt_no: 0,
                due_ms: 0,
            });
        }
    }
    drop(catalog);
    for (owner, batch) in per.into_iter().enumerate() {
        if batch.is_empty() {
            continue;
        }
        if owner == shard.id {
            delivery::accept(shard, batch);
        } else if let Some(senders) = &shard.senders {
            // A closed channel only happens at shutdown; the deliveries stay
            // pending in the journal and are recovered on the next start.
            let _ = senders.send_to(owner, ShardMsg::Deliver(batch)).await;
        }
    }
}
