//! The polling fallback (Svix's `svix.message_poller`): an endpoint's
//! messages read in order instead of pushed. `GET /api/v1/app/{app}/
//! poller/{endpoint}` pages through the application's messages the
//! endpoint's filters take (whether or not it is disabled: an endpoint may
//! exist only to be polled), oldest first, from an `iterator` (the id of
//! the last message read) or from `after`; `…/consumer/{consumer}` keeps
//! that iterator for a named consumer, durably (a catalog record), and
//! `…/consumer/{consumer}/seek` moves it to a time.
//!
//! What can be polled is what the read path keeps: messages within
//! `retention_ms`, at most `index_max_per_key` per application. A page is
//! at most 250 messages.

use super::http::{Request, Response};
use super::listing::{list_query, message_view, unreachable_shard};
use super::params::*;
use crate::records::{ConsumerRecord, Kind};
use crate::shard::state::Shard;
use serde_json::{json, Map, Value};
use std::rc::Rc;

/// Most named consumers (each a catalog record).
const CONSUMERS_MAX: usize = 1_000;

/// A page from `from` (exclusive) in Svix's `PollingEndpointOut` shape,
/// and the iterator to go on from.
async fn page(
    shard: &Rc<Shard>,
    req: &Request,
    app: &str,
    ep: &str,
    from: Option<String>,
    with_filters: bool,
) -> Result<(Value, String)> {
    let app = find_app(shard, app)?;
    let endpoint = find_endpoint(shard, &app.id, ep)?;
    let q = list_query(req)?;
    let mut filter = crate::reads::index::Filter::default();
    if with_filters {
        filter.after_ms = q.filter.after_ms;
        filter.channel = q.filter.channel.clone();
        if let Some(t) = query_value(req, "event_type").filter(|t| !t.is_empty()) {
            filter.event_types.push(t);
        }
    }
    if let Some(it) = &from {
        if !crate::ids::has_prefix(it, "msg") {
            return Err(invalid(
                "iterator",
                "not an iterator this endpoint returned",
            ));
        }
    }
    // Without a position, `after` starts the scan at its time.
    let from = from.or_else(|| filter.after_ms.map(|ms| crate::ids::floor_at("msg", ms)));
    let (items, more) = crate::shard::query::poll(
        shard,
        &app.id,
        from.clone(),
        Some(endpoint),
        filter,
        q.page.limit,
    )
    .await
    .ok_or_else(unreachable_shard)?;
    let iterator = items
        .last()
        .map(|m| m.id.to_string())
        .or(from)
        .unwrap_or_else(|| crate::ids::floor_at("msg", 0));
    let mut data = Vec::with_capacity(items.len());
    for m in &items {
        data.push(message_view(shard, m, true).await?);
    }
    Ok((
        json!({ "data": data, "iterator": iterator, "done": !more }),
        iterator,
    ))
}

/// `GET /app/{app}/poller/{endpoint}`.
pub async fn poll(shard: &Rc<Shard>, req: &Request, app: &str, ep: &str) -> Result<Response> {
    let from = paging(req)?.1;
    let (body, _) = page(shard, req, app, ep, from, true).await?;
    Ok(ok(200, body))
}

fn consumer_id(consumer: &str) -> Result<()> {
    if consumer.is_empty() || consumer.len() > 256 || !valid_uid(consumer) {
        return Err(invalid("consumer_id", "1 to 256 of a-z A-Z 0-9 - _ ."));
    }
    Ok(())
}

/// Keeps a consumer's position (a synced catalog record).
fn keep(shard: &Shard, app: &str, ep: &str, consumer: &str, iterator: &str) -> Result<()> {
    let catalog = shard.shared().catalog.load();
    if let Some(c) = catalog.consumer(ep, consumer) {
        if c.iterator == iterator {
            return Ok(());
        }
    } else if catalog.consumer_count() >= CONSUMERS_MAX {
        return Err(limit_reached("poller consumers", CONSUMERS_MAX));
    }
    drop(catalog);
    let rec = ConsumerRecord {
        app_id: app.to_string(),
        endpoint_id: ep.to_string(),
        consumer_id: consumer.to_string(),
        iterator: iterator.to_string(),
        at_ms: crate::time::now_ms(),
    };
    commit_catalog(shard, Kind::ConsumerPosition, &encode(&rec)?)
}

/// `GET /app/{app}/poller/{endpoint}/consumer/{consumer}`: the next page
/// from the consumer's kept position (or from `iterator`), which then
/// moves past it.
pub async fn consumer_poll(
    shard: &Rc<Shard>,
    req: &Request,
    app: &str,
    ep: &str,
    consumer: &str,
) -> Result<Response> {
    consumer_id(consumer)?;
    let endpoint = find_endpoint(shard, app, ep)?;
    let kept = shard
        .shared()
        .catalog
        .load()
        .consumer(&endpoint.id, consumer)
        .map(|c| c.iterator.clone());
    let from = paging(req)?.1.or(kept);
    let (body, iterator) = page(shard, req, app, ep, from, false).await?;
    keep(shard, &endpoint.app_id, &endpoint.id, consumer, &iterator)?;
    Ok(ok(200, body))
}

/// `POST /app/{app}/poller/{endpoint}/consumer/{consumer}/seek`
/// `{"after": date-time}`: the consumer goes on from that time.
pub fn consumer_seek(
    shard: &Shard,
    req: &Request,
    app: &str,
    ep: &str,
    consumer: &str,
) -> Result<Response> {
    consumer_id(consumer)?;
    let endpoint = find_endpoint(shard, app, ep)?;
    let obj: Map<String, Value> = json_object(req)?;
    let after = obj
        .get("after")
        .and_then(Value::as_str)
        .and_then(crate::time::parse_rfc3339)
        .ok_or_else(|| invalid("after", "an RFC 3339 date-time is required"))?;
    let iterator = crate::ids::floor_at("msg", after.saturating_add(1));
    keep(shard, &endpoint.app_id, &endpoint.id, consumer, &iterator)?;
    Ok(ok(200, json!({ "iterator": iterator })))
}
