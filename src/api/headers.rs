//! Custom endpoint headers: their validation and the `/endpoint/{ep}/headers`
//! routes in Svix's shape.
//!
//! Header names the engine writes itself (`webhook-*` and the ones in
//! `delivery::RESERVED_HEADERS`) are refused with a 422 rather than
//! silently dropped at delivery, so a caller learns at once that they cannot
//! be overridden. Names and values are checked with the sender's own rules
//! (`http_wire::is_token`, `http_wire::no_controls`), so a header the API
//! accepts never makes every delivery fail. Credentials-like headers are
//! "sensitive": stored and sent, but their values appear in no API view
//! (`GET .../headers` lists their names in `sensitive`; endpoint views in
//! `sensitiveHeaders`).

use super::http::{Request, Response};
use super::params::*;
use crate::delivery::RESERVED_HEADERS;
use crate::limits::{ENDPOINT_HEADERS_MAX, HEADER_VALUE_BYTES_MAX};
use crate::records::{HeaderPair, Kind};
use crate::shard::state::Shard;
use serde_json::{json, Map, Value};

/// Whether the engine owns this header name (it cannot be set per endpoint).
pub fn is_reserved(name: &str) -> bool {
    name.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("webhook-"))
        || RESERVED_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
}

/// The headers that make a Standard Webhooks signature: no other header may
/// take their names.
const SIGNED_HEADERS: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];

/// Checks an endpoint's `eventTypeHeader`: a header name the engine does
/// not otherwise write (`webhook-event-type` is allowed; the signed
/// `webhook-id`/`-timestamp`/`-signature` are not).
pub fn check_event_type_header(name: &str) -> Result<()> {
    const FIELD: &str = "eventTypeHeader";
    if name.is_empty() || name.len() > 256 || !crate::http_wire::is_token(name) {
        return Err(invalid(FIELD, format!("invalid header name {name:?}")));
    }
    let owned = SIGNED_HEADERS
        .iter()
        .chain(RESERVED_HEADERS)
        .any(|r| r.eq_ignore_ascii_case(name));
    if owned {
        return Err(invalid(
            FIELD,
            format!("header {name:?} is set by the engine"),
        ));
    }
    Ok(())
}

/// Checks one header; `field` names the body field in the 422.
pub(super) fn check(field: &str, name: &str, value: &str) -> Result<()> {
    let name_ok = name.len() <= 256 && crate::http_wire::is_token(name);
    if !name_ok
        || value.len() > HEADER_VALUE_BYTES_MAX
        || !crate::http_wire::no_controls(value.as_bytes())
    {
        return Err(invalid(field, format!("invalid header {name:?}")));
    }
    if is_reserved(name) {
        return Err(invalid(
            field,
            format!("header {name:?} is set by the engine and cannot be overridden"),
        ));
    }
    Ok(())
}

/// Reads a `{name: value}` object of headers.
pub fn parse_headers(v: &Value, field: &str) -> Result<Vec<HeaderPair>> {
    let Value::Object(map) = v else {
        return Err(invalid(field, "must be an object of strings"));
    };
    if map.len() > ENDPOINT_HEADERS_MAX {
        return Err(invalid(
            field,
            format!("at most {ENDPOINT_HEADERS_MAX} headers"),
        ));
    }
    map.iter()
        .map(|(name, value)| {
            let value = value
                .as_str()
                .ok_or_else(|| invalid(field, "values must be strings"))?;
            check(field, name, value)?;
            Ok(HeaderPair {
                name: name.clone(),
                value: value.to_string(),
            })
        })
        .collect()
}

/// `GET .../headers`: `{"headers": {...}, "sensitive": [...]}`.
pub fn get_headers(shard: &Shard, app: &str, ep: &str) -> Result<Response> {
    let ep = find_endpoint(shard, app, ep)?;
    let mut headers = Map::new();
    let mut sensitive = Vec::new();
    for h in &ep.headers {
        if super::views::is_sensitive(&h.name) {
            sensitive.push(h.name.clone());
        } else {
            headers.insert(h.name.clone(), Value::String(h.value.clone()));
        }
    }
    Ok(ok(
        200,
        json!({ "headers": headers, "sensitive": sensitive }),
    ))
}

fn save(shard: &Shard, app: &str, ep: &str, headers: Vec<HeaderPair>) -> Result<Response> {
    let existing = find_endpoint(shard, app, ep)?;
    let mut rec = (*existing).clone();
    rec.headers = headers;
    rec.updated_ms = crate::time::now_ms().max(rec.created_ms);
    commit_catalog(shard, Kind::EndpointPut, &encode(&rec)?)?;
    Ok(no_content())
}

/// `PUT .../headers` with `{"headers": {...}}`: replaces every custom header.
pub fn put_headers(shard: &Shard, req: &Request, app: &str, ep: &str) -> Result<Response> {
    find_endpoint(shard, app, ep)?;
    let obj = json_object(req)?;
    let v = obj
        .get("headers")
        .ok_or_else(|| invalid("headers", "required"))?;
    save(shard, app, ep, parse_headers(v, "headers")?)
}

/// `PATCH .../headers` with `{"headers": {...}, "deleteHeaders": [...]}`:
/// sets the given headers (names match case-insensitively), removes those
/// whose value is `null` and those listed in `deleteHeaders`.
pub fn patch_headers(shard: &Shard, req: &Request, app: &str, ep: &str) -> Result<Response> {
    let existing = find_endpoint(shard, app, ep)?;
    let obj = json_object(req)?;
    let mut headers = existing.headers.clone();
    let remove = |headers: &mut Vec<HeaderPair>, name: &str| {
        headers.retain(|h| !h.name.eq_ignore_ascii_case(name));
    };
    if let Some(names) = opt_list(&obj, &["deleteHeaders"])? {
        for name in names {
            remove(&mut headers, &name);
        }
    }
    match obj.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                match value {
                    Value::Null => remove(&mut headers, name),
                    Value::String(value) => {
                        check("headers", name, value)?;
                        remove(&mut headers, name);
                        headers.push(HeaderPair {
                            name: name.clone(),
                            value: value.clone(),
                        });
                    }
                    _ => return Err(invalid("headers", "values must be strings or null")),
                }
            }
        }
        Some(_) => return Err(invalid("headers", "must be an object")),
    }
    if headers.len() > ENDPOINT_HEADERS_MAX {
        return Err(invalid(
            "headers",
            format!("at most {ENDPOINT_HEADERS_MAX} headers"),
        ));
    }
    save(shard, app, ep, headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_owned_names_are_reserved() {
        for name in ["webhook-id", "Webhook-Signature", "Host", "content-length"] {
            assert!(is_reserved(name), "{name}");
        }
        for name in ["x-team", "authorization", "webhook"] {
            assert!(!is_reserved(name), "{name}");
        }
    }
}
