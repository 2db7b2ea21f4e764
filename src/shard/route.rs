//! Routing between shards: a batch of messages to its applications' home
//! shards, and accepted messages' deliveries to their endpoints' owners.
//!
//! A batch may name applications homed on several shards; [`submit`] splits
//! it, sends each part to its home shard, and reassembles the answers in
//! order. On the home shard, [`accept_local`] has the accept path
//! (`crate::accept`) journal the messages and wait for them to be durable,
//! and only then hands the deliveries to the endpoints' owner shards: an
//! acknowledged message is always in the journal before any attempt is made.

use super::state::Shard;
use super::ShardMsg;
use crate::accept::{Accepted, IngestError, IngestResult, NewMessage};
use crate::catalog::Catalog;
use crate::delivery::{Delivery, Due, MsgRef};
use crate::placement::Placement;
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
        let home = shard.shared.placement.home_of_app(&e.app_id);
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
    let _in_flight = shard.accept.begin();
    let catalog = shard.shared.catalog.load();
    let (results, fan) = shard
        .accept
        .accept(&catalog, &shard.index, events, only)
        .await;
    drop(catalog);
    shard.stats.borrow_mut().messages_ingested += fan.len() as u64;
    fan_out(shard, fan).await;
    results
}

/// Hands the deliveries of durable messages to their owner shards.
pub async fn fan_out(shard: &Rc<Shard>, fan: Vec<Accepted>) {
    let catalog = shard.shared.catalog.load();
    let per = by_owner(fan, &catalog, &shard.shared.placement);
    drop(catalog);
    for (owner, batch) in per.into_iter().enumerate() {
        if batch.is_empty() {
            continue;
        }
        if owner == shard.id {
            shard.delivery.accept(batch);
        } else if let Some(senders) = &shard.senders {
            // A closed channel only happens at shutdown; the deliveries stay
            // pending in the journal and are recovered on the next start.
            let _ = senders.send_to(owner, ShardMsg::Deliver(batch)).await;
        }
    }
}

/// The deliveries of accepted messages, one list per owner shard (the
/// engine's and the simulator's fan-out), each due now.
///
/// Consecutive messages mostly go to the same endpoints: the last one's
/// shared name and owner are reused, which saves a catalog lookup and a
/// hash of the id per delivery.
pub fn by_owner(fan: Vec<Accepted>, catalog: &Catalog, placement: &Placement) -> Vec<Vec<Due>> {
    let mut per: Vec<Vec<Due>> = (0..placement.shards()).map(|_| Vec::new()).collect();
    let mut last: Option<(Arc<str>, usize)> = None;
    for (msg, dests) in fan {
        for endpoint_id in dests {
            let (name, owner) = match &last {
                Some((name, owner)) if **name == *endpoint_id => (name.clone(), *owner),
                _ => {
                    let found = (
                        catalog.endpoint_name(&endpoint_id),
                        placement.owner_of_endpoint(&endpoint_id),
                    );
                    last = Some(found.clone());
                    found
                }
            };
            per[owner].push(Delivery::new(MsgRef::Hot(msg.clone()), name).due(0));
        }
    }
    per
}

/// Makes an operational notice a message of the operational application
/// (through the same accept path as every message) and waits until it is
/// durable; whether it was accepted (a duplicate counts: it was before). No
/// operational endpoint, no application, nothing to do.
pub async fn notify(shard: &Rc<Shard>, notice: crate::operational::Notice) -> bool {
    let catalog = shard.shared.catalog.load_full();
    if catalog.app(crate::operational::APP_ID).is_none() {
        return true;
    }
    let Some(message) = notice.message(&catalog) else {
        return true;
    };
    match submit(shard, vec![message]).await.pop() {
        Some(Ok(_)) | Some(Err(IngestError::Duplicate(_))) | Some(Err(IngestError::UnknownApp)) => {
            true
        }
        Some(Err(e)) => {
            tracing::warn!(event = %notice.event_type(), error = %e, "an operational notice was not accepted");
            false
        }
        None => false,
    }
}
