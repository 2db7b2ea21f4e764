//! Record bodies as version 1 wrote them, where they differ from version 2
//! (and today's): kind 17 `Attempt` had no `error_kind`. Frozen: these
//! types must never change, since version-1 bodies stay on disk.

use rkyv::{Archive, Deserialize, Serialize};

/// Kind 17 before version 2: `super::AttemptRecord` without `error_kind`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub id: String,
    pub msg_id: String,
    pub endpoint_id: String,
    pub app_id: String,
    pub attempt_no: u32,
    pub at_ms: u64,
    pub status_code: u16,
    pub duration_us: u32,
    pub outcome: u8,
    pub next_attempt_ms: u64,
    pub response: Vec<u8>,
}

impl From<AttemptRecord> for super::AttemptRecord {
    fn from(a: AttemptRecord) -> super::AttemptRecord {
        super::AttemptRecord {
            error_kind: match a.status_code {
                0 => super::ERROR_KIND_UNKNOWN,
                _ => super::ERROR_KIND_NONE,
            },
            id: a.id,
            msg_id: a.msg_id,
            endpoint_id: a.endpoint_id,
            app_id: a.app_id,
            attempt_no: a.attempt_no,
            at_ms: a.at_ms,
            status_code: a.status_code,
            duration_us: a.duration_us,
            outcome: a.outcome,
            next_attempt_ms: a.next_attempt_ms,
            response: a.response,
        }
    }
}
