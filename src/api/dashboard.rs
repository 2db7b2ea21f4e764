//! The console dashboard's data: a task on shard 0 samples the engine's
//! metrics into a `history::History` every `dashboard_sample_ms` (an hour
//! of them is kept), and `GET /api/v1/stats/dashboard` (operators only; a
//! ringhook addition) answers them.

use super::http::Response;
use super::params::ok;
use crate::history::History;
use crate::records::ATTEMPT_ERROR_KINDS;
use crate::shard::state::Shard;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

const HOUR_MS: u64 = 3_600_000;

thread_local! {
    static HISTORY: RefCell<Option<History>> = const { RefCell::new(None) };
}

/// Samples until the engine stops.
pub async fn run(shard: Rc<Shard>) {
    let every = shard.shared().config.dashboard_sample_ms.max(1);
    let keep = usize::try_from(HOUR_MS / every).unwrap_or(usize::MAX);
    HISTORY.with(|h| *h.borrow_mut() = Some(History::new(keep)));
    while !shard.shared().is_stopping() {
        let snaps = shard.shared().metrics.snapshots();
        let now = crate::time::now_ms();
        HISTORY.with(|h| {
            if let Some(h) = h.borrow_mut().as_mut() {
                h.sample(&snaps, now);
            }
        });
        glommio::timer::sleep(Duration::from_millis(every)).await;
    }
}

/// `GET /api/v1/stats/dashboard`: the samples of the last hour, oldest
/// first, and the application and URL of each endpoint they name among the
/// longest backlogs.
pub fn dashboard(shard: &Shard) -> Response {
    let mut named = std::collections::BTreeSet::new();
    let samples: Vec<serde_json::Value> = HISTORY.with(|h| {
        h.borrow()
            .as_ref()
            .map(|h| {
                h.samples()
                    .inspect(|s| named.extend(s.longest_queues.iter().map(|(id, _)| id.clone())))
                    .filter_map(|s| serde_json::to_value(s).ok())
                    .collect()
            })
            .unwrap_or_default()
    });
    let catalog = shard.shared().catalog.load();
    let endpoints: serde_json::Map<String, serde_json::Value> = named
        .into_iter()
        .filter_map(|id| {
            let ep = catalog.endpoint_by_id(&id)?;
            Some((id, serde_json::json!({ "appId": ep.app_id, "url": ep.url })))
        })
        .collect();
    ok(
        200,
        serde_json::json!({
            "sampleMs": shard.shared().config.dashboard_sample_ms,
            "errorKinds": ATTEMPT_ERROR_KINDS,
            "samples": samples,
            "endpoints": endpoints,
        }),
    )
}
