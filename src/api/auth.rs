//! Who is asking: a bearer API token (the operator), a console session
//! cookie (the operator, with a CSRF token on every state-changing
//! request), or a portal token (one application, some capabilities); and
//! the routes that make and end sessions: console sign-in and sign-out,
//! Svix's `app-portal-access`, `logout` and `expire-all`.
//!
//! Sessions live in `console::access::Sessions`, in this thread (shard 0,
//! which serves the API). Everything here is decided from the request head.

use super::http::{error, Request, Response};
use super::params::*;
use crate::console::access::{self, Capability, Portal, Sessions};
use crate::shard::state::Shard;
use serde_json::{json, Value};
use std::cell::RefCell;

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "rh_session";

thread_local! {
    static SESSIONS: RefCell<Sessions> = RefCell::new(Sessions::default());
}

/// Who a request comes from.
#[derive(Debug, Clone)]
pub enum Principal {
    /// An API token or a console session; `key` namespaces its
    /// `idempotency-key`s.
    Operator { key: String },
    /// A portal session.
    Portal { token: String, portal: Portal },
}

impl Principal {
    /// The namespace of the principal's `idempotency-key`s.
    pub fn key(&self) -> &str {
        match self {
            Principal::Operator { key } => key,
            Principal::Portal { token, .. } => token,
        }
    }
}

/// Compares secrets in time that depends on neither contents nor lengths.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    crate::incoming::verify::ct_eq(a, b)
}

fn bearer(req: &Request) -> Option<&str> {
    req.authorization
        .as_deref()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Whether `token` is one of the configured API tokens.
pub fn is_api_token(shard: &Shard, token: &str) -> bool {
    shard
        .shared()
        .tokens
        .iter()
        // Every configured token is compared, whichever matches.
        .fold(false, |found, t| {
            ct_eq(t.as_bytes(), token.as_bytes()) | found
        })
}

fn unauthorized() -> Response {
    error(
        401,
        "authentication_failed",
        "missing or invalid bearer token",
    )
}

/// The principal of a request, or the answer refusing it (401; 403 for a
/// console session's state-changing request without its CSRF token).
pub fn principal(shard: &Shard, req: &Request) -> std::result::Result<Principal, Response> {
    let now = crate::time::now_ms();
    if let Some(token) = bearer(req) {
        if is_api_token(shard, token) {
            return Ok(Principal::Operator {
                key: token.to_string(),
            });
        }
        let portal = SESSIONS.with(|s| s.borrow().portal(token, now).cloned());
        return match portal {
            Some(portal) => Ok(Principal::Portal {
                token: token.to_string(),
                portal,
            }),
            None => Err(unauthorized()),
        };
    }
    let Some(id) = req.session.as_deref() else {
        return Err(unauthorized());
    };
    let csrf = SESSIONS.with(|s| s.borrow().operator(id, now).map(|o| o.csrf.clone()));
    let Some(csrf) = csrf else {
        return Err(unauthorized());
    };
    let reads = matches!(req.method.as_str(), "GET" | "HEAD")
        && !super::table::get_changes_state(&req.path);
    let csrf_ok = req
        .csrf
        .as_deref()
        .is_some_and(|given| ct_eq(given.as_bytes(), csrf.as_bytes()));
    if !reads && !csrf_ok {
        return Err(error(
            403,
            "csrf_failed",
            "a state-changing console request must carry its x-csrf-token",
        ));
    }
    Ok(Principal::Operator {
        key: format!("session:{id}"),
    })
}

/// Whether a request's bearer token is an API token (console sign-in,
/// checked from the head).
pub fn bearer_is_api_token(shard: &Shard, req: &Request) -> bool {
    bearer(req).is_some_and(|t| is_api_token(shard, t))
}

/// Whether an endpoint body may carry a `secret`: not from a portal session
/// without `ManageEndpointSecret`.
pub fn may_set_secret(who: &Principal, body: &[u8]) -> bool {
    match who {
        Principal::Operator { .. } => true,
        Principal::Portal { portal, .. } => {
            crate::console::access::portal_allows(
                portal,
                "POST",
                crate::console::access::Resource::EndpointSecret,
                Some(&portal.app_id),
            ) || !serde_json::from_slice::<serde_json::Value>(body)
                .is_ok_and(|v| v.get("secret").is_some_and(|s| !s.is_null()))
        }
    }
}

/// The 403 for a portal session outside its scope.
pub fn out_of_scope() -> Response {
    error(
        403,
        "forbidden",
        "this portal session may not do this (another application, or a capability it lacks)",
    )
}

fn cookie(value: &str, max_age_s: u64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `POST /console/api/session` with `Authorization: Bearer <API token>`:
/// signs in, answering the CSRF token and setting the session cookie.
pub fn sign_in(shard: &Shard, req: &Request) -> Result<Response> {
    let token = bearer(req).ok_or_else(unauthorized)?;
    if !is_api_token(shard, token) {
        return Err(unauthorized());
    }
    let config = &shard.shared().config;
    let ttl_ms = config.console_session_ms;
    let now = crate::time::now_ms();
    let (id, csrf) = SESSIONS.with(|s| s.borrow_mut().sign_in(now, ttl_ms));
    let mut resp = ok(
        200,
        json!({ "csrfToken": csrf, "expiresAt": crate::time::rfc3339(now + ttl_ms) }),
    );
    resp.headers.push((
        "set-cookie",
        cookie(&id, ttl_ms / 1000, config.console_cookie_secure),
    ));
    Ok(resp)
}

/// `GET /console/api/session`: the signed-in session's CSRF token (a
/// reloaded page gets it back), or 401.
pub fn session(req: &Request) -> Result<Response> {
    let now = crate::time::now_ms();
    let id = req.session.as_deref().ok_or_else(unauthorized)?;
    let op = SESSIONS.with(|s| s.borrow().operator(id, now).cloned());
    let op = op.ok_or_else(unauthorized)?;
    Ok(ok(
        200,
        json!({ "csrfToken": op.csrf, "expiresAt": crate::time::rfc3339(op.expires_ms) }),
    ))
}

/// `DELETE /console/api/session`: signs out (the CSRF token is checked by
/// `principal` first) and clears the cookie.
pub fn sign_out(shard: &Shard, req: &Request) -> Result<Response> {
    if let Some(id) = req.session.as_deref() {
        SESSIONS.with(|s| s.borrow_mut().sign_out(id));
    }
    let mut resp = no_content();
    resp.headers.push((
        "set-cookie",
        cookie("", 0, shard.shared().config.console_cookie_secure),
    ));
    Ok(resp)
}

/// The console's and portal's public base URL.
pub fn public_base(shard: &Shard) -> String {
    let config = &shard.shared().config;
    match config.console_public_url.trim_end_matches('/') {
        "" => format!("http://{}", config.http_addr),
        base => base.to_string(),
    }
}

/// `POST /api/v1/auth/app-portal-access/{app}` (operators only), Svix's
/// `AppPortalAccessIn`: `expiry` (seconds), `readOnly`, `capabilities`,
/// `featureFlags` (accepted, unused); answers `{url, token}`.
pub fn portal_access(shard: &Shard, req: &Request, who: &Principal, app: &str) -> Result<Response> {
    if !matches!(who, Principal::Operator { .. }) {
        return Err(out_of_scope());
    }
    let app = find_app(shard, app)?;
    if shard.shared().catalog.load().is_hidden_app(&app.id) {
        // A source's or the operational endpoints' application is
        // ringhook's own, not a customer's.
        return Err(not_found("application"));
    }
    let obj = json_object_or_empty(req)?;
    let expiry_s = match obj.get("expiry") {
        None | Some(Value::Null) => access::PORTAL_EXPIRY_DEFAULT_S,
        Some(v) => v
            .as_u64()
            .filter(|s| (1..=access::PORTAL_EXPIRY_MAX_S).contains(s))
            .ok_or_else(|| invalid("expiry", "seconds, 1 to 604800"))?,
    };
    let read_only = opt_bool(&obj, "readOnly")?.unwrap_or(false);
    let capabilities = match obj.get("capabilities") {
        None | Some(Value::Null) => Capability::ALL.to_vec(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| c.as_str().and_then(Capability::parse))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                invalid(
                    "capabilities",
                    "each one of ViewBase, ViewEndpointSecret, ManageEndpointSecret, CreateAttempts, ManageEndpoint",
                )
            })?,
        Some(_) => return Err(invalid("capabilities", "must be a list")),
    };
    let now = crate::time::now_ms();
    let portal = Portal {
        app_id: app.id.clone(),
        capabilities,
        read_only,
        expires_ms: now + expiry_s * 1000,
    };
    let token = SESSIONS.with(|s| s.borrow_mut().mint_portal(portal, now));
    let url = format!(
        "{}/portal/#token={token}&app={}",
        public_base(shard),
        app.id
    );
    Ok(ok(200, json!({ "url": url, "token": token })))
}

/// `POST /api/v1/auth/logout`: ends the portal session whose token made
/// the request (API tokens are revoked by removing them from `api-tokens`).
pub fn logout(who: &Principal) -> Result<Response> {
    match who {
        Principal::Portal { token, .. } => {
            SESSIONS.with(|s| s.borrow_mut().logout_portal(token));
            Ok(no_content())
        }
        Principal::Operator { .. } => Err(error(
            422,
            "not_a_session",
            "an API token is not a session; remove it from api-tokens to revoke it",
        )),
    }
}

/// `POST /api/v1/auth/app/{app}/expire-all` (operators only): ends every
/// portal session of the application.
pub fn expire_all(shard: &Shard, who: &Principal, app: &str) -> Result<Response> {
    if !matches!(who, Principal::Operator { .. }) {
        return Err(out_of_scope());
    }
    let app = find_app(shard, app)?;
    SESSIONS.with(|s| s.borrow_mut().expire_app(&app.id));
    Ok(no_content())
}

/// What a portal session shows of itself (`GET /api/v1/auth/portal`), so
/// the portal page knows its application and what it may do.
pub fn portal_self(who: &Principal) -> Result<Response> {
    match who {
        Principal::Portal { portal, .. } => Ok(ok(
            200,
            json!({
                "appId": portal.app_id,
                "readOnly": portal.read_only,
                "capabilities": portal.capabilities.iter().map(|c| c.name()).collect::<Vec<_>>(),
                "expiresAt": crate::time::rfc3339(portal.expires_ms),
            }),
        )),
        Principal::Operator { .. } => Err(error(422, "not_a_portal", "not a portal session")),
    }
}
