//! Routes of the HTTP API: authentication and dispatch (the path table is
//! `table`).
//!
//! Handlers live in `apps`, `endpoints`, `headers`, `event_types`,
//! `messages`, `attempts` and `manual`. A POST with an `idempotency-key`
//! header goes through `idempotency` first. Every handler returns a
//! [`Response`]; failures are JSON `{code, detail}`
//! with stable codes: `authentication_failed` (401), `not_found` (404),
//! `method_not_allowed` (405), `conflict` (409), `bad_request` / `invalid_json`
//! (400), `validation_error` (422, with `detail` a list of `{loc, msg, type}`),
//! `payload_too_large` (413), `unavailable` (503), `internal` (500).

use super::apps::*;
use super::auth::{self, out_of_scope, principal, Principal};
use super::endpoints::*;
use super::event_types::*;
use super::headers::*;
use super::http::{error, Request, Response};
use super::idempotency;
use super::messages::*;
use super::params::not_found;
use super::sources::*;
use super::table::{is_public, route_path, router, serves, Route};
use super::{attempts, manual, Surface};
use crate::console::access::{portal_allows, Resource};
use crate::shard::state::Shard;
use std::rc::Rc;

/// What a route touches, for a portal session's scope.
fn resource(route: Route) -> Resource {
    use Route::*;
    match route {
        App => Resource::App,
        Endpoints | Endpoint | EndpointHeaders | EndpointStats | AttemptStats
        | EndpointMessages | AttemptsByEndpoint => Resource::Endpoint,
        EndpointSecret | EndpointSecretRotate => Resource::EndpointSecret,
        Messages | Message | MessageAttempt | MessageEndpoints | AttemptsByMsg => Resource::Message,
        Resend | EndpointRecover | EndpointSendExample => Resource::Attempts,
        EventTypes | EventType => Resource::EventTypes,
        _ => Resource::Other,
    }
}

/// Whether a principal may run this request (a portal only in its scope;
/// its own session routes are always its to use).
fn in_scope(shard: &Shard, who: &Principal, route: Route, method: &str, app: Option<&str>) -> bool {
    let Principal::Portal { portal, .. } = who else {
        return true;
    };
    if matches!(route, Route::AuthLogout | Route::PortalSelf) {
        return true;
    }
    let app_id = app.and_then(|a| shard.shared().catalog.load().app(a).map(|a| a.id.clone()));
    portal_allows(portal, method, resource(route), app_id.as_deref())
}

/// The answer to a request refused from its head alone (the connection
/// reads no body byte of it): an unknown route on this listener, no valid
/// principal (401), a console write without its CSRF token or a portal
/// outside its scope (403), or a receive URL's head checks.
pub fn refuse_unauthorized(shard: &Shard, req: &Request, surface: Surface) -> Option<Response> {
    let path = route_path(&req.path);
    let matched = router().at(path).ok();
    let route = matched.as_ref().map(|m| *m.value);
    if !serves(surface, route) {
        return Some(not_found("route"));
    }
    let route = route?;
    if let Route::Receive = route {
        // The URL's token is the credential; no bearer token.
        return super::receive::refuse_early(shard, req);
    }
    if is_public(route) {
        let get = matches!(req.method.as_str(), "GET" | "HEAD");
        return match route {
            // Pages: only GET; anything else is refused before its body.
            Route::Root | Route::Console | Route::ConsoleAsset | Route::Portal if !get => {
                Some(error(
                    405,
                    "method_not_allowed",
                    format!("{} not allowed here", req.method),
                ))
            }
            // Nothing public takes a body: none is read (and buffered)
            // before anyone signed in.
            _ if req.body_len > 0 => Some(error(
                413,
                "payload_too_large",
                "this route takes no request body",
            )),
            // Sign-in: the API token is in the head; sign-out: the session.
            Route::ConsoleSession if req.method == "POST" => auth::bearer_is_api_token(shard, req)
                .then_some(())
                .map_or_else(
                    || {
                        Some(error(
                            401,
                            "authentication_failed",
                            "missing or invalid bearer token",
                        ))
                    },
                    |()| None,
                ),
            Route::ConsoleSession if req.method == "DELETE" => principal(shard, req).err(),
            _ => None,
        };
    }
    match principal(shard, req) {
        Err(resp) => Some(resp),
        Ok(who) => {
            let app = matched.as_ref().and_then(|m| m.params.get("app"));
            (!in_scope(shard, &who, route, &req.method, app)).then(out_of_scope)
        }
    }
}

/// Dispatches one request.
pub async fn handle(shard: &Rc<Shard>, req: Request, surface: Surface) -> Response {
    let path = route_path(&req.path);
    let Ok(m) = router().at(path) else {
        return not_found("route");
    };
    let route = *m.value;
    if !serves(surface, Some(route)) {
        return not_found("route");
    }
    if let Route::Receive = route {
        return super::receive::receive(shard, req).await;
    }
    if let Route::Health = route {
        return Response {
            status: 204,
            body: Vec::new(),
            content_type: None,
            headers: Vec::new(),
        };
    }
    if let (Route::OpenApi, "GET") = (route, req.method.as_str()) {
        return super::params::ok(200, super::openapi::document());
    }
    if let Route::Ready = route {
        // Liveness is `health`; readiness: recovery is done (the listener
        // opens only after it) and the engine is neither stopping nor at
        // its pending-deliveries bound.
        let shared = shard.shared();
        return match (shared.is_stopping(), shared.is_overloaded()) {
            (false, false) => Response {
                status: 204,
                body: Vec::new(),
                content_type: None,
                headers: Vec::new(),
            },
            (stopping, _) => error(
                503,
                "not_ready",
                if stopping {
                    "stopping"
                } else {
                    "overloaded: a shard is at max_pending_per_shard"
                },
            ),
        };
    }
    if let Some(resp) = pages(shard, &req, route, m.params.get("file")) {
        return resp;
    }
    let who = match principal(shard, &req) {
        Ok(who) => who,
        Err(resp) => return resp,
    };
    if !in_scope(shard, &who, route, &req.method, m.params.get("app")) {
        return out_of_scope();
    }
    // A portal link is a credential: not stored (a replay could hand out
    // one that a logout or `expire-all` revoked since); each call mints one.
    let guard = match (req.method.as_str(), req.idempotency_key.as_deref()) {
        ("POST", Some(key)) if !matches!(route, Route::PortalAccess) => {
            match idempotency::begin(who.key(), path, key) {
                idempotency::Begin::Run(g) => Some(g),
                idempotency::Begin::Answer(resp) => {
                    return super::expunge::without_expunged(shard, resp)
                }
            }
        }
        _ => None,
    };
    let params = Params {
        app: m.params.get("app").unwrap_or(""),
        ep: m.params.get("ep").unwrap_or(""),
        msg: m.params.get("msg").unwrap_or(""),
        attempt: m.params.get("attempt").unwrap_or(""),
        task: m.params.get("task").unwrap_or(""),
        name: m.params.get("name").unwrap_or(""),
        src: m.params.get("src").unwrap_or(""),
        rule: m.params.get("rule").unwrap_or(""),
        consumer: m.params.get("consumer").unwrap_or(""),
    };
    // Boxed: `dispatch`'s future is as large as its largest handler's, and
    // unboxed it would be copied whole each time the connection's futures
    // around it move (a profile showed those copies at ~5 % of a request).
    let resp = Box::pin(dispatch(shard, &req, route, &params, &who)).await;
    if let Some(g) = guard {
        if let Some(rec) = g.finish(&resp) {
            // Not waited on, like attempt records: see `idempotency`.
            let kind = crate::records::Kind::IdempotentAnswer;
            if let Err(e) = shard.append_record(kind, &rec) {
                tracing::error!(error = %e, "cannot journal an idempotency-key answer");
            }
        }
    }
    resp
}

/// The path parameters of a matched route (empty when the route has none).
struct Params<'a> {
    app: &'a str,
    ep: &'a str,
    msg: &'a str,
    attempt: &'a str,
    task: &'a str,
    name: &'a str,
    src: &'a str,
    rule: &'a str,
    consumer: &'a str,
}

/// The console's and portal's pages and files, and console sign-in; `None`
/// for every other route.
fn pages(shard: &Shard, req: &Request, route: Route, file: Option<&str>) -> Option<Response> {
    let frame = &shard.shared().config.console_frame_ancestors;
    let page = |name: &str| match crate::console::asset(name) {
        Some(a) => Response {
            status: 200,
            body: a.bytes.to_vec(),
            content_type: Some(a.content_type),
            headers: crate::console::security_headers(frame),
        },
        None => not_found("file"),
    };
    let get = matches!(req.method.as_str(), "GET" | "HEAD");
    Some(match (route, req.method.as_str()) {
        (Route::Root, _) if get => Response {
            status: 302,
            body: Vec::new(),
            content_type: Some("text/plain"),
            headers: vec![("location", "/console/".into())],
        },
        (Route::Console | Route::Portal, _) if get => page(""),
        (Route::ConsoleAsset, _) if get => page(file.unwrap_or("")),
        (Route::ConsoleSession, "POST") => auth::sign_in(shard, req).unwrap_or_else(|e| e),
        (Route::ConsoleSession, "GET") => auth::session(req).unwrap_or_else(|e| e),
        (Route::ConsoleSession, "DELETE") => match principal(shard, req) {
            Ok(_) => auth::sign_out(shard, req).unwrap_or_else(|e| e),
            Err(resp) => resp,
        },
        (
            Route::Root
            | Route::Console
            | Route::ConsoleAsset
            | Route::Portal
            | Route::ConsoleSession,
            _,
        ) => error(
            405,
            "method_not_allowed",
            format!("{} not allowed here", req.method),
        ),
        _ => return None,
    })
}

/// Runs the handler of a route and method.
async fn dispatch(
    shard: &Rc<Shard>,
    req: &Request,
    route: Route,
    p: &Params<'_>,
    who: &Principal,
) -> Response {
    let (app, ep) = (p.app, p.ep);
    let result = match (route, req.method.as_str()) {
        (Route::Metrics, "GET") => Ok(Response {
            status: 200,
            body: {
                let mut text = crate::metrics::render(&shard.shared().metrics);
                super::receive::render_metrics(&mut text);
                crate::rules::evaluator::render_metrics(&mut text, &shard.shared().catalog.load());
                text.into_bytes()
            },
            content_type: Some("text/plain; version=0.0.4"),
            headers: Vec::new(),
        }),
        (Route::Apps, "GET") => list_apps(shard, req),
        (Route::Poller, "GET") => super::poller::poll(shard, req, app, ep).await,
        (Route::Precheck, "POST") => precheck(shard, req, app),
        (Route::ReplayMissing, "POST") => super::replay::replay_missing(shard, req, app, ep),
        (Route::BulkReplay, "POST") => super::replay::bulk_replay(shard, req, app, ep),
        (Route::MessageContent, "DELETE") => {
            super::expunge::expunge_message(shard, app, p.msg).await
        }
        (Route::BulkExpunge, "POST") => super::expunge::bulk_expunge(shard, req, app).await,
        (Route::ExpungeAll, "POST") => super::expunge::expunge_all(shard, app),
        (Route::AttemptContent, "DELETE") => {
            super::expunge::expunge_attempt(shard, app, p.msg, p.attempt).await
        }
        (Route::UsageApp, "POST") => super::usage::aggregate_app_stats(shard, req).await,
        (Route::UsageEventTypes, "PUT") => super::usage::aggregate_event_types(shard),
        (Route::ImportOpenapi, "POST") => super::openapi_import::import_openapi(shard, req),
        (Route::EnvironmentExport, "POST") => super::environment::export(shard),
        (Route::EnvironmentImport, "POST") => super::environment::import(shard, req),
        (Route::PollerConsumer, "GET") => {
            super::poller::consumer_poll(shard, req, app, ep, p.consumer).await
        }
        (Route::PollerConsumerSeek, "POST") => {
            super::poller::consumer_seek(shard, req, app, ep, p.consumer)
        }
        (Route::Rules, "GET") => super::rules::list_rules(shard, req),
        (Route::Rules, "POST") => super::rules::create_rule(shard, req),
        (Route::Rule, "GET") => super::rules::get_rule(shard, p.rule),
        (Route::Rule, "PUT") => super::rules::replace_rule(shard, req, p.rule),
        (Route::Rule, "DELETE") => super::rules::delete_rule(shard, p.rule),
        (Route::Apps, "POST") => create_app(shard, req),
        (Route::App, "GET") => get_app(shard, app),
        (Route::App, "PUT") => {
            refuse_source_app(shard, app).and_then(|()| upsert_app(shard, req, app))
        }
        (Route::App, "PATCH") => {
            refuse_source_app(shard, app).and_then(|()| patch_app(shard, req, app))
        }
        (Route::App, "DELETE") => {
            refuse_source_app(shard, app).and_then(|()| delete_app(shard, app))
        }
        (Route::Endpoints | Route::Endpoint, "POST" | "PUT" | "PATCH")
            if !auth::may_set_secret(who, &req.body) =>
        {
            Err(out_of_scope())
        }
        (
            Route::Endpoints
            | Route::Endpoint
            | Route::EndpointSecret
            | Route::EndpointSecretRotate
            | Route::EndpointHeaders,
            _,
        ) => endpoint(shard, req, route, app, ep).await,
        (Route::EventTypes, "GET") => list_event_types(shard, req),
        (Route::EventTypes, "POST") => create_event_type(shard, req),
        (Route::EventType, "GET") => get_event_type(shard, p.name),
        (Route::EventType, "PUT") => upsert_event_type(shard, req, p.name),
        (Route::EventType, "PATCH") => patch_event_type(shard, req, p.name),
        (Route::EventType, "DELETE") => delete_event_type(shard, req, p.name),
        (Route::Messages, "POST") => create_message(shard, req, app).await,
        (Route::Messages, "GET") => list_messages(shard, req, app).await,
        (Route::Message, "GET") => get_message(shard, req, app, p.msg).await,
        (Route::MessageAttempt, "GET") => {
            attempts::get_attempt(shard, req, app, p.msg, p.attempt).await
        }
        (Route::MessageEndpoints, "GET") => {
            attempts::list_msg_endpoints(shard, req, app, p.msg).await
        }
        (Route::Resend, "POST") => manual::resend(shard, app, p.msg, ep).await,
        (Route::AttemptsByEndpoint, "GET") => attempts::list_by_endpoint(shard, req, app, ep).await,
        (Route::AttemptsByMsg, "GET") => attempts::list_by_msg(shard, req, app, p.msg).await,
        (Route::EndpointMessages, "GET") => {
            attempts::list_endpoint_messages(shard, req, app, ep).await
        }
        (Route::EndpointRecover, "POST") => manual::recover(shard, req, app, ep).await,
        (Route::EndpointSendExample, "POST") => manual::send_example(shard, req, app, ep).await,
        (Route::EndpointStats, "GET") => attempts::endpoint_stats(shard, req, app, ep).await,
        (Route::AttemptStats, "GET") => attempts::attempt_stats(shard, req, app, ep).await,
        (Route::BackgroundTasks, "GET") => manual::list_tasks(shard, req),
        (Route::BackgroundTask, "GET") => manual::get_task(shard, p.task),
        (Route::PortalAccess, "POST") => auth::portal_access(shard, req, who, app),
        (Route::PortalSelf, "GET") => auth::portal_self(who),
        (Route::AuthLogout, "POST") => auth::logout(who),
        (Route::ExpireAll, "POST") => auth::expire_all(shard, who, app),
        (Route::Dashboard, "GET") => Ok(super::dashboard::dashboard(shard)),
        (Route::Sources, "GET") => list_sources(shard, req),
        (Route::Source, "GET") => get_source(shard, p.src),
        (Route::Sources | Route::Source | Route::SourceTokenRotate, _) => {
            source_change(shard, req, route, p.src)
        }
        (Route::SourceRequests, "GET") => super::receive::list_requests(shard, req, p.src).await,
        (
            Route::SourceEndpoints
            | Route::SourceEndpoint
            | Route::SourceEndpointSecret
            | Route::SourceEndpointSecretRotate
            | Route::SourceEndpointHeaders,
            _,
        ) => match source_app(shard, p.src) {
            Ok(app) => endpoint(shard, req, route, &app, p.ep).await,
            Err(e) => Err(e),
        },
        (
            Route::OpEndpoints
            | Route::OpEndpoint
            | Route::OpEndpointSecret
            | Route::OpEndpointSecretRotate
            | Route::OpEndpointHeaders,
            _,
        ) => match super::operational::ensure_app(shard, route_is_create(route, &req.method)) {
            Ok(app) => endpoint(shard, req, route, app, p.ep).await,
            Err(e) => Err(e),
        },
        _ => Err(error(
            405,
            "method_not_allowed",
            format!("{} not allowed here", req.method),
        )),
    };
    result.unwrap_or_else(|e| e)
}

fn route_is_create(route: Route, method: &str) -> bool {
    matches!(
        (route, method),
        (Route::OpEndpoints, "POST") | (Route::OpEndpoint, "PUT")
    )
}

/// A change to an incoming source (its operational events are made by
/// the catalog commit: `operational::change_notices`).
fn source_change(
    shard: &Shard,
    req: &Request,
    route: Route,
    src: &str,
) -> Result<Response, Response> {
    match (route, req.method.as_str()) {
        (Route::Sources, "POST") => create_source(shard, req),
        (Route::Source, "PUT") => upsert_source(shard, req, src),
        (Route::Source, "DELETE") => delete_source(shard, src),
        (Route::SourceTokenRotate, "POST") => rotate_token(shard, src),
        _ => Err(error(
            405,
            "method_not_allowed",
            format!("{} not allowed here", req.method),
        )),
    }
}

/// An endpoint route, of an application, of a source or of the operational
/// endpoints (whose endpoints are those of ringhook's own applications):
/// one table for all; changes to customers' endpoints are told to the
/// operational endpoints by the catalog commit (`endpoint.created`, ...).
async fn endpoint(
    shard: &Rc<Shard>,
    req: &Request,
    route: Route,
    app: &str,
    ep: &str,
) -> Result<Response, Response> {
    endpoint_handler(shard, req, route, app, ep).await
}

async fn endpoint_handler(
    shard: &Rc<Shard>,
    req: &Request,
    route: Route,
    app: &str,
    ep: &str,
) -> Result<Response, Response> {
    use Route::*;
    match (route, req.method.as_str()) {
        (Endpoints | SourceEndpoints | OpEndpoints, "GET") => list_endpoints(shard, req, app),
        (Endpoints | SourceEndpoints | OpEndpoints, "POST") => {
            create_endpoint(shard, req, app).await
        }
        (Endpoint | SourceEndpoint | OpEndpoint, "GET") => get_endpoint(shard, app, ep),
        (Endpoint | SourceEndpoint | OpEndpoint, "PUT") => {
            upsert_endpoint(shard, req, app, ep).await
        }
        (Endpoint | SourceEndpoint | OpEndpoint, "PATCH") => {
            patch_endpoint(shard, req, app, ep).await
        }
        (Endpoint | SourceEndpoint | OpEndpoint, "DELETE") => delete_endpoint(shard, app, ep),
        (EndpointSecret | SourceEndpointSecret | OpEndpointSecret, "GET") => {
            get_secret(shard, app, ep)
        }
        (EndpointSecretRotate | SourceEndpointSecretRotate | OpEndpointSecretRotate, "POST") => {
            rotate_secret(shard, req, app, ep)
        }
        (EndpointHeaders | SourceEndpointHeaders | OpEndpointHeaders, "GET") => {
            get_headers(shard, app, ep)
        }
        (EndpointHeaders | SourceEndpointHeaders | OpEndpointHeaders, "PUT") => {
            put_headers(shard, req, app, ep)
        }
        (EndpointHeaders | SourceEndpointHeaders | OpEndpointHeaders, "PATCH") => {
            patch_headers(shard, req, app, ep)
        }
        _ => Err(error(
            405,
            "method_not_allowed",
            format!("{} not allowed here", req.method),
        )),
    }
}
