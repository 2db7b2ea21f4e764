//! Event type handlers: create, list, get, upsert (PUT), patch, delete.
//!
//! An event type is keyed by its name. `DELETE` archives (an `EventTypePut`
//! with `archived: true`, as Svix does); `?expunge=true` removes it
//! (`EventTypeDelete`). Creating an archived type again unarchives it.
//! Svix's `schemas` (`{"<version>": <JSON Schema>}`, ≤ 64 KiB), `deprecated`,
//! `groupName` and `featureFlag` are stored in an `EventTypeDetails` record
//! beside the event type; a schema's first `examples` entry is what
//! `send-example` sends by default. Event types are a registry for clients:
//! messages are not checked against it.

use super::http::{error, Request, Response};
use super::params::*;
use super::views;
use crate::catalog::valid_event_type;
use crate::records::{DeleteRecord, EventTypeDetailsRecord, EventTypeRecord, Kind};
use crate::shard::state::Shard;
use serde_json::{Map, Value};
use std::sync::Arc;

fn find(shard: &Shard, name: &str) -> Result<Arc<EventTypeRecord>> {
    shard
        .shared()
        .catalog
        .load()
        .event_type(name)
        .cloned()
        .ok_or_else(|| not_found("event type"))
}

fn check_name(name: &str) -> Result<()> {
    if valid_event_type(name) {
        Ok(())
    } else {
        Err(invalid(
            "name",
            "must match ^[a-zA-Z0-9\\-_.]+$, at most 256 bytes",
        ))
    }
}

/// Applies a body to `rec` according to `mode`.
pub(super) fn from_body(
    obj: &Map<String, Value>,
    mut rec: EventTypeRecord,
    mode: Mode,
) -> Result<EventTypeRecord> {
    let take = |key: &str| mode != Mode::Patch || has(obj, &[key]);
    if take("description") {
        rec.description = opt_str(obj, "description", 4096)?.unwrap_or_default();
    }
    if take("archived") {
        rec.archived = opt_bool(obj, "archived")?.unwrap_or(false);
    }
    Ok(rec)
}

/// Largest `schemas` object kept for one event type.
const SCHEMAS_BYTES_MAX: usize = 64 * 1024;

/// Applies a body's Svix details to `d` according to `mode`.
pub(super) fn details_from_body(
    obj: &Map<String, Value>,
    mut d: EventTypeDetailsRecord,
    mode: Mode,
) -> Result<EventTypeDetailsRecord> {
    let take = |key: &str| mode != Mode::Patch || has(obj, &[key]);
    if take("schemas") {
        d.schemas = match obj.get("schemas") {
            None | Some(Value::Null) => String::new(),
            Some(v @ Value::Object(m)) if m.values().all(Value::is_object) => {
                let text = v.to_string();
                if text.len() > SCHEMAS_BYTES_MAX {
                    return Err(invalid("schemas", "at most 64 KiB of JSON"));
                }
                text
            }
            Some(_) => {
                return Err(invalid(
                    "schemas",
                    "an object of JSON Schemas by version, e.g. {\"1\": {...}}",
                ))
            }
        };
    }
    if take("deprecated") {
        d.deprecated = opt_bool(obj, "deprecated")?.unwrap_or(false);
    }
    if take("groupName") {
        d.group_name = opt_str(obj, "groupName", 256)?;
    }
    if take("featureFlag") {
        d.feature_flag = opt_str(obj, "featureFlag", 256)?;
    }
    Ok(d)
}

/// The details a body leaves an event type with, from what it had.
fn details(
    shard: &Shard,
    name: &str,
    obj: &Map<String, Value>,
    mode: Mode,
) -> Result<EventTypeDetailsRecord> {
    let base = shard
        .shared()
        .catalog
        .load()
        .event_type_details(name)
        .map(|d| (**d).clone())
        .unwrap_or(EventTypeDetailsRecord {
            name: name.to_string(),
            schemas: String::new(),
            deprecated: false,
            group_name: None,
            feature_flag: None,
        });
    details_from_body(obj, base, mode)
}

/// Commits the event type, then its details when they change.
pub(super) fn commit_with(
    shard: &Shard,
    rec: &EventTypeRecord,
    d: &EventTypeDetailsRecord,
) -> Result<Value> {
    commit(shard, rec)?;
    let before = shard
        .shared()
        .catalog
        .load()
        .event_type_details(&rec.name)
        .cloned();
    let empty =
        d.schemas.is_empty() && !d.deprecated && d.group_name.is_none() && d.feature_flag.is_none();
    let changed = match &before {
        Some(b) => **b != *d,
        None => !empty,
    };
    if changed {
        commit_catalog(shard, Kind::EventTypeDetails, &encode(d)?)?;
    }
    Ok(views::event_type(rec, Some(d)))
}

pub(super) fn fresh(name: &str) -> EventTypeRecord {
    let now = crate::time::now_ms();
    EventTypeRecord {
        name: name.to_string(),
        description: String::new(),
        archived: false,
        created_ms: now,
        updated_ms: now,
    }
}

fn commit(shard: &Shard, rec: &EventTypeRecord) -> Result<()> {
    let catalog = shard.shared().catalog.load();
    let max = shard.shared().config.max_event_types;
    if catalog.event_type(&rec.name).is_none() && catalog.event_type_count() >= max {
        return Err(limit_reached("event types", max));
    }
    drop(catalog);
    commit_catalog(shard, Kind::EventTypePut, &encode(rec)?)
}

/// `GET /event-type`: by name; archived ones only with `include_archived=true`.
pub fn list_event_types(shard: &Shard, req: &Request) -> Result<Response> {
    let window = Window::of(req, Order::Ascending)?;
    let archived = query_flag(req, "include_archived");
    let catalog = shard.shared().catalog.load();
    let items = catalog
        .event_types_in(window.ids())
        .filter(|t| archived || !t.archived)
        .map(|t| (t.name.as_str(), t));
    Ok(ok(
        200,
        paginate(&window, items, |t| {
            views::event_type(t, catalog.event_type_details(&t.name).map(|d| &**d))
        }),
    ))
}

/// `POST /event-type`: 201; 409 if it exists and is not archived.
pub fn create_event_type(shard: &Shard, req: &Request) -> Result<Response> {
    let obj = json_object(req)?;
    let name = opt_str(&obj, "name", 256)?.ok_or_else(|| invalid("name", "required"))?;
    check_name(&name)?;
    let base = match shard.shared().catalog.load().event_type(&name) {
        Some(t) if !t.archived => {
            return Err(error(409, "conflict", format!("event type {name} exists")))
        }
        Some(t) => {
            let mut t = (**t).clone();
            t.updated_ms = crate::time::now_ms().max(t.created_ms);
            t
        }
        None => fresh(&name),
    };
    let rec = from_body(&obj, base, Mode::Replace)?;
    let d = details(shard, &name, &obj, Mode::Replace)?;
    Ok(ok(201, commit_with(shard, &rec, &d)?))
}

pub fn get_event_type(shard: &Shard, name: &str) -> Result<Response> {
    let t = find(shard, name)?;
    let catalog = shard.shared().catalog.load();
    Ok(ok(
        200,
        views::event_type(&t, catalog.event_type_details(name).map(|d| &**d)),
    ))
}

/// `PUT /event-type/{name}`: 200 replacing it, or 201 creating it.
pub fn upsert_event_type(shard: &Shard, req: &Request, name: &str) -> Result<Response> {
    let obj = json_object(req)?;
    let existing = shard.shared().catalog.load().event_type(name).cloned();
    let (base, status) = match existing {
        Some(t) => {
            let mut t = (*t).clone();
            t.updated_ms = crate::time::now_ms().max(t.created_ms);
            (t, 200)
        }
        None => {
            check_name(name)?;
            (fresh(name), 201)
        }
    };
    let rec = from_body(&obj, base, Mode::Replace)?;
    let d = details(shard, name, &obj, Mode::Replace)?;
    Ok(ok(status, commit_with(shard, &rec, &d)?))
}

/// `PATCH /event-type/{name}`: changes only the fields given.
pub fn patch_event_type(shard: &Shard, req: &Request, name: &str) -> Result<Response> {
    let existing = find(shard, name)?;
    let obj = json_object(req)?;
    let mut rec = from_body(&obj, (*existing).clone(), Mode::Patch)?;
    rec.updated_ms = crate::time::now_ms().max(rec.created_ms);
    let d = details(shard, name, &obj, Mode::Patch)?;
    Ok(ok(200, commit_with(shard, &rec, &d)?))
}

/// `DELETE /event-type/{name}`: archives it, or removes it with `?expunge=true`.
pub fn delete_event_type(shard: &Shard, req: &Request, name: &str) -> Result<Response> {
    let existing = find(shard, name)?;
    let now = crate::time::now_ms();
    if query_flag(req, "expunge") {
        let rec = DeleteRecord {
            id: existing.name.clone(),
            at_ms: now,
        };
        commit_catalog(shard, Kind::EventTypeDelete, &encode(&rec)?)?;
    } else {
        let mut rec = (*existing).clone();
        rec.archived = true;
        rec.updated_ms = now.max(rec.created_ms);
        commit(shard, &rec)?;
    }
    Ok(no_content())
}
