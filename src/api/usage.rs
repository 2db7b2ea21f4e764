//! Usage statistics (Svix's `statistics.aggregate_app_stats` and
//! `aggregate_event_types`), answered as background tasks that are finished
//! when answered (the counts come from what the engine keeps in memory):
//! per application, the deliveries ("message destinations") of messages
//! created in `[since, until)`, from the read path's indexes on every shard;
//! and per application, the event types its endpoints subscribe to by name
//! and whether one takes every type, from the catalog.

use super::http::{Request, Response};
use super::params::*;
use crate::reads::index::WindowQuery;
use crate::shard::state::Shard;
use crate::time::{parse_rfc3339, rfc3339};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::rc::Rc;

/// Records a task that is already done and answers Svix's task shape.
fn finished_task(shard: &Shard, kind: &'static str, data: Value, extra: Value) -> Response {
    let now = crate::time::now_ms();
    let task = shard.tasks().borrow_mut().start(kind, now);
    shard
        .tasks()
        .borrow_mut()
        .finish(&task.id, false, data, now);
    let mut v = json!({
        "id": task.id,
        "status": "finished",
        "task": kind,
        "updatedAt": rfc3339(now),
    });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    ok(202, v)
}

/// `PUT /api/v1/stats/usage/event-types`.
pub fn aggregate_event_types(shard: &Shard) -> Result<Response> {
    let catalog = shard.shared().catalog.load();
    let event_types: Vec<Value> = catalog
        .apps()
        .map(|a| {
            let mut named = BTreeSet::new();
            let mut catch_all = false;
            for e in catalog.endpoints_of(&a.id) {
                catch_all |= e.event_types.is_empty();
                named.extend(e.event_types.iter().cloned());
            }
            json!({
                "appId": a.id,
                "explicitlySubscribedEventTypes": named,
                "hasCatchAllEndpoint": catch_all,
            })
        })
        .collect();
    drop(catalog);
    Ok(finished_task(
        shard,
        "event-type.aggregate",
        json!({ "event_types": event_types }),
        json!({}),
    ))
}

/// `POST /api/v1/stats/usage/app` `{since, until, appIds}`.
pub async fn aggregate_app_stats(shard: &Rc<Shard>, req: &Request) -> Result<Response> {
    let obj = json_object(req)?;
    let time = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .and_then(parse_rfc3339)
            .ok_or_else(|| invalid(k, "an RFC 3339 date-time is required"))
    };
    let (since, until) = (time("since")?, time("until")?);
    let asked = opt_list(&obj, &["appIds"])?;
    let catalog = shard.shared().catalog.load_full();
    let (apps, unresolved): (Vec<_>, Vec<String>) = match &asked {
        None => (catalog.apps().cloned().collect(), Vec::new()),
        Some(ids) => {
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for id in ids {
                match catalog.app(id).filter(|a| !catalog.is_hidden_app(&a.id)) {
                    Some(a) => found.push(a.clone()),
                    None => missing.push(id.clone()),
                }
            }
            if found.is_empty() && !ids.is_empty() {
                return Err(invalid("appIds", "none of these applications exists"));
            }
            (found, missing)
        }
    };
    let mut stats = Vec::with_capacity(apps.len());
    for a in apps {
        let q = WindowQuery {
            endpoints: catalog.endpoints_of(&a.id).map(|e| e.id.clone()).collect(),
            since_ms: since.saturating_sub(1),
            destinations_until_ms: Some(until),
            ..WindowQuery::default()
        };
        let w = crate::shard::query::window(shard, q)
            .await
            .ok_or_else(super::listing::unreachable_shard)?;
        stats
            .push(json!({ "appId": a.id, "appUid": a.uid, "messageDestinations": w.destinations }));
    }
    Ok(finished_task(
        shard,
        "application.stats",
        json!({ "appStats": stats }),
        json!({ "unresolvedAppIds": unresolved }),
    ))
}
