//! Endpoint handlers: create, list, get, secret; the endpoint URL check.

use super::http::{error, Request, Response};
use super::params::*;
use super::views;
use crate::records::{self, EndpointRecord, HeaderPair, Kind, SecretKey};
use crate::shard::guard::{is_private, Target};
use crate::shard::state::Shard;
use crate::{ids, signing};
use serde_json::{json, Map, Value};
use std::rc::Rc;

pub fn list_endpoints(shard: &Shard, req: &Request, app: &str) -> Result<Response> {
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

pub fn get_endpoint(shard: &Shard, app: &str, ep: &str) -> Result<Response> {
    Ok(ok(200, views::endpoint(&*find_endpoint(shard, app, ep)?)))
}

pub fn get_secret(shard: &Shard, app: &str, ep: &str) -> Result<Response> {
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

pub fn headers(obj: &Map<String, Value>) -> Result<Vec<HeaderPair>> {
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

pub async fn create_endpoint(shard: &Rc<Shard>, req: &Request, app: &str) -> Result<Response> {
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
