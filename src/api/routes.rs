//! Routes of the HTTP API: the path table, authentication and dispatch.
//!
//! Handlers live in `apps`, `endpoints`, `messages`, `attempts` and `manual`. Every handler returns a [`Response`]; failures are JSON `{code, detail}`
//! with stable codes: `authentication_failed` (401), `not_found` (404),
//! `method_not_allowed` (405), `conflict` (409), `bad_request` / `invalid_json`
//! (400), `validation_error` (422, with `detail` a list of `{loc, msg, type}`),
//! `payload_too_large` (413), `unavailable` (503), `internal` (500).

use super::apps::*;
use super::endpoints::*;
use super::http::{error, Request, Response};
use super::messages::*;
use super::params::not_found;
use super::{attempts, manual};
use crate::shard::state::Shard;
use std::rc::Rc;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug)]
enum Route {
    Health,
    Apps,
    App,
    Endpoints,
    Endpoint,
    EndpointSecret,
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
}

fn router() -> &'static matchit::Router<Route> {
    static ROUTER: OnceLock<matchit::Router<Route>> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let mut r = matchit::Router::new();
        let routes = [
            ("/api/v1/health", Route::Health),
            ("/api/v1/app", Route::Apps),
            ("/api/v1/app/{app}", Route::App),
            ("/api/v1/app/{app}/endpoint", Route::Endpoints),
            ("/api/v1/app/{app}/endpoint/{ep}", Route::Endpoint),
            (
                "/api/v1/app/{app}/endpoint/{ep}/secret",
                Route::EndpointSecret,
            ),
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
        ];
        for (path, route) in routes {
            // The table above is static and conflict-free; a failure here
            // would be a programming error caught by every API test.
            let _ = r.insert(path, route);
        }
        r
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(shard: &Shard, req: &Request) -> bool {
    let Some(token) = req.authorization.as_deref().and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    }) else {
        return false;
    };
    shard
        .shared
        .tokens
        .iter()
        .any(|t| constant_time_eq(t.as_bytes(), token.trim().as_bytes()))
}

/// Dispatches one request.
pub async fn handle(shard: &Rc<Shard>, req: Request) -> Response {
    let path = match req.path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    let Ok(m) = router().at(path) else {
        return not_found("route");
    };
    let route = *m.value;
    let app = m.params.get("app").unwrap_or("").to_string();
    let ep = m.params.get("ep").unwrap_or("").to_string();
    let msg = m.params.get("msg").unwrap_or("").to_string();
    let attempt = m.params.get("attempt").unwrap_or("").to_string();
    let task = m.params.get("task").unwrap_or("").to_string();
    if let Route::Health = route {
        return Response {
            status: 204,
            body: Vec::new(),
        };
    }
    if !authorized(shard, &req) {
        return error(
            401,
            "authentication_failed",
            "missing or invalid bearer token",
        );
    }
    let result = match (route, req.method.as_str()) {
        (Route::Apps, "GET") => list_apps(shard, &req),
        (Route::Apps, "POST") => create_app(shard, &req),
        (Route::App, "GET") => get_app(shard, &app),
        (Route::Endpoints, "GET") => list_endpoints(shard, &req, &app),
        (Route::Endpoints, "POST") => create_endpoint(shard, &req, &app).await,
        (Route::Endpoint, "GET") => get_endpoint(shard, &app, &ep),
        (Route::EndpointSecret, "GET") => get_secret(shard, &app, &ep),
        (Route::Messages, "POST") => create_message(shard, &req, &app).await,
        (Route::Messages, "GET") => list_messages(shard, &req, &app).await,
        (Route::Message, "GET") => get_message(shard, &req, &app, &msg).await,
        (Route::MessageAttempt, "GET") => {
            attempts::get_attempt(shard, &req, &app, &msg, &attempt).await
        }
        (Route::MessageEndpoints, "GET") => {
            attempts::list_msg_endpoints(shard, &req, &app, &msg).await
        }
        (Route::Resend, "POST") => manual::resend(shard, &app, &msg, &ep).await,
        (Route::AttemptsByEndpoint, "GET") => {
            attempts::list_by_endpoint(shard, &req, &app, &ep).await
        }
        (Route::AttemptsByMsg, "GET") => attempts::list_by_msg(shard, &req, &app, &msg).await,
        (Route::EndpointMessages, "GET") => {
            attempts::list_endpoint_messages(shard, &req, &app, &ep).await
        }
        (Route::EndpointRecover, "POST") => manual::recover(shard, &req, &app, &ep).await,
        (Route::EndpointSendExample, "POST") => manual::send_example(shard, &req, &app, &ep).await,
        (Route::EndpointStats, "GET") => attempts::endpoint_stats(shard, &app, &ep).await,
        (Route::BackgroundTasks, "GET") => manual::list_tasks(shard, &req),
        (Route::BackgroundTask, "GET") => manual::get_task(shard, &task),
        _ => Err(error(
            405,
            "method_not_allowed",
            format!("{} not allowed here", req.method),
        )),
    };
    result.unwrap_or_else(|e| e)
}
