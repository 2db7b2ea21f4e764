//! Incoming sources in the Svix Ingest dialect: `/ingest/api/v1/source`
//! create, list, get, upsert (PUT), delete, `token/rotate`; and the
//! source's endpoints (`…/source/{id}/endpoint…`), which are the endpoints
//! of the application the source owns (id = the source's id), served by the
//! same handlers as application endpoints.
//!
//! ringhook's additions to `IngestSourceIn`/`Out`: `description`,
//! `disabled`, `logRequests`, `rateLimit`, `maxBodyBytes`, `routes`. A
//! source's `config` is checked by `incoming::source::scheme` before it is
//! stored, and shown with its secrets replaced by `********`.

use super::http::{error, Request, Response};
use super::params::*;
use crate::ids;
use crate::incoming::source::{redacted_config, scheme};
use crate::records::{DeleteRecord, Kind, RouteEventType, SourceRecord, SourceRoute};
use crate::shard::state::Shard;
use crate::time::rfc3339;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Most routes one source may have.
const ROUTES_MAX: usize = 16;

/// A new receive-URL token (unguessable).
fn new_token() -> String {
    ids::new_secret("itk")
}

/// The public receive URL of a token.
pub fn ingest_url(shard: &Shard, token: &str) -> String {
    let config = &shard.shared().config;
    let base = match (
        config.ingest_public_url.trim_end_matches('/'),
        config.ingest_addr.as_str(),
    ) {
        ("", "") => format!("http://{}", config.http_addr),
        ("", receive) => format!("http://{receive}"),
        (base, _) => base.to_string(),
    };
    format!("{base}/ingest/{token}")
}

fn view(shard: &Shard, s: &SourceRecord) -> Value {
    let routes: Vec<Value> = s
        .routes
        .iter()
        .map(|r| {
            let mut v = json!({ "app": r.app_id });
            match &r.event_type {
                RouteEventType::Fixed(t) => v["eventType"] = json!(t),
                RouteEventType::Header(h) => v["eventTypeFromHeader"] = json!(h),
                RouteEventType::Pointer(p) => v["eventTypeFromPointer"] = json!(p),
            }
            v
        })
        .collect();
    json!({
        "id": s.id,
        "uid": s.uid,
        "name": s.name,
        "type": s.kind,
        "config": redacted_config(&s.config),
        "metadata": serde_json::from_str::<Value>(&s.metadata).unwrap_or_else(|_| json!({})),
        "ingestUrl": ingest_url(shard, &s.token),
        "description": s.description,
        "disabled": s.disabled,
        "logRequests": s.log_requests,
        "rateLimit": s.rate_limit,
        "maxBodyBytes": s.max_body_bytes,
        "routes": routes,
        "createdAt": rfc3339(s.created_ms),
        "updatedAt": rfc3339(s.updated_ms),
    })
}

fn find_source(shard: &Shard, id: &str) -> Result<Arc<SourceRecord>> {
    shard
        .shared()
        .catalog
        .load()
        .source(id)
        .cloned()
        .ok_or_else(|| not_found("source"))
}

/// The routes of a body: each `{app, eventType | eventTypeFromHeader |
/// eventTypeFromPointer}`, its application existing.
fn routes(shard: &Shard, v: &Value) -> Result<Vec<SourceRoute>> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) if items.len() <= ROUTES_MAX => items,
        Value::Array(_) => return Err(invalid("routes", format!("at most {ROUTES_MAX} routes"))),
        _ => return Err(invalid("routes", "must be a list")),
    };
    let catalog = shard.shared().catalog.load();
    items
        .iter()
        .map(|r| {
            let r = r
                .as_object()
                .ok_or_else(|| invalid("routes", "each route is an object"))?;
            let app = opt_str(r, "app", 256)?.ok_or_else(|| invalid("routes", "route.app is required"))?;
            let app = catalog
                .app(&app)
                .filter(|a| !catalog.is_hidden_app(&a.id))
                .ok_or_else(|| invalid("routes", format!("no application {app}")))?;
            let fixed = opt_str(r, "eventType", 256)?;
            let header = opt_str(r, "eventTypeFromHeader", 256)?;
            let pointer = opt_str(r, "eventTypeFromPointer", 1024)?;
            let event_type = match (fixed, header, pointer) {
                (Some(t), None, None) if crate::catalog::valid_event_type(&t) => RouteEventType::Fixed(t),
                (Some(_), None, None) => return Err(invalid("routes", "eventType must match ^[a-zA-Z0-9\\-_.]+$")),
                (None, Some(h), None) if !h.is_empty() => RouteEventType::Header(h.to_ascii_lowercase()),
                (None, None, Some(p)) if p.is_empty() || p.starts_with('/') => RouteEventType::Pointer(p),
                _ => {
                    return Err(invalid(
                        "routes",
                        "each route has exactly one of eventType, eventTypeFromHeader, eventTypeFromPointer (an RFC 6901 pointer)",
                    ))
                }
            };
            Ok(SourceRoute {
                app_id: app.id.clone(),
                event_type,
            })
        })
        .collect()
}

/// Applies a body to `rec` (create and PUT replace every field the body
/// may carry; absent optional fields take their defaults).
fn source_from_body(
    shard: &Shard,
    obj: &Map<String, Value>,
    mut rec: SourceRecord,
) -> Result<SourceRecord> {
    rec.name = opt_str(obj, "name", 256)?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("name", "required"))?;
    if has(obj, &["uid"]) {
        rec.uid = opt_str(obj, "uid", 256)?;
        if let Some(uid) = &rec.uid {
            check_uid(uid)?;
        }
    }
    rec.kind = opt_str(obj, "type", 64)?.ok_or_else(|| invalid("type", "required"))?;
    let config = match obj.get("config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(invalid("config", "must be an object")),
    };
    scheme(&rec.kind, &config).map_err(|e| invalid("config", e.to_string()))?;
    let text = Value::Object(config).to_string();
    if text.len() > crate::limits::METADATA_BYTES_MAX {
        return Err(invalid("config", "at most 8192 bytes of JSON"));
    }
    rec.config = text;
    rec.metadata = metadata(obj)?;
    rec.description = opt_str(obj, "description", 4096)?.unwrap_or_default();
    rec.disabled = opt_bool(obj, "disabled")?.unwrap_or(false);
    rec.log_requests = opt_bool(obj, "logRequests")?.unwrap_or(false);
    rec.rate_limit = opt_u32(obj, &["rateLimit"])?.filter(|r| *r > 0);
    rec.max_body_bytes = opt_u32(obj, &["maxBodyBytes"])?;
    if rec
        .max_body_bytes
        .is_some_and(|m| m as usize > shard.shared().config.max_body_bytes)
    {
        return Err(invalid(
            "maxBodyBytes",
            "at most the engine's max_body_bytes",
        ));
    }
    rec.routes = routes(shard, obj.get("routes").unwrap_or(&Value::Null))?;
    Ok(rec)
}

fn commit_source(shard: &Shard, rec: &SourceRecord) -> Result<()> {
    let catalog = shard.shared().catalog.load();
    if let Some(other) = rec.uid.as_deref().and_then(|u| catalog.source(u)) {
        if other.id != rec.id {
            return Err(error(409, "conflict", "a source with this uid exists"));
        }
    }
    let max = shard.shared().config.max_sources;
    if catalog.source(&rec.id).is_none() && catalog.source_count() >= max {
        return Err(limit_reached("sources", max));
    }
    drop(catalog);
    commit_catalog(shard, Kind::SourcePut, &encode(rec)?)
}

fn new_source(
    shard: &Shard,
    obj: &Map<String, Value>,
    uid: Option<String>,
) -> Result<SourceRecord> {
    let now = crate::time::now_ms();
    let base = SourceRecord {
        id: ids::new_id_at("src", now),
        uid,
        name: String::new(),
        kind: String::new(),
        config: "{}".into(),
        metadata: "{}".into(),
        description: String::new(),
        disabled: false,
        token: new_token(),
        log_requests: false,
        rate_limit: None,
        max_body_bytes: None,
        routes: Vec::new(),
        created_ms: now,
        updated_ms: now,
    };
    let rec = source_from_body(shard, obj, base)?;
    commit_source(shard, &rec)?;
    Ok(rec)
}

pub fn list_sources(shard: &Shard, req: &Request) -> Result<Response> {
    let window = Window::of(req, Order::Ascending)?;
    let catalog = shard.shared().catalog.load();
    let items = catalog.sources_in(window.ids()).map(|s| (s.id.as_str(), s));
    Ok(ok(200, paginate(&window, items, |s| view(shard, s))))
}

pub fn create_source(shard: &Shard, req: &Request) -> Result<Response> {
    let obj = json_object(req)?;
    let rec = new_source(shard, &obj, None)?;
    Ok(ok(201, view(shard, &rec)))
}

pub fn get_source(shard: &Shard, id: &str) -> Result<Response> {
    Ok(ok(200, view(shard, &*find_source(shard, id)?)))
}

/// `PUT /source/{id}`: replaces the source, or creates it with uid `{id}`.
pub fn upsert_source(shard: &Shard, req: &Request, id: &str) -> Result<Response> {
    let obj = json_object(req)?;
    match find_source(shard, id) {
        Ok(existing) => {
            let mut rec = source_from_body(shard, &obj, (*existing).clone())?;
            rec.updated_ms = crate::time::now_ms().max(rec.created_ms);
            commit_source(shard, &rec)?;
            Ok(ok(200, view(shard, &rec)))
        }
        Err(_) if valid_uid(id) => {
            if opt_str(&obj, "uid", 256)?.is_some_and(|u| u != id) {
                return Err(invalid("uid", "must equal the uid in the path"));
            }
            let rec = new_source(shard, &obj, Some(id.to_string()))?;
            Ok(ok(201, view(shard, &rec)))
        }
        Err(e) => Err(e),
    }
}

/// `DELETE /source/{id}`: removes the source, its receive URL, and its
/// application with that one's endpoints (their pending deliveries end as
/// `Cancelled`).
pub fn delete_source(shard: &Shard, id: &str) -> Result<Response> {
    let existing = find_source(shard, id)?;
    let rec = DeleteRecord {
        id: existing.id.clone(),
        at_ms: crate::time::now_ms(),
    };
    commit_catalog(shard, Kind::SourceDelete, &encode(&rec)?)?;
    super::receive::forget(&existing.id);
    shard.forget_requests(&existing.id);
    Ok(no_content())
}

/// `POST /source/{id}/token/rotate`: a new receive URL; the old one stops
/// working at once (a rotation is usually a leak).
pub fn rotate_token(shard: &Shard, id: &str) -> Result<Response> {
    let mut rec = (*find_source(shard, id)?).clone();
    rec.token = new_token();
    rec.updated_ms = crate::time::now_ms().max(rec.created_ms);
    commit_source(shard, &rec)?;
    Ok(ok(
        200,
        json!({ "ingestUrl": ingest_url(shard, &rec.token) }),
    ))
}

/// The id of the application that holds a source's endpoints.
pub fn source_app(shard: &Shard, source: &str) -> Result<String> {
    Ok(find_source(shard, source)?.id.clone())
}

/// Refuses a change of a source's application through `/api/v1/app`.
pub fn refuse_source_app(shard: &Shard, app: &str) -> Result<()> {
    let catalog = shard.shared().catalog.load();
    match catalog.app(app) {
        Some(a) if catalog.is_source_app(&a.id) => Err(error(
            409,
            "owned_by_source",
            format!(
                "application {} belongs to source {}; change the source instead",
                a.id, a.id
            ),
        )),
        Some(a) if catalog.is_hidden_app(&a.id) => Err(error(
            409,
            "owned_by_ringhook",
            "this application holds the operational endpoints; use /api/v1/operational-webhook/endpoint",
        )),
        _ => Ok(()),
    }
}
