//! Routes of the HTTP API and their handlers.
//!
//! Every handler returns a [`Response`]; failures are JSON `{code, detail}`
//! with stable codes: `authentication_failed` (401), `not_found` (404),
//! `method_not_allowed` (405), `conflict` (409), `bad_request` / `invalid_json`
//! (400), `validation_error` (422, with `detail` a list of `{loc, msg, type}`),
//! `payload_too_large` (413), `unavailable` (503), `internal` (500).

use super::http::{error, Request, Response};
use super::views;
use crate::catalog::valid_event_type;
use crate::records::{self, AppRecord, EndpointRecord, HeaderPair, Kind, SecretKey};
use crate::shard::guard::{is_private, Target};
use crate::shard::state::Shard;
use crate::shard::{ingest, IngestError, NewMessage};
use crate::{ids, signing};
use serde_json::{json, Map, Value};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

#[derive(Clone, Copy, Debug)]
enum Route {
    Health,
    Apps,
    App,
    Endpoints,
    Endpoint,
    EndpointSecret,
    Messages,
}

fn router() -> &'static matchit::Router<Route> {
    static ROUTER: OnceLock<matchit::Router<Route>> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let mut r = matchit::Router::new();
        let routes = [
            ("/api/v1/health", Route::Health),
            ("/api/v1/app", Route::Apps),
            ("/api/v1/app/{app}", Route::App),
            ("/api/v1/app/{app}/endpoint", Route::Endpoints),
            ("/api/v1/app/{app}/endpoint/{ep}", Route::Endpoint),
            (
                "/api/v1/app/{app}/endpoint/{ep}/secret",
                Route::EndpointSecret,
            ),
            ("/api/v1/app/{app}/msg", Route::Messages),
        ];
        for (path, route) in routes {
            // The table above is static and conflict-free; a failure here
            // would be a programming error caught by every API test.
            let _ = r.insert(path, route);
        }
        r
    })
}

/// A handler's failure, already rendered.
type Result<T> = std::result::Result<T, Response>;

fn ok(status: u16, body: Value) -> Response {
    Response {
        status,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

fn not_found(what: &str) -> Response {
    error(404, "not_found", format!("{what} not found"))
}

/// A 422 in Svix's shape: `detail` lists `{loc, msg, type}`.
pub fn invalid(field: &str, msg: impl Into<String>) -> Response {
    error(
        422,
        "validation_error",
        json!([{ "loc": ["body", field], "msg": msg.into(), "type": "value_error" }]),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(shard: &Shard, req: &Request) -> bool {
    let Some(token) = req.authorization.as_deref().and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    }) else {
        return false;
    };
    shard
        .shared
        .tokens
        .iter()
        .any(|t| constant_time_eq(t.as_bytes(), token.trim().as_bytes()))
}

/// Dispatches one request.
pub async fn handle(shard: &Rc<Shard>, req: Request) -> Response {
    let path = match req.path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    let Ok(m) = router().at(path) else {
        return not_found("route");
    };
    let route = *m.value;
    let app = m.params.get("app").unwrap_or("").to_string();
    let ep = m.params.get("ep").unwrap_or("").to_string();
    if let Route::Health = route {
        return Response {
            status: 204,
            body: Vec::new(),
        };
    }
    if !authorized(shard, &req) {
        return error(
            401,
            "authentication_failed",
            "missing or invalid bearer token",
        );
    }
    let result = match (route, req.method.as_str()) {
        (Route::Apps, "GET") => list_apps(shard, &req),
        (Route::Apps, "POST") => create_app(shard, &req),
        (Route::App, "GET") => get_app(shard, &app),
        (Route::Endpoints, "GET") => list_endpoints(shard, &req, &app),
        (Route::Endpoints, "POST") => create_endpoint(shard, &req, &app).await,
        (Route::Endpoint, "GET") => get_endpoint(shard, &app, &ep),
        (Route::EndpointSecret, "GET") => get_secret(shard, &app, &ep),
        (Route::Messages, "POST") => create_message(shard, &req, &app).await,
        _ => Err(error(
            405,
            "method_not_allowed",
            format!("{} not allowed here", req.method),
        )),
    };
    result.unwrap_or_else(|e| e)
}

/// Appends a catalog record, syncs it, then publishes the new snapshot.
fn commit_catalog(shard: &Shard, kind: Kind, body: &[u8]) -> Result<()> {
    let internal = |e: String| error(500, "internal", e);
    let journal = shard
        .catalog_journal
        .as_ref()
        .ok_or_else(|| internal("catalog journal is not on this shard".into()))?;
    {
        let mut j = journal.borrow_mut();
        j.append_versioned(kind as u8, records::RECORD_VERSION, body)
            .map_err(|e| internal(e.to_string()))?;
        // Catalog changes are rare; a blocking sync here keeps the order of
        // catalog records and snapshot swaps trivially the same.
        j.sync().map_err(|e| internal(e.to_string()))?;
    }
    let mut next = (**shard.shared.catalog.load()).clone();
    next.apply(kind as u8, body)
        .map_err(|e| internal(e.to_string()))?;
    shard.shared.catalog.store(Arc::new(next));
    Ok(())
}

fn json_object(req: &Request) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(error(
            400,
            "invalid_json",
            "request body must be a JSON object",
        )),
        Err(e) => Err(error(
            400,
            "invalid_json",
            format!("request body is not valid JSON: {e}"),
        )),
    }
}

fn opt_str(obj: &Map<String, Value>, key: &str, max_len: usize) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max_len => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(invalid(key, format!("at most {max_len} bytes"))),
        Some(_) => Err(invalid(key, "must be a string")),
    }
}

fn opt_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(key, "must be a boolean")),
    }
}

fn opt_u32(obj: &Map<String, Value>, keys: &[&str]) -> Result<Option<u32>> {
    for key in keys {
        match obj.get(*key) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                return v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| invalid(key, "must be a non-negative integer"))
            }
        }
    }
    Ok(None)
}

fn opt_list(obj: &Map<String, Value>, keys: &[&str]) -> Result<Option<Vec<String>>> {
    for key in keys {
        match obj.get(*key) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => {
                if items.len() > 1000 {
                    return Err(invalid(key, "at most 1000 entries"));
                }
                return items
                    .iter()
                    .map(|v| match v.as_str() {
                        Some(s) if !s.is_empty() && s.len() <= 256 => Ok(s.to_string()),
                        _ => Err(invalid(
                            key,
                            "entries must be non-empty strings of at most 256 bytes",
                        )),
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(Some);
            }
            Some(_) => return Err(invalid(key, "must be a list of strings")),
        }
    }
    Ok(None)
}

fn metadata(obj: &Map<String, Value>) -> Result<String> {
    match obj.get("metadata") {
        None | Some(Value::Null) => Ok("{}".into()),
        Some(v @ Value::Object(m)) if m.values().all(Value::is_string) => Ok(v.to_string()),
        Some(_) => Err(invalid("metadata", "must be an object of strings")),
    }
}

fn valid_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 256
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !ids::has_prefix(uid, "app")
        && !ids::has_prefix(uid, "ep")
}

/// Reads `limit` (default 50, at most 250) and `iterator` from the query.
fn paging(req: &Request) -> Result<(usize, Option<String>)> {
    let mut limit = 50usize;
    let mut iterator = None;
    for (k, v) in url::form_urlencoded::parse(req.query.as_bytes()) {
        match k.as_ref() {
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=250).contains(l))
                    .ok_or_else(|| {
                        error(
                            422,
                            "validation_error",
                            json!([{ "loc": ["query", "limit"], "msg": "limit must be between 1 and 250", "type": "value_error" }]),
                        )
                    })?
            }
            "iterator" if !v.is_empty() => iterator = Some(v.into_owned()),
            _ => {}
        }
    }
    Ok((limit, iterator))
}

fn query_flag(req: &Request, name: &str) -> bool {
    url::form_urlencoded::parse(req.query.as_bytes()).any(|(k, v)| k == name && v == "true")
}

/// Pages over items sorted by id ascending, after `iterator`.
fn paginate<T>(
    items: Vec<(String, T)>,
    limit: usize,
    iterator: Option<String>,
    view: impl Fn(&T) -> Value,
) -> Value {
    let start = match &iterator {
        Some(it) => items.partition_point(|(id, _)| id.as_str() <= it.as_str()),
        None => 0,
    };
    let rest = &items[start..];
    let page: Vec<Value> = rest.iter().take(limit).map(|(_, t)| view(t)).collect();
    let done = rest.len() <= limit;
    let last = rest.iter().take(limit).last().map(|(id, _)| id.clone());
    let first = rest.first().map(|(id, _)| id.clone());
    views::page(page, last.or(iterator), first, done)
}

fn list_apps(shard: &Shard, req: &Request) -> Result<Response> {
    let (limit, iterator) = paging(req)?;
    let catalog = shard.shared.catalog.load();
    let items: Vec<_> = catalog.apps().map(|a| (a.id.clone(), a.clone())).collect();
    Ok(ok(200, paginate(items, limit, iterator, |a| views::app(a))))
}

fn create_app(shard: &Shard, req: &Request) -> Result<Response> {
    let obj = json_object(req)?;
    let name = opt_str(&obj, "name", 256)?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("name", "required"))?;
    let uid = opt_str(&obj, "uid", 256)?;
    if let Some(uid) = &uid {
        if !valid_uid(uid) {
            return Err(invalid(
                "uid",
                "must match ^[a-zA-Z0-9\\-_.]+$ and not look like an id",
            ));
        }
        if let Some(existing) = shard.shared.catalog.load().app(uid) {
            if query_flag(req, "get_if_exists") {
                return Ok(ok(200, views::app(existing)));
            }
            return Err(error(
                409,
                "conflict",
                format!("an application with uid {uid} exists"),
            ));
        }
    }
    let now = crate::time::now_ms();
    let rec = AppRecord {
        id: ids::new_id_at("app", now),
        uid,
        name,
        metadata: metadata(&obj)?,
        rate_limit: opt_u32(&obj, &["rateLimit"])?,
        created_ms: now,
        updated_ms: now,
    };
    let body = records::encode(&rec).map_err(|e| error(500, "internal", e.to_string()))?;
    commit_catalog(shard, Kind::AppPut, &body)?;
    Ok(ok(201, views::app(&rec)))
}

fn find_app(shard: &Shard, app: &str) -> Result<Arc<AppRecord>> {
    shard
        .shared
        .catalog
        .load()
        .app(app)
        .cloned()
        .ok_or_else(|| not_found("application"))
}

fn get_app(shard: &Shard, app: &str) -> Result<Response> {
    Ok(ok(200, views::app(&*find_app(shard, app)?)))
}

fn find_endpoint(shard: &Shard, app: &str, ep: &str) -> Result<Arc<EndpointRecord>> {
    let app = find_app(shard, app)?;
    shard
        .shared
        .catalog
        .load()
        .endpoint(&app.id, ep)
        .cloned()
        .ok_or_else(|| not_found("endpoint"))
}

fn list_endpoints(shard: &Shard, req: &Request, app: &str) -> Result<Response> {
    let (limit, iterator) = paging(req)?;
    let app = find_app(shard, app)?;
    let catalog = shard.shared.catalog.load();
    let items: Vec<_> = catalog
        .endpoints_of(&app.id)
        .map(|e| (e.id.clone(), e.clone()))
        .collect();
    Ok(ok(
        200,
        paginate(items, limit, iterator, |e| views::endpoint(e)),
    ))
}

fn get_endpoint(shard: &Shard, app: &str, ep: &str) -> Result<Response> {
    Ok(ok(200, views::endpoint(&*find_endpoint(shard, app, ep)?)))
}

fn get_secret(shard: &Shard, app: &str, ep: &str) -> Result<Response> {
    let ep = find_endpoint(shard, app, ep)?;
    let key = ep
        .secrets
        .iter()
        .find(|k| k.expires_ms == 0)
        .map(|k| signing::format_secret(&k.key))
        .ok_or_else(|| error(500, "internal", "endpoint has no current secret"))?;
    Ok(ok(200, json!({ "key": key })))
}

/// Checks an endpoint URL, including where its host resolves (SSRF guard).
pub async fn check_url(shard: &Shard, url: &str) -> Result<()> {
    if url.len() > 2048 {
        return Err(invalid("url", "at most 2048 bytes"));
    }
    let target = Target::parse(url).map_err(|e| invalid("url", e.to_string()))?;
    let allow = shard.shared.config.allow_private_targets;
    match target.host.parse::<std::net::IpAddr>() {
        Ok(ip) if !allow && is_private(ip) => Err(invalid(
            "url",
            format!("{ip} is a private, loopback or link-local address; refused (see allow_private_targets)"),
        )),
        Ok(_) => Ok(()),
        Err(_) => glommio::executor()
            .spawn_blocking(move || target.resolve(allow))
            .await
            .map(|_| ())
            .map_err(|e| invalid("url", e.to_string())),
    }
}

fn headers(obj: &Map<String, Value>) -> Result<Vec<HeaderPair>> {
    let Some(v) = obj.get("headers").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = v else {
        return Err(invalid("headers", "must be an object of strings"));
    };
    map.iter()
        .map(|(name, value)| {
            let value = value
                .as_str()
                .ok_or_else(|| invalid("headers", "values must be strings"))?;
            let name_ok = !name.is_empty()
                && name.len() <= 256
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !name_ok
                || value.len() > 4096
                || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
            {
                return Err(invalid("headers", format!("invalid header {name:?}")));
            }
            Ok(HeaderPair {
                name: name.clone(),
                value: value.to_string(),
            })
        })
        .collect()
}

async fn create_endpoint(shard: &Rc<Shard>, req: &Request, app: &str) -> Result<Response> {
    let app = find_app(shard, app)?;
    let obj = json_object(req)?;
    let url = opt_str(&obj, "url", 4096)?.ok_or_else(|| invalid("url", "required"))?;
    check_url(shard, &url).await?;
    let uid = opt_str(&obj, "uid", 256)?;
    if let Some(uid) = &uid {
        if !valid_uid(uid) {
            return Err(invalid(
                "uid",
                "must match ^[a-zA-Z0-9\\-_.]+$ and not look like an id",
            ));
        }
        if shard.shared.catalog.load().endpoint(&app.id, uid).is_some() {
            return Err(error(
                409,
                "conflict",
                format!("an endpoint with uid {uid} exists"),
            ));
        }
    }
    let key = match opt_str(&obj, "secret", 256)? {
        Some(s) => signing::parse_secret(&s).map_err(|e| invalid("secret", e.to_string()))?,
        None => signing::generate_key(),
    };
    let method = match opt_str(&obj, "method", 16)?.map(|m| m.to_ascii_uppercase()) {
        None => "POST".to_string(),
        Some(m) if ["POST", "PUT", "PATCH"].contains(&m.as_str()) => m,
        Some(_) => return Err(invalid("method", "must be POST, PUT or PATCH")),
    };
    let extra_json = match obj.get("extraJson") {
        None | Some(Value::Null) => String::new(),
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(_) => return Err(invalid("extraJson", "must be an object")),
    };
    let now = crate::time::now_ms();
    let rec = EndpointRecord {
        id: ids::new_id_at("ep", now),
        app_id: app.id.clone(),
        uid,
        url,
        description: opt_str(&obj, "description", 4096)?.unwrap_or_default(),
        disabled: opt_bool(&obj, "disabled")?.unwrap_or(false),
        event_types: opt_list(&obj, &["filterTypes", "eventTypes"])?.unwrap_or_default(),
        channels: opt_list(&obj, &["channels"])?.unwrap_or_default(),
        headers: headers(&obj)?,
        method,
        extra_json,
        secrets: vec![SecretKey { key, expires_ms: 0 }],
        rate_limit: opt_u32(&obj, &["rateLimit", "throttleRate"])?,
        metadata: metadata(&obj)?,
        created_ms: now,
        updated_ms: now,
    };
    let body = records::encode(&rec).map_err(|e| error(500, "internal", e.to_string()))?;
    commit_catalog(shard, Kind::EndpointPut, &body)?;
    Ok(ok(201, views::endpoint(&rec)))
}

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
}

async fn create_message(shard: &Rc<Shard>, req: &Request, app: &str) -> Result<Response> {
    let app = find_app(shard, app)?;
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&req.body) {
        return Err(error(
            400,
            "invalid_json",
            format!("request body is not valid JSON: {e}"),
        ));
    }
    let m: MessageIn =
        serde_json::from_slice(&req.body).map_err(|e| invalid("body", e.to_string()))?;
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
    if !m.payload.get().trim_start().starts_with('{') {
        return Err(invalid("payload", "must be a JSON object"));
    }
    let channels = m.channels.unwrap_or_default();
    if channels.len() > 10 || channels.iter().any(|c| !valid_event_type(c)) {
        return Err(invalid(
            "channels",
            "at most 10 channels matching ^[a-zA-Z0-9\\-_.]+$",
        ));
    }
    let new = NewMessage {
        app_id: app.id.clone(),
        event_type: m.event_type,
        event_id: m.event_id,
        channels,
        payload: m.payload.get().as_bytes().to_vec(),
    };
    let mut results = ingest::submit(shard, vec![new]).await;
    match results.pop() {
        Some(Ok(msg)) => Ok(ok(202, views::message(&msg))),
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
