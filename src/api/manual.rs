//! Handlers that start deliveries by hand: resend one message to one
//! endpoint, recover an endpoint's failed deliveries as a background task,
//! send an example message; and the background-task status reads.
//!
//! The work runs on the endpoint's owner shard (`shard::manual`) or the
//! application's home shard (`send-example`, through the normal ingest path
//! with the fan-out fixed to one endpoint); tasks are tracked on shard 0.

use super::http::{error, Request, Response};
use super::listing::*;
use super::params::*;
use crate::accept::{IngestError, NewMessage};
use crate::catalog::valid_event_type;
use crate::shard::manual::ManualError;
use crate::shard::query;
use crate::shard::state::Shard;
use crate::shard::tasks::Task;
use crate::time::{parse_rfc3339, rfc3339};
use serde_json::{json, Value};
use std::rc::Rc;

fn manual_error(e: ManualError) -> Response {
    match e {
        ManualError::Unavailable => error(
            503,
            "unavailable",
            "the engine is shutting down or overloaded; retry",
        ),
        e => error(500, "internal", e.to_string()),
    }
}

/// `POST /app/{app}/msg/{msg}/endpoint/{ep}/resend` (202).
pub async fn resend(shard: &Rc<Shard>, app: &str, msg: &str, ep: &str) -> Result<Response> {
    let ep = find_endpoint(shard, app, ep)?;
    let msg = find_message(shard, &ep.app_id, msg).await?;
    // Nothing is left to send: say so rather than answer 202 and send nothing.
    if shard.shared().expunged.contains(msg.id.as_str()) {
        return Err(error(
            409,
            "message_expunged",
            "the message's content was expunged; it cannot be resent",
        ));
    }
    query::resend(shard, msg, &ep.id)
        .await
        .ok_or_else(|| error(503, "unavailable", "a shard is not reachable; retry"))?
        .map_err(manual_error)?;
    Ok(ok(202, json!({})))
}

fn time_field(obj: &serde_json::Map<String, Value>, key: &str) -> Result<Option<u64>> {
    match opt_str(obj, key, 64)? {
        None => Ok(None),
        Some(s) => parse_rfc3339(&s)
            .map(Some)
            .ok_or_else(|| invalid(key, "must be an RFC 3339 date-time")),
    }
}

fn task_view(t: &Task) -> Value {
    json!({
        "id": t.id,
        "status": match (t.finished, t.failed) {
            (false, _) => "running",
            (true, false) => "finished",
            (true, true) => "failed",
        },
        "task": t.kind,
        "data": t.data,
        "updatedAt": rfc3339(t.updated_ms),
    })
}

/// Ends a background task that resent messages: its `data` is
/// `{<key>: count}` or the error, and the operators hear of it
/// (`background_task.finished`).
pub(super) async fn end_task(
    shard: &Rc<Shard>,
    id: String,
    kind: &'static str,
    key: &str,
    result: Option<std::result::Result<u64, ManualError>>,
) {
    let (failed, data) = match result {
        Some(Ok(n)) => (false, json!({ key: n })),
        Some(Err(e)) => (true, json!({ "error": e.to_string() })),
        None => (true, json!({ "error": "shard not reachable" })),
    };
    shard
        .tasks()
        .borrow_mut()
        .finish(&id, failed, data.clone(), crate::time::now_ms());
    let notice = crate::operational::Notice::TaskFinished {
        task_id: id,
        task: kind,
        failed,
        data,
    };
    crate::shard::route::notify(shard, notice).await;
}

/// `POST /app/{app}/endpoint/{ep}/recover` (202): resends, in the background,
/// every message whose delivery to the endpoint failed since `since`.
pub async fn recover(shard: &Rc<Shard>, req: &Request, app: &str, ep: &str) -> Result<Response> {
    let ep = find_endpoint(shard, app, ep)?;
    let obj = json_object(req)?;
    let since = time_field(&obj, "since")?.ok_or_else(|| invalid("since", "required"))?;
    let until = time_field(&obj, "until")?.unwrap_or(u64::MAX);
    let now = crate::time::now_ms();
    let task = shard.tasks().borrow_mut().start("endpoint.recover", now);
    let (s, id) = (shard.clone(), task.id.clone());
    let endpoint_id = ep.id.clone();
    glommio::spawn_local(async move {
        let result = query::recover(&s, &endpoint_id, since, until).await;
        end_task(&s, id, "endpoint.recover", "messages", result).await;
    })
    .detach();
    let mut v = task_view(&task);
    if let Some(o) = v.as_object_mut() {
        o.remove("data");
    }
    Ok(ok(202, v))
}

/// `GET /background-task/{task}`
pub fn get_task(shard: &Shard, id: &str) -> Result<Response> {
    let tasks = shard.tasks().borrow();
    let t = tasks.get(id).ok_or_else(|| not_found("background task"))?;
    Ok(ok(200, task_view(t)))
}

/// `GET /background-task`: newest first; filters `status` and `task`.
pub fn list_tasks(shard: &Shard, req: &Request) -> Result<Response> {
    let (limit, iterator) = paging(req)?;
    let mut status = None;
    let mut kind = None;
    for (k, v) in url::form_urlencoded::parse(req.query.as_bytes()) {
        match k.as_ref() {
            "status" => status = Some(v.into_owned()),
            "task" => kind = Some(v.into_owned()),
            _ => {}
        }
    }
    let tasks = shard.tasks().borrow();
    let map: std::collections::BTreeMap<String, Value> = tasks
        .all()
        .map(task_view)
        .filter(|v| status.as_ref().is_none_or(|s| v["status"] == **s))
        .filter(|v| kind.as_ref().is_none_or(|k| v["task"] == **k))
        .map(|v| (v["id"].as_str().unwrap_or_default().to_string(), v))
        .collect();
    let page = crate::reads::index::page_of(
        &map,
        &crate::reads::index::PageReq { limit, iterator },
        |_| true,
        Value::clone,
    );
    Ok(ok(200, page_json(&page, page.items.clone())))
}

/// `POST /app/{app}/endpoint/{ep}/send-example` (202): a new message of the
/// given event type, delivered to this endpoint only.
pub async fn send_example(
    shard: &Rc<Shard>,
    req: &Request,
    app: &str,
    ep: &str,
) -> Result<Response> {
    let ep = find_endpoint(shard, app, ep)?;
    let obj = json_object(req)?;
    let event_type = opt_str(&obj, "eventType", 256)?
        .filter(|t| valid_event_type(t))
        .ok_or_else(|| invalid("eventType", "required, matching ^[a-zA-Z0-9\\-_.]+$"))?;
    let payload = match obj.get("payload") {
        Some(p @ Value::Object(_)) => p.clone(),
        // Svix's ping test event carries `{"success": true}`.
        None | Some(Value::Null) if event_type == "svix.ping" => json!({ "success": true }),
        // The example of the event type's newest schema, else a small stand-in.
        None | Some(Value::Null) => shard
            .shared()
            .catalog
            .load()
            .event_type_details(&event_type)
            .and_then(|d| super::views::schema_example(d))
            .unwrap_or_else(|| json!({ "example": true, "eventType": event_type })),
        Some(_) => return Err(invalid("payload", "must be a JSON object")),
    };
    let new = NewMessage {
        app_id: ep.app_id.clone(),
        event_type,
        event_id: None,
        channels: Vec::new(),
        payload: serde_json::to_vec(&payload).unwrap_or_default(),
    };
    let result = query::send_example(shard, new, &ep.id).await;
    match result {
        Some(Ok(msg)) => Ok(ok(202, super::views::message(&msg))),
        Some(Err(IngestError::UnknownApp)) => Err(not_found("application")),
        Some(Err(IngestError::Journal(e))) => Err(error(500, "internal", e)),
        _ => Err(error(
            503,
            "unavailable",
            "the engine is shutting down or overloaded; retry",
        )),
    }
}
