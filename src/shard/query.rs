//! Typed requests to the shard that holds the data: the API's reads of the
//! read-path indexes, and the manual deliveries it starts.
//!
//! The read path's indexes live on the shards that own the data (a message
//! on its application's home shard, a delivery and its attempts on the
//! endpoint's owner). The API on shard 0 reaches them with a
//! [`ShardMsg::Request`] carrying a [`Request`]; the receiving shard answers
//! over a oneshot with the matching [`Answer`]. Reads are answered inline in
//! the mesh receiver (they never wait); requests that wait (a resend's
//! journal sync, an accepted message's group commit) run as a task there.
//! Nothing but these requests can touch another shard's state. Each request
//! has a function here that builds it and unwraps its answer, so callers
//! see typed results only.

use super::state::Shard;
use super::{manual, route, ShardMsg};
use crate::accept::{IngestResult, NewMessage};
use crate::message::MsgMeta;
use crate::reads::index::{
    AttemptEntry, DeliveryEntry, Filter, Page, PageReq, Window, WindowQuery,
};
use futures_channel::oneshot;
use std::rc::Rc;
use std::sync::Arc;

/// What one shard asks another.
#[derive(Debug)]
pub enum Request {
    /// A message of an application by id, or by `eventId` within the
    /// window (home shard).
    FindMessage { app_id: String, id: String },
    /// A page of an application's messages (home shard).
    ListMessages {
        app_id: String,
        filter: Filter,
        page: PageReq,
    },
    /// A page of an endpoint's deliveries (owner shard).
    ListEndpointMessages {
        endpoint_id: String,
        filter: Filter,
        page: PageReq,
    },
    /// A page of an endpoint's attempts (owner shard).
    ListEndpointAttempts {
        endpoint_id: String,
        filter: Filter,
        page: PageReq,
    },
    /// Every attempt of a message this shard made.
    AttemptsOf { msg_id: String },
    /// Every delivery of a message this shard owns.
    DeliveriesOf { msg_id: String },
    /// An endpoint's deliveries by status, of messages created in
    /// `since_ms..until_ms`, and its attempts in that range by what they
    /// show (owner shard).
    EndpointStats {
        endpoint_id: String,
        since_ms: u64,
        until_ms: u64,
    },
    /// What a notification rule counts over a window (every shard).
    Window(WindowQuery),
    /// An application's messages after a position that an endpoint takes,
    /// oldest first (home shard).
    Poll {
        app_id: String,
        after: Option<String>,
        endpoint: Option<Arc<crate::records::EndpointRecord>>,
        filter: Filter,
        limit: usize,
    },
    /// Deliver a message to an endpoint again (owner shard).
    Resend {
        meta: Arc<MsgMeta>,
        endpoint_id: String,
    },
    /// Resend every failed delivery of an endpoint in a time range (owner).
    Recover {
        endpoint_id: String,
        since_ms: u64,
        until_ms: u64,
    },
    /// Replay messages to an endpoint (owner shard; `manual::replay`).
    Replay {
        endpoint_id: String,
        candidates: Vec<Arc<MsgMeta>>,
        only_missing: bool,
        status: Option<u8>,
    },
    /// Accept a message for one endpoint only (`send-example`, home shard).
    SendExample {
        message: NewMessage,
        endpoint_id: String,
    },
}

/// An endpoint's deliveries by status, its attempts per day by what they
/// show, and its FIFO line (`None` unless FIFO with deliveries pending).
#[derive(Debug)]
pub struct EndpointCounts {
    pub deliveries: [u64; 5],
    pub attempt_days: Vec<(u64, [u64; 3])>,
    pub fifo: Option<crate::delivery::fifo::LineState>,
}

/// The answer to a [`Request`], variant for variant.
#[derive(Debug)]
pub enum Answer {
    FoundMessage(Option<Arc<MsgMeta>>),
    Messages(Page<Arc<MsgMeta>>),
    EndpointMessages(Page<DeliveryEntry>),
    EndpointAttempts(Page<AttemptEntry>),
    AttemptsOf(Vec<AttemptEntry>),
    DeliveriesOf(Vec<DeliveryEntry>),
    EndpointStats(Box<EndpointCounts>),
    Window(Window),
    Polled(Vec<Arc<MsgMeta>>, bool),
    Resent(Result<(), manual::ManualError>),
    Recovered(Result<u64, manual::ManualError>),
    Replayed(Result<u64, manual::ManualError>),
    SentExample(Option<IngestResult>),
}

/// A request whose answer waits for journal syncs: run as a task.
enum Waiting {
    Resend {
        meta: Arc<MsgMeta>,
        endpoint_id: String,
    },
    Recover {
        endpoint_id: String,
        since_ms: u64,
        until_ms: u64,
    },
    Replay {
        endpoint_id: String,
        candidates: Vec<Arc<MsgMeta>>,
        only_missing: bool,
        status: Option<u8>,
    },
    SendExample {
        message: Box<NewMessage>,
        endpoint_id: String,
    },
}

/// Answers a read from this shard's index at once; hands a request that
/// waits back.
fn answer_now(shard: &Shard, request: Request) -> Result<Answer, Waiting> {
    let index = shard.index().borrow();
    Ok(match request {
        Request::FindMessage { app_id, id } => {
            Answer::FoundMessage(index.message(&app_id, &id).or_else(|| {
                let first = shard.accepted_as(&app_id, &id)?;
                index.message(&app_id, &first)
            }))
        }
        Request::ListMessages {
            app_id,
            filter,
            page,
        } => Answer::Messages(index.list_messages(&app_id, &filter, &page)),
        Request::ListEndpointMessages {
            endpoint_id,
            filter,
            page,
        } => Answer::EndpointMessages(index.list_endpoint_messages(&endpoint_id, &filter, &page)),
        Request::ListEndpointAttempts {
            endpoint_id,
            filter,
            page,
        } => Answer::EndpointAttempts(index.list_endpoint_attempts(&endpoint_id, &filter, &page)),
        Request::AttemptsOf { msg_id } => Answer::AttemptsOf(index.attempts_of(&msg_id)),
        Request::DeliveriesOf { msg_id } => Answer::DeliveriesOf(index.deliveries_of(&msg_id)),
        Request::EndpointStats {
            endpoint_id,
            since_ms,
            until_ms,
        } => Answer::EndpointStats(Box::new(EndpointCounts {
            deliveries: index.stats(&endpoint_id, since_ms, until_ms),
            attempt_days: index.attempt_stats(&endpoint_id, since_ms, until_ms),
            fifo: shard.delivery.fifo_state(&endpoint_id),
        })),
        Request::Window(q) => Answer::Window(index.window(&q)),
        Request::Poll {
            app_id,
            after,
            endpoint,
            filter,
            limit,
        } => {
            let (items, more) = index.poll(
                &app_id,
                after.as_deref(),
                endpoint.as_deref(),
                &filter,
                limit,
            );
            Answer::Polled(items, more)
        }
        Request::Resend { meta, endpoint_id } => return Err(Waiting::Resend { meta, endpoint_id }),
        Request::Recover {
            endpoint_id,
            since_ms,
            until_ms,
        } => {
            return Err(Waiting::Recover {
                endpoint_id,
                since_ms,
                until_ms,
            })
        }
        Request::Replay {
            endpoint_id,
            candidates,
            only_missing,
            status,
        } => {
            return Err(Waiting::Replay {
                endpoint_id,
                candidates,
                only_missing,
                status,
            })
        }
        Request::SendExample {
            message,
            endpoint_id,
        } => {
            return Err(Waiting::SendExample {
                message: Box::new(message),
                endpoint_id,
            })
        }
    })
}

/// Answers a request that waits.
async fn answer_waiting(shard: Rc<Shard>, request: Waiting) -> Answer {
    match request {
        Waiting::Resend { meta, endpoint_id } => {
            Answer::Resent(manual::resend(&shard, meta, endpoint_id).await)
        }
        Waiting::Recover {
            endpoint_id,
            since_ms,
            until_ms,
        } => Answer::Recovered(manual::recover(&shard, endpoint_id, since_ms, until_ms).await),
        Waiting::Replay {
            endpoint_id,
            candidates,
            only_missing,
            status,
        } => Answer::Replayed(
            manual::replay(&shard, endpoint_id, candidates, only_missing, status).await,
        ),
        Waiting::SendExample {
            message,
            endpoint_id,
        } => Answer::SentExample(
            route::accept_local_to(&shard, vec![*message], Some(&endpoint_id))
                .await
                .pop(),
        ),
    }
}

/// Handles a request that arrived over the mesh; never awaits in the
/// receiver (a waiting request gets a task of its own).
pub(super) fn receive(shard: &Rc<Shard>, request: Request, reply: oneshot::Sender<Answer>) {
    match answer_now(shard, request) {
        Ok(answer) => {
            let _ = reply.send(answer);
        }
        Err(waiting) => {
            let s = shard.clone();
            glommio::spawn_local(async move {
                let _ = reply.send(answer_waiting(s, waiting).await);
            })
            .detach();
        }
    }
}

/// Asks shard `target` (directly when it is this one); `None` if it cannot
/// be reached (only at shutdown).
async fn ask(shard: &Rc<Shard>, target: usize, request: Request) -> Option<Answer> {
    if target == shard.id {
        return Some(match answer_now(shard, request) {
            Ok(answer) => answer,
            Err(waiting) => answer_waiting(shard.clone(), waiting).await,
        });
    }
    let senders = shard.senders.as_ref()?;
    let (reply, rx) = oneshot::channel();
    let msg = ShardMsg::Request { request, reply };
    senders.send_to(target, msg).await.ok()?;
    rx.await.ok()
}

/// Asks the home shard of `app_id`.
async fn ask_home(shard: &Rc<Shard>, app_id: &str, request: Request) -> Option<Answer> {
    let home = shard.shared.placement.home_of_app(app_id);
    ask(shard, home, request).await
}

/// Asks the owner shard of `endpoint_id`.
async fn ask_owner(shard: &Rc<Shard>, endpoint_id: &str, request: Request) -> Option<Answer> {
    let owner = shard.shared.placement.owner_of_endpoint(endpoint_id);
    ask(shard, owner, request).await
}

/// Asks every shard, in shard order.
async fn ask_all(shard: &Rc<Shard>, request: impl Fn() -> Request) -> Vec<Answer> {
    let mut out = Vec::with_capacity(shard.count);
    for target in 0..shard.count {
        if let Some(a) = ask(shard, target, request()).await {
            out.push(a);
        }
    }
    out
}

/// The answer a request of one variant gets is of the same variant; another
/// one is a bug in this module, reported as an unreachable shard.
macro_rules! expect {
    ($answer:expr, $variant:ident) => {
        match $answer {
            Some(Answer::$variant(v)) => Some(v),
            _ => None,
        }
    };
}

/// A message of `app_id` by id, or by `eventId` within the window.
pub async fn find_message(
    shard: &Rc<Shard>,
    app_id: &str,
    id: &str,
) -> Option<Option<Arc<MsgMeta>>> {
    let request = Request::FindMessage {
        app_id: app_id.to_string(),
        id: id.to_string(),
    };
    expect!(ask_home(shard, app_id, request).await, FoundMessage)
}

/// A page of an application's messages.
pub async fn list_messages(
    shard: &Rc<Shard>,
    app_id: &str,
    filter: Filter,
    page: PageReq,
) -> Option<Page<Arc<MsgMeta>>> {
    let request = Request::ListMessages {
        app_id: app_id.to_string(),
        filter,
        page,
    };
    expect!(ask_home(shard, app_id, request).await, Messages)
}

/// A page of an endpoint's deliveries.
pub async fn list_endpoint_messages(
    shard: &Rc<Shard>,
    endpoint_id: &str,
    filter: Filter,
    page: PageReq,
) -> Option<Page<DeliveryEntry>> {
    let request = Request::ListEndpointMessages {
        endpoint_id: endpoint_id.to_string(),
        filter,
        page,
    };
    expect!(
        ask_owner(shard, endpoint_id, request).await,
        EndpointMessages
    )
}

/// A page of an endpoint's attempts.
pub async fn list_endpoint_attempts(
    shard: &Rc<Shard>,
    endpoint_id: &str,
    filter: Filter,
    page: PageReq,
) -> Option<Page<AttemptEntry>> {
    let request = Request::ListEndpointAttempts {
        endpoint_id: endpoint_id.to_string(),
        filter,
        page,
    };
    expect!(
        ask_owner(shard, endpoint_id, request).await,
        EndpointAttempts
    )
}

/// Every attempt of a message, from every shard.
pub async fn attempts_of(shard: &Rc<Shard>, msg_id: &str) -> Vec<AttemptEntry> {
    let all = ask_all(shard, || Request::AttemptsOf {
        msg_id: msg_id.to_string(),
    })
    .await;
    all.into_iter()
        .filter_map(|a| expect!(Some(a), AttemptsOf))
        .flatten()
        .collect()
}

/// Every delivery of a message, from every shard.
pub async fn deliveries_of(shard: &Rc<Shard>, msg_id: &str) -> Vec<DeliveryEntry> {
    let all = ask_all(shard, || Request::DeliveriesOf {
        msg_id: msg_id.to_string(),
    })
    .await;
    all.into_iter()
        .filter_map(|a| expect!(Some(a), DeliveriesOf))
        .flatten()
        .collect()
}

/// An endpoint's deliveries by status.
pub async fn endpoint_stats(
    shard: &Rc<Shard>,
    endpoint_id: &str,
    since_ms: u64,
    until_ms: u64,
) -> Option<EndpointCounts> {
    let request = Request::EndpointStats {
        endpoint_id: endpoint_id.to_string(),
        since_ms,
        until_ms,
    };
    match ask_owner(shard, endpoint_id, request).await {
        Some(Answer::EndpointStats(counts)) => Some(*counts),
        _ => None,
    }
}

/// Delivers `meta` to `endpoint_id` again, once its `Resend` record is durable.
pub async fn resend(
    shard: &Rc<Shard>,
    meta: Arc<MsgMeta>,
    endpoint_id: &str,
) -> Option<Result<(), manual::ManualError>> {
    let request = Request::Resend {
        meta,
        endpoint_id: endpoint_id.to_string(),
    };
    expect!(ask_owner(shard, endpoint_id, request).await, Resent)
}

/// Resends every failed delivery of `endpoint_id` created in the range.
pub async fn recover(
    shard: &Rc<Shard>,
    endpoint_id: &str,
    since_ms: u64,
    until_ms: u64,
) -> Option<Result<u64, manual::ManualError>> {
    let request = Request::Recover {
        endpoint_id: endpoint_id.to_string(),
        since_ms,
        until_ms,
    };
    expect!(ask_owner(shard, endpoint_id, request).await, Recovered)
}

/// Accepts `message` for `endpoint_id` alone, on the application's home shard.
pub async fn send_example(
    shard: &Rc<Shard>,
    message: NewMessage,
    endpoint_id: &str,
) -> Option<IngestResult> {
    let app_id = message.app_id.clone();
    let request = Request::SendExample {
        message,
        endpoint_id: endpoint_id.to_string(),
    };
    expect!(ask_home(shard, &app_id, request).await, SentExample).flatten()
}

/// What a notification rule counts over a window, added up over every
/// shard; `None` if a shard could not be asked (at shutdown).
pub async fn window(shard: &Rc<Shard>, q: WindowQuery) -> Option<Window> {
    let answers = ask_all(shard, || Request::Window(q.clone())).await;
    if answers.len() != shard.count {
        return None;
    }
    let mut total = Window::default();
    for a in answers {
        total.add(&expect!(Some(a), Window)?);
    }
    Some(total)
}

/// Up to `limit` messages of `app_id` after the id `after`, oldest first,
/// that `endpoint` (none: any) and `filter` take; and whether more are there.
pub async fn poll(
    shard: &Rc<Shard>,
    app_id: &str,
    after: Option<String>,
    endpoint: Option<Arc<crate::records::EndpointRecord>>,
    filter: Filter,
    limit: usize,
) -> Option<(Vec<Arc<MsgMeta>>, bool)> {
    let request = Request::Poll {
        app_id: app_id.to_string(),
        after,
        endpoint,
        filter,
        limit,
    };
    match ask_home(shard, app_id, request).await {
        Some(Answer::Polled(items, more)) => Some((items, more)),
        _ => None,
    }
}

/// Replays messages to an endpoint on its owner (`manual::replay`).
pub async fn replay(
    shard: &Rc<Shard>,
    endpoint_id: &str,
    candidates: Vec<Arc<MsgMeta>>,
    only_missing: bool,
    status: Option<u8>,
) -> Option<Result<u64, manual::ManualError>> {
    let request = Request::Replay {
        endpoint_id: endpoint_id.to_string(),
        candidates,
        only_missing,
        status,
    };
    match ask_owner(shard, endpoint_id, request).await {
        Some(Answer::Replayed(r)) => Some(r),
        _ => None,
    }
}
