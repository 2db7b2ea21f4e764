//! The accept path: turning a batch of producers' messages into journaled,
//! durable messages on their application's home shard.
//!
//! [`Accept`] owns the shard's `eventId` window and the count of batches
//! being accepted. [`Accept::accept`] checks each message (known
//! application, not a duplicate within the window), appends one `Message`
//! record per accepted message through the shard's group commit, waits once
//! for the last of them to be durable, and only then returns the messages
//! with their destinations: an acknowledged message is always in the journal
//! before any attempt is made. Routing a batch to its home shard and handing
//! the deliveries to their owners is the runtime's (`shard::route`); this
//! room knows nothing of shards or channels.

pub mod event_ids;
pub mod payload;

use crate::catalog::Catalog;
use crate::commit::Commit;
use crate::ids;
use crate::message::{Loc, Message};
use crate::reads::index::Index;
use crate::records::{Kind, MessageRecord};
use event_ids::{DedupEntry, EventIds};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

/// A message a producer wants accepted; `app_id` is already resolved.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub app_id: String,
    pub event_type: String,
    pub event_id: Option<String>,
    pub channels: Vec<String>,
    pub payload: Vec<u8>,
}

/// Why one message of a batch was not accepted.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum IngestError {
    #[error("unknown application")]
    UnknownApp,
    #[error("duplicate eventId; first accepted as {0}")]
    Duplicate(String),
    #[error("invalid message: {0}")]
    Invalid(String),
    #[error("engine is shutting down or overloaded")]
    Unavailable,
    #[error("journal append failed: {0}")]
    Journal(String),
}

/// The result for one message of a batch.
pub type IngestResult = Result<Arc<Message>, IngestError>;

/// An accepted, durable message and the endpoints it goes to.
pub type Accepted = (Arc<Message>, Vec<String>);

/// A batch journaled by [`Accept::journal`], not yet acknowledged.
#[derive(Debug)]
pub struct Journaled {
    /// One per message, in input order.
    pub results: Vec<IngestResult>,
    /// The accepted messages with their destinations.
    pub fan: Vec<Accepted>,
    /// The journal position that must be durable before any result is
    /// given out (`None`: nothing was appended and no duplicate waits).
    pub wait_for: Option<crate::journal::Lsn>,
}

/// The accept path of one home shard.
///
/// # Invariants
/// - `event_ids` holds keys of applications homed on this shard only;
/// - `in_flight` counts the batches between [`Accept::begin`] and the drop
///   of its guard (appended, not yet answered).
pub struct Accept {
    /// The number of this shard's journal, for the records' `Loc`s.
    journal: u32,
    commit: Rc<Commit>,
    event_ids: RefCell<EventIds>,
    in_flight: Cell<usize>,
}

/// Counts a batch as being accepted while it lives (see [`Accept::begin`]).
pub struct InFlight<'a>(&'a Accept);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let n = self.0.in_flight.get();
        debug_assert!(n > 0, "in-flight batch count underflow");
        self.0.in_flight.set(n - 1);
    }
}

impl Accept {
    /// The accept path of shard `journal`, with the `eventId` window that
    /// recovery found for its applications.
    pub fn new(
        journal: u32,
        commit: Rc<Commit>,
        mut event_ids: EventIds,
        found: Vec<DedupEntry>,
    ) -> Accept {
        for ((app, eid), (msg, at)) in found {
            event_ids.insert(&app, &eid, &msg, at);
        }
        Accept {
            journal,
            commit,
            event_ids: RefCell::new(event_ids),
            in_flight: Cell::new(0),
        }
    }

    /// Marks a batch as being accepted until the guard drops; a stopping
    /// shard waits for [`Accept::in_flight`] to reach zero.
    pub fn begin(&self) -> InFlight<'_> {
        self.in_flight.set(self.in_flight.get() + 1);
        InFlight(self)
    }

    /// Batches being accepted now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.get()
    }

    /// The id of the message accepted with this `eventId`, while in the window.
    pub fn accepted_as(&self, app_id: &str, event_id: &str, now_ms: u64) -> Option<String> {
        self.event_ids
            .borrow()
            .get(app_id, event_id, now_ms)
            .map(str::to_string)
    }

    /// Drops a bounded number of expired `eventId` entries.
    pub fn expire_event_ids(&self, now_ms: u64) {
        self.event_ids.borrow_mut().expire(now_ms, 10_000);
    }

    /// Accepts messages of applications homed on this shard: results in
    /// input order, and the accepted messages with their destinations (the
    /// catalog's fan-out, or `only` that endpoint: `send-example`), durable
    /// by the time this returns. Accepted messages enter `index`.
    pub async fn accept(
        &self,
        catalog: &Catalog,
        index: &RefCell<Index>,
        events: Vec<NewMessage>,
        only: Option<&str>,
    ) -> (Vec<IngestResult>, Vec<Accepted>) {
        let journaled = self.journal(catalog, index, events, only);
        if let Some(lsn) = journaled.wait_for {
            self.commit.durable(lsn).await;
        }
        (journaled.results, journaled.fan)
    }

    /// The first half of [`Accept::accept`]: checks and journals the
    /// messages, and says up to where the journal must be durable before
    /// any of them is acknowledged (the simulator runs the group commit
    /// itself between the halves).
    pub fn journal(
        &self,
        catalog: &Catalog,
        index: &RefCell<Index>,
        events: Vec<NewMessage>,
        only: Option<&str>,
    ) -> Journaled {
        // The batch reaches the journal's file in one write.
        self.commit
            .held(|| self.journal_held(catalog, index, events, only))
    }

    fn journal_held(
        &self,
        catalog: &Catalog,
        index: &RefCell<Index>,
        events: Vec<NewMessage>,
        only: Option<&str>,
    ) -> Journaled {
        let now = crate::time::now_ms();
        let mut results = Vec::with_capacity(events.len());
        let mut fan = Vec::new();
        let mut last_lsn = None;
        let mut saw_duplicate = false;
        for ev in events {
            if catalog.app(&ev.app_id).is_none() {
                results.push(Err(IngestError::UnknownApp));
                continue;
            }
            if let Some(eid) = &ev.event_id {
                let event_ids = self.event_ids.borrow();
                if let Some(mid) = event_ids.get(&ev.app_id, eid, now) {
                    saw_duplicate = true;
                    results.push(Err(IngestError::Duplicate(mid.to_string())));
                    continue;
                }
            }
            let destinations = match only {
                Some(ep) => vec![ep.to_string()],
                None => catalog.fan_out(&ev.app_id, &ev.event_type, &ev.channels),
            };
            crate::failpoint::fail_write_before(&ev.event_type, || self.commit.dir());
            let rec = MessageRecord {
                id: ids::new_id_at("msg", now),
                app_id: ev.app_id,
                event_type: ev.event_type,
                event_id: ev.event_id,
                channels: ev.channels,
                payload: ev.payload,
                created_ms: now,
                destinations,
            };
            let appended = self
                .commit
                .append_record_at(Kind::Message, &rec)
                .map_err(|e| IngestError::Journal(e.to_string()));
            let loc = match appended {
                Ok((lsn, pos)) => {
                    last_lsn = Some(lsn);
                    Loc {
                        journal: self.journal,
                        pos,
                    }
                }
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            if let Some(eid) = &rec.event_id {
                self.event_ids
                    .borrow_mut()
                    .insert(&rec.app_id, eid, &rec.id, now);
            }
            let (msg, destinations) = Message::from_record(rec, loc);
            let msg = Arc::new(msg);
            index.borrow_mut().add_message(msg.meta());
            fan.push((msg.clone(), destinations));
            results.push(Ok(msg));
        }
        // A duplicate's original may still be waiting for its group commit
        // (a producer retrying after a timeout); "already accepted" must not
        // be said before it is durable, so wait for everything written so far.
        if saw_duplicate {
            last_lsn = Some(self.commit.written_lsn());
        }
        Journaled {
            results,
            fan,
            wait_for: last_lsn,
        }
    }
}
