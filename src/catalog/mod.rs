//! The catalog: applications, endpoints and event types, as immutable snapshots.
//!
//! Shards read the catalog on every message, so it is a plain value that is
//! cloned, changed and swapped whole (`arc_swap::ArcSwap<Catalog>`): readers
//! never lock. Its maps are persistent (`imbl`): a clone shares every node
//! and a change copies only the path to what it changes, so one write costs
//! O(log n), not a copy of the whole catalog (which, with 20,000
//! applications, made each create take a millisecond). Every change is
//! journaled in the catalog journal first; on start the catalog is rebuilt by
//! replaying that journal through [`Catalog::apply`].
//!
//! # Invariants
//! - every endpoint's `app_id` names an application in `apps`;
//! - `listed` holds exactly the applications of `apps` that are not
//!   ringhook's own (`is_hidden_app`: a source's, or the operational one);
//! - `app_uids` maps to applications that exist, `endpoint_uids` to
//!   endpoints that exist, of the application in its key;
//! - `routes[app]` holds exactly the endpoints of `app` (the same records as
//!   `endpoints`; `routes.rs` keeps its own invariants); an application
//!   without endpoints has no `routes` entry;
//! - every source has an application with the source's id (its forwarding
//!   destinations are that application's endpoints), made by the source's
//!   put and removed with it; `source_uids` and `source_tokens` map to
//!   sources that exist.

mod consumers;
mod notices;
mod routes;
mod rules;
pub mod store;

use crate::records::{
    self, AppRecord, EndpointRecord, EventTypeRecord, Kind, RecordError, SourceRecord,
};
use imbl::{HashMap, OrdMap};
use routes::Routes;
use std::ops::Bound;
use std::sync::Arc;

/// The reserved application of the operational endpoints (`operational`).
pub const OPERATIONAL_APP_ID: &str = "app_operational";

/// Bounds on ids (or names): the part of an ordered listing a page reads
/// (`api::params::paginate`).
pub type IdRange<'r> = (Bound<&'r str>, Bound<&'r str>);

/// One immutable version of the catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    apps: OrdMap<String, Arc<AppRecord>>,
    /// The applications listed (`apps` without ringhook's own), so a page
    /// of them reads only itself.
    listed: OrdMap<String, Arc<AppRecord>>,
    app_uids: HashMap<String, String>,
    endpoints: HashMap<String, Arc<EndpointRecord>>,
    endpoint_uids: HashMap<(String, String), String>,
    /// One shared copy of each endpoint id, for the many pending deliveries
    /// that name it.
    endpoint_names: HashMap<String, Arc<str>>,
    /// App id → its endpoints and fan-out lists (`routes.rs`); a change
    /// copies the application's `Routes` and the lists it touches.
    routes: HashMap<String, Arc<Routes>>,
    event_types: OrdMap<String, Arc<EventTypeRecord>>,
    /// Schemas and flags of event types that have them.
    event_type_details: OrdMap<String, Arc<records::EventTypeDetailsRecord>>,
    sources: OrdMap<String, Arc<SourceRecord>>,
    source_uids: HashMap<String, String>,
    /// Receive-URL token → source id.
    source_tokens: HashMap<String, String>,
    /// Notification rules and the state of each that has changed once.
    rules: OrdMap<String, Arc<records::RuleRecord>>,
    rule_states: OrdMap<String, Arc<records::RuleStateRecord>>,
    /// Poller consumers' positions by (endpoint id, consumer id)
    /// (`consumers.rs`).
    consumers: OrdMap<(String, String), Arc<records::ConsumerRecord>>,
    /// The operational events of recent changes, oldest first (`notices.rs`).
    notices: imbl::Vector<Arc<records::NoticeRecord>>,
}

impl Catalog {
    /// Applies one catalog record this build just encoded (of today's
    /// `RECORD_VERSION`).
    pub fn apply(&mut self, kind: u8, body: &[u8]) -> Result<(), RecordError> {
        self.apply_versioned(kind, records::RECORD_VERSION, body)
    }

    /// Applies one catalog journal record of body version `version`.
    pub fn apply_versioned(
        &mut self,
        kind: u8,
        version: u8,
        body: &[u8],
    ) -> Result<(), RecordError> {
        match Kind::from_u8(kind) {
            Some(Kind::AppPut) => self.put_app(records::decode_app(body)?),
            Some(Kind::AppDelete) => self.delete_app(&records::decode_delete(body)?.id),
            Some(Kind::EndpointPut) => self.put_endpoint(records::decode_endpoint(version, body)?),
            Some(Kind::EndpointDelete) => self.delete_endpoint(&records::decode_delete(body)?.id),
            Some(Kind::EventTypePut) => {
                let et = records::decode_event_type(body)?;
                self.event_types.insert(et.name.clone(), Arc::new(et));
            }
            Some(Kind::EventTypeDelete) => {
                let name = records::decode_delete(body)?.id;
                self.event_types.remove(&name);
                self.event_type_details.remove(&name);
            }
            Some(Kind::EventTypeDetails) => {
                let d = records::decode_event_type_details(body)?;
                self.event_type_details.insert(d.name.clone(), Arc::new(d));
            }
            Some(Kind::SourcePut) => self.put_source(records::decode_source(body)?),
            Some(Kind::SourceDelete) => self.delete_source(&records::decode_delete(body)?.id),
            Some(Kind::RulePut) => self.put_rule(records::decode_rule(body)?),
            Some(Kind::RuleDelete) => self.delete_rule(&records::decode_delete(body)?.id),
            Some(Kind::RuleState) => self.put_rule_state(records::decode_rule_state(body)?),
            Some(Kind::Notice) => self.keep_notice(records::decode_notice(body)?),
            Some(Kind::ConsumerPosition) => self.put_consumer(records::decode_consumer(body)?),
            _ => return Err(RecordError::UnknownKind(kind)),
        }
        Ok(())
    }

    /// The live catalog as put records, in an order whose replay through
    /// [`Catalog::apply`] rebuilds it: applications, event types, then
    /// endpoints (compaction writes these as the new journal).
    pub fn snapshot_records(&self) -> Result<Vec<(Kind, rkyv::util::AlignedVec)>, RecordError> {
        let mut out =
            Vec::with_capacity(self.apps.len() + self.event_types.len() + self.endpoints.len());
        for app in self.apps.values() {
            out.push((Kind::AppPut, records::encode(app.as_ref())?));
        }
        for et in self.event_types.values() {
            out.push((Kind::EventTypePut, records::encode(et.as_ref())?));
        }
        for d in self.event_type_details.values() {
            out.push((Kind::EventTypeDetails, records::encode(d.as_ref())?));
        }
        for src in self.sources.values() {
            out.push((Kind::SourcePut, records::encode(src.as_ref())?));
        }
        for ep in self.routes.values().flat_map(|r| r.all()) {
            out.push((Kind::EndpointPut, records::encode(ep.as_ref())?));
        }
        self.snapshot_rules(&mut out)?;
        for c in self.consumers.values() {
            out.push((Kind::ConsumerPosition, records::encode(c.as_ref())?));
        }
        for n in &self.notices {
            out.push((Kind::Notice, records::encode(n.as_ref())?));
        }
        Ok(out)
    }

    /// How many applications, endpoints and event types the catalog holds.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.apps.len(),
            self.endpoints.len(),
            self.event_types.len(),
        )
    }

    /// Puts a source, and its application when it has none yet.
    pub fn put_source(&mut self, src: SourceRecord) {
        if let Some(old) = self.sources.get(&src.id) {
            if let Some(uid) = &old.uid {
                self.source_uids.remove(uid);
            }
            self.source_tokens.remove(&old.token);
        }
        if let Some(uid) = &src.uid {
            self.source_uids.insert(uid.clone(), src.id.clone());
        }
        self.source_tokens.insert(src.token.clone(), src.id.clone());
        if !self.apps.contains_key(&src.id) {
            self.put_app(AppRecord {
                id: src.id.clone(),
                uid: None,
                name: src.name.clone(),
                metadata: "{}".into(),
                rate_limit: None,
                created_ms: src.created_ms,
                updated_ms: src.created_ms,
            });
        }
        self.listed.remove(&src.id);
        self.sources.insert(src.id.clone(), Arc::new(src));
    }

    /// Deletes a source with its application and that one's endpoints.
    pub fn delete_source(&mut self, id: &str) {
        let Some(src) = self.sources.remove(id) else {
            return;
        };
        if let Some(uid) = &src.uid {
            self.source_uids.remove(uid);
        }
        self.source_tokens.remove(&src.token);
        self.delete_app(id);
    }

    /// A source by id or uid.
    pub fn source(&self, id_or_uid: &str) -> Option<&Arc<SourceRecord>> {
        self.sources.get(id_or_uid).or_else(|| {
            self.source_uids
                .get(id_or_uid)
                .and_then(|id| self.sources.get(id))
        })
    }

    /// The source whose receive URL carries `token`.
    pub fn source_by_token(&self, token: &str) -> Option<&Arc<SourceRecord>> {
        self.source_tokens
            .get(token)
            .and_then(|id| self.sources.get(id))
    }

    /// Sources in id order (creation order).
    pub fn sources(&self) -> impl DoubleEndedIterator<Item = &Arc<SourceRecord>> {
        self.sources.values()
    }

    /// The sources whose ids lie in `ids`, in id order.
    pub fn sources_in<'a>(
        &'a self,
        ids: IdRange<'_>,
    ) -> impl DoubleEndedIterator<Item = &'a Arc<SourceRecord>> + 'a {
        in_range(&self.sources, ids)
    }

    /// How many sources the catalog holds.
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// Whether an application belongs to a source (not listed as an
    /// application, changed only through its source).
    pub fn is_source_app(&self, app_id: &str) -> bool {
        self.sources.contains_key(app_id)
    }

    /// Whether an application is ringhook's own (a source's, or the
    /// operational endpoints'): not listed, changed only through its owner.
    pub fn is_hidden_app(&self, app_id: &str) -> bool {
        app_id == OPERATIONAL_APP_ID || self.sources.contains_key(app_id)
    }

    pub fn put_app(&mut self, app: AppRecord) {
        if let Some(old) = self.apps.get(&app.id) {
            if let Some(uid) = &old.uid {
                self.app_uids.remove(uid);
            }
        }
        if let Some(uid) = &app.uid {
            self.app_uids.insert(uid.clone(), app.id.clone());
        }
        let app = Arc::new(app);
        if !self.is_hidden_app(&app.id) {
            self.listed.insert(app.id.clone(), app.clone());
        }
        self.apps.insert(app.id.clone(), app);
    }

    pub fn delete_app(&mut self, id: &str) {
        self.listed.remove(id);
        let Some(app) = self.apps.remove(id) else {
            return;
        };
        if let Some(uid) = &app.uid {
            self.app_uids.remove(uid);
        }
        for ep in self.routes.remove(id).unwrap_or_default().all() {
            self.forget_consumers(&ep.id);
            self.endpoint_names.remove(&ep.id);
            self.endpoints.remove(&ep.id);
            if let Some(uid) = &ep.uid {
                self.endpoint_uids.remove(&(ep.app_id.clone(), uid.clone()));
            }
        }
    }

    pub fn put_endpoint(&mut self, ep: EndpointRecord) {
        if !self.endpoint_names.contains_key(&ep.id) {
            let name = Arc::from(ep.id.as_str());
            self.endpoint_names.insert(ep.id.clone(), name);
        }
        let ep = Arc::new(ep);
        if let Some(old) = self.endpoints.insert(ep.id.clone(), ep.clone()) {
            self.unroute(&old);
        }
        if let Some(uid) = &ep.uid {
            let key = (ep.app_id.clone(), uid.clone());
            self.endpoint_uids.insert(key, ep.id.clone());
        }
        let routes = self.routes.entry(ep.app_id.clone()).or_default();
        Arc::make_mut(routes).put(&ep);
    }

    pub fn delete_endpoint(&mut self, id: &str) {
        self.forget_consumers(id);
        self.endpoint_names.remove(id);
        if let Some(ep) = self.endpoints.remove(id) {
            self.unroute(&ep);
        }
    }

    /// Takes `ep` out of its application's routes and its uid out of
    /// `endpoint_uids`; routes left empty go, so deleted applications leave
    /// nothing behind.
    fn unroute(&mut self, ep: &EndpointRecord) {
        if let Some(uid) = &ep.uid {
            let key = (ep.app_id.clone(), uid.clone());
            if self.endpoint_uids.get(&key) == Some(&ep.id) {
                self.endpoint_uids.remove(&key);
            }
        }
        let Some(routes) = self.routes.get_mut(&ep.app_id) else {
            return;
        };
        let routes = Arc::make_mut(routes);
        routes.remove(ep);
        if routes.is_empty() {
            self.routes.remove(&ep.app_id);
        }
    }

    /// An application by id or uid.
    pub fn app(&self, id_or_uid: &str) -> Option<&Arc<AppRecord>> {
        self.apps.get(id_or_uid).or_else(|| {
            self.app_uids
                .get(id_or_uid)
                .and_then(|id| self.apps.get(id))
        })
    }

    /// Applications in id order (creation order), without ringhook's own.
    pub fn apps(&self) -> impl DoubleEndedIterator<Item = &Arc<AppRecord>> {
        self.listed.values()
    }

    /// How many applications [`Catalog::apps`] lists, without walking them
    /// (the limit check of every application create).
    pub fn app_count(&self) -> usize {
        self.listed.len()
    }

    /// How many event types the catalog holds.
    pub fn event_type_count(&self) -> usize {
        self.event_types.len()
    }

    /// The applications [`Catalog::apps`] lists whose ids lie in `ids`.
    pub fn apps_in<'a>(
        &'a self,
        ids: IdRange<'_>,
    ) -> impl DoubleEndedIterator<Item = &'a Arc<AppRecord>> + 'a {
        in_range(&self.listed, ids)
    }

    /// Every application, ringhook's own and sources' ones too.
    pub fn every_app(&self) -> impl DoubleEndedIterator<Item = &Arc<AppRecord>> {
        self.apps.values()
    }

    /// An endpoint of `app_id` by id or uid.
    pub fn endpoint(&self, app_id: &str, id_or_uid: &str) -> Option<&Arc<EndpointRecord>> {
        let routes = self.routes.get(app_id)?;
        routes.get(id_or_uid).or_else(|| {
            let key = (app_id.to_string(), id_or_uid.to_string());
            self.endpoint_uids.get(&key).and_then(|id| routes.get(id))
        })
    }

    /// The shared copy of an endpoint id (a new one if it is not in the catalog).
    pub fn endpoint_name(&self, id: &str) -> Arc<str> {
        self.endpoint_names
            .get(id)
            .cloned()
            .unwrap_or_else(|| Arc::from(id))
    }

    /// An endpoint by id alone (delivery path).
    pub fn endpoint_by_id(&self, id: &str) -> Option<&Arc<EndpointRecord>> {
        self.endpoints.get(id)
    }

    /// Whether any endpoint delivers in order (`fifo`).
    pub fn has_fifo_endpoints(&self) -> bool {
        self.endpoints.values().any(|e| e.fifo)
    }

    /// How many endpoints `app_id` has, without looking at them (the
    /// limit check of every endpoint create).
    pub fn endpoint_count(&self, app_id: &str) -> usize {
        self.routes.get(app_id).map_or(0, |r| r.len())
    }

    /// The endpoints of an application, in id order.
    pub fn endpoints_of<'a>(
        &'a self,
        app_id: &str,
    ) -> impl DoubleEndedIterator<Item = &'a Arc<EndpointRecord>> + 'a {
        let all = self.routes.get(app_id).map_or(&[][..], |r| r.all());
        all.iter()
    }

    /// The endpoints of an application whose ids lie in `ids`, in id order.
    pub fn endpoints_of_in<'a>(
        &'a self,
        app_id: &str,
        ids: IdRange<'_>,
    ) -> impl DoubleEndedIterator<Item = &'a Arc<EndpointRecord>> + 'a {
        let found = self.routes.get(app_id).map_or(&[][..], |r| r.range(ids));
        found.iter()
    }

    pub fn event_type(&self, name: &str) -> Option<&Arc<EventTypeRecord>> {
        self.event_types.get(name)
    }

    /// An event type's schemas and flags, if it has any.
    pub fn event_type_details(&self, name: &str) -> Option<&Arc<records::EventTypeDetailsRecord>> {
        self.event_type_details.get(name)
    }

    pub fn event_types(&self) -> impl DoubleEndedIterator<Item = &Arc<EventTypeRecord>> {
        self.event_types.values()
    }

    /// The event types whose names lie in `names`, by name.
    pub fn event_types_in<'a>(
        &'a self,
        names: IdRange<'_>,
    ) -> impl DoubleEndedIterator<Item = &'a Arc<EventTypeRecord>> + 'a {
        in_range(&self.event_types, names)
    }

    /// The endpoints that receive a message: enabled, subscribed to its event
    /// type (an empty filter takes all), and sharing a channel with it when the
    /// endpoint lists channels.
    pub fn fan_out(&self, app_id: &str, event_type: &str, channels: &[String]) -> Vec<String> {
        let Some(routes) = self.routes.get(app_id) else {
            return Vec::new();
        };
        let (any, typed) = routes.candidates(event_type);
        let mut out = Vec::with_capacity(any.len() + typed.len());
        // The two lists are disjoint and sorted: merge them in id order.
        let (mut a, mut b) = (any.iter().peekable(), typed.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.id <= y.id => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            let Some(ep) = next else { break };
            if matches(ep, event_type, channels) {
                out.push(ep.id.clone());
            }
        }
        out
    }
}

/// The values of `map` whose keys lie in `ids`, in key order.
fn in_range<'a, V: Clone>(
    map: &'a OrdMap<String, V>,
    ids: IdRange<'_>,
) -> impl DoubleEndedIterator<Item = &'a V> + 'a {
    map.range::<_, str>(ids).map(|(_, v)| v)
}

/// Whether an endpoint takes a message of this event type and channels.
pub fn matches(ep: &EndpointRecord, event_type: &str, channels: &[String]) -> bool {
    !ep.disabled
        && (ep.event_types.is_empty() || ep.event_types.iter().any(|t| t == event_type))
        && (ep.channels.is_empty() || ep.channels.iter().any(|c| channels.contains(c)))
}

/// Checks an event type or channel name: `[a-zA-Z0-9\-_.]`, 1 to 256 bytes.
pub fn valid_event_type(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str, uid: Option<&str>) -> AppRecord {
        AppRecord {
            id: id.into(),
            uid: uid.map(Into::into),
            name: id.into(),
            metadata: "{}".into(),
            rate_limit: None,
            created_ms: 1,
            updated_ms: 1,
        }
    }

    fn ep(id: &str, app: &str, types: &[&str], channels: &[&str]) -> EndpointRecord {
        EndpointRecord {
            event_types: types.iter().map(|s| s.to_string()).collect(),
            channels: channels.iter().map(|s| s.to_string()).collect(),
            ..EndpointRecord::new(id.into(), app.into(), "http://127.0.0.1:1/".into(), 1)
        }
    }

    #[test]
    fn fan_out_filters_by_type_channel_and_disabled() {
        let mut c = Catalog::default();
        c.put_app(app("app_1", Some("acme")));
        c.put_endpoint(ep("ep_a", "app_1", &[], &[]));
        c.put_endpoint(ep("ep_b", "app_1", &["invoice.paid"], &[]));
        c.put_endpoint(ep("ep_c", "app_1", &[], &["eu"]));
        let mut d = ep("ep_d", "app_1", &[], &[]);
        d.disabled = true;
        c.put_endpoint(d);
        assert_eq!(c.fan_out("app_1", "invoice.paid", &[]), ["ep_a", "ep_b"]);
        assert_eq!(
            c.fan_out("app_1", "user.created", &["eu".into()]),
            ["ep_a", "ep_c"]
        );
        assert_eq!(c.app("acme").map(|a| a.id.as_str()), Some("app_1"));
        assert_eq!(c.endpoint_count("app_1"), 4);
        c.delete_app("app_1");
        assert_eq!(c.endpoint_count("app_1"), 0);
        assert!(c.endpoint_by_id("ep_a").is_none());
        assert!(c.app("acme").is_none());
        assert!(c.routes.is_empty(), "nothing left behind");
    }

    proptest::proptest! {
        /// The fan-out index answers exactly as a scan of every endpoint
        /// would, through puts (which may change an endpoint's filter and uid),
        /// deletes and application deletes.
        #[test]
        fn fan_out_index_matches_a_full_scan(
            ops in proptest::collection::vec((0u8..4, 0usize..8, 0usize..3, proptest::collection::vec(0usize..3, 0..3), proptest::bool::ANY), 1..60),
        ) {
            let types = ["a", "b", "c"];
            let mut c = Catalog::default();
            c.put_app(app("app_1", None));
            c.put_app(app("app_2", None));
            for (op, n, a, filter, disabled) in ops {
                let app_id = if a == 0 { "app_2" } else { "app_1" };
                let id = format!("ep_{n}");
                match op {
                    0 | 1 => {
                        // Puts of op 0 keep an endpoint's application (as
                        // the API does), those of op 1 may move it.
                        let kept = c.endpoint_by_id(&id).filter(|_| op == 0).map(|e| e.app_id.clone());
                        let owner = kept.unwrap_or_else(|| app_id.to_string());
                        let f: Vec<&str> = filter.iter().map(|i| types[*i]).collect();
                        let mut e = ep(&id, &owner, &f, &[]);
                        e.disabled = disabled;
                        // Puts of op 1 give it a uid, of op 0 take it away.
                        e.uid = (op == 1).then(|| format!("u{n}"));
                        c.put_endpoint(e);
                    }
                    2 => c.delete_endpoint(&id),
                    _ => {
                        c.delete_app(app_id);
                        c.put_app(app(app_id, None));
                    }
                }
                for app_id in ["app_1", "app_2"] {
                    for t in types {
                        let mut scan: Vec<String> = c
                            .endpoints
                            .values()
                            .filter(|e| e.app_id == app_id && matches(e, t, &[]))
                            .map(|e| e.id.clone())
                            .collect();
                        scan.sort();
                        proptest::prop_assert_eq!(c.fan_out(app_id, t, &[]), scan);
                    }
                }
                for app_id in ["app_1", "app_2"] {
                    let owned = c.endpoints.values().filter(|e| e.app_id == app_id).count();
                    proptest::prop_assert_eq!(c.endpoint_count(app_id), owned);
                    proptest::prop_assert_eq!(c.endpoints_of(app_id).count(), owned);
                }
                proptest::prop_assert!(c.routes.values().all(|r| !r.is_empty() && r.is_sound()));
                for ((app_id, uid), id) in c.endpoint_uids.iter() {
                    let e = c.endpoints.get(id);
                    proptest::prop_assert!(e.is_some_and(|e| &e.app_id == app_id && e.uid.as_ref() == Some(uid)));
                }
                for e in c.endpoints.values() {
                    let routed = c.routes.get(&e.app_id).and_then(|r| r.get(&e.id));
                    proptest::prop_assert!(routed.is_some_and(|r| Arc::ptr_eq(r, e)));
                    if let Some(uid) = &e.uid {
                        proptest::prop_assert_eq!(c.endpoint(&e.app_id, uid).map(|f| f.id.as_str()), Some(e.id.as_str()));
                    }
                }
            }
        }
    }

    #[test]
    fn app_count_leaves_out_ringhook_own_applications() {
        let mut c = Catalog::default();
        c.put_app(app("app_1", None));
        c.put_app(app(OPERATIONAL_APP_ID, None));
        c.put_source(SourceRecord {
            id: "src_1".into(),
            uid: None,
            name: "stripe".into(),
            kind: "stripe".into(),
            config: "{}".into(),
            metadata: "{}".into(),
            description: String::new(),
            disabled: false,
            token: "tok".into(),
            log_requests: false,
            rate_limit: None,
            max_body_bytes: None,
            routes: Vec::new(),
            created_ms: 1,
            updated_ms: 1,
        });
        assert_eq!(c.every_app().count(), 3);
        assert_eq!(c.app_count(), 1);
        let listed = |c: &Catalog| c.apps().map(|a| a.id.clone()).collect::<Vec<_>>();
        assert_eq!(listed(&c), ["app_1"]);
        // Replay puts a source's application before its source.
        let mut replayed = Catalog::default();
        for (kind, body) in c.snapshot_records().expect("snapshot") {
            replayed.apply(kind as u8, &body).expect("apply");
        }
        assert_eq!((listed(&replayed), replayed.app_count()), (listed(&c), 1));
        let ids = |ids| c.apps_in(ids).map(|a| a.id.clone()).collect::<Vec<_>>();
        use std::ops::Bound::{Excluded, Unbounded};
        assert_eq!(ids((Excluded("app_0"), Unbounded)), ["app_1"]);
        assert!(
            ids((Excluded("app_1"), Unbounded)).is_empty(),
            "no hidden one after it"
        );
        c.delete_source("src_1");
        c.delete_app(OPERATIONAL_APP_ID);
        assert_eq!(c.app_count(), c.every_app().count());
    }

    #[test]
    fn records_replay_through_apply() {
        let mut c = Catalog::default();
        let body = records::encode(&app("app_9", None)).expect("encodes");
        c.apply(Kind::AppPut as u8, &body).expect("applies");
        assert!(c.app("app_9").is_some());
        assert!(c.apply(99, &body).is_err());
    }
}
