//! Endpoint handlers: create, list, get, upsert (PUT), patch, delete, secret
//! and secret rotation; the endpoint URL check.
//!
//! As for applications, one body reader ([`endpoint_from_body`]) serves
//! create, replace and patch. Fields Svix's own upsert does not carry
//! (`secret`, `headers`, `method`, `extraJson`) are kept on PUT unless given,
//! so a Svix SDK's upsert does not silently reset ringhook's extensions.

use super::headers::parse_headers;
use super::http::{error, Request, Response};
use super::params::*;
use super::views;
use crate::delivery::guard::{is_private, Target};
use crate::limits::{ENDPOINT_SECRETS_MAX, SECRET_GRACE_SECS_MAX};
use crate::records::{DeleteRecord, EndpointRecord, KeyScheme, Kind, SecretKey};
use crate::shard::state::Shard;
use crate::{ids, signing};
use serde_json::{json, Map, Value};
use std::rc::Rc;

pub fn list_endpoints(shard: &Shard, req: &Request, app: &str) -> Result<Response> {
    let window = Window::of(req, Order::Ascending)?;
    let app = find_app(shard, app)?;
    let catalog = shard.shared().catalog.load();
    let items = catalog
        .endpoints_of_in(&app.id, window.ids())
        .map(|e| (e.id.as_str(), e));
    Ok(ok(200, paginate(&window, items, |e| views::endpoint(e))))
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
        .map(|k| signing::shown(k.scheme, &k.key))
        .ok_or_else(|| error(500, "internal", "endpoint has no current secret"))?;
    Ok(ok(200, json!({ "key": key })))
}

/// Checks an endpoint URL, including where its host resolves (SSRF guard).
pub async fn check_url(shard: &Shard, url: &str) -> Result<()> {
    if url.len() > crate::limits::URL_BYTES_MAX {
        return Err(invalid(
            "url",
            format!("at most {} bytes", crate::limits::URL_BYTES_MAX),
        ));
    }
    let target = Target::parse(url).map_err(|e| invalid("url", e.to_string()))?;
    let allow = shard.shared().config.allow_private_targets;
    match target.host.parse::<std::net::IpAddr>() {
        Ok(ip) if !allow && is_private(ip) => Err(invalid(
            "url",
            format!("{ip} is a private, loopback or link-local address; refused (see allow_private_targets)"),
        )),
        Ok(_) => Ok(()),
        Err(_) => crate::delivery::resolver::resolve(&target, allow)
            .await
            .map(|_| ())
            .map_err(|e| invalid("url", e.to_string())),
    }
}

/// Applies a body to `rec` according to `mode` (the URL is checked by the caller).
fn endpoint_from_body(
    obj: &Map<String, Value>,
    mut rec: EndpointRecord,
    mode: Mode,
) -> Result<EndpointRecord> {
    let take = |keys: &[&str]| mode != Mode::Patch || has(obj, keys);
    if take(&["url"]) {
        rec.url = opt_str(obj, "url", 4096)?.ok_or_else(|| invalid("url", "required"))?;
    }
    if has(obj, &["uid"]) {
        rec.uid = opt_str(obj, "uid", 256)?;
        if let Some(uid) = &rec.uid {
            check_uid(uid)?;
        }
    }
    if take(&["description"]) {
        rec.description = opt_str(obj, "description", 4096)?.unwrap_or_default();
    }
    if take(&["disabled"]) {
        rec.disabled = opt_bool(obj, "disabled")?.unwrap_or(false);
    }
    if take(&["filterTypes", "eventTypes"]) {
        rec.event_types = opt_list(obj, &["filterTypes", "eventTypes"])?.unwrap_or_default();
    }
    if take(&["channels"]) {
        rec.channels = opt_list(obj, &["channels"])?.unwrap_or_default();
    }
    if take(&["rateLimit", "throttleRate"]) {
        rec.rate_limit = opt_u32(obj, &["rateLimit", "throttleRate"])?;
    }
    if take(&["metadata"]) {
        rec.metadata = metadata(obj)?;
    }
    if has(obj, &["headers"]) {
        rec.headers = match obj.get("headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => parse_headers(v, "headers")?,
        };
    }
    if has(obj, &["method"]) {
        rec.method = match opt_str(obj, "method", 16)?.map(|m| m.to_ascii_uppercase()) {
            None => "POST".to_string(),
            Some(m) if ["POST", "PUT", "PATCH"].contains(&m.as_str()) => m,
            Some(_) => return Err(invalid("method", "must be POST, PUT or PATCH")),
        };
    }
    if has(obj, &["extraJson"]) {
        rec.extra_json = match obj.get("extraJson") {
            None | Some(Value::Null) => String::new(),
            Some(v @ Value::Object(_)) => v.to_string(),
            Some(_) => return Err(invalid("extraJson", "must be an object")),
        };
    }
    // Fixed at creation: a delivery order cannot change with deliveries
    // under way. Saying the same value again is fine.
    if let Some(fifo) = opt_bool(obj, "fifo")? {
        if mode == Mode::Create {
            rec.fifo = fifo;
        } else if fifo != rec.fifo {
            return Err(invalid("fifo", "fixed when the endpoint is created"));
        }
    }
    if take(&["eventTypeHeader"]) {
        rec.event_type_header = opt_str(obj, "eventTypeHeader", 256)?;
        if let Some(name) = &rec.event_type_header {
            super::headers::check_event_type_header(name)?;
        }
    }
    // Kept on PUT unless given, as `secret` (Svix's upsert does not carry them).
    if has(obj, &["caCert"]) {
        rec.tls_ca = pem(obj, "caCert")?;
    }
    if has(obj, &["clientCert", "clientKey"]) {
        if !(has(obj, &["clientCert"]) && has(obj, &["clientKey"])) {
            return Err(invalid("clientKey", "clientCert and clientKey go together"));
        }
        rec.tls_client_cert = pem(obj, "clientCert")?;
        rec.tls_client_key = pem(obj, "clientKey")?;
    }
    if has(obj, &["proxyUrl"]) {
        rec.proxy_url = opt_str(obj, "proxyUrl", crate::limits::URL_BYTES_MAX)?.unwrap_or_default();
        if !rec.proxy_url.is_empty() {
            crate::delivery::proxy::Proxy::parse(&rec.proxy_url)
                .map_err(|e| invalid("proxyUrl", e.to_string()))?;
        }
    }
    if let Err(e) = crate::delivery::tls::for_endpoint(crate::delivery::tls::EndpointTls::of(&rec))
    {
        let field = match &e {
            crate::delivery::tls::TlsSetupError::Invalid { what, .. }
            | crate::delivery::tls::TlsSetupError::NoCertificate { what } => what.clone(),
            _ => "clientKey".to_string(),
        };
        return Err(invalid(&field, e.to_string()));
    }
    if mode == Mode::Create {
        if let Some(s) = opt_str(obj, "secret", 256)? {
            let (scheme, key) =
                signing::parse_key(&s).map_err(|e| invalid("secret", e.to_string()))?;
            rec.secrets = vec![SecretKey {
                key,
                expires_ms: 0,
                scheme,
            }];
        }
    }
    Ok(rec)
}

/// A PEM text field (`null` clears it).
fn pem(obj: &Map<String, Value>, field: &str) -> Result<String> {
    Ok(opt_str(obj, field, crate::limits::ENDPOINT_PEM_BYTES_MAX)?.unwrap_or_default())
}

/// Refuses a uid another endpoint of the same application uses.
fn check_uid_free(shard: &Shard, rec: &EndpointRecord) -> Result<()> {
    let catalog = shard.shared().catalog.load();
    match rec
        .uid
        .as_deref()
        .and_then(|uid| catalog.endpoint(&rec.app_id, uid))
    {
        Some(other) if other.id != rec.id => Err(error(
            409,
            "conflict",
            format!(
                "an endpoint with uid {} exists",
                rec.uid.as_deref().unwrap_or("")
            ),
        )),
        _ => Ok(()),
    }
}

fn commit_endpoint(shard: &Shard, rec: &EndpointRecord) -> Result<()> {
    // Checked here, after any await, so an application deleted meanwhile
    // cannot get an endpoint back.
    if shard.shared().catalog.load().app(&rec.app_id).is_none() {
        return Err(not_found("application"));
    }
    check_uid_free(shard, rec)?;
    let catalog = shard.shared().catalog.load();
    let max = shard.shared().config.max_endpoints_per_app;
    let new = catalog.endpoint_by_id(&rec.id).is_none();
    if new && catalog.endpoint_count(&rec.app_id) >= max {
        return Err(limit_reached("endpoints per application", max));
    }
    drop(catalog);
    commit_catalog(shard, Kind::EndpointPut, &encode(rec)?)
}

/// Creates an endpoint of `app_id` from a body, with `uid` unless the body names one.
async fn new_endpoint(
    shard: &Shard,
    obj: &Map<String, Value>,
    app_id: &str,
    uid: Option<String>,
) -> Result<EndpointRecord> {
    let now = crate::time::now_ms();
    let base = EndpointRecord {
        uid,
        secrets: vec![SecretKey {
            key: signing::generate_key(),
            expires_ms: 0,
            scheme: crate::records::KeyScheme::Hmac,
        }],
        ..EndpointRecord::new(
            ids::new_id_at("ep", now),
            app_id.to_string(),
            String::new(),
            now,
        )
    };
    let rec = endpoint_from_body(obj, base, Mode::Create)?;
    check_url(shard, &rec.url).await?;
    commit_endpoint(shard, &rec)?;
    Ok(rec)
}

pub async fn create_endpoint(shard: &Rc<Shard>, req: &Request, app: &str) -> Result<Response> {
    let app = find_app(shard, app)?;
    let obj = json_object(req)?;
    let rec = new_endpoint(shard, &obj, &app.id, None).await?;
    Ok(ok(201, views::endpoint(&rec)))
}

/// Replaces or patches an existing endpoint, keeping its id, secrets and
/// creation time and bumping `updatedAt`.
async fn change_endpoint(
    shard: &Shard,
    obj: &Map<String, Value>,
    existing: &std::sync::Arc<EndpointRecord>,
    mode: Mode,
) -> Result<EndpointRecord> {
    let mut rec = endpoint_from_body(obj, (**existing).clone(), mode)?;
    if rec.url != existing.url {
        check_url(shard, &rec.url).await?;
        // The URL check awaited DNS: if the endpoint was deleted, rotated or
        // changed meanwhile, writing `rec` would undo that change.
        let current = shard
            .shared()
            .catalog
            .load()
            .endpoint_by_id(&existing.id)
            .cloned();
        if !current.is_some_and(|c| std::sync::Arc::ptr_eq(&c, existing)) {
            return Err(error(
                409,
                "conflict",
                "the endpoint changed while this request ran; retry",
            ));
        }
    }
    rec.updated_ms = crate::time::now_ms().max(rec.created_ms);
    commit_endpoint(shard, &rec)?;
    Ok(rec)
}

/// `PUT /app/{app}/endpoint/{ep}`: replaces the endpoint, or creates it with uid `{ep}`.
pub async fn upsert_endpoint(
    shard: &Rc<Shard>,
    req: &Request,
    app: &str,
    ep: &str,
) -> Result<Response> {
    let app = find_app(shard, app)?;
    let obj = json_object(req)?;
    let existing = shard.shared().catalog.load().endpoint(&app.id, ep).cloned();
    match existing {
        Some(existing) => {
            let rec = change_endpoint(shard, &obj, &existing, Mode::Replace).await?;
            Ok(ok(200, views::endpoint(&rec)))
        }
        None => {
            if !valid_uid(ep) {
                return Err(not_found("endpoint"));
            }
            if opt_str(&obj, "uid", 256)?.is_some_and(|u| u != ep) {
                return Err(invalid("uid", "must equal the uid in the path"));
            }
            let rec = new_endpoint(shard, &obj, &app.id, Some(ep.to_string())).await?;
            Ok(ok(201, views::endpoint(&rec)))
        }
    }
}

/// `PATCH /app/{app}/endpoint/{ep}`: changes only the fields the body names.
pub async fn patch_endpoint(
    shard: &Rc<Shard>,
    req: &Request,
    app: &str,
    ep: &str,
) -> Result<Response> {
    let existing = find_endpoint(shard, app, ep)?;
    let obj = json_object(req)?;
    let rec = change_endpoint(shard, &obj, &existing, Mode::Patch).await?;
    Ok(ok(200, views::endpoint(&rec)))
}

/// `DELETE /app/{app}/endpoint/{ep}`: its pending deliveries end as `Cancelled`.
pub fn delete_endpoint(shard: &Shard, app: &str, ep: &str) -> Result<Response> {
    let existing = find_endpoint(shard, app, ep)?;
    let rec = DeleteRecord {
        id: existing.id.clone(),
        at_ms: crate::time::now_ms(),
    };
    commit_catalog(shard, Kind::EndpointDelete, &encode(&rec)?)?;
    Ok(no_content())
}

/// `POST /app/{app}/endpoint/{ep}/secret/rotate`: a new current key (given
/// as `key`, `whsec_` or `whsk_`, or generated of the current key's
/// scheme); the old one co-signs until its grace period ends.
///
/// Answers 200 with `{"key": new}`: the Svix SDK (2.9.1) parses a JSON body
/// from this call, so an empty 204 would make it fail.
pub fn rotate_secret(shard: &Shard, req: &Request, app: &str, ep: &str) -> Result<Response> {
    let existing = find_endpoint(shard, app, ep)?;
    let obj = json_object_or_empty(req)?;
    let key = match opt_str(&obj, "key", 256)? {
        Some(s) => signing::parse_key(&s).map_err(|e| invalid("key", e.to_string()))?,
        None => {
            let current = existing.secrets.iter().find(|k| k.expires_ms == 0);
            let scheme = current.map(|k| k.scheme).unwrap_or_default();
            (scheme, signing::generate(scheme))
        }
    };
    let grace_ms = match opt_u32(&obj, &["gracePeriodSeconds"])? {
        Some(s) if s > SECRET_GRACE_SECS_MAX => {
            return Err(invalid(
                "gracePeriodSeconds",
                format!("at most {SECRET_GRACE_SECS_MAX}"),
            ))
        }
        Some(s) => u64::from(s) * 1000,
        None => shard.shared().config.secret_rotation_grace_ms,
    };
    let now = crate::time::now_ms();
    let mut rec = (*existing).clone();
    rec.secrets = rotated(&rec.secrets, key, now, grace_ms);
    rec.updated_ms = now.max(rec.created_ms);
    commit_endpoint(shard, &rec)?;
    let formatted = rec
        .secrets
        .iter()
        .find(|k| k.expires_ms == 0)
        .map(|k| signing::shown(k.scheme, &k.key))
        .unwrap_or_default();
    Ok(ok(200, json!({ "key": formatted })))
}

/// The key list after a rotation at `now`: keys whose grace has passed are
/// pruned, the current key expires at `now + grace_ms` (or goes at once when
/// the grace is zero), `key` becomes current, and at most [`ENDPOINT_SECRETS_MAX`]
/// keys remain.
pub fn rotated(
    old: &[SecretKey],
    (scheme, key): (KeyScheme, Vec<u8>),
    now: u64,
    grace_ms: u64,
) -> Vec<SecretKey> {
    let mut keys: Vec<SecretKey> = old
        .iter()
        .filter(|k| k.expires_ms == 0 || k.expires_ms > now)
        .map(|k| SecretKey {
            key: k.key.clone(),
            expires_ms: if k.expires_ms == 0 {
                now.saturating_add(grace_ms)
            } else {
                k.expires_ms
            },
            scheme: k.scheme,
        })
        .filter(|k| k.expires_ms > now)
        .collect();
    // Keep the latest-expiring old keys when over the bound.
    keys.sort_by_key(|k| std::cmp::Reverse(k.expires_ms));
    keys.truncate(ENDPOINT_SECRETS_MAX - 1);
    keys.push(SecretKey {
        key,
        expires_ms: 0,
        scheme,
    });
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(b: u8, expires_ms: u64) -> SecretKey {
        SecretKey {
            key: vec![b; 24],
            expires_ms,
            scheme: KeyScheme::Hmac,
        }
    }

    fn hmac(b: u8) -> (KeyScheme, Vec<u8>) {
        (KeyScheme::Hmac, vec![b; 24])
    }

    #[test]
    fn rotation_expires_current_prunes_old_and_bounds() {
        let keys = rotated(&[k(1, 0)], hmac(2), 1000, 500);
        assert_eq!(keys, vec![k(1, 1500), k(2, 0)]);
        // At 1600 the first key's grace has passed: it is pruned.
        let keys = rotated(&keys, hmac(3), 1600, 500);
        assert_eq!(keys, vec![k(2, 2100), k(3, 0)]);
        // A zero grace drops the current key at once.
        assert_eq!(rotated(&keys, hmac(4), 1700, 0), vec![k(2, 2100), k(4, 0)]);
        let mut many = vec![k(0, 0)];
        for i in 1..20u8 {
            many = rotated(&many, hmac(i), u64::from(i), 1_000_000);
        }
        assert_eq!(many.len(), ENDPOINT_SECRETS_MAX);
        assert_eq!(many.iter().filter(|k| k.expires_ms == 0).count(), 1);
        // Rotating to an ed25519 key keeps the HMAC key co-signing.
        let mixed = rotated(&[k(1, 0)], (KeyScheme::Ed25519, vec![9; 32]), 1000, 500);
        assert_eq!(mixed[0], k(1, 1500));
        assert_eq!(mixed[1].scheme, KeyScheme::Ed25519);
    }
}
