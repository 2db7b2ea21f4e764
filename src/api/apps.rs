//! Application handlers: create, list, get, upsert (PUT), patch, delete.
//!
//! Creation, replacement and patching share one body reader
//! ([`app_from_body`]) so the three agree on field names, bounds and errors;
//! they differ only in what an absent field means (see [`Mode`]).

use super::http::{error, Request, Response};
use super::params::*;
use super::views;
use crate::ids;
use crate::records::{AppRecord, DeleteRecord, Kind};
use crate::shard::state::Shard;
use serde_json::{Map, Value};

pub fn list_apps(shard: &Shard, req: &Request) -> Result<Response> {
    let window = Window::of(req, Order::Ascending)?;
    let catalog = shard.shared().catalog.load();
    let items = catalog.apps_in(window.ids()).map(|a| (a.id.as_str(), a));
    Ok(ok(200, paginate(&window, items, |a| views::app(a))))
}

/// Applies a body to `rec` according to `mode`.
fn app_from_body(obj: &Map<String, Value>, mut rec: AppRecord, mode: Mode) -> Result<AppRecord> {
    let take = |keys: &[&str]| mode != Mode::Patch || has(obj, keys);
    if take(&["name"]) {
        rec.name = opt_str(obj, "name", 256)?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid("name", "required"))?;
    }
    if has(obj, &["uid"]) {
        rec.uid = opt_str(obj, "uid", 256)?;
        if let Some(uid) = &rec.uid {
            check_uid(uid)?;
        }
    }
    if take(&["metadata"]) {
        rec.metadata = metadata(obj)?;
    }
    if take(&["throttleRate", "rateLimit"]) {
        rec.rate_limit = opt_u32(obj, &["throttleRate", "rateLimit"])?;
    }
    Ok(rec)
}

/// Refuses a uid that another application already uses.
fn check_uid_free(shard: &Shard, rec: &AppRecord) -> Result<()> {
    let catalog = shard.shared().catalog.load();
    match rec.uid.as_deref().and_then(|uid| catalog.app(uid)) {
        Some(other) if other.id != rec.id => Err(error(
            409,
            "conflict",
            format!(
                "an application with uid {} exists",
                rec.uid.as_deref().unwrap_or("")
            ),
        )),
        _ => Ok(()),
    }
}

fn commit_app(shard: &Shard, rec: &AppRecord) -> Result<()> {
    check_uid_free(shard, rec)?;
    let catalog = shard.shared().catalog.load();
    let max = shard.shared().config.max_apps;
    if catalog.app(&rec.id).is_none() && catalog.app_count() >= max {
        return Err(limit_reached("applications", max));
    }
    drop(catalog);
    commit_catalog(shard, Kind::AppPut, &encode(rec)?)
}

/// Creates an application from a body, with `uid` unless the body names one;
/// also used by message creation with an inline `application`.
pub fn new_app(shard: &Shard, obj: &Map<String, Value>, uid: Option<String>) -> Result<AppRecord> {
    let now = crate::time::now_ms();
    let base = AppRecord {
        id: ids::new_id_at("app", now),
        uid,
        name: String::new(),
        metadata: "{}".into(),
        rate_limit: None,
        created_ms: now,
        updated_ms: now,
    };
    let rec = app_from_body(obj, base, Mode::Create)?;
    commit_app(shard, &rec)?;
    Ok(rec)
}

pub fn create_app(shard: &Shard, req: &Request) -> Result<Response> {
    let obj = json_object(req)?;
    if let Some(uid) = opt_str(&obj, "uid", 256)? {
        check_uid(&uid)?;
        if let Some(existing) = shard.shared().catalog.load().app(&uid) {
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
    let rec = new_app(shard, &obj, None)?;
    Ok(ok(201, views::app(&rec)))
}

pub fn get_app(shard: &Shard, app: &str) -> Result<Response> {
    Ok(ok(200, views::app(&*find_app(shard, app)?)))
}

/// `PUT /app/{app}`: replaces the application, or creates it with uid `{app}`.
pub fn upsert_app(shard: &Shard, req: &Request, app: &str) -> Result<Response> {
    let obj = json_object(req)?;
    let existing = shard.shared().catalog.load().app(app).cloned();
    match existing {
        Some(existing) => {
            let mut rec = app_from_body(&obj, (*existing).clone(), Mode::Replace)?;
            rec.updated_ms = crate::time::now_ms().max(rec.created_ms);
            commit_app(shard, &rec)?;
            Ok(ok(200, views::app(&rec)))
        }
        None => {
            if !valid_uid(app) {
                return Err(not_found("application"));
            }
            if opt_str(&obj, "uid", 256)?.is_some_and(|u| u != app) {
                return Err(invalid("uid", "must equal the uid in the path"));
            }
            let rec = new_app(shard, &obj, Some(app.to_string()))?;
            Ok(ok(201, views::app(&rec)))
        }
    }
}

/// `PATCH /app/{app}`: changes only the fields the body names.
pub fn patch_app(shard: &Shard, req: &Request, app: &str) -> Result<Response> {
    let obj = json_object(req)?;
    let existing = find_app(shard, app)?;
    let mut rec = app_from_body(&obj, (*existing).clone(), Mode::Patch)?;
    rec.updated_ms = crate::time::now_ms().max(rec.created_ms);
    commit_app(shard, &rec)?;
    Ok(ok(200, views::app(&rec)))
}

/// `DELETE /app/{app}`: removes the application and its endpoints; their
/// pending deliveries end as `Cancelled` at their next attempt.
pub fn delete_app(shard: &Shard, app: &str) -> Result<Response> {
    let existing = find_app(shard, app)?;
    let rec = DeleteRecord {
        id: existing.id.clone(),
        at_ms: crate::time::now_ms(),
    };
    commit_catalog(shard, Kind::AppDelete, &encode(&rec)?)?;
    Ok(no_content())
}
