//! Shared pieces of the read-path handlers: query filters, paging, reaching
//! the shard that holds an index, reading bodies back from the journal, and
//! the Svix-shaped views of index entries.
//!
//! Index entries carry only metadata and journal positions; payloads and
//! response texts are read here, on the API shard, through io_uring
//! (`Shard::read_record`, which re-checks each record's CRC), only for the
//! entries of one page.

use super::http::{error, Request, Response};
use super::params::{paging, Result};
use crate::journal::OwnedRecord;
use crate::reads::index::{
    AttemptEntry, DeliveryEntry, Filter, Loc, MsgMeta, Page, PageReq, Status,
};
use crate::records::{self, Kind};
use crate::shard::query;
use crate::shard::state::Shard;
use crate::time::rfc3339;
use serde_json::{json, Value};
use std::rc::Rc;
use std::sync::Arc;

/// Query flags of a listing besides its filter.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Filter,
    pub page: PageReq,
    /// `with_content`; `None` when absent.
    pub with_content: Option<bool>,
    pub with_msg: bool,
    pub expanded_statuses: bool,
    pub endpoint_id: Option<String>,
}

pub fn query_invalid(field: &str, msg: &str) -> Response {
    error(
        422,
        "validation_error",
        json!([{ "loc": ["query", field], "msg": msg, "type": "value_error" }]),
    )
}

fn parse_bool(field: &str, v: &str) -> Result<bool> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(query_invalid(field, "must be true or false")),
    }
}

/// Parses the listing query parameters Svix's SDKs send.
pub fn list_query(req: &Request) -> Result<ListQuery> {
    let (limit, iterator) = paging(req)?;
    let mut q = ListQuery {
        page: PageReq { limit, iterator },
        ..Default::default()
    };
    for (k, v) in url::form_urlencoded::parse(req.query.as_bytes()) {
        let time = |field: &str| {
            crate::time::parse_rfc3339(&v)
                .ok_or_else(|| query_invalid(field, "must be an RFC 3339 date-time"))
        };
        match k.as_ref() {
            "before" => q.filter.before_ms = Some(time("before")?),
            "after" => q.filter.after_ms = Some(time("after")?),
            "event_types" | "event_types[]" => {
                for t in v.split(',').filter(|t| !t.is_empty()) {
                    if q.filter.event_types.len() >= 100 {
                        return Err(query_invalid("event_types", "at most 100 event types"));
                    }
                    q.filter.event_types.push(t.to_string());
                }
            }
            "channel" if !v.is_empty() => q.filter.channel = Some(v.into_owned()),
            "status" => {
                q.filter.status = Some(
                    v.parse::<u8>()
                        .ok()
                        .filter(|s| *s <= 4)
                        .ok_or_else(|| query_invalid("status", "must be 0 to 4"))?,
                )
            }
            "status_code_class" => {
                q.filter.status_code_class = Some(
                    v.parse::<u16>()
                        .ok()
                        .filter(|c| [0, 100, 200, 300, 400, 500].contains(c))
                        .ok_or_else(|| {
                            query_invalid(
                                "status_code_class",
                                "must be 0, 100, 200, 300, 400 or 500",
                            )
                        })?,
                )
            }
            "with_content" => q.with_content = Some(parse_bool("with_content", &v)?),
            "with_msg" => q.with_msg = parse_bool("with_msg", &v)?,
            "expanded_statuses" => q.expanded_statuses = parse_bool("expanded_statuses", &v)?,
            "endpoint_id" if !v.is_empty() => q.endpoint_id = Some(v.into_owned()),
            _ => {}
        }
    }
    Ok(q)
}

fn unavailable() -> Response {
    error(503, "unavailable", "a shard is not reachable; retry")
}

fn internal(e: impl std::fmt::Display) -> Response {
    error(500, "internal", e.to_string())
}

/// A shard did not answer (only while the engine stops).
pub fn unreachable_shard() -> Response {
    unavailable()
}

/// Finds a message of `app_id` by id, or by `eventId` within the dedup window.
pub async fn find_message(shard: &Rc<Shard>, app_id: &str, msg: &str) -> Result<Arc<MsgMeta>> {
    query::find_message(shard, app_id, msg)
        .await
        .ok_or_else(unavailable)?
        .ok_or_else(|| super::params::not_found("message"))
}

async fn read(shard: &Shard, loc: Loc, kind: Kind) -> Result<OwnedRecord> {
    shard.read_record(loc, kind).await.map_err(internal)
}

/// The message's payload, read from the journal.
pub async fn payload(shard: &Shard, m: &MsgMeta) -> Result<Value> {
    if shard.shared().expunged.contains(m.id.as_str()) {
        return Ok(json!({}));
    }
    let rec = read(shard, m.loc, Kind::Message).await?;
    let msg = records::decode_message(&rec.body).map_err(internal)?;
    if *msg.id != *m.id {
        return Err(internal(format!(
            "journal record at {:?} is not {}",
            m.loc, m.id
        )));
    }
    Ok(crate::accept::payload::parse(&msg.payload).unwrap_or_else(|_| json!({})))
}

/// Svix's `MessageOut`; the payload is read only `with_content`.
pub async fn message_view(shard: &Shard, m: &MsgMeta, with_content: bool) -> Result<Value> {
    let payload = if with_content {
        payload(shard, m).await?
    } else {
        json!({})
    };
    Ok(json!({
        "id": m.id,
        "eventType": m.event_type,
        "eventId": m.event_id,
        "payload": payload,
        "channels": (!m.channels.is_empty()).then_some(&m.channels),
        "tags": null,
        "timestamp": rfc3339(m.created_ms),
    }))
}

/// The status Svix shows: canceled reads as success unless `expanded`.
pub fn status_of(status: Status, expanded: bool) -> Status {
    if status == Status::Canceled && !expanded {
        Status::Success
    } else {
        status
    }
}

/// Svix's `EndpointMessageOut`: the message plus its delivery's status.
pub async fn endpoint_message_view(
    shard: &Shard,
    d: &DeliveryEntry,
    with_content: bool,
    expanded: bool,
) -> Result<Value> {
    let mut v = message_view(shard, &d.msg, with_content).await?;
    let status = status_of(d.status, expanded);
    v["status"] = json!(status as u8);
    v["statusText"] = json!(status.text());
    v["nextAttempt"] = json!(d.next_attempt_ms.map(rfc3339));
    Ok(v)
}

/// Svix's `MessageAttemptOut`; the response text is read from the journal.
pub async fn attempt_view(
    shard: &Shard,
    a: &AttemptEntry,
    with_msg: bool,
    expanded: bool,
) -> Result<Value> {
    let rec = read(shard, a.loc, Kind::Attempt).await?;
    let rec = records::decode_attempt(rec.version, &rec.body).map_err(internal)?;
    let url = shard
        .shared()
        .catalog
        .load()
        .endpoint_by_id(&a.endpoint_id)
        .map(|e| e.url.clone())
        .unwrap_or_default();
    let status = status_of(Status::of_attempt(a.outcome), expanded);
    let mut v = json!({
        "id": a.id,
        "msgId": a.msg.id,
        "endpointId": a.endpoint_id,
        "url": url,
        "response": match shard.shared().expunged.contains(&a.id) {
            true => String::new(),
            false => String::from_utf8_lossy(&rec.response).into_owned(),
        },
        "responseStatusCode": a.status_code,
        "responseDurationMs": a.duration_us / 1000,
        "errorKind": records::error_kind_name(rec.error_kind),
        "status": status as u8,
        "statusText": status.text(),
        "triggerType": u8::from(a.manual),
        "timestamp": rfc3339(a.at_ms),
    });
    if with_msg {
        v["msg"] = message_view(shard, &a.msg, false).await?;
    }
    Ok(v)
}

/// Renders a page in Svix's `{data, iterator, prevIterator, done}` shape.
/// Items are viewed one after another (each may read the journal).
pub async fn page_view<T>(
    page: &Page<T>,
    mut view: impl AsyncFnMut(&T) -> Result<Value>,
) -> Result<Value> {
    let mut data = Vec::with_capacity(page.items.len());
    for item in &page.items {
        data.push(view(item).await?);
    }
    Ok(page_json(page, data))
}

/// The `{data, iterator, prevIterator, done}` shape around views already made.
pub fn page_json<T>(page: &Page<T>, data: Vec<Value>) -> Value {
    json!({
        "data": data,
        "iterator": page.iterator,
        "prevIterator": page.prev_iterator,
        "done": page.done,
    })
}
