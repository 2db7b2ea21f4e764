//! Gathering single messages into batches: the HTTP API's `POST .../msg`
//! and the incoming receive path submit one request's messages at a time,
//! from one task per connection. [`submit_gathered`] puts them in this
//! shard's [`Gathered`] (a `crate::gathering::Gathering`), whose task
//! submits the messages of every request served in the same pass as one
//! batch (`route::submit`): one message to the home shard per home shard
//! instead of one per request, one journal write, one wait for the group
//! commit. Results go back in order, each to its request. (Batches held
//! 26–29 requests on average with 256 connections, 4 with 32:
//! `docs/BENCHMARKS.md`.)
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
use crate::gathering::Gathering;
use futures_channel::oneshot;
use std::rc::Rc;

/// Messages gathered on this shard and where each one's result goes.
pub type Gathered = Gathering<(NewMessage, oneshot::Sender<IngestResult>)>;

/// Submits `messages` (one request's) with the others gathered on this
/// shard in the same pass of its executor; their results in order
/// (`Unavailable` for any the shard stopped before answering).
pub async fn submit_gathered(shard: &Rc<Shard>, messages: Vec<NewMessage>) -> Vec<IngestResult> {
    let mut answers = Vec::with_capacity(messages.len());
    let put = messages.into_iter().map(|message| {
        let (tx, rx) = oneshot::channel();
        answers.push(rx);
        (message, tx)
    });
    if shard.gathered.put(put) {
        glommio::spawn_local(flush(shard.clone())).detach();
    }
    let mut results = Vec::with_capacity(answers.len());
    for rx in answers {
        results.push(rx.await.unwrap_or(Err(IngestError::Unavailable)));
    }
    results
}

/// Takes the gathering and submits it as one batch.
async fn flush(shard: Rc<Shard>) {
    let batch = shard.gathered.take_after_a_pass().await;
    let (messages, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let results = submit(&shard, messages).await;
    debug_assert_eq!(results.len(), replies.len(), "one result per message");
    for (reply, result) in replies.into_iter().zip(results) {
        // A request whose connection went away no longer listens.
        let _ = reply.send(result);
    }
}
