//! The API on every shard: what a shard other than 0 serves itself, and the
//! bounded channel that hands everything else to shard 0.
//!
//! Every shard accepts API connections on the same port (`SO_REUSEPORT`; the
//! kernel spreads connections over the shards' listeners). A shard other
//! than 0 serves health, readiness and the hot path itself: creating a
//! message in an existing application with an API token and no
//! idempotency key (`shard::route::submit` takes it to its application's
//! home shard, as from shard 0). Every other request, and every head check
//! that needs more than an API token, is handed to shard 0, which owns what
//! they touch: catalog writes, console and portal sessions, idempotency
//! keys, incoming sources' rate state and the background-task table. Shard
//! 0 answers with the same `routes` code as its own connections, so a
//! request is answered the same on every shard.

use super::http::{Request, Response};
use super::table::{route_path, router, Route};
use super::{routes, Surface};
use crate::limits::API_FORWARDED_MAX;
use crate::shard::state::Shard;
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use std::rc::Rc;

/// What shard 0 is asked to do for another shard's connection.
enum Job {
    /// The head checks of `routes::refuse_unauthorized` (before any body
    /// byte is read).
    Check(Request, Surface),
    /// Answer a whole request.
    Handle(Request, Surface),
}

/// A job and where its answer goes (`None`: the head checks passed).
pub struct Forwarded {
    job: Job,
    reply: oneshot::Sender<Option<Response>>,
}

/// The sending side, one clone per shard other than 0.
#[derive(Clone)]
pub struct Forward(mpsc::Sender<Forwarded>);

/// Shard 0's receiving side.
pub type Inbox = mpsc::Receiver<Forwarded>;

/// The channel, with a buffer of `API_FORWARDED_MAX`; the jobs in it are
/// bounded by the connections that sent them (one each, see the limit).
pub fn channel() -> (Forward, Inbox) {
    let (tx, rx) = mpsc::channel(API_FORWARDED_MAX);
    (Forward(tx), rx)
}

/// Shard 0: answers forwarded jobs until every sender is gone. Each job
/// runs in its own task; their number is bounded by the other shards' open
/// connections (one request in flight each).
pub async fn answer(shard: Rc<Shard>, mut inbox: Inbox) {
    while let Some(Forwarded { job, reply }) = inbox.next().await {
        let shard = shard.clone();
        glommio::spawn_local(async move {
            let mut reply = reply;
            let work = async {
                Some(match job {
                    Job::Check(req, surface) => routes::refuse_unauthorized(&shard, &req, surface),
                    Job::Handle(req, surface) => Some(routes::handle(&shard, req, surface).await),
                })
            };
            // A job whose asker gave up (its request deadline passed, its
            // connection closed) stops here too, as on shard 0's own
            // connections.
            let gone = async {
                reply.cancellation().await;
                None
            };
            if let Some(answer) = futures_lite::future::or(work, gone).await {
                let _ = reply.send(answer);
            }
        })
        .detach();
    }
}

impl Forward {
    async fn ask(&self, job: Job) -> Option<Option<Response>> {
        let (tx, rx) = oneshot::channel();
        let mut sender = self.0.clone();
        futures_lite::future::poll_fn(|cx| sender.poll_ready(cx))
            .await
            .ok()?;
        sender.start_send(Forwarded { job, reply: tx }).ok()?;
        rx.await.ok()
    }

    /// `routes::refuse_unauthorized` for a request that arrived here: run
    /// here when an API token (or nothing, for a public page) decides it,
    /// else on shard 0.
    pub async fn refuse_unauthorized(
        &self,
        shard: &Shard,
        head: &Request,
        surface: Surface,
    ) -> Option<Response> {
        if checked_here(shard, head) {
            return routes::refuse_unauthorized(shard, head, surface);
        }
        self.ask(Job::Check(head.clone(), surface))
            .await
            .unwrap_or_else(|| Some(unavailable()))
    }

    /// Answers a request that arrived here: here when this shard serves it
    /// (see the module), else on shard 0.
    pub async fn handle(&self, shard: &Rc<Shard>, req: Request, surface: Surface) -> Response {
        if served_here(shard, &req) {
            return routes::handle(shard, req, surface).await;
        }
        self.ask(Job::Handle(req, surface))
            .await
            .flatten()
            .unwrap_or_else(unavailable)
    }
}

/// The route of a request's path and its application, if any.
fn route_of(req: &Request) -> Option<(Route, Option<&str>)> {
    let m = router().at(route_path(&req.path)).ok()?;
    Some((*m.value, m.params.get("app")))
}

/// Whether this shard can run a request's head checks itself: an unknown
/// path, a public route other than the console's sign-out, an API token, or
/// no credential at all (its 401 needs no session); sessions, portal tokens
/// and receive URLs are shard 0's.
fn checked_here(shard: &Shard, head: &Request) -> bool {
    match route_of(head) {
        None => true,
        Some((Route::Receive | Route::ConsoleSession, _)) => false,
        Some((route, _)) if super::table::is_public(route) => true,
        Some(_) if head.authorization.is_none() && head.session.is_none() => true,
        Some(_) => super::auth::bearer_is_api_token(shard, head),
    }
}

/// Whether this shard answers a request itself: health, readiness, and a
/// message created with an API token in an application that exists,
/// without an idempotency key.
fn served_here(shard: &Shard, req: &Request) -> bool {
    match route_of(req) {
        Some((Route::Health | Route::Ready, _)) => true,
        Some((Route::Messages, Some(app))) => {
            req.method == "POST"
                && req.idempotency_key.is_none()
                && super::auth::bearer_is_api_token(shard, req)
                && shard.shared().catalog.load().app(app).is_some()
        }
        _ => false,
    }
}

/// The answer when shard 0 cannot be asked (the engine is stopping).
fn unavailable() -> Response {
    super::http::error(
        503,
        "unavailable",
        "the engine is shutting down or overloaded; retry",
    )
}
