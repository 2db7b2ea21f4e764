//! Notification rules (`/api/v1/rule`, a ringhook addition): create, list,
//! get, replace (PUT), delete. A rule names a scope (`all`, `app`,
//! `endpoint`, `eventType`, `source`), a signal the scope has
//! (`rules::supported`), a comparison and threshold, a window and a
//! cooldown; its view carries its state (`ok` or `firing`, since when, the
//! value that changed it). `rules::evaluator` does the rest.

use super::http::{error, Request, Response};
use super::params::*;
use crate::ids;
use crate::records::{DeleteRecord, Kind, RuleRecord};
use crate::rules::{self, Signal};
use crate::shard::state::Shard;
use crate::time::rfc3339;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Longest window (a day) and cooldown (a week).
const WINDOW_SECS_MAX: u64 = rules::WINDOW_MS_MAX / 1000;
const COOLDOWN_SECS_MAX: u64 = rules::COOLDOWN_MS_MAX / 1000;

fn view(shard: &Shard, r: &RuleRecord) -> Value {
    let catalog = shard.shared().catalog.load();
    let state = catalog.rule_state(&r.id);
    let scope = match r.scope.as_str() {
        "all" => json!({ "type": "all" }),
        "app" => json!({ "type": "app", "appId": r.app_id }),
        "source" => json!({ "type": "source", "sourceId": r.target }),
        "endpoint" => json!({ "type": "endpoint", "appId": r.app_id, "endpointId": r.target }),
        _ => json!({
            "type": "eventType",
            "eventType": r.target,
            "appId": (!r.app_id.is_empty()).then_some(&r.app_id),
        }),
    };
    json!({
        "id": r.id,
        "name": r.name,
        "scope": scope,
        "signal": r.signal,
        "comparison": r.comparison,
        "threshold": r.threshold,
        "windowSeconds": r.window_ms / 1000,
        "cooldownSeconds": r.cooldown_ms / 1000,
        "disabled": r.disabled,
        "metadata": serde_json::from_str::<Value>(&r.metadata).unwrap_or_else(|_| json!({})),
        "state": {
            "status": if state.is_some_and(|s| s.firing) { "firing" } else { "ok" },
            "since": state.map(|s| rfc3339(s.changed_ms)),
            "value": state.map(|s| s.value),
            "changes": state.map_or(0, |s| s.changes),
        },
        "createdAt": rfc3339(r.created_ms),
        "updatedAt": rfc3339(r.updated_ms),
    })
}

fn find_rule(shard: &Shard, id: &str) -> Result<Arc<RuleRecord>> {
    shard
        .shared()
        .catalog
        .load()
        .rule(id)
        .cloned()
        .ok_or_else(|| not_found("rule"))
}

fn seconds(obj: &Map<String, Value>, key: &str, default: u64, max: u64) -> Result<u64> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|s| *s <= max)
            .ok_or_else(|| invalid(key, format!("an integer of seconds, at most {max}"))),
    }
}

/// The scope of a body: its kind, application and target, each existing.
fn scope(shard: &Shard, obj: &Map<String, Value>) -> Result<(String, String, String)> {
    let s = match obj.get("scope") {
        Some(Value::Object(s)) => s,
        None | Some(Value::Null) => return Err(invalid("scope", "required")),
        Some(_) => return Err(invalid("scope", "must be an object")),
    };
    let kind = opt_str(s, "type", 32)?.ok_or_else(|| invalid("scope", "scope.type is required"))?;
    let catalog = shard.shared().catalog.load();
    let app = |required: bool| -> Result<String> {
        match opt_str(s, "appId", 256)? {
            Some(a) => catalog
                .app(&a)
                .filter(|a| !catalog.is_hidden_app(&a.id))
                .map(|a| a.id.clone())
                .ok_or_else(|| invalid("scope", format!("no application {a}"))),
            None if required => Err(invalid("scope", "scope.appId is required")),
            None => Ok(String::new()),
        }
    };
    Ok(match kind.as_str() {
        "all" => (kind, String::new(), String::new()),
        "app" => (kind, app(true)?, String::new()),
        "endpoint" => {
            let app_id = app(true)?;
            let ep = opt_str(s, "endpointId", 256)?
                .ok_or_else(|| invalid("scope", "scope.endpointId is required"))?;
            let ep = catalog
                .endpoint(&app_id, &ep)
                .ok_or_else(|| invalid("scope", format!("no endpoint {ep} in {app_id}")))?;
            (kind, app_id, ep.id.clone())
        }
        "eventType" => {
            let t = opt_str(s, "eventType", 256)?
                .filter(|t| crate::catalog::valid_event_type(t))
                .ok_or_else(|| {
                    invalid("scope", "scope.eventType is required (an event type name)")
                })?;
            (kind, app(false)?, t)
        }
        "source" => {
            let src = opt_str(s, "sourceId", 256)?
                .ok_or_else(|| invalid("scope", "scope.sourceId is required"))?;
            let src = catalog
                .source(&src)
                .ok_or_else(|| invalid("scope", format!("no source {src}")))?;
            (kind, src.id.clone(), src.id.clone())
        }
        _ => {
            return Err(invalid(
                "scope",
                "scope.type is one of all, app, endpoint, eventType, source",
            ))
        }
    })
}

/// Applies a body to `rec` (every field; absent optional ones take their
/// defaults).
fn rule_from_body(
    shard: &Shard,
    obj: &Map<String, Value>,
    mut rec: RuleRecord,
) -> Result<RuleRecord> {
    rec.name = opt_str(obj, "name", 256)?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("name", "required"))?;
    (rec.scope, rec.app_id, rec.target) = scope(shard, obj)?;
    let name = opt_str(obj, "signal", 64)?.ok_or_else(|| invalid("signal", "required"))?;
    let signal = Signal::parse(&name).ok_or_else(|| {
        let names: Vec<&str> = rules::SIGNALS.iter().map(|(n, _)| *n).collect();
        invalid("signal", format!("one of {}", names.join(", ")))
    })?;
    if !rules::supported(&rec.scope, signal) {
        return Err(error(
            422,
            "unsupported_signal",
            format!("a rule of scope {} cannot watch {name}", rec.scope),
        ));
    }
    rec.signal = name;
    let gap = signal == Signal::NoMessages;
    rec.comparison = match opt_str(obj, "comparison", 2)? {
        Some(c) if rules::Comparison::parse(&c).is_some() => c,
        Some(_) => return Err(invalid("comparison", "one of >, >=, <, <=")),
        None if gap => "<".into(),
        None => return Err(invalid("comparison", "required")),
    };
    rec.threshold = match obj.get("threshold") {
        Some(v) if v.is_number() => v.as_f64().filter(|t| t.is_finite()).unwrap_or(f64::NAN),
        None | Some(Value::Null) if gap => 1.0,
        _ => return Err(invalid("threshold", "a number is required")),
    };
    if rec.threshold.is_nan() {
        return Err(invalid("threshold", "must be a finite number"));
    }
    let window = seconds(obj, "windowSeconds", 300, WINDOW_SECS_MAX)?;
    if window == 0 {
        return Err(invalid("windowSeconds", "at least 1"));
    }
    rec.window_ms = window * 1000;
    rec.cooldown_ms = seconds(obj, "cooldownSeconds", 900, COOLDOWN_SECS_MAX)? * 1000;
    rec.disabled = opt_bool(obj, "disabled")?.unwrap_or(false);
    rec.metadata = metadata(obj)?;
    Ok(rec)
}

fn commit_rule(shard: &Shard, rec: &RuleRecord) -> Result<()> {
    let catalog = shard.shared().catalog.load();
    let max = crate::limits::RULES_MAX;
    if catalog.rule(&rec.id).is_none() && catalog.rule_count() >= max {
        return Err(limit_reached("rules", max));
    }
    drop(catalog);
    commit_catalog(shard, Kind::RulePut, &encode(rec)?)
}

pub fn list_rules(shard: &Shard, req: &Request) -> Result<Response> {
    let window = Window::of(req, Order::Ascending)?;
    let catalog = shard.shared().catalog.load();
    let items = catalog.rules_in(window.ids()).map(|r| (r.id.as_str(), r));
    Ok(ok(200, paginate(&window, items, |r| view(shard, r))))
}

pub fn create_rule(shard: &Shard, req: &Request) -> Result<Response> {
    let obj = json_object(req)?;
    let now = crate::time::now_ms();
    let base = RuleRecord {
        id: ids::new_id_at("rule", now),
        name: String::new(),
        scope: String::new(),
        app_id: String::new(),
        target: String::new(),
        signal: String::new(),
        comparison: String::new(),
        threshold: 0.0,
        window_ms: 0,
        cooldown_ms: 0,
        disabled: false,
        metadata: "{}".into(),
        created_ms: now,
        updated_ms: now,
    };
    let rec = rule_from_body(shard, &obj, base)?;
    commit_rule(shard, &rec)?;
    Ok(ok(201, view(shard, &rec)))
}

pub fn get_rule(shard: &Shard, id: &str) -> Result<Response> {
    Ok(ok(200, view(shard, &*find_rule(shard, id)?)))
}

/// `PUT /rule/{id}`: replaces the rule (its state stays; its windows count
/// from the change).
pub fn replace_rule(shard: &Shard, req: &Request, id: &str) -> Result<Response> {
    let obj = json_object(req)?;
    let mut rec = rule_from_body(shard, &obj, (*find_rule(shard, id)?).clone())?;
    rec.updated_ms = crate::time::now_ms().max(rec.created_ms);
    commit_rule(shard, &rec)?;
    Ok(ok(200, view(shard, &rec)))
}

pub fn delete_rule(shard: &Shard, id: &str) -> Result<Response> {
    let existing = find_rule(shard, id)?;
    let rec = DeleteRecord {
        id: existing.id.clone(),
        at_ms: crate::time::now_ms(),
    };
    commit_catalog(shard, Kind::RuleDelete, &encode(&rec)?)?;
    Ok(no_content())
}
