//! The operational endpoints' API (`/api/v1/operational-webhook/endpoint`,
//! Svix's `svix.operational_webhook.endpoint.*`): the endpoint handlers on
//! ringhook's reserved operational application, made at the first create.
//! (Which events a change makes is `operational::change_notices`, called by
//! the catalog commit.)

use super::params::*;
use crate::operational::APP_ID;
use crate::records::{AppRecord, Kind};
use crate::shard::state::Shard;

/// The operational application's id; made first when `create` and it does
/// not exist yet (other routes then answer 404 for the endpoint).
pub fn ensure_app(shard: &Shard, create: bool) -> Result<&'static str> {
    let exists = shard.shared().catalog.load().app(APP_ID).is_some();
    if !exists && create {
        let now = crate::time::now_ms();
        let app = AppRecord {
            id: APP_ID.to_string(),
            uid: None,
            name: "Operational webhooks".into(),
            metadata: "{}".into(),
            rate_limit: None,
            created_ms: now,
            updated_ms: now,
        };
        commit_catalog(shard, Kind::AppPut, &encode(&app)?)?;
    }
    Ok(APP_ID)
}
