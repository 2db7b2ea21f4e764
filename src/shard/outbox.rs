//! Shard 0's outbox of operational events made by catalog changes
//! (`endpoint.*`, `source.*`): `Shard::commit_catalog` journals each event
//! in the same sync as its change (`catalog::notices`) and puts it here;
//! [`run`] submits them through the accept path to the operational
//! application, and at start submits the catalog's recent ones again, so a
//! crash between a change and its event loses nothing (each event's
//! `eventId` makes a second submission a duplicate).
//!
//! # Bounds
//! At most `NOTICES_KEPT_MAX` wait here; more are dropped oldest first
//! (they are in the catalog, and go again at the next start).

use super::route::submit;
use super::state::Shard;
use crate::accept::{IngestError, NewMessage};
use crate::limits::{NOTICES_KEPT_MAX, NOTICE_KEEP_MS};
use crate::notify::Notify;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

/// Waits between tries of an event the engine refused (overloaded).
const RETRY_MS: [u64; 5] = [50, 200, 1_000, 5_000, 0];

/// Events waiting to be submitted.
#[derive(Default)]
pub struct Outbox {
    waiting: RefCell<VecDeque<NewMessage>>,
    kick: Notify,
}

impl Outbox {
    pub fn put(&self, messages: Vec<NewMessage>) {
        if messages.is_empty() {
            return;
        }
        let mut waiting = self.waiting.borrow_mut();
        waiting.extend(messages);
        while waiting.len() > NOTICES_KEPT_MAX {
            waiting.pop_front();
        }
        drop(waiting);
        self.kick.notify();
    }
}

/// Submits one event, trying again while the engine refuses it.
async fn tell(shard: &Rc<Shard>, message: NewMessage) {
    let event = message.event_type.clone();
    for wait_ms in RETRY_MS {
        match submit(shard, vec![message.clone()]).await.pop() {
            Some(Ok(_) | Err(IngestError::Duplicate(_) | IngestError::UnknownApp)) => return,
            _ if shard.shared.is_stopping() => return,
            _ if wait_ms == 0 => break,
            _ => glommio::timer::sleep(Duration::from_millis(wait_ms)).await,
        }
    }
    tracing::error!(event = %event, "an operational event was refused; it goes again at the next start");
}

/// Runs on shard 0 until the engine stops.
pub async fn run(shard: Rc<Shard>) {
    // What recent changes made, again: duplicates of what was accepted
    // before the last stop are dropped by their `eventId`.
    let now = crate::time::now_ms();
    let keep = NOTICE_KEEP_MS.min(shard.shared.config.idempotency_window_ms);
    let again: Vec<NewMessage> = shard
        .shared
        .catalog
        .load()
        .notices()
        .filter(|n| n.at_ms.saturating_add(keep) > now)
        .map(|n| crate::operational::message_of(n))
        .collect();
    for m in again {
        tell(&shard, m).await;
    }
    while !shard.shared.is_stopping() {
        let next = shard.outbox.waiting.borrow_mut().pop_front();
        match next {
            Some(m) => tell(&shard, m).await,
            None => {
                futures_lite::future::or(
                    shard.outbox.kick.wait(),
                    glommio::timer::sleep(Duration::from_secs(1)),
                )
                .await
            }
        }
    }
}
