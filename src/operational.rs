//! Operational webhooks: the events ringhook sends its operators about
//! itself (Svix's `endpoint.*` and `message.attempt.*`), as messages of a
//! reserved application ([`APP_ID`]) whose endpoints are the operational
//! endpoints (`/api/v1/operational-webhook/endpoint`). They go through the
//! same durable pipeline as customers' messages: signed, retried, logged as
//! attempts, each endpoint with its own queue, so a dead operator endpoint
//! holds up nobody else's deliveries.
//!
//! This module is pure: which event an attempt makes ([`attempt_notice`]),
//! and the message of a notice ([`Notice::message`]), whose `eventId` is
//! derived from what it reports, so emitting one twice within the
//! deduplication window makes one message.
//!
//! # Invariants
//! - nothing about the operational application itself (its endpoints, its
//!   messages' attempts) becomes a notice: no loops.

use crate::accept::NewMessage;
use crate::catalog::Catalog;
use crate::records::{self, Kind, NoticeRecord, Outcome};
use serde_json::{json, Value};

/// The reserved application that holds the operational endpoints.
pub const APP_ID: &str = crate::catalog::OPERATIONAL_APP_ID;

/// The attempt (0-based) whose failure makes a message `failing`: the
/// fourth, as Svix.
pub const FAILING_AT_ATTEMPT: u32 = 3;

/// What an endpoint event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointEvent {
    Created,
    Updated,
    Deleted,
    Enabled,
}

/// One event for the operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Endpoint {
        event: EndpointEvent,
        app_id: String,
        endpoint_id: String,
        at_ms: u64,
    },
    Disabled {
        app_id: String,
        endpoint_id: String,
        fail_since_ms: Option<u64>,
        /// `automatic` (a failure streak or 410 Gone) or `manual`.
        trigger: &'static str,
        at_ms: u64,
    },
    /// A background task (`endpoint.recover`, ...) ended.
    TaskFinished {
        task_id: String,
        task: &'static str,
        failed: bool,
        data: Value,
    },
    /// An incoming source changed through the API: `source.created`,
    /// `source.updated`, `source.deleted`, `source.enabled`,
    /// `source.disabled`, `source.token_rotated`.
    Source {
        /// The part after `source.`.
        event: &'static str,
        source_id: String,
        /// The payload's `data` (`sourceId`, `sourceUid`, `name`, `type`).
        data: Value,
    },
    /// A notification rule changed state: `rule.firing` or `rule.resolved`.
    Rule {
        firing: bool,
        rule_id: String,
        /// The rule's change number (names the event: one per change).
        change: u64,
        /// The payload's `data` (the rule, the observed value, when).
        data: Value,
    },
    Attempt {
        /// `exhausted`, `failing` or `recovered`.
        kind: &'static str,
        app_id: String,
        msg_id: String,
        msg_event_id: Option<String>,
        endpoint_id: String,
        attempt_id: String,
        status: u16,
        at_ms: u64,
    },
}

/// The notice an attempt makes, if any: `exhausted` when it ends the
/// delivery in failure, `failing` when it is the fourth failure in a row
/// of a message, `recovered` when it succeeds after that.
pub fn attempt_kind(outcome: Outcome, attempt_no: u32) -> Option<&'static str> {
    match outcome {
        Outcome::Failed => Some("exhausted"),
        Outcome::Retrying if attempt_no == FAILING_AT_ATTEMPT => Some("failing"),
        Outcome::Succeeded if attempt_no > FAILING_AT_ATTEMPT => Some("recovered"),
        _ => None,
    }
}

/// [`attempt_kind`] as a notice, none for the operational application's
/// own messages.
#[allow(clippy::too_many_arguments)]
pub fn attempt_notice(
    outcome: Outcome,
    attempt_no: u32,
    app_id: &str,
    msg_id: &str,
    msg_event_id: Option<&str>,
    endpoint_id: &str,
    attempt_id: &str,
    status: u16,
    at_ms: u64,
) -> Option<Notice> {
    if app_id == APP_ID {
        return None;
    }
    Some(Notice::Attempt {
        kind: attempt_kind(outcome, attempt_no)?,
        app_id: app_id.to_string(),
        msg_id: msg_id.to_string(),
        msg_event_id: msg_event_id.map(str::to_string),
        endpoint_id: endpoint_id.to_string(),
        attempt_id: attempt_id.to_string(),
        status,
        at_ms,
    })
}

impl Notice {
    /// Svix's event type.
    pub fn event_type(&self) -> String {
        match self {
            Notice::Endpoint { event, .. } => format!(
                "endpoint.{}",
                match event {
                    EndpointEvent::Created => "created",
                    EndpointEvent::Updated => "updated",
                    EndpointEvent::Deleted => "deleted",
                    EndpointEvent::Enabled => "enabled",
                }
            ),
            Notice::Disabled { .. } => "endpoint.disabled".into(),
            Notice::TaskFinished { .. } => "background_task.finished".into(),
            Notice::Source { event, .. } => format!("source.{event}"),
            Notice::Rule { firing: true, .. } => "rule.firing".into(),
            Notice::Rule { firing: false, .. } => "rule.resolved".into(),
            Notice::Attempt { kind, .. } => format!("message.attempt.{kind}"),
        }
    }

    /// The message's `eventId`: what it reports, so a second emission of
    /// the same fact is a duplicate.
    fn event_id(&self) -> String {
        match self {
            // Never repeated after a crash: a fresh id, so two changes in
            // one millisecond are two events.
            Notice::Endpoint { endpoint_id, .. } => {
                format!(
                    "{}:{endpoint_id}:{}",
                    self.event_type(),
                    crate::ids::new_id("ntc")
                )
            }
            Notice::Disabled {
                endpoint_id, at_ms, ..
            } => {
                format!("endpoint.disabled:{endpoint_id}:{at_ms}")
            }
            // The attempt's own id: a resend or recover starts a new series
            // whose notices are new facts. (An attempt repeated after a
            // crash has a new id, so its notice may come twice: at most
            // what was in flight.)
            Notice::Attempt {
                kind, attempt_id, ..
            } => format!("{kind}:{attempt_id}"),
            Notice::TaskFinished { task_id, .. } => format!("background_task.finished:{task_id}"),
            // As `endpoint.*`: a fresh id per change.
            Notice::Source { source_id, .. } => format!(
                "{}:{source_id}:{}",
                self.event_type(),
                crate::ids::new_id("ntc")
            ),
            // A change evaluated again after a crash, before its state was
            // journaled, has the same number: one event.
            Notice::Rule {
                rule_id, change, ..
            } => format!("{}:{rule_id}:{change}", self.event_type()),
        }
    }

    fn app_id(&self) -> &str {
        match self {
            Notice::Endpoint { app_id, .. }
            | Notice::Disabled { app_id, .. }
            | Notice::Attempt { app_id, .. } => app_id,
            Notice::TaskFinished { .. } | Notice::Rule { .. } | Notice::Source { .. } => "",
        }
    }

    /// The message for the operational application, in Svix's payload
    /// shape (`{"type", "data"}`); `None` about the operational application
    /// itself.
    pub fn message(&self, catalog: &Catalog) -> Option<NewMessage> {
        // A notice made without its application (an endpoint just created)
        // finds it through the endpoint.
        let resolved = match self {
            Notice::Endpoint {
                app_id,
                endpoint_id,
                ..
            } if app_id.is_empty() => catalog.endpoint_by_id(endpoint_id)?.app_id.clone(),
            _ => self.app_id().to_string(),
        };
        if resolved == APP_ID {
            return None;
        }
        let app_uid = catalog.app(&resolved).and_then(|a| a.uid.clone());
        let ep_uid = |id: &str| catalog.endpoint_by_id(id).and_then(|e| e.uid.clone());
        let data: Value = match self {
            Notice::Endpoint { endpoint_id, .. } => json!({
                "appId": resolved, "appUid": app_uid,
                "endpointId": endpoint_id, "endpointUid": ep_uid(endpoint_id),
            }),
            Notice::Disabled {
                app_id,
                endpoint_id,
                fail_since_ms,
                trigger,
                ..
            } => json!({
                "appId": app_id, "appUid": app_uid,
                "endpointId": endpoint_id, "endpointUid": ep_uid(endpoint_id),
                "failSince": fail_since_ms.map(crate::time::rfc3339),
                "trigger": trigger,
            }),
            Notice::TaskFinished {
                task_id,
                task,
                failed,
                data,
            } => json!({
                "taskId": task_id,
                "task": task,
                "status": if *failed { "failed" } else { "finished" },
                "data": data,
            }),
            Notice::Rule { data, .. } | Notice::Source { data, .. } => data.clone(),
            Notice::Attempt {
                app_id,
                msg_id,
                msg_event_id,
                endpoint_id,
                attempt_id,
                status,
                at_ms,
                ..
            } => json!({
                "appId": app_id, "appUid": app_uid,
                "msgId": msg_id, "msgEventId": msg_event_id,
                "endpointId": endpoint_id,
                "lastAttempt": {
                    "id": attempt_id,
                    "responseStatusCode": status,
                    "timestamp": crate::time::rfc3339(*at_ms),
                },
            }),
        };
        let event_type = self.event_type();
        let payload = json!({ "type": event_type, "data": data });
        Some(NewMessage {
            app_id: APP_ID.to_string(),
            event_type,
            event_id: Some(self.event_id()),
            channels: Vec::new(),
            payload: serde_json::to_vec(&payload).unwrap_or_default(),
        })
    }
}

/// Why a catalog change was made, where its record cannot say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Asked for through the API.
    Api,
    /// Auto-disable (a 410, or a failure streak since `fail_since_ms`).
    AutoDisable { fail_since_ms: u64 },
}

/// The operational events a catalog change makes, as the messages to
/// submit: `endpoint.created/updated/enabled/disabled/deleted` for an
/// endpoint of a customer's application or source, and
/// `source.created/updated/enabled/disabled/token_rotated/deleted` for a
/// source. `old` is the catalog before the change, `new` after it; none
/// while there are no operational endpoints. Pure.
pub fn change_notices(
    old: &Catalog,
    new: &Catalog,
    kind: Kind,
    body: &[u8],
    cause: Cause,
) -> Vec<NewMessage> {
    if new.app(APP_ID).is_none() {
        return Vec::new();
    }
    let (notices, about) = match kind {
        Kind::EndpointPut => match records::decode_endpoint(records::RECORD_VERSION, body) {
            Ok(ep) => (
                endpoint_notices(old.endpoint_by_id(&ep.id).map(|b| b.disabled), &ep, cause),
                new,
            ),
            Err(_) => return Vec::new(),
        },
        Kind::EndpointDelete => match records::decode_delete(body)
            .ok()
            .and_then(|d| old.endpoint_by_id(&d.id).cloned())
        {
            Some(b) => (
                vec![Notice::Endpoint {
                    event: EndpointEvent::Deleted,
                    app_id: b.app_id.clone(),
                    endpoint_id: b.id.clone(),
                    at_ms: b.updated_ms,
                }],
                old,
            ),
            None => return Vec::new(),
        },
        Kind::SourcePut => match records::decode_source(body) {
            Ok(s) => {
                let before = old.source(&s.id);
                let events: Vec<&'static str> = match before {
                    None => vec!["created"],
                    Some(b) if b.token != s.token => vec!["token_rotated"],
                    Some(b) => match (b.disabled, s.disabled) {
                        (false, true) => vec!["updated", "disabled"],
                        (true, false) => vec!["updated", "enabled"],
                        _ => vec!["updated"],
                    },
                };
                (
                    events.into_iter().map(|e| source_notice(e, &s)).collect(),
                    new,
                )
            }
            Err(_) => return Vec::new(),
        },
        Kind::SourceDelete => match records::decode_delete(body)
            .ok()
            .and_then(|d| old.source(&d.id).cloned())
        {
            Some(s) => (vec![source_notice("deleted", &s)], old),
            None => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    notices.iter().filter_map(|n| n.message(about)).collect()
}

/// An endpoint put's events: `created`; or `updated` with `enabled` /
/// `disabled` (manual) when `disabled` flipped; or, for auto-disable,
/// `disabled` (automatic) alone. `was_disabled`: none for a new endpoint.
fn endpoint_notices(
    was_disabled: Option<bool>,
    ep: &records::EndpointRecord,
    cause: Cause,
) -> Vec<Notice> {
    let endpoint = |event| Notice::Endpoint {
        event,
        app_id: ep.app_id.clone(),
        endpoint_id: ep.id.clone(),
        at_ms: ep.updated_ms,
    };
    let disabled = |fail_since_ms, trigger| Notice::Disabled {
        app_id: ep.app_id.clone(),
        endpoint_id: ep.id.clone(),
        fail_since_ms,
        trigger,
        at_ms: ep.updated_ms,
    };
    match (was_disabled, cause) {
        (None, _) => vec![endpoint(EndpointEvent::Created)],
        (Some(_), Cause::AutoDisable { fail_since_ms }) => {
            vec![disabled(Some(fail_since_ms), "automatic")]
        }
        (Some(was), Cause::Api) => {
            let mut out = vec![endpoint(EndpointEvent::Updated)];
            match (was, ep.disabled) {
                (false, true) => out.push(disabled(None, "manual")),
                (true, false) => out.push(endpoint(EndpointEvent::Enabled)),
                _ => {}
            }
            out
        }
    }
}

fn source_notice(event: &'static str, s: &records::SourceRecord) -> Notice {
    Notice::Source {
        event,
        source_id: s.id.clone(),
        data: json!({ "sourceId": s.id, "sourceUid": s.uid, "name": s.name, "type": s.kind }),
    }
}

/// The catalog record that keeps an event of a change.
pub fn notice_record(m: &NewMessage, at_ms: u64) -> NoticeRecord {
    NoticeRecord {
        event_id: m.event_id.clone().unwrap_or_default(),
        event_type: m.event_type.clone(),
        payload: m.payload.clone(),
        at_ms,
    }
}

/// The message of a kept event.
pub fn message_of(n: &NoticeRecord) -> NewMessage {
    NewMessage {
        app_id: APP_ID.to_string(),
        event_type: n.event_type.clone(),
        event_id: Some(n.event_id.clone()),
        channels: Vec::new(),
        payload: n.payload.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_kind_table() {
        use Outcome::*;
        let rows = [
            ((Failed, 0), Some("exhausted")),
            ((Failed, 7), Some("exhausted")),
            ((Retrying, 2), None),
            ((Retrying, 3), Some("failing")),
            ((Retrying, 4), None),
            ((Succeeded, 3), None),
            ((Succeeded, 4), Some("recovered")),
            ((Succeeded, 0), None),
            ((Cancelled, 5), None),
        ];
        for (i, ((outcome, n), want)) in rows.into_iter().enumerate() {
            assert_eq!(attempt_kind(outcome, n), want, "row {i}");
        }
    }

    #[test]
    fn notices_make_deduplicable_messages_and_never_loop() {
        let catalog = Catalog::default();
        let n = attempt_notice(
            Outcome::Failed,
            2,
            "app_1",
            "msg_1",
            Some("e1"),
            "ep_1",
            "atmpt_1",
            500,
            1_000,
        )
        .expect("a notice");
        let m = n.message(&catalog).expect("a message");
        assert_eq!(
            (m.app_id.as_str(), m.event_type.as_str()),
            (APP_ID, "message.attempt.exhausted")
        );
        assert_eq!(m.event_id.as_deref(), Some("exhausted:atmpt_1"));
        let v: Value = serde_json::from_slice(&m.payload).expect("json");
        assert_eq!(v["data"]["lastAttempt"]["responseStatusCode"], 500);
        assert_eq!(v["type"], "message.attempt.exhausted");
        assert!(attempt_notice(
            Outcome::Failed,
            2,
            APP_ID,
            "msg_1",
            None,
            "ep_1",
            "a",
            500,
            1
        )
        .is_none());
        let own = Notice::Endpoint {
            event: EndpointEvent::Created,
            app_id: APP_ID.into(),
            endpoint_id: "ep".into(),
            at_ms: 1,
        };
        assert!(own.message(&catalog).is_none());
    }
}
