//! Application handlers: create, list, get.

use super::http::{error, Request, Response};
use super::params::*;
use super::views;
use crate::ids;
use crate::records::{self, AppRecord, Kind};
use crate::shard::state::Shard;

pub fn list_apps(shard: &Shard, req: &Request) -> Result<Response> {
    let (limit, iterator) = paging(req)?;
    let catalog = shard.shared.catalog.load();
    let items: Vec<_> = catalog.apps().map(|a| (a.id.clone(), a.clone())).collect();
    Ok(ok(200, paginate(items, limit, iterator, |a| views::app(a))))
}

pub fn create_app(shard: &Shard, req: &Request) -> Result<Response> {
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

pub fn get_app(shard: &Shard, app: &str) -> Result<Response> {
    Ok(ok(200, views::app(&*find_app(shard, app)?)))
}
