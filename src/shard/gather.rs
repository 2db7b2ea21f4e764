//! Gathering single messages into batches: the HTTP API's `POST .../msg`
//! and the incoming receive path submit one request's messages at a time,
//! from one task per connection. [`submit_gathered`] puts them in this
//! shard's [`Gathered`], and the first request of a gathering starts one
//! task, which yields once before it takes them: by then the connections
//! whose reads completed meanwhile have added theirs, and the task submits
//! them all as one batch (`route::submit`): one message to the home shard
//! per home shard instead of one per request, one journal write, one wait
//! for the group commit. Results go back in order, each to its request.
//! (Without the yield the task ran before any other connection's task and
//! every batch held one request; with it, 26–29 requests on average with
//! 256 connections, 4 with 32: `docs/BENCHMARKS.md`.)
//!
//! # Bounds
//! A gathering holds the messages of at most one request per API
//! connection (a connection carries one request at a time; shard 0 also
//! gathers the requests other shards hand it): at most
//! `api_connections_max` requests' messages, one for `POST .../msg`, one
//! per destination of an incoming request.

use super::route::submit;
use super::state::Shard;
use crate::accept::{IngestError, IngestResult, NewMessage};
use futures_channel::oneshot;
use std::cell::RefCell;
use std::rc::Rc;

/// A gathered message and where its result goes.
type Waiting = (NewMessage, oneshot::Sender<IngestResult>);

/// Messages gathered on this shard and where each one's result goes.
#[derive(Default)]
pub struct Gathered {
    /// `None`: no gathering is open (no task will take what is put here,
    /// so the next message starts one).
    waiting: RefCell<Option<Vec<Waiting>>>,
}

/// Submits `messages` (one request's) with the others gathered on this
/// shard in the same pass of its executor; their results in order
/// (`Unavailable` for any the shard stopped before answering).
pub async fn submit_gathered(shard: &Rc<Shard>, messages: Vec<NewMessage>) -> Vec<IngestResult> {
    let mut answers = Vec::with_capacity(messages.len());
    let start = {
        let mut waiting = shard.gathered.waiting.borrow_mut();
        let start = waiting.is_none();
        let batch = waiting.get_or_insert_with(Vec::new);
        for message in messages {
            let (tx, rx) = oneshot::channel();
            batch.push((message, tx));
            answers.push(rx);
        }
        start
    };
    if start {
        glommio::spawn_local(flush(shard.clone())).detach();
    }
    let mut results = Vec::with_capacity(answers.len());
    for rx in answers {
        results.push(rx.await.unwrap_or(Err(IngestError::Unavailable)));
    }
    results
}

/// Takes the gathering (closing it: the next message opens another) and
/// submits it as one batch.
async fn flush(shard: Rc<Shard>) {
    // Once to the back of the queue: the tasks the reactor wakes meanwhile
    // (the other connections' reads that completed) add their messages.
    futures_lite::future::yield_now().await;
    let Some(batch) = shard.gathered.waiting.borrow_mut().take() else {
        return;
    };
    let (messages, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let results = submit(&shard, messages).await;
    debug_assert_eq!(results.len(), replies.len(), "one result per message");
    for (reply, result) in replies.into_iter().zip(results) {
        // A request whose connection went away no longer listens.
        let _ = reply.send(result);
    }
}
