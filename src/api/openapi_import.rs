//! `POST /api/v1/event-type/import/openapi` (Svix's
//! `event_type.import_openapi`): event types from the `webhooks` of an
//! OpenAPI 3.1 document, given as `spec` (JSON) or `specRaw` (JSON or YAML
//! text). Each webhook's name is an event type; its POST operation's
//! `description` (or `summary`), `deprecated`, `x-svix-group-name`,
//! `x-svix-feature-flags` and request body schema (`application/json`,
//! with `#/components/schemas/…` references resolved) become the type's
//! description, flags and schema version 1. `dryRun` answers what would
//! change without changing it; `replaceAll` archives the types the
//! document does not name.

use super::http::{error, Request, Response};
use super::params::*;
use crate::records::EventTypeDetailsRecord;
use crate::shard::state::Shard;
use serde_json::{json, Value};

/// How deep `$ref`s are followed (a reference cycle stops there).
const REF_DEPTH_MAX: usize = 32;

/// Inlines `#/components/schemas/…` references of `v`.
fn resolve(v: &Value, root: &Value, depth: usize) -> Value {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                if depth < REF_DEPTH_MAX {
                    let target = r
                        .strip_prefix('#')
                        .and_then(|pointer| root.pointer(pointer));
                    if let Some(t) = target {
                        return resolve(t, root, depth + 1);
                    }
                }
                return v.clone();
            }
            Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), resolve(x, root, depth)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|x| resolve(x, root, depth)).collect())
        }
        other => other.clone(),
    }
}

/// The event types of a document's `webhooks`, as Svix's
/// `EventTypeFromOpenApi`.
fn event_types(spec: &Value) -> Result<Vec<Value>> {
    let Some(hooks) = spec.get("webhooks").and_then(Value::as_object) else {
        return Err(invalid(
            "spec",
            "an OpenAPI document with a webhooks object",
        ));
    };
    let mut out = Vec::new();
    for (name, item) in hooks {
        if !crate::catalog::valid_event_type(name) {
            return Err(invalid(
                "spec",
                format!("webhook {name:?} is not an event type name"),
            ));
        }
        let op = item.get("post").or_else(|| {
            item.as_object()
                .and_then(|m| m.values().find(|v| v.is_object()))
        });
        let op = op.unwrap_or(&Value::Null);
        let text = |k: &str| op.get(k).and_then(Value::as_str).map(str::to_string);
        let schema = op
            .pointer("/requestBody/content/application~1json/schema")
            .map(|s| resolve(s, spec, 0));
        out.push(json!({
            "name": name,
            "description": text("description").or_else(|| text("summary")).unwrap_or_default(),
            "schemas": schema.map(|s| json!({ "1": s })),
            "deprecated": op.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
            "groupName": text("x-svix-group-name"),
            "featureFlags": op.get("x-svix-feature-flags").cloned(),
        }));
    }
    Ok(out)
}

pub fn import_openapi(shard: &Shard, req: &Request) -> Result<Response> {
    let obj = json_object(req)?;
    let spec = match (
        obj.get("spec").filter(|v| !v.is_null()),
        obj.get("specRaw").filter(|v| !v.is_null()),
    ) {
        (Some(s), None) if s.is_object() => s.clone(),
        (None, Some(Value::String(raw))) => yaml_serde::from_str::<Value>(raw)
            .map_err(|e| invalid("specRaw", format!("neither JSON nor YAML: {e}")))?,
        _ => {
            return Err(error(
                400,
                "bad_request",
                "give the document as spec (an object) or specRaw (text), not both",
            ))
        }
    };
    let found = event_types(&spec)?;
    if opt_bool(&obj, "dryRun")?.unwrap_or(false) {
        return Ok(ok(
            200,
            json!({ "data": { "modified": [], "to_modify": found } }),
        ));
    }
    let mut modified = Vec::new();
    for t in &found {
        let name = t["name"].as_str().unwrap_or_default().to_string();
        let mut rec = shard
            .shared()
            .catalog
            .load()
            .event_type(&name)
            .map(|r| (**r).clone())
            .unwrap_or_else(|| super::event_types::fresh(&name));
        rec.description = t["description"].as_str().unwrap_or_default().to_string();
        rec.archived = false;
        rec.updated_ms = crate::time::now_ms().max(rec.created_ms);
        let schemas = t["schemas"].clone();
        let d = EventTypeDetailsRecord {
            name: name.clone(),
            schemas: if schemas.is_null() {
                String::new()
            } else {
                schemas.to_string()
            },
            deprecated: t["deprecated"].as_bool().unwrap_or(false),
            group_name: t["groupName"].as_str().map(str::to_string),
            feature_flag: t["featureFlags"]
                .as_array()
                .and_then(|f| f.first())
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        super::event_types::commit_with(shard, &rec, &d)?;
        modified.push(name);
    }
    if opt_bool(&obj, "replaceAll")?.unwrap_or(false) {
        let keep: std::collections::HashSet<&str> = modified.iter().map(String::as_str).collect();
        let stale: Vec<_> = shard
            .shared()
            .catalog
            .load()
            .event_types()
            .filter(|t| !t.archived && !keep.contains(t.name.as_str()))
            .map(|t| (**t).clone())
            .collect();
        for mut t in stale {
            t.archived = true;
            t.updated_ms = crate::time::now_ms().max(t.created_ms);
            commit_catalog(shard, crate::records::Kind::EventTypePut, &encode(&t)?)?;
        }
    }
    Ok(ok(200, json!({ "data": { "modified": modified } })))
}
