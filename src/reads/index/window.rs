//! What a notification rule sees of the recent past in one shard's index
//! (`rules::evaluator` asks every shard and adds the answers): messages of
//! an application or event type since a time, and an endpoint's attempts,
//! failures, failure streak and backlog. Reads only; bounded by the index's
//! own bounds (`index_max_per_key` entries per application or endpoint).

use super::{Index, Status};
use crate::records::Outcome;

/// Counts over a window; a shard answers for what it holds (messages on
/// their application's home, attempts and deliveries on the endpoint's
/// owner) and zero for the rest.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub messages: u64,
    pub attempts: u64,
    /// Attempts that did not succeed (cancellations are not attempts).
    pub failed: u64,
    /// The longest run of failed attempts at the newest end of any one
    /// endpoint's attempts (not bounded by the window).
    pub consecutive_failures: u64,
    /// Deliveries pending or being sent.
    pub backlog: u64,
    /// Deliveries of messages created in the window (with
    /// `WindowQuery::destinations`).
    pub destinations: u64,
}

impl Window {
    /// Adds another shard's answer.
    pub fn add(&mut self, o: &Window) {
        self.messages += o.messages;
        self.attempts += o.attempts;
        self.failed += o.failed;
        self.consecutive_failures = self.consecutive_failures.max(o.consecutive_failures);
        self.backlog += o.backlog;
        self.destinations += o.destinations;
    }
}

/// What to count.
#[derive(Debug, Clone, Default)]
pub struct WindowQuery {
    /// Count messages of this application (none: of every application
    /// homed here, when `event_type` is set).
    pub app_id: Option<String>,
    /// Count only messages of this type.
    pub event_type: Option<String>,
    /// Count messages at all (scopes without messages skip the scan).
    pub messages: bool,
    /// Count attempts, failures and backlog of these endpoints.
    pub endpoints: Vec<String>,
    /// Messages created and attempts made after this time.
    pub since_ms: u64,
    /// Count the endpoints' deliveries of messages created after
    /// `since_ms` and before this time (application usage stats).
    pub destinations_until_ms: Option<u64>,
}

impl Index {
    /// Counts what `q` asks over this shard's index.
    pub fn window(&self, q: &WindowQuery) -> Window {
        let mut w = Window::default();
        if q.messages {
            let apps: Box<dyn Iterator<Item = _>> = match &q.app_id {
                Some(app) => Box::new(self.messages.get(app.as_str()).into_iter()),
                None if q.event_type.is_some() => Box::new(self.messages.values()),
                None => Box::new(std::iter::empty()),
            };
            for msgs in apps {
                w.messages += msgs
                    .values_newest_first()
                    .take_while(|m| m.created_ms > q.since_ms)
                    .filter(|m| q.event_type.as_deref().is_none_or(|t| *m.event_type == *t))
                    .count() as u64;
            }
        }
        for ep in &q.endpoints {
            if let Some(attempts) = self.attempts.get(ep.as_str()) {
                let failed = |o: Outcome| matches!(o, Outcome::Retrying | Outcome::Failed);
                for a in attempts
                    .values_newest_first()
                    .take_while(|a| a.at_ms > q.since_ms)
                {
                    if a.outcome == Outcome::Cancelled {
                        continue;
                    }
                    w.attempts += 1;
                    w.failed += u64::from(failed(a.outcome));
                }
                let streak = attempts
                    .values_newest_first()
                    .filter(|a| a.outcome != Outcome::Cancelled)
                    .take_while(|a| failed(a.outcome))
                    .count() as u64;
                w.consecutive_failures = w.consecutive_failures.max(streak);
            }
            if let Some(deliveries) = self.deliveries.get(ep.as_str()) {
                w.backlog += deliveries
                    .values()
                    .filter(|d| matches!(d.status, Status::Pending | Status::Sending))
                    .count() as u64;
                if let Some(until) = q.destinations_until_ms {
                    w.destinations += deliveries
                        .values()
                        .filter(|d| d.msg.created_ms > q.since_ms && d.msg.created_ms < until)
                        .count() as u64;
                }
            }
        }
        w
    }
}
