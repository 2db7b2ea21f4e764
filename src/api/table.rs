//! The API's route table: every path it serves and the route each names,
//! which routes need no principal, and which a listener serves.

use super::Surface;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug)]
pub(super) enum Route {
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
    Root,
    Console,
    ConsoleAsset,
    Portal,
    ConsoleSession,
    PortalAccess,
    PortalSelf,
    AuthLogout,
    ExpireAll,
    Dashboard,
    Ready,
    OpEndpoints,
    OpEndpoint,
    OpEndpointSecret,
    OpEndpointSecretRotate,
    OpEndpointHeaders,
    Rules,
    Rule,
    Poller,
    Precheck,
    ImportOpenapi,
    OpenApi,
    MessageContent,
    BulkExpunge,
    ExpungeAll,
    AttemptContent,
    UsageApp,
    UsageEventTypes,
    ReplayMissing,
    AttemptStats,
    BulkReplay,
    EnvironmentExport,
    EnvironmentImport,
    PollerConsumer,
    PollerConsumerSeek,
}

/// Every path the API serves, with its route.
const ROUTES: &[(&str, Route)] = &[
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
    ("/", Route::Root),
    ("/console", Route::Console),
    ("/console/{file}", Route::ConsoleAsset),
    ("/portal", Route::Portal),
    ("/console/api/session", Route::ConsoleSession),
    ("/api/v1/auth/app-portal-access/{app}", Route::PortalAccess),
    ("/api/v1/auth/portal", Route::PortalSelf),
    ("/api/v1/auth/logout", Route::AuthLogout),
    ("/api/v1/auth/app/{app}/expire-all", Route::ExpireAll),
    ("/api/v1/stats/dashboard", Route::Dashboard),
    ("/api/v1/ready", Route::Ready),
    ("/api/v1/operational-webhook/endpoint", Route::OpEndpoints),
    (
        "/api/v1/operational-webhook/endpoint/{ep}",
        Route::OpEndpoint,
    ),
    (
        "/api/v1/operational-webhook/endpoint/{ep}/secret",
        Route::OpEndpointSecret,
    ),
    (
        "/api/v1/operational-webhook/endpoint/{ep}/secret/rotate",
        Route::OpEndpointSecretRotate,
    ),
    (
        "/api/v1/operational-webhook/endpoint/{ep}/headers",
        Route::OpEndpointHeaders,
    ),
    ("/api/v1/app/{app}/poller/{ep}", Route::Poller),
    ("/api/v1/app/{app}/msg/precheck/active", Route::Precheck),
    (
        "/api/v1/app/{app}/poller/{ep}/consumer/{consumer}",
        Route::PollerConsumer,
    ),
    (
        "/api/v1/app/{app}/poller/{ep}/consumer/{consumer}/seek",
        Route::PollerConsumerSeek,
    ),
    (
        "/api/v1/app/{app}/endpoint/{ep}/attempt-stats",
        Route::AttemptStats,
    ),
    (
        "/api/v1/app/{app}/endpoint/{ep}/replay-missing",
        Route::ReplayMissing,
    ),
    (
        "/api/v1/app/{app}/endpoint/{ep}/bulk-replay",
        Route::BulkReplay,
    ),
    ("/api/v1/event-type/import/openapi", Route::ImportOpenapi),
    ("/api/v1/openapi.json", Route::OpenApi),
    ("/api/v1/app/{app}/msg/{msg}/content", Route::MessageContent),
    ("/api/v1/app/{app}/msg/bulk-expunge", Route::BulkExpunge),
    (
        "/api/v1/app/{app}/msg/expunge-all-contents",
        Route::ExpungeAll,
    ),
    (
        "/api/v1/app/{app}/msg/{msg}/attempt/{attempt}/content",
        Route::AttemptContent,
    ),
    ("/api/v1/stats/usage/app", Route::UsageApp),
    ("/api/v1/stats/usage/event-types", Route::UsageEventTypes),
    ("/api/v1/environment/export", Route::EnvironmentExport),
    ("/api/v1/environment/import", Route::EnvironmentImport),
    ("/api/v1/rule", Route::Rules),
    ("/api/v1/rule/{rule}", Route::Rule),
];

/// A request path as the route table reads it: without trailing slashes
/// (`/` for the root).
pub(super) fn route_path(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

pub(super) fn router() -> &'static matchit::Router<Route> {
    static ROUTER: OnceLock<matchit::Router<Route>> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let mut r = matchit::Router::new();
        for (path, route) in ROUTES {
            // The table above is static and conflict-free; a failure here
            // would be a programming error caught by every API test.
            let _ = r.insert(*path, *route);
        }
        r
    })
}

/// Every path the API serves (for the OpenAPI document's check).
pub fn route_paths() -> impl Iterator<Item = &'static str> {
    ROUTES.iter().map(|(p, _)| *p)
}

/// Whether a GET of this path changes state (a poller consumer's poll
/// commits its position), so a console session's must carry its CSRF token
/// like any write.
pub(super) fn get_changes_state(path: &str) -> bool {
    router()
        .at(route_path(path))
        .is_ok_and(|m| matches!(*m.value, Route::PollerConsumer))
}

/// The route a path names, by name (`None`: no route); for tests and fuzzing.
pub fn route_name(path: &str) -> Option<String> {
    router().at(path).ok().map(|m| format!("{:?}", m.value))
}

/// Routes that need no principal: health, the console's and portal's
/// pages (they sign in themselves), and console sign-in (its handler
/// checks the token or cookie it is given).
pub(super) fn is_public(route: Route) -> bool {
    matches!(
        route,
        Route::Health
            | Route::Ready
            | Route::OpenApi
            | Route::Root
            | Route::Console
            | Route::ConsoleAsset
            | Route::Portal
            | Route::ConsoleSession
    )
}

/// Whether a listener of `surface` serves `route`.
pub(super) fn serves(surface: Surface, route: Option<Route>) -> bool {
    match surface {
        Surface::Full => true,
        Surface::ReceiveOnly => {
            matches!(route, Some(Route::Receive | Route::Health | Route::Ready))
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
