//! Read-path handlers for deliveries: attempts by endpoint and by message,
//! one attempt, messages of an endpoint and destinations of a message (each
//! with its delivery status and next attempt), and endpoint statistics.
//!
//! Attempts and deliveries are indexed on the endpoint's owner shard; those
//! of one message may be spread over every shard, so per-message reads ask
//! all shards and merge the answers.

use super::http::{Request, Response};
use super::listing::*;
use super::params::*;
use crate::reads::index::{page_of, AttemptEntry, DeliveryEntry, Status};
use crate::shard::query;
use crate::shard::state::Shard;
use crate::time::rfc3339;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

/// `GET /app/{app}/attempt/endpoint/{ep}`
pub async fn list_by_endpoint(
    shard: &Rc<Shard>,
    req: &super::http::Request,
    app: &str,
    ep: &str,
) -> Result<Response> {
    let q = list_query(req)?;
    let ep = find_endpoint(shard, app, ep)?;
    let (id, filter, page) = (ep.id.clone(), q.filter.clone(), q.page.clone());
    let page = query::list_endpoint_attempts(shard, &id, filter, page)
        .await
        .ok_or_else(unreachable_shard)?;
    Ok(ok(
        200,
        page_view(&page, async |a| {
            attempt_view(shard, a, q.with_msg, q.expanded_statuses).await
        })
        .await?,
    ))
}

/// Every attempt of a message, from every shard, by attempt id.
async fn attempts_of(shard: &Rc<Shard>, msg_id: &str) -> BTreeMap<Arc<str>, AttemptEntry> {
    query::attempts_of(shard, msg_id)
        .await
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect()
}

/// `GET /app/{app}/attempt/msg/{msg}`
pub async fn list_by_msg(
    shard: &Rc<Shard>,
    req: &super::http::Request,
    app: &str,
    msg: &str,
) -> Result<Response> {
    let q = list_query(req)?;
    let app = find_app(shard, app)?;
    let msg = find_message(shard, &app.id, msg).await?;
    let all = attempts_of(shard, &msg.id).await;
    let catalog = shard.shared().catalog.load();
    let endpoint = match &q.endpoint_id {
        Some(e) => Some(
            catalog
                .endpoint(&app.id, e)
                .map(|e| e.id.clone())
                .ok_or_else(|| not_found("endpoint"))?,
        ),
        None => None,
    };
    let page = page_of(
        &all,
        &q.page,
        |a| {
            endpoint.as_ref().is_none_or(|e| **e == *a.endpoint_id)
                && q.filter
                    .status
                    .is_none_or(|s| s == Status::of_attempt(a.outcome) as u8)
                && q.filter
                    .status_code_class
                    .is_none_or(|c| match a.status_code {
                        0 => c == 0,
                        code => code / 100 * 100 == c,
                    })
                && q.filter.before_ms.is_none_or(|b| a.at_ms < b)
                && q.filter.after_ms.is_none_or(|x| a.at_ms > x)
        },
        AttemptEntry::clone,
    );
    Ok(ok(
        200,
        page_view(&page, async |a| {
            attempt_view(shard, a, false, q.expanded_statuses).await
        })
        .await?,
    ))
}

/// `GET /app/{app}/msg/{msg}/attempt/{attempt}`
pub async fn get_attempt(
    shard: &Rc<Shard>,
    req: &super::http::Request,
    app: &str,
    msg: &str,
    attempt: &str,
) -> Result<Response> {
    let q = list_query(req)?;
    let app = find_app(shard, app)?;
    let msg = find_message(shard, &app.id, msg).await?;
    let all = attempts_of(shard, &msg.id).await;
    let a = all.get(attempt).ok_or_else(|| not_found("attempt"))?;
    Ok(ok(
        200,
        attempt_view(shard, a, false, q.expanded_statuses).await?,
    ))
}

/// `GET /app/{app}/endpoint/{ep}/msg`
pub async fn list_endpoint_messages(
    shard: &Rc<Shard>,
    req: &super::http::Request,
    app: &str,
    ep: &str,
) -> Result<Response> {
    let q = list_query(req)?;
    let ep = find_endpoint(shard, app, ep)?;
    let (id, filter, page) = (ep.id.clone(), q.filter.clone(), q.page.clone());
    let page = query::list_endpoint_messages(shard, &id, filter, page)
        .await
        .ok_or_else(unreachable_shard)?;
    let with_content = q.with_content.unwrap_or(true);
    Ok(ok(
        200,
        page_view(&page, async |d| {
            endpoint_message_view(shard, d, with_content, q.expanded_statuses).await
        })
        .await?,
    ))
}

/// `GET /app/{app}/msg/{msg}/endpoint`
pub async fn list_msg_endpoints(
    shard: &Rc<Shard>,
    req: &super::http::Request,
    app: &str,
    msg: &str,
) -> Result<Response> {
    let q = list_query(req)?;
    let app = find_app(shard, app)?;
    let msg = find_message(shard, &app.id, msg).await?;
    let all: BTreeMap<Arc<str>, DeliveryEntry> = query::deliveries_of(shard, &msg.id)
        .await
        .into_iter()
        .map(|d| (d.endpoint_id.clone(), d))
        .collect();
    let catalog = shard.shared().catalog.load();
    // Endpoints deleted since are left out: their fields are gone.
    let page = page_of(
        &all,
        &q.page,
        |d| catalog.endpoint_by_id(&d.endpoint_id).is_some(),
        DeliveryEntry::clone,
    );
    Ok(ok(
        200,
        page_view(&page, async |d| {
            let Some(e) = catalog.endpoint_by_id(&d.endpoint_id) else {
                return Ok(json!(null));
            };
            let status = status_of(d.status, q.expanded_statuses);
            let types = (!e.event_types.is_empty()).then_some(&e.event_types);
            Ok(json!({
                "id": e.id,
                "uid": e.uid,
                "url": e.url,
                "description": e.description,
                "disabled": e.disabled,
                "rateLimit": e.rate_limit,
                "throttleRate": e.rate_limit,
                "eventTypes": types,
                "filterTypes": types,
                "channels": (!e.channels.is_empty()).then_some(&e.channels),
                "createdAt": rfc3339(e.created_ms),
                "updatedAt": rfc3339(e.updated_ms),
                "status": status as u8,
                "statusText": status.text(),
                "nextAttempt": d.next_attempt_ms.map(rfc3339),
            }))
        })
        .await?,
    ))
}

/// The endpoint's deliveries by status (of messages created in the query's
/// `[since, until)`) and its attempts in that range by what they show.
async fn counts(
    shard: &Rc<Shard>,
    req: &Request,
    app: &str,
    ep: &str,
) -> Result<query::EndpointCounts> {
    let ep = find_endpoint(shard, app, ep)?;
    let time = |name: &str| -> Result<Option<u64>> {
        query_value(req, name)
            .map(|v| {
                crate::time::parse_rfc3339(&v)
                    .ok_or_else(|| query_invalid(name, "must be an RFC 3339 date-time"))
            })
            .transpose()
    };
    // The whole retention period when absent.
    let (since, until) = (
        time("since")?.unwrap_or(0),
        time("until")?.unwrap_or(u64::MAX),
    );
    query::endpoint_stats(shard, &ep.id, since, until)
        .await
        .ok_or_else(unreachable_shard)
}

/// `GET /app/{app}/endpoint/{ep}/stats`: deliveries of the endpoint by
/// status, of messages created in `[since, until)`.
pub async fn endpoint_stats(
    shard: &Rc<Shard>,
    req: &Request,
    app: &str,
    ep: &str,
) -> Result<Response> {
    let is_fifo = find_endpoint(shard, app, ep)?.fifo;
    let counts = counts(shard, req, app, ep).await?;
    let c = counts.deliveries;
    // A FIFO endpoint's line: how many wait behind its head, and since
    // when the head has been failing (ringhook's addition).
    let fifo = match (is_fifo, counts.fifo) {
        (true, Some(l)) => {
            json!({ "held": l.held, "blockedSince": l.blocked_since_ms.map(rfc3339) })
        }
        (true, None) => json!({ "held": 0, "blockedSince": null }),
        (false, _) => Value::Null,
    };
    Ok(ok(
        200,
        json!({
            "success": c[Status::Success as usize],
            "pending": c[Status::Pending as usize],
            "sending": c[Status::Sending as usize],
            "fail": c[Status::Fail as usize],
            "canceled": c[Status::Canceled as usize],
            "fifo": fifo,
        }),
    ))
}

/// `GET /app/{app}/endpoint/{ep}/attempt-stats` (Svix's
/// `endpoint.get_attempt_stats`): the endpoint's attempts made in
/// `[since, until)` by what they show: the totals the SDK reads, and the
/// same per UTC day (`days`, oldest first, days without attempts left out).
pub async fn attempt_stats(
    shard: &Rc<Shard>,
    req: &Request,
    app: &str,
    ep: &str,
) -> Result<Response> {
    let days = counts(shard, req, app, ep).await?.attempt_days;
    let total = days.iter().fold([0u64; 3], |t, (_, c)| {
        [t[0] + c[0], t[1] + c[1], t[2] + c[2]]
    });
    let days: Vec<Value> = days
        .iter()
        .map(|(day, c)| {
            json!({
                "date": crate::time::date(day * crate::time::DAY_MS),
                "success": c[0],
                "fail": c[1],
                "canceled": c[2],
            })
        })
        .collect();
    Ok(ok(
        200,
        json!({ "success": total[0], "fail": total[1], "canceled": total[2], "days": days }),
    ))
}
