//! Replays (Svix's `endpoint.replay_missing` and `endpoint.bulk_replay`),
//! as background tasks like `recover`: `replay-missing` resends every
//! message created in `[since, until)` that the endpoint's filters take and
//! that was never sent to it; `bulk-replay` resends every message of that
//! range that was sent to it, narrowed by `eventTypes`, `channel` and the
//! delivery's `status`. The messages come from the read path (within
//! `retention_ms`), each resend is journaled before it starts
//! (`shard::manual`), and the task's `data` says `{"messagesSent": n}`.

use super::http::{error, Request, Response};
use super::params::*;
use crate::message::MsgMeta;
use crate::reads::index::Filter;
use crate::records::EndpointRecord;
use crate::shard::query;
use crate::shard::state::Shard;
use crate::time::{parse_rfc3339, rfc3339};
use serde_json::{json, Map, Value};
use std::rc::Rc;
use std::sync::Arc;

fn time_field(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(parse_rfc3339)
            .map(Some)
            .ok_or_else(|| invalid(key, "must be an RFC 3339 date-time")),
    }
}

/// Every message of the endpoint's application in the range that
/// `endpoint`'s filters and `filter` take, oldest first, page by page.
async fn candidates(
    shard: &Rc<Shard>,
    app_id: &str,
    endpoint: Option<Arc<EndpointRecord>>,
    filter: Filter,
) -> Option<Vec<Arc<MsgMeta>>> {
    let mut out: Vec<Arc<MsgMeta>> = Vec::new();
    let mut after = filter
        .after_ms
        .map(|ms| crate::ids::floor_at("msg", ms.saturating_add(1)));
    loop {
        let (items, more) = query::poll(
            shard,
            app_id,
            after.clone(),
            endpoint.clone(),
            filter.clone(),
            250,
        )
        .await?;
        after = items.last().map(|m| m.id.to_string()).or(after);
        out.extend(items);
        if !more {
            return Some(out);
        }
    }
}

/// Starts a replay task; answers Svix's `ReplayOut` (202).
fn start(
    shard: &Rc<Shard>,
    kind: &'static str,
    endpoint: &EndpointRecord,
    filters_apply: bool,
    filter: Filter,
    only_missing: bool,
    status: Option<u8>,
) -> Response {
    let now = crate::time::now_ms();
    let task = shard.tasks().borrow_mut().start(kind, now);
    let (s, id) = (shard.clone(), task.id.clone());
    let (app_id, endpoint_id) = (endpoint.app_id.clone(), endpoint.id.clone());
    let takes = filters_apply.then(|| Arc::new(endpoint.clone()));
    glommio::spawn_local(async move {
        let result = match candidates(&s, &app_id, takes, filter).await {
            Some(c) => query::replay(&s, &endpoint_id, c, only_missing, status).await,
            None => None,
        };
        super::manual::end_task(&s, id, kind, "messagesSent", result).await;
    })
    .detach();
    ok(
        202,
        json!({
            "id": task.id,
            "status": "running",
            "task": kind,
            "updatedAt": rfc3339(task.updated_ms),
        }),
    )
}

/// The range of a body: `since` (required), `until`.
fn range(obj: &Map<String, Value>) -> Result<Filter> {
    let since = time_field(obj, "since")?.ok_or_else(|| invalid("since", "required"))?;
    Ok(Filter {
        // `Filter` takes messages created after `after_ms`: `since` itself too.
        after_ms: Some(since.saturating_sub(1)),
        before_ms: time_field(obj, "until")?,
        ..Filter::default()
    })
}

/// `POST /app/{app}/endpoint/{ep}/replay-missing` `{since, until}`.
pub fn replay_missing(shard: &Rc<Shard>, req: &Request, app: &str, ep: &str) -> Result<Response> {
    let endpoint = find_endpoint(shard, app, ep)?;
    let filter = range(&json_object(req)?)?;
    Ok(start(
        shard,
        "endpoint.replay",
        &endpoint,
        true,
        filter,
        true,
        None,
    ))
}

/// `POST /app/{app}/endpoint/{ep}/bulk-replay` `{since, until, eventTypes,
/// channel, status}` (`tag` and `statusCodeClass` are refused: ringhook
/// has no message tags, and keeps a delivery's status, not its codes).
pub fn bulk_replay(shard: &Rc<Shard>, req: &Request, app: &str, ep: &str) -> Result<Response> {
    let endpoint = find_endpoint(shard, app, ep)?;
    let obj = json_object(req)?;
    let mut filter = range(&obj)?;
    filter.event_types = opt_list(&obj, &["eventTypes"])?.unwrap_or_default();
    filter.channel = opt_str(&obj, "channel", 256)?;
    let status = match obj.get("status") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|s| *s <= 4)
                .map(|s| s as u8)
                .ok_or_else(|| invalid("status", "a MessageStatus, 0 to 4"))?,
        ),
    };
    for key in ["tag", "statusCodeClass"] {
        if obj.get(key).is_some_and(|v| !v.is_null()) {
            return Err(error(
                422,
                "unsupported",
                format!("{key} is not supported by bulk-replay here"),
            ));
        }
    }
    // Messages sent to the endpoint under any filters it had: its present
    // filters do not narrow the search.
    Ok(start(
        shard,
        "endpoint.bulk-replay",
        &endpoint,
        false,
        filter,
        false,
        status,
    ))
}
