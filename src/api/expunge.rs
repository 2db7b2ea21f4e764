//! Removing content (Svix's `message.expunge_content`,
//! `bulk_expunge_content`, `expunge_all_contents` and
//! `message_attempt.expunge_content`): a message's payload, or an attempt's
//! response body, is journaled as expunged (`Shard::expunge`, durable
//! before the answer) and from then on reads as `{}` / `""` everywhere; the
//! message's pending deliveries are cancelled and it cannot be resent. The
//! message and its attempts stay. The bytes leave the disk with the journal
//! segment that holds them, `retention_ms` after the message was accepted.

use super::http::{error, Request, Response};
use super::listing::{find_message, unreachable_shard};
use super::params::*;
use crate::records::ExpungeRecord;
use crate::shard::state::Shard;
use crate::time::rfc3339;
use serde_json::{json, Map};
use std::rc::Rc;

/// Most ids in one bulk expunge.
const BULK_IDS_MAX: usize = 1_000;

fn record(app_id: &str, msg_id: &str, attempt_id: &str) -> ExpungeRecord {
    ExpungeRecord {
        app_id: app_id.to_string(),
        msg_id: msg_id.to_string(),
        attempt_id: attempt_id.to_string(),
        at_ms: crate::time::now_ms(),
    }
}

fn failed(e: crate::shard::state::ExpungeError) -> Response {
    error(500, "internal", e.to_string())
}

/// `DELETE /app/{app}/msg/{msg}/content`.
pub async fn expunge_message(shard: &Rc<Shard>, app: &str, msg: &str) -> Result<Response> {
    let app = find_app(shard, app)?;
    let m = find_message(shard, &app.id, msg).await?;
    shard
        .expunge(&[record(&app.id, m.id.as_str(), "")])
        .await
        .map_err(failed)?;
    Ok(no_content())
}

/// `POST /app/{app}/msg/bulk-expunge` `{"ids": [...]}` (ids or `eventId`s).
pub async fn bulk_expunge(shard: &Rc<Shard>, req: &Request, app: &str) -> Result<Response> {
    let app = find_app(shard, app)?;
    let ids = opt_list(&json_object(req)?, &["ids"])?.unwrap_or_default();
    if ids.len() > BULK_IDS_MAX {
        return Err(invalid("ids", format!("at most {BULK_IDS_MAX}")));
    }
    let mut results = Map::new();
    let mut recs = Vec::new();
    for id in ids {
        match crate::shard::query::find_message(shard, &app.id, &id).await {
            Some(Some(m)) => {
                recs.push(record(&app.id, m.id.as_str(), ""));
                results.insert(id, json!("expunged"));
            }
            Some(None) => {
                results.insert(id, json!("not-found"));
            }
            None => return Err(unreachable_shard()),
        }
    }
    shard.expunge(&recs).await.map_err(failed)?;
    Ok(ok(200, json!({ "results": results })))
}

/// `POST /app/{app}/msg/expunge-all-contents`: every message of the
/// application the read path holds, as a background task
/// (`application.purge_content`, `data`: `{"messagesPurged": n}`).
pub fn expunge_all(shard: &Rc<Shard>, app: &str) -> Result<Response> {
    let app = find_app(shard, app)?;
    let now = crate::time::now_ms();
    let task = shard
        .tasks()
        .borrow_mut()
        .start("application.purge_content", now);
    let (s, id, app_id) = (shard.clone(), task.id.clone(), app.id.clone());
    glommio::spawn_local(async move {
        let mut after: Option<String> = None;
        // What was accepted before the request, not what comes meanwhile.
        let upto = crate::reads::index::Filter {
            before_ms: Some(now.saturating_add(1)),
            ..Default::default()
        };
        let mut count = 0u64;
        let mut failure: Option<crate::shard::manual::ManualError> = None;
        loop {
            let page =
                crate::shard::query::poll(&s, &app_id, after.clone(), None, upto.clone(), 250)
                    .await;
            let Some((items, more)) = page else {
                failure = Some(crate::shard::manual::ManualError::Unavailable);
                break;
            };
            after = items.last().map(|m| m.id.to_string()).or(after);
            let recs: Vec<ExpungeRecord> = items
                .iter()
                .map(|m| record(&app_id, m.id.as_str(), ""))
                .collect();
            if let Err(e) = s.expunge(&recs).await {
                failure = Some(e.into());
                break;
            }
            count += recs.len() as u64;
            if !more {
                break;
            }
        }
        let result = match failure {
            None => Some(Ok(count)),
            Some(e) => Some(Err(e)),
        };
        super::manual::end_task(
            &s,
            id,
            "application.purge_content",
            "messagesPurged",
            result,
        )
        .await;
    })
    .detach();
    Ok(ok(
        202,
        json!({ "id": task.id, "status": "running", "task": "application.purge_content", "updatedAt": rfc3339(now) }),
    ))
}

/// `DELETE /app/{app}/msg/{msg}/attempt/{attempt}/content`.
pub async fn expunge_attempt(
    shard: &Rc<Shard>,
    app: &str,
    msg: &str,
    attempt: &str,
) -> Result<Response> {
    let app = find_app(shard, app)?;
    let m = find_message(shard, &app.id, msg).await?;
    let attempts = crate::shard::query::attempts_of(shard, m.id.as_str()).await;
    let a = attempts
        .iter()
        .find(|a| &*a.id == attempt)
        .ok_or_else(|| not_found("attempt"))?;
    shard
        .expunge(&[record(&app.id, m.id.as_str(), &a.id)])
        .await
        .map_err(failed)?;
    Ok(no_content())
}

/// A stored answer replayed for an `idempotency-key` shows no payload the
/// message's expunge removed since (`expunge`).
pub fn without_expunged(shard: &Shard, mut resp: Response) -> Response {
    let expunged = &shard.shared().expunged;
    if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&resp.body) {
        let gone = v["id"].as_str().is_some_and(|id| expunged.contains(id));
        if gone && v.get("payload").is_some() {
            v["payload"] = serde_json::json!({});
            resp.body = serde_json::to_vec(&v).unwrap_or_default();
        }
    }
    resp
}
