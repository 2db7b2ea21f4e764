//! The operational events of recent catalog changes (`endpoint.*`,
//! `source.*`), kept in the catalog beside the changes that made them: the
//! engine submits each after its change is durable and submits the recent
//! ones again at every start, so a crash between a change and its event
//! loses nothing (the event's id deduplicates a second submission).
//!
//! # Invariants
//! - at most `NOTICES_KEPT_MAX` are kept, none older than `NOTICE_KEEP_MS`
//!   before the newest; the engine resubmits only those within its
//!   deduplication window, so a resubmission is recognised as one.

use super::Catalog;
use crate::limits::{NOTICES_KEPT_MAX, NOTICE_KEEP_MS};
use crate::records::NoticeRecord;
use std::sync::Arc;

impl Catalog {
    pub fn keep_notice(&mut self, n: NoticeRecord) {
        let newest = n.at_ms;
        self.notices.push_back(Arc::new(n));
        while self.notices.len() > NOTICES_KEPT_MAX
            || self
                .notices
                .front()
                .is_some_and(|o| o.at_ms.saturating_add(NOTICE_KEEP_MS) < newest)
        {
            self.notices.pop_front();
        }
    }

    /// The kept events, oldest first.
    pub fn notices(&self) -> impl Iterator<Item = &Arc<NoticeRecord>> {
        self.notices.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(i: u64, at_ms: u64) -> NoticeRecord {
        NoticeRecord {
            event_id: format!("endpoint.updated:ep_{i}"),
            event_type: "endpoint.updated".into(),
            payload: b"{}".to_vec(),
            at_ms,
        }
    }

    #[test]
    fn kept_notices_are_bounded_by_count_and_age_and_survive_replay() {
        let mut c = Catalog::default();
        for i in 0..(NOTICES_KEPT_MAX as u64 + 10) {
            c.keep_notice(notice(i, 1_000));
        }
        assert_eq!(c.notices().count(), NOTICES_KEPT_MAX);
        assert_eq!(
            c.notices().next().map(|n| n.event_id.as_str()),
            Some("endpoint.updated:ep_10")
        );
        c.keep_notice(notice(99_999, 1_000 + NOTICE_KEEP_MS + 1));
        assert_eq!(c.notices().count(), 1, "older than the keep window: gone");
        let mut replayed = Catalog::default();
        for (kind, body) in c.snapshot_records().expect("snapshot") {
            replayed.apply(kind as u8, &body).expect("apply");
        }
        assert_eq!(replayed.notices().count(), 1);
    }
}
