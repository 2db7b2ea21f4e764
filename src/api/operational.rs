//! The operational endpoints' API (`/api/v1/operational-webhook/endpoint`,
//! Svix's `svix.operational_webhook.endpoint.*`): the endpoint handlers on
//! ringhook's reserved operational application, made at the first create;
//! and which `endpoint.*` notices a change to a customer's endpoint makes,
//! and which `source.*` notices a change to an incoming source makes.

use super::http::Response;
use super::params::*;
use crate::operational::{EndpointEvent, Notice, APP_ID};
use crate::records::{AppRecord, EndpointRecord, Kind, SourceRecord};
use crate::shard::state::Shard;

/// The operational application's id; made first when `create` and it does
/// not exist yet (other routes then answer 404 for the endpoint).
pub fn ensure_app(shard: &Shard, create: bool) -> Result<&'static str> {
    let exists = shard.shared().catalog.load().app(APP_ID).is_some();
    if !exists && create {
        let now = crate::time::now_ms();
        let app = AppRecord {
            id: APP_ID.to_string(),
            uid: None,
            name: "Operational webhooks".into(),
            metadata: "{}".into(),
            rate_limit: None,
            created_ms: now,
            updated_ms: now,
        };
        commit_catalog(shard, Kind::AppPut, &encode(&app)?)?;
    }
    Ok(APP_ID)
}

/// The notices a successful endpoint request makes: `created` (a new
/// endpoint), `updated`, `enabled` / `disabled` (manual) when `disabled`
/// changed, `deleted`; none for the operational endpoints themselves.
pub fn crud_notices(method: &str, before: Option<&EndpointRecord>, resp: &Response) -> Vec<Notice> {
    let after: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
    let field = |k: &str| after.as_ref().and_then(|v| v.get(k)).cloned();
    let now = crate::time::now_ms();
    let endpoint = |event, app_id: &str, endpoint_id: &str| Notice::Endpoint {
        event,
        app_id: app_id.to_string(),
        endpoint_id: endpoint_id.to_string(),
        at_ms: now,
    };
    let mut out = Vec::new();
    match (method, before, resp.status) {
        ("DELETE", Some(b), 204) => out.push(endpoint(EndpointEvent::Deleted, &b.app_id, &b.id)),
        ("PUT" | "PATCH", Some(b), 200) => {
            out.push(endpoint(EndpointEvent::Updated, &b.app_id, &b.id));
            match (b.disabled, field("disabled").and_then(|d| d.as_bool())) {
                (true, Some(false)) => out.push(endpoint(EndpointEvent::Enabled, &b.app_id, &b.id)),
                (false, Some(true)) => out.push(Notice::Disabled {
                    app_id: b.app_id.clone(),
                    endpoint_id: b.id.clone(),
                    fail_since_ms: None,
                    trigger: "manual",
                    at_ms: now,
                }),
                _ => {}
            }
        }
        ("POST" | "PUT", _, 201) => {
            if let Some(id) = field("id").and_then(|v| v.as_str().map(str::to_string)) {
                // The application is not in the view: the endpoint's record says.
                out.push(Notice::Endpoint {
                    event: EndpointEvent::Created,
                    app_id: String::new(),
                    endpoint_id: id,
                    at_ms: now,
                });
            }
        }
        _ => {}
    }
    out
}

/// The notices a successful source request makes: `created`, `updated`
/// (with `enabled` / `disabled` when `disabled` changed), `token_rotated`,
/// `deleted`. `rotate` marks a `…/token/rotate` request.
pub fn source_notices(
    method: &str,
    rotate: bool,
    before: Option<&SourceRecord>,
    resp: &Response,
) -> Vec<Notice> {
    let after: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
    let field = |k: &str| after.as_ref().and_then(|v| v.get(k)).cloned();
    let notice =
        |event: &'static str, id: &str, uid: Option<String>, name: String, kind: String| {
            Notice::Source {
                event,
                source_id: id.to_string(),
                data: serde_json::json!({
                    "sourceId": id, "sourceUid": uid, "name": name, "type": kind,
                }),
            }
        };
    let of = |event: &'static str, b: &SourceRecord| {
        notice(event, &b.id, b.uid.clone(), b.name.clone(), b.kind.clone())
    };
    let text = |k: &str| field(k).and_then(|v| v.as_str().map(str::to_string));
    let mut out = Vec::new();
    match (method, before, resp.status) {
        ("POST", Some(b), 200) if rotate => out.push(of("token_rotated", b)),
        ("DELETE", Some(b), 204) => out.push(of("deleted", b)),
        ("PUT", Some(b), 200) => {
            out.push(of("updated", b));
            match (b.disabled, field("disabled").and_then(|d| d.as_bool())) {
                (true, Some(false)) => out.push(of("enabled", b)),
                (false, Some(true)) => out.push(of("disabled", b)),
                _ => {}
            }
        }
        ("POST" | "PUT", _, 201) => {
            if let Some(id) = text("id") {
                out.push(notice(
                    "created",
                    &id,
                    text("uid"),
                    text("name").unwrap_or_default(),
                    text("type").unwrap_or_default(),
                ));
            }
        }
        _ => {}
    }
    out
}
