//! Routes of the HTTP API: the path table, authentication and dispatch.
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
use super::endpoints::*;
use super::event_types::*;
use super::headers::*;
use super::http::{error, Request, Response};
use super::idempotency;
use super::messages::*;
use super::params::not_found;
use super::sources::*;
use super::{attempts, manual, Surface};
use crate::shard::state::Shard;
use std::rc::Rc;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug)]
enum Route {
    Health,
    Metrics,
    Apps,
    App,
    Endpoints,
    Endpoint,
    EndpointSecret,
    EndpointSecretRotate,
    EndpointHeaders,
    EventTypes,
    EventType,
    Messages,
    Message,
    MessageAttempt,
    MessageEndpoints,
    Resend,
    AttemptsByEndpoint,
    AttemptsByMsg,
    EndpointMessages,
    EndpointRecover,
    EndpointSendExample,
    EndpointStats,
    BackgroundTasks,
    BackgroundTask,
    Sources,
    Source,
    SourceTokenRotate,
    SourceRequests,
    SourceEndpoints,
    SourceEndpoint,
    SourceEndpointSecret,
    SourceEndpointSecretRotate,
    SourceEndpointHeaders,
    Receive,
}

fn router() -> &'static matchit::Router<Route> {
    static ROUTER: OnceLock<matchit::Router<Route>> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let mut r = matchit::Router::new();
        let routes = [
            ("/api/v1/health", Route::Health),
            ("/metrics", Route::Metrics),
            ("/api/v1/app", Route::Apps),
            ("/api/v1/app/{app}", Route::App),
            ("/api/v1/app/{app}/endpoint", Route::Endpoints),
            ("/api/v1/app/{app}/endpoint/{ep}", Route::Endpoint),
            (
                "/api/v1/app/{app}/endpoint/{ep}/secret",
                Route::EndpointSecret,
            ),
            (
                "/api/v1/app/{app}/endpoint/{ep}/secret/rotate",
                Route::EndpointSecretRotate,
            ),
            (
                "/api/v1/app/{app}/endpoint/{ep}/headers",
                Route::EndpointHeaders,
            ),
            ("/api/v1/event-type", Route::EventTypes),
            ("/api/v1/event-type/{name}", Route::EventType),
            ("/api/v1/app/{app}/msg", Route::Messages),
            ("/api/v1/app/{app}/msg/{msg}", Route::Message),
            (
                "/api/v1/app/{app}/msg/{msg}/attempt/{attempt}",
                Route::MessageAttempt,
            ),
            (
                "/api/v1/app/{app}/msg/{msg}/endpoint",
                Route::MessageEndpoints,
            ),
            (
                "/api/v1/app/{app}/msg/{msg}/endpoint/{ep}/resend",
                Route::Resend,
            ),
            (
                "/api/v1/app/{app}/attempt/endpoint/{ep}",
                Route::AttemptsByEndpoint,
            ),
            ("/api/v1/app/{app}/attempt/msg/{msg}", Route::AttemptsByMsg),
            (
                "/api/v1/app/{app}/endpoint/{ep}/msg",
                Route::EndpointMessages,
            ),
            (
                "/api/v1/app/{app}/endpoint/{ep}/recover",
                Route::EndpointRecover,
            ),
            (
                "/api/v1/app/{app}/endpoint/{ep}/send-example",
                Route::EndpointSendExample,
            ),
            (
                "/api/v1/app/{app}/endpoint/{ep}/stats",
                Route::EndpointStats,
            ),
            ("/api/v1/background-task", Route::BackgroundTasks),
            ("/api/v1/background-task/{task}", Route::BackgroundTask),
            ("/ingest/api/v1/source", Route::Sources),
            ("/ingest/api/v1/source/{src}", Route::Source),
            (
                "/ingest/api/v1/source/{src}/token/rotate",
                Route::SourceTokenRotate,
            ),
            ("/ingest/api/v1/source/{src}/request", Route::SourceRequests),
            (
                "/ingest/api/v1/source/{src}/endpoint",
                Route::SourceEndpoints,
            ),
            (
                "/ingest/api/v1/source/{src}/endpoint/{ep}",
                Route::SourceEndpoint,
            ),
            (
                "/ingest/api/v1/source/{src}/endpoint/{ep}/secret",
                Route::SourceEndpointSecret,
            ),
            (
                "/ingest/api/v1/source/{src}/endpoint/{ep}/secret/rotate",
                Route::SourceEndpointSecretRotate,
            ),
            (
                "/ingest/api/v1/source/{src}/endpoint/{ep}/headers",
                Route::SourceEndpointHeaders,
            ),
            ("/ingest/{token}", Route::Receive),
        ];
        for (path, route) in routes {
            // The table above is static and conflict-free; a failure here
            // would be a programming error caught by every API test.
            let _ = r.insert(path, route);
        }
        r
    })
}

/// Compares two secrets in time that depends on neither their contents nor
/// their lengths: both are hashed to 32 bytes first, and every byte is
/// compared.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::Digest;
    let (a, b) = (sha2::Sha256::digest(a), sha2::Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The request's bearer token when it is one of the configured tokens.
fn authorized<'r>(shard: &Shard, req: &'r Request) -> Option<&'r str> {
    let token = req.authorization.as_deref().and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    })?;
    let token = token.trim();
    shard
        .shared()
        .tokens
        .iter()
        // Every configured token is compared, whichever matches.
        .fold(false, |found, t| {
            constant_time_eq(t.as_bytes(), token.as_bytes()) | found
        })
        .then_some(token)
}

/// The route a path names, by name (`None`: no route); for tests and fuzzing.
pub fn route_name(path: &str) -> Option<String> {
    router().at(path).ok().map(|m| format!("{:?}", m.value))
}

/// The 401 for a request that needs a token and has no valid one, decided
/// from its head alone (the connection reads no body byte of it).
pub fn refuse_unauthorized(shard: &Shard, req: &Request, surface: Surface) -> Option<Response> {
    let path = match req.path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    let route = router().at(path).ok().map(|m| *m.value);
    if !serves(surface, route) {
        return Some(not_found("route"));
    }
    if let Some(Route::Receive) = route {
        // The URL's token is the credential; no bearer token.
        return super::receive::refuse_early(shard, req);
    }
    let public = matches!(route, Some(Route::Health));
    if public || authorized(shard, req).is_some() {
        return None;
    }
    Some(error(
        401,
        "authentication_failed",
        "missing or invalid bearer token",
    ))
}

/// Whether a listener of `surface` serves `route`.
fn serves(surface: Surface, route: Option<Route>) -> bool {
    match surface {
        Surface::Full => true,
        Surface::ReceiveOnly => matches!(route, Some(Route::Receive | Route::Health)),
    }
}

/// Dispatches one request.
pub async fn handle(shard: &Rc<Shard>, req: Request, surface: Surface) -> Response {
    let path = match req.path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
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
    let Some(token) = authorized(shard, &req) else {
        return error(
            401,
            "authentication_failed",
            "missing or invalid bearer token",
        );
    };
    let guard = match (req.method.as_str(), req.idempotency_key.as_deref()) {
        ("POST", Some(key)) => match idempotency::begin(token, path, key) {
            idempotency::Begin::Run(g) => Some(g),
            idempotency::Begin::Answer(resp) => return resp,
        },
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
    };
    let resp = dispatch(shard, &req, route, &params).await;
    if let Some(g) = guard {
        if let Some(rec) = g.finish(&resp) {
            // Not waited on, like attempt records: see `idempotency`.
            let kind = crate::records::Kind::IdempotentAnswer;
            if let Err(e) = shard.append_record(kind, &rec) {
                eprintln!("ringhook: cannot journal an idempotency-key answer: {e}");
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
}

/// Runs the handler of a route and method.
async fn dispatch(shard: &Rc<Shard>, req: &Request, route: Route, p: &Params<'_>) -> Response {
    let (app, ep) = (p.app, p.ep);
    let result = match (route, req.method.as_str()) {
        (Route::Metrics, "GET") => Ok(Response {
            status: 200,
            body: {
                let mut text = crate::metrics::render(&shard.shared().metrics);
                super::receive::render_metrics(&mut text);
                text.into_bytes()
            },
            content_type: Some("text/plain; version=0.0.4"),
            headers: Vec::new(),
        }),
        (Route::Apps, "GET") => list_apps(shard, req),
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
        (Route::EndpointStats, "GET") => attempts::endpoint_stats(shard, app, ep).await,
        (Route::BackgroundTasks, "GET") => manual::list_tasks(shard, req),
        (Route::BackgroundTask, "GET") => manual::get_task(shard, p.task),
        (Route::Sources, "GET") => list_sources(shard, req),
        (Route::Sources, "POST") => create_source(shard, req),
        (Route::Source, "GET") => get_source(shard, p.src),
        (Route::Source, "PUT") => upsert_source(shard, req, p.src),
        (Route::Source, "DELETE") => delete_source(shard, p.src),
        (Route::SourceTokenRotate, "POST") => rotate_token(shard, p.src),
        (Route::SourceRequests, "GET") => super::receive::list_requests(shard, req, p.src),
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
        _ => Err(error(
            405,
            "method_not_allowed",
            format!("{} not allowed here", req.method),
        )),
    };
    result.unwrap_or_else(|e| e)
}

/// An endpoint route, of an application or of a source (whose endpoints
/// are those of the source's application): one table for both.
async fn endpoint(
    shard: &Rc<Shard>,
    req: &Request,
    route: Route,
    app: &str,
    ep: &str,
) -> Result<Response, Response> {
    use Route::*;
    match (route, req.method.as_str()) {
        (Endpoints | SourceEndpoints, "GET") => list_endpoints(shard, req, app),
        (Endpoints | SourceEndpoints, "POST") => create_endpoint(shard, req, app).await,
        (Endpoint | SourceEndpoint, "GET") => get_endpoint(shard, app, ep),
        (Endpoint | SourceEndpoint, "PUT") => upsert_endpoint(shard, req, app, ep).await,
        (Endpoint | SourceEndpoint, "PATCH") => patch_endpoint(shard, req, app, ep).await,
        (Endpoint | SourceEndpoint, "DELETE") => delete_endpoint(shard, app, ep),
        (EndpointSecret | SourceEndpointSecret, "GET") => get_secret(shard, app, ep),
        (EndpointSecretRotate | SourceEndpointSecretRotate, "POST") => {
            rotate_secret(shard, req, app, ep)
        }
        (EndpointHeaders | SourceEndpointHeaders, "GET") => get_headers(shard, app, ep),
        (EndpointHeaders | SourceEndpointHeaders, "PUT") => put_headers(shard, req, app, ep),
        (EndpointHeaders | SourceEndpointHeaders, "PATCH") => patch_headers(shard, req, app, ep),
        _ => Err(error(
            405,
            "method_not_allowed",
            format!("{} not allowed here", req.method),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn token_comparison_table() {
        // (a, b) -> equal
        let rows: &[(&[u8], &[u8], bool)] = &[
            (b"rh_abc", b"rh_abc", true),
            (b"rh_abc", b"rh_abd", false),
            (b"rh_abc", b"rh_ab", false),
            (b"rh_abc", b"rh_abcd", false),
            (b"", b"", true),
            (b"", b"x", false),
        ];
        for (i, (a, b, eq)) in rows.iter().enumerate() {
            assert_eq!(constant_time_eq(a, b), *eq, "row {i}");
        }
    }
}

#[cfg(test)]
mod receive_route_tests {
    #[test]
    fn receive_urls_and_the_ingest_api_do_not_overlap() {
        for (path, want) in [
            ("/ingest/itk_abc", Some("Receive")),
            ("/ingest/api/v1/source", Some("Sources")),
            ("/ingest/api/v1/source/src_1", Some("Source")),
            (
                "/ingest/api/v1/source/src_1/endpoint/ep_1/headers",
                Some("SourceEndpointHeaders"),
            ),
        ] {
            assert_eq!(super::route_name(path).as_deref(), want, "{path}");
        }
    }
}
