//! The simulator's model of what must be true, kept apart from the engine's
//! state: which endpoints exist and in what state, which messages were
//! acknowledged and where each of their deliveries stands. The driver tells
//! it what happened; it answers with the first broken invariant.

use std::collections::{BTreeMap, BTreeSet};

/// An endpoint as the model knows it.
#[derive(Debug, Clone)]
pub struct EndpointModel {
    pub app: String,
    /// Empty: every event type.
    pub types: Vec<String>,
    pub state: EndpointState,
    /// Delivered in acceptance order, one message at a time.
    pub fifo: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointState {
    Enabled,
    Disabled,
    Deleted,
}

/// Where a delivery stands in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stand {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
}

/// A message the engine journaled.
#[derive(Debug, Clone)]
pub struct MessageModel {
    pub acknowledged: bool,
    pub destinations: Vec<String>,
    /// Found on disk after a crash though never acknowledged: recovery
    /// must treat it as accepted (its `eventId` included).
    pub survived: bool,
    /// Gone from the disk at a crash (never acknowledged): nothing may
    /// refer to it again.
    pub lost: bool,
    /// When and where it was accepted: (creation second, journal, segment,
    /// offset), `None` until known.
    pub accepted: Option<(u64, u32, u64, u64)>,
    /// Its creation time (ms).
    pub created_ms: u64,
    /// Older than the retention with every delivery ended when a
    /// compaction ran: its record may be gone from the disk.
    pub compactable: bool,
}

/// Whether a message accepted at `a` comes before one accepted at `b` in
/// a FIFO endpoint's order: an earlier second, or the same second and
/// journal and an earlier position. (Within one second, messages of
/// different journals, an application's home before and after a
/// shard-count change, have no order.)
fn before(a: (u64, u32, u64, u64), b: (u64, u32, u64, u64)) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 == b.1 && (a.2, a.3) < (b.2, b.3))
}

impl MessageModel {
    /// Whether the engine must remember it (its `eventId`, its deliveries).
    fn kept(&self) -> bool {
        (self.acknowledged || self.survived) && !self.lost
    }
}

/// A broken invariant, in words.
pub type Violation = String;

/// The model.
#[derive(Debug, Default)]
pub struct Oracle {
    pub endpoints: BTreeMap<String, EndpointModel>,
    pub messages: BTreeMap<String, MessageModel>,
    /// (message, endpoint) → where the delivery stands.
    pub deliveries: BTreeMap<(String, String), Stand>,
    /// Deliveries a receiver answered with a 2xx at least once.
    pub answered: BTreeSet<(String, String)>,
    /// (application, `eventId`) → the messages journaled with it, oldest
    /// first.
    pub event_ids: BTreeMap<(String, String), Vec<String>>,
    /// How long an `eventId` holds (`idempotency_window_ms`); `None`: longer
    /// than the run.
    pub event_id_window_ms: Option<u64>,
}

impl Oracle {
    /// The endpoints a message of `event_type` from `app` must go to now.
    pub fn expected_destinations(&self, app: &str, event_type: &str) -> Vec<String> {
        self.endpoints
            .iter()
            .filter(|(_, e)| e.app == app && e.state == EndpointState::Enabled)
            .filter(|(_, e)| e.types.is_empty() || e.types.iter().any(|t| t == event_type))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether a message created at `created_ms` still holds its `eventId`
    /// at `now_ms` (`accept::event_ids`: for less than the window).
    fn holds(&self, created_ms: u64, now_ms: u64) -> bool {
        self.event_id_window_ms
            .is_none_or(|w| now_ms.saturating_sub(created_ms) < w)
    }

    /// A message was journaled (acknowledged or not yet) at `created_ms`.
    /// With an `eventId`, no acknowledged message of its application may
    /// carry the same one within the window.
    pub fn journaled(
        &mut self,
        id: &str,
        destinations: &[String],
        event_id: Option<(&str, &str)>,
        created_ms: u64,
    ) -> Result<(), Violation> {
        if let Some((app, eid)) = event_id {
            let earlier = self
                .event_ids
                .entry((app.to_string(), eid.to_string()))
                .or_default();
            let kept = earlier.iter().find(|m| {
                self.messages.get(*m).is_some_and(|m| {
                    m.kept()
                        && self
                            .event_id_window_ms
                            .is_none_or(|w| created_ms.saturating_sub(m.created_ms) < w)
                })
            });
            if let Some(first) = kept {
                return Err(format!(
                    "eventId {eid} of {app} accepted as {id}, though {first} was accepted with it"
                ));
            }
            earlier.push(id.to_string());
        }
        self.messages.entry(id.to_string()).or_insert(MessageModel {
            acknowledged: false,
            destinations: destinations.to_vec(),
            survived: false,
            lost: false,
            accepted: None,
            created_ms,
            compactable: false,
        });
        Ok(())
    }

    /// When and where the accept path journaled a message.
    pub fn ordered(&mut self, id: &str, created_ms: u64, loc: crate::message::Loc) {
        if let Some(m) = self.messages.get_mut(id) {
            m.accepted = Some((
                created_ms / 1000,
                loc.journal,
                loc.pos.segment_seq,
                loc.pos.offset,
            ));
        }
    }

    /// A message was refused at `now_ms` as a duplicate of `first`: which
    /// must have been journaled with the same application and `eventId`
    /// within the window, and not lost since.
    pub fn duplicate(
        &self,
        first: &str,
        app: &str,
        eid: &str,
        now_ms: u64,
    ) -> Result<(), Violation> {
        let key = (app.to_string(), eid.to_string());
        let journaled = self
            .event_ids
            .get(&key)
            .is_some_and(|ids| ids.iter().any(|m| m == first));
        let lost = self.messages.get(first).is_some_and(|m| m.lost);
        let created = self.messages.get(first).map_or(0, |m| m.created_ms);
        match (journaled, lost) {
            (true, false) if !self.holds(created, now_ms) => Err(format!(
                "eventId {eid} of {app} refused as a duplicate of {first}, created {} ms before, past the window",
                now_ms.saturating_sub(created)
            )),
            (true, false) => Ok(()),
            (true, true) => Err(format!(
                "eventId {eid} of {app} refused as a duplicate of {first}, which a crash took from the disk"
            )),
            (false, _) => Err(format!(
                "eventId {eid} of {app} refused as a duplicate of {first}, which was not journaled with it"
            )),
        }
    }

    /// A compaction ran: a message created before `before_ms` (the
    /// retention ago) whose every delivery has ended may be gone from the
    /// disk from now on.
    pub fn compaction(&mut self, before_ms: u64) {
        let pending: BTreeSet<&str> = self
            .deliveries
            .iter()
            .filter(|(_, s)| **s == Stand::Pending)
            .map(|((m, _), _)| m.as_str())
            .collect();
        for (id, m) in self.messages.iter_mut() {
            if m.created_ms < before_ms && !pending.contains(id.as_str()) {
                m.compactable = true;
            }
        }
    }

    /// After a crash and recovery, the message records on disk: every
    /// acknowledged message must be there (unless a compaction could take
    /// it); an unacknowledged one there survived, one not there is lost.
    pub fn on_disk(&mut self, ids: &BTreeSet<String>) -> Result<(), Violation> {
        for (id, m) in self.messages.iter_mut() {
            match (ids.contains(id), m.acknowledged) {
                (true, _) => m.survived = !m.acknowledged,
                (false, true) if m.compactable => {}
                (false, true) => {
                    return Err(format!(
                        "acknowledged message {id} is not in the journal after recovery"
                    ))
                }
                (false, false) => m.lost = true,
            }
        }
        Ok(())
    }

    /// A message was acknowledged to its producer: each of its deliveries
    /// must now reach an end.
    pub fn acknowledged(&mut self, id: &str) {
        let Some(m) = self.messages.get_mut(id) else {
            return;
        };
        m.acknowledged = true;
        for e in m.destinations.clone() {
            self.deliveries
                .entry((id.to_string(), e))
                .or_insert(Stand::Pending);
        }
    }

    /// An attempt is about to be made; it must be allowed.
    pub fn attempt(&self, msg: &str, endpoint: &str) -> Result<(), Violation> {
        let Some(m) = self.messages.get(msg) else {
            return Err(format!("attempt of {msg}, which was never journaled"));
        };
        if !m.destinations.iter().any(|d| d == endpoint) {
            return Err(format!(
                "attempt of {msg} to {endpoint}, not one of its destinations"
            ));
        }
        match self.endpoints.get(endpoint).map(|e| e.state) {
            Some(EndpointState::Enabled) => {}
            state => {
                return Err(format!(
                    "attempt of {msg} to {endpoint} while it is {state:?}"
                ))
            }
        }
        // A FIFO endpoint: nothing accepted before this message is still
        // pending there.
        let fifo = self.endpoints.get(endpoint).is_some_and(|e| e.fifo);
        let Some(at) = m.accepted.filter(|_| fifo) else {
            return Ok(());
        };
        for ((m2, e2), stand) in &self.deliveries {
            if e2 != endpoint || m2 == msg || *stand != Stand::Pending {
                continue;
            }
            let earlier = self
                .messages
                .get(m2)
                .and_then(|m| m.accepted)
                .is_some_and(|a| before(a, at));
            if earlier {
                return Err(format!(
                    "FIFO endpoint {endpoint}: attempt of {msg} while {m2}, accepted before it, is pending"
                ));
            }
        }
        Ok(())
    }

    /// A delivery ended (or moved) as the engine decided.
    pub fn settled(&mut self, msg: &str, endpoint: &str, stand: Stand, status: u16) {
        if (200..300).contains(&status) {
            self.answered
                .insert((msg.to_string(), endpoint.to_string()));
        }
        if let Some(s) = self
            .deliveries
            .get_mut(&(msg.to_string(), endpoint.to_string()))
        {
            *s = stand;
        }
    }

    /// A delivery is pending again after a restart (its final attempt record
    /// did not survive): it will be attempted again, at least once.
    pub fn pending_again(&mut self, msg: &str, endpoint: &str) {
        if let Some(s) = self
            .deliveries
            .get_mut(&(msg.to_string(), endpoint.to_string()))
        {
            *s = Stand::Pending;
        }
        // Pending again, its record must stay until a later compaction
        // finds it ended.
        if let Some(m) = self.messages.get_mut(msg) {
            m.compactable = false;
        }
    }

    /// After a restart: every acknowledged delivery the model has pending
    /// must be pending in what recovery rebuilt.
    pub fn check_recovered(&self, recovered: &BTreeSet<(String, String)>) -> Result<(), Violation> {
        for ((m, e), s) in &self.deliveries {
            if *s == Stand::Pending && !recovered.contains(&(m.clone(), e.clone())) {
                return Err(format!(
                    "acknowledged delivery of {m} to {e} is not pending after recovery"
                ));
            }
        }
        Ok(())
    }

    /// At the end: every acknowledged delivery ended, and a success was seen
    /// by its receiver.
    pub fn check_end(&self) -> Result<(), Violation> {
        for ((m, e), s) in &self.deliveries {
            match s {
                Stand::Pending => return Err(format!("delivery of {m} to {e} never ended")),
                Stand::Succeeded if !self.answered.contains(&(m.clone(), e.clone())) => {
                    return Err(format!("delivery of {m} to {e} succeeded without a 2xx"))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Acknowledged messages so far.
    pub fn acknowledged_count(&self) -> u64 {
        self.messages.values().filter(|m| m.acknowledged).count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_catches_a_lost_and_an_unended_delivery() {
        let mut o = Oracle::default();
        o.endpoints.insert(
            "ep_1".into(),
            EndpointModel {
                app: "app_1".into(),
                types: vec![],
                state: EndpointState::Enabled,
                fifo: false,
            },
        );
        assert_eq!(
            o.expected_destinations("app_1", "a.b"),
            vec!["ep_1".to_string()]
        );
        o.journaled("msg_1", &["ep_1".into()], Some(("app_1", "evt_1")), 0)
            .expect("first");
        assert!(
            o.check_recovered(&BTreeSet::new()).is_ok(),
            "not acknowledged yet"
        );
        o.acknowledged("msg_1");
        assert!(o.check_recovered(&BTreeSet::new()).is_err(), "lost");
        assert!(o.check_end().is_err(), "never ended");
        assert!(o.attempt("msg_1", "ep_1").is_ok());
        assert!(o.attempt("msg_1", "ep_2").is_err());
        o.settled("msg_1", "ep_1", Stand::Succeeded, 200);
        assert!(o.check_end().is_ok());
        assert!(
            o.journaled("msg_2", &[], Some(("app_1", "evt_1")), 0)
                .is_err(),
            "an acknowledged eventId accepted again"
        );
        assert!(o.duplicate("msg_1", "app_1", "evt_1", 0).is_ok());
        assert!(o.duplicate("msg_9", "app_1", "evt_1", 0).is_err());
        // An unacknowledged message: lost at a crash, it may not be named
        // as the first of its eventId; kept, its eventId must hold.
        o.journaled("msg_3", &[], Some(("app_1", "evt_3")), 0)
            .expect("first");
        o.journaled("msg_4", &[], Some(("app_1", "evt_4")), 0)
            .expect("first");
        let disk: BTreeSet<String> = ["msg_1", "msg_4"].map(String::from).into();
        o.on_disk(&disk).expect("msg_1 is there");
        assert!(o.duplicate("msg_3", "app_1", "evt_3", 0).is_err(), "lost");
        assert!(o
            .journaled("msg_5", &[], Some(("app_1", "evt_3")), 0)
            .is_ok());
        assert!(
            o.journaled("msg_6", &[], Some(("app_1", "evt_4")), 0)
                .is_err(),
            "msg_4 survived"
        );
        assert!(
            o.on_disk(&BTreeSet::new()).is_err(),
            "an acknowledged message is gone"
        );
        o.endpoints.get_mut("ep_1").expect("ep").state = EndpointState::Disabled;
        assert!(
            o.attempt("msg_1", "ep_1").is_err(),
            "no attempt while disabled"
        );
    }

    /// With a window, an `eventId` holds for less than it; a compaction
    /// may take only old messages whose deliveries all ended.
    #[test]
    fn the_window_and_compaction_in_the_model() {
        let mut o = Oracle {
            event_id_window_ms: Some(1_000),
            ..Oracle::default()
        };
        o.journaled("msg_1", &["ep_1".into()], Some(("app_1", "evt_1")), 5_000)
            .expect("first");
        o.acknowledged("msg_1");
        assert!(o.duplicate("msg_1", "app_1", "evt_1", 5_999).is_ok());
        assert!(
            o.duplicate("msg_1", "app_1", "evt_1", 6_000).is_err(),
            "past the window"
        );
        assert!(
            o.journaled("msg_2", &[], Some(("app_1", "evt_1")), 5_500)
                .is_err(),
            "within the window"
        );
        o.journaled("msg_3", &["ep_1".into()], Some(("app_1", "evt_1")), 6_000)
            .expect("past the window");
        o.acknowledged("msg_3");
        let only_3: BTreeSet<String> = ["msg_3"].map(String::from).into();
        o.compaction(10_000);
        assert!(
            o.on_disk(&only_3).is_err(),
            "msg_1's delivery is pending: its record must stay"
        );
        o.settled("msg_1", "ep_1", Stand::Succeeded, 200);
        o.compaction(5_500);
        o.on_disk(&only_3).expect("msg_1 was old and ended");
        assert!(
            o.on_disk(&BTreeSet::new()).is_err(),
            "msg_3's delivery is pending"
        );
        o.settled("msg_3", "ep_1", Stand::Succeeded, 200);
        o.compaction(5_500);
        assert!(
            o.on_disk(&BTreeSet::new()).is_err(),
            "msg_3 is newer than the compaction's cutoff"
        );
        o.compaction(6_001);
        o.on_disk(&BTreeSet::new()).expect("both old and ended");
    }
}
