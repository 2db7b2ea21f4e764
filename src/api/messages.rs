//! Message handlers: create, list, get (the listings read the home shard's
//! index and the journal, see `listing`).
//!
//! A message may carry an inline `application` (`{name, uid, ...}`): when
//! `{app}` names no application, one is created with uid `{app}` from that
//! object before the message is accepted, as Svix does.

use super::http::{error, Request, Response};
use super::params::*;
use super::views;
use crate::accept::{IngestError, NewMessage};
use crate::catalog::valid_event_type;
use crate::shard::gather;
use crate::shard::state::Shard;
use std::rc::Rc;

/// The body of `POST /app/{app}/msg`; `payload` keeps the producer's bytes.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageIn {
    event_type: String,
    #[serde(default)]
    event_id: Option<String>,
    payload: Box<serde_json::value::RawValue>,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    application: Option<serde_json::Map<String, serde_json::Value>>,
}

pub async fn create_message(shard: &Rc<Shard>, req: &Request, app: &str) -> Result<Response> {
    let found = find_app(shard, app);
    // One parse; only a refused body is parsed again, to say whether it is
    // JSON at all.
    let m: MessageIn = match serde_json::from_slice(&req.body) {
        Ok(m) => m,
        Err(e) => {
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(&req.body) {
                    Err(e) => error(
                        400,
                        "invalid_json",
                        format!("request body is not valid JSON: {e}"),
                    ),
                    Ok(_) => invalid("body", e.to_string()),
                },
            )
        }
    };
    if !valid_event_type(&m.event_type) {
        return Err(invalid(
            "eventType",
            "must match ^[a-zA-Z0-9\\-_.]+$, at most 256 bytes",
        ));
    }
    if m.event_id
        .as_ref()
        .is_some_and(|e| e.is_empty() || e.len() > 256)
    {
        return Err(invalid("eventId", "must be 1 to 256 bytes"));
    }
    if let Err(e) = crate::accept::payload::check(m.payload.get().as_bytes()) {
        return Err(invalid("payload", e.to_string()));
    }
    let channels = m.channels.unwrap_or_default();
    if channels.len() > 10 || channels.iter().any(|c| !valid_event_type(c)) {
        return Err(invalid(
            "channels",
            "at most 10 channels matching ^[a-zA-Z0-9\\-_.]+$",
        ));
    }
    let app = match (found, &m.application) {
        (Ok(found), _) => found,
        // Another shard serves this request only for an application that
        // existed a moment ago (`api::forward`); deleted meanwhile, it is
        // created again by shard 0 alone: a retry gets there.
        (Err(_), Some(_)) if valid_uid(app) && !shard.writes_catalog() => {
            return Err(error(
                503,
                "unavailable",
                "the application changed meanwhile; retry",
            ))
        }
        (Err(_), Some(inline)) if valid_uid(app) => {
            inline_app(shard, inline, app).map(std::sync::Arc::new)?
        }
        (Err(e), _) => return Err(e),
    };
    let new = NewMessage {
        app_id: app.id.clone(),
        event_type: m.event_type,
        event_id: m.event_id,
        channels,
        payload: m.payload.get().as_bytes().to_vec(),
    };
    let mut results = gather::submit_gathered(shard, vec![new]).await;
    match results.pop() {
        Some(Ok(msg)) => Ok(Response {
            status: 202,
            body: views::message_bytes(&msg, &m.payload),
            content_type: None,
            headers: Vec::new(),
        }),
        Some(Err(IngestError::Duplicate(id))) => Err(error(
            409,
            "conflict",
            format!("a message with this eventId was accepted in the last 24 hours as {id}"),
        )),
        Some(Err(IngestError::UnknownApp)) => Err(not_found("application")),
        Some(Err(IngestError::Invalid(e))) => Err(invalid("payload", e)),
        Some(Err(IngestError::Unavailable)) | None => Err(error(
            503,
            "unavailable",
            "the engine is shutting down or overloaded; retry",
        )),
        Some(Err(IngestError::Journal(e))) => Err(error(500, "internal", e)),
    }
}

/// Creates the application a message names inline; its uid is the path's.
fn inline_app(
    shard: &Shard,
    inline: &serde_json::Map<String, serde_json::Value>,
    uid: &str,
) -> Result<crate::records::AppRecord> {
    if opt_str(inline, "uid", 256)?.is_some_and(|u| u != uid) {
        return Err(invalid(
            "application",
            "application.uid must equal the application in the path",
        ));
    }
    super::apps::new_app(shard, inline, Some(uid.to_string()))
}

/// `GET /app/{app}/msg`: newest first; filters `channel`, `before`, `after`,
/// `event_types`; payloads (read from the journal) only `with_content`.
pub async fn list_messages(shard: &Rc<Shard>, req: &Request, app: &str) -> Result<Response> {
    let q = super::listing::list_query(req)?;
    let app = find_app(shard, app)?;
    let (id, filter, page) = (app.id.clone(), q.filter.clone(), q.page.clone());
    let page = crate::shard::query::list_messages(shard, &id, filter, page)
        .await
        .ok_or_else(super::listing::unreachable_shard)?;
    let with_content = q.with_content.unwrap_or(true);
    Ok(ok(
        200,
        super::listing::page_view(&page, async |m| {
            super::listing::message_view(shard, m, with_content).await
        })
        .await?,
    ))
}

/// `GET /app/{app}/msg/{msg}` by id (or by `eventId` within the dedup window).
pub async fn get_message(
    shard: &Rc<Shard>,
    req: &Request,
    app: &str,
    msg: &str,
) -> Result<Response> {
    let q = super::listing::list_query(req)?;
    let app = find_app(shard, app)?;
    let m = super::listing::find_message(shard, &app.id, msg).await?;
    Ok(ok(
        200,
        super::listing::message_view(shard, &m, q.with_content.unwrap_or(true)).await?,
    ))
}

/// `POST /app/{app}/msg/precheck/active` (Svix's `message.precheck`): would
/// a message of this type and these channels reach any enabled endpoint?
pub fn precheck(shard: &Shard, req: &Request, app: &str) -> Result<Response> {
    let obj = json_object(req)?;
    let app = find_app(shard, app)?;
    let event_type = opt_str(&obj, "eventType", 256)?
        .filter(|t| crate::catalog::valid_event_type(t))
        .ok_or_else(|| invalid("eventType", "an event type name is required"))?;
    let channels = opt_list(&obj, &["channels"])?.unwrap_or_default();
    let active = !shard
        .shared()
        .catalog
        .load()
        .fan_out(&app.id, &event_type, &channels)
        .is_empty();
    Ok(ok(200, serde_json::json!({ "active": active })))
}
