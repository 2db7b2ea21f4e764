//! The poller's read (`/api/v1/app/{app}/poller/{endpoint}`): an
//! application's messages after a position, oldest first, that an
//! endpoint's filters and the request's filters take. Bounded by `limit`
//! results and by the index's own bounds (what is within `retention_ms`,
//! at most `index_max_per_key` per application).

use super::{Filter, IdKey, Index, MsgMeta};
use crate::records::EndpointRecord;
use std::ops::Bound;
use std::sync::Arc;

impl Index {
    /// Up to `limit` messages of `app_id` after the id `after` (none: from
    /// the oldest kept), oldest first, that `endpoint` (none: any) and
    /// `filter` take; and whether more are there.
    pub fn poll(
        &self,
        app_id: &str,
        after: Option<&str>,
        endpoint: Option<&EndpointRecord>,
        filter: &Filter,
        limit: usize,
    ) -> (Vec<Arc<MsgMeta>>, bool) {
        let Some(msgs) = self.messages.get(app_id) else {
            return (Vec::new(), false);
        };
        let lower = match after {
            Some(a) => Bound::Excluded(IdKey::bound(a)),
            None => Bound::Unbounded,
        };
        let mut picked: Vec<Arc<MsgMeta>> = msgs
            .range(lower, Bound::Unbounded, false)
            .map(|(_, m)| m)
            .filter(|m| filter.message(m) && endpoint.is_none_or(|ep| takes(ep, m)))
            .take(limit + 1)
            .cloned()
            .collect();
        let more = picked.len() > limit;
        picked.truncate(limit);
        (picked, more)
    }
}

/// Whether the endpoint's filters take the message: its event types and
/// channels, whether or not it is disabled (a disabled endpoint can still
/// be polled).
fn takes(ep: &EndpointRecord, m: &MsgMeta) -> bool {
    (ep.event_types.is_empty() || ep.event_types.iter().any(|t| **t == *m.event_type))
        && (ep.channels.is_empty() || ep.channels.iter().any(|c| m.channels.contains(c)))
}
