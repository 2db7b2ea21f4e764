//! Fires cron sources: a task on shard 0 that, about once a second (or at
//! the next tick, if sooner), finds each enabled cron source's due tick
//! (`cron::due`) and submits its messages — one of the source's application
//! and one per route, `eventId` `cron-<tick>` — through the same path as
//! API messages. A tick counts as fired once they are accepted (or were
//! already: a duplicate `eventId`); recovery hands back the newest tick
//! fired per source, read from those messages.

use crate::accept::IngestError;
use crate::incoming::cron::{self, Schedule};
use crate::incoming::source;
use crate::records::SourceRecord;
use crate::shard::route;
use crate::shard::state::Shard;
use serde_json::Value;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// The longest the ticker sleeps between looks at the catalog.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// A source's parsed schedule, kept while the source is unchanged.
struct Parsed {
    updated_ms: u64,
    schedule: Option<Schedule>,
}

fn config(src: &SourceRecord) -> serde_json::Map<String, Value> {
    match serde_json::from_str(&src.config) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// Runs until the engine stops; `fired` is the newest tick fired per
/// source, as recovery found it.
pub async fn run(shard: Rc<Shard>, mut fired: HashMap<String, u64>) {
    let mut parsed: HashMap<String, Parsed> = HashMap::new();
    while !shard.shared().is_stopping() {
        let now = crate::time::now_ms();
        let catalog = shard.shared().catalog.load_full();
        let lookback = shard.shared().config.retention_ms;
        let mut next_wake = now + LOOK_EVERY.as_millis() as u64;
        for src in catalog
            .sources()
            .filter(|s| s.kind == "cron" && !s.disabled)
        {
            let entry = parsed.entry(src.id.clone()).or_insert(Parsed {
                updated_ms: u64::MAX,
                schedule: None,
            });
            let cfg = config(src);
            if entry.updated_ms != src.updated_ms {
                let text = cfg.get("schedule").and_then(Value::as_str).unwrap_or("");
                *entry = Parsed {
                    updated_ms: src.updated_ms,
                    schedule: Schedule::parse(text).ok(),
                };
            }
            let Some(schedule) = &entry.schedule else {
                continue;
            };
            // Not before the source's last change: re-enabling it or a new
            // schedule fires nothing it missed before.
            let after = fired.get(&src.id).copied().unwrap_or(0).max(src.updated_ms);
            if let Some(tick) = cron::due(schedule, after, now, lookback) {
                if fire(&shard, src, &cfg, tick).await {
                    fired.insert(src.id.clone(), tick);
                }
            }
            if let Some(next) = schedule.next_after(now) {
                next_wake = next_wake.min(next);
            }
        }
        // Forget sources that are gone (bounded by the catalog).
        fired.retain(|id, _| catalog.source(id).is_some());
        parsed.retain(|id, _| catalog.source(id).is_some());
        let wait = next_wake.saturating_sub(crate::time::now_ms()).max(1);
        glommio::timer::sleep(Duration::from_millis(wait)).await;
    }
}

/// Submits one tick's messages; whether the tick counts as fired.
async fn fire(
    shard: &Rc<Shard>,
    src: &SourceRecord,
    cfg: &serde_json::Map<String, Value>,
    tick: u64,
) -> bool {
    let body = cfg.get("payload").and_then(Value::as_str).unwrap_or("{}");
    let content_type = cfg.get("contentType").and_then(Value::as_str);
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let payload = source::message_payload(body.as_bytes(), content_type);
    let event_type = cfg
        .get("eventType")
        .and_then(Value::as_str)
        .and_then(source::event_type_name)
        .unwrap_or_else(|| "cron".into());
    let messages = source::messages_for(
        src,
        event_type,
        Some(cron::event_id(tick)),
        payload,
        &[],
        parsed.as_ref(),
    );
    let results = route::submit(shard, messages).await;
    // A route to an application deleted since is skipped, as for requests;
    // anything else not accepted is tried again at the next look.
    results.iter().all(|r| {
        matches!(
            r,
            Ok(_) | Err(IngestError::Duplicate(_)) | Err(IngestError::UnknownApp)
        )
    })
}
