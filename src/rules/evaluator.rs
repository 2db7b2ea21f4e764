//! Evaluates the notification rules: a task on shard 0 that, every
//! `rule_eval_interval_ms`, observes each enabled rule's scope, computes its
//! signal's value (`rules::value`), steps its state (`rules::next_state`)
//! and, on a change, tells the operators (an operational webhook made
//! durable first), journals the new state in the catalog, and logs it.
//!
//! What it observes is what the engine already keeps, read off the
//! delivery path: for scope `all`, the shards' published metrics
//! snapshots, sampled here into a bounded ring of totals
//! (`RULE_SAMPLES_MAX`), and the shards' oldest pending message time
//! (refreshed every `compaction_interval_ms`); for the other scopes, the
//! read path's indexes on every shard (`shard::query::window`).
//!
//! # Invariants
//! - a change's event is journaled with its state in one sync (a `Notice`
//!   record beside the `RuleState`, `Shard::commit_catalog_telling`) and
//!   submitted by shard 0's outbox, again at start until it is accepted:
//!   neither goes without the other; a crash before both repeats the
//!   evaluation.

use super::{next_state, value, Change, Observed, Rule, Scope, Signal, Tracked};
use crate::limits::RULE_SAMPLES_MAX;
use crate::metrics::{latency_histogram, Snapshot};
use crate::operational::Notice;
use crate::reads::index::WindowQuery;
use crate::records::{self, Kind, RuleStateRecord};
use crate::shard::query;
use crate::shard::state::Shard;
use hdrhistogram::Histogram;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Engine totals at one evaluation (scope `all`).
#[derive(Debug, Clone, Copy)]
struct Totals {
    at_ms: u64,
    messages: u64,
    attempts: u64,
    failed: u64,
    /// The 99th percentile of end-to-end latency since the previous sample.
    p99_us: u64,
}

/// The ring of engine totals and the latency histogram of the last one.
struct Engine {
    ring: VecDeque<Totals>,
    e2e: Histogram<u64>,
}

impl Engine {
    fn sample(&mut self, snaps: &[Arc<Snapshot>], now_ms: u64) {
        let mut t = Totals {
            at_ms: now_ms,
            messages: 0,
            attempts: 0,
            failed: 0,
            p99_us: 0,
        };
        let mut e2e = latency_histogram();
        for s in snaps {
            t.messages += s.stats.messages_ingested;
            t.attempts += s.stats.attempts;
            t.failed += s.stats.attempts_failed;
            let _ = e2e.add(&s.stats.e2e_us);
        }
        let mut interval = e2e.clone();
        if interval.subtract(&self.e2e).is_ok() && !interval.is_empty() {
            t.p99_us = interval.value_at_quantile(0.99);
        }
        self.e2e = e2e;
        if self.ring.len() == RULE_SAMPLES_MAX {
            self.ring.pop_front();
        }
        self.ring.push_back(t);
    }

    /// Counts over the window ending at the newest sample: from the newest
    /// sample at least `window_ms` old (or the oldest one there is).
    fn observe(&self, window_ms: u64, shard: &Shard, now_ms: u64) -> Observed {
        let (Some(last), Some(first)) = (self.ring.back(), self.ring.front()) else {
            return Observed::default();
        };
        let start = now_ms.saturating_sub(window_ms);
        let base = self
            .ring
            .iter()
            .rev()
            .find(|t| t.at_ms <= start)
            .unwrap_or(first);
        let snaps = shard.shared().metrics.snapshots();
        let oldest = shard
            .shared()
            .oldest_pending_ms
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .min()
            .unwrap_or(u64::MAX);
        Observed {
            messages: Some(last.messages.saturating_sub(base.messages)),
            attempts: Some(last.attempts.saturating_sub(base.attempts)),
            failed: Some(last.failed.saturating_sub(base.failed)),
            consecutive_failures: None,
            backlog: Some(snaps.iter().map(|s| s.pending_deliveries).sum()),
            oldest_pending_ms: (oldest != u64::MAX).then(|| now_ms.saturating_sub(oldest)),
            e2e_p99_us: self
                .ring
                .iter()
                .filter(|t| t.at_ms > start)
                .map(|t| t.p99_us)
                .max(),
            covered_ms: last.at_ms.saturating_sub(base.at_ms),
        }
    }
}

/// What the read-path indexes hold of a scope other than `all`.
async fn observe_scope(shard: &Rc<Shard>, rule: &Rule, now_ms: u64) -> Option<Observed> {
    let catalog = shard.shared().catalog.load_full();
    let endpoints =
        |app: &str| -> Vec<String> { catalog.endpoints_of(app).map(|e| e.id.clone()).collect() };
    let messages = rule.signal == Signal::NoMessages;
    let q = match &rule.scope {
        Scope::All => return None,
        Scope::App(app) | Scope::Source(app) => WindowQuery {
            app_id: Some(app.clone()),
            messages,
            endpoints: if messages { Vec::new() } else { endpoints(app) },
            ..WindowQuery::default()
        },
        Scope::Endpoint { endpoint_id, .. } => WindowQuery {
            endpoints: vec![endpoint_id.clone()],
            ..WindowQuery::default()
        },
        Scope::EventType { event_type, app_id } => WindowQuery {
            app_id: app_id.clone(),
            event_type: Some(event_type.clone()),
            messages: true,
            ..WindowQuery::default()
        },
    };
    drop(catalog);
    let w = query::window(
        shard,
        WindowQuery {
            since_ms: now_ms.saturating_sub(rule.window_ms),
            ..q
        },
    )
    .await?;
    // The indexes hold everything within `retention_ms`.
    let retention = shard.shared().config.retention_ms;
    Some(Observed {
        messages: Some(w.messages),
        attempts: Some(w.attempts),
        failed: Some(w.failed),
        consecutive_failures: Some(w.consecutive_failures),
        backlog: Some(w.backlog),
        oldest_pending_ms: None,
        e2e_p99_us: None,
        covered_ms: rule.window_ms.min(retention),
    })
}

/// The rule's scope as the API shows it.
pub fn scope_view(scope: &Scope) -> serde_json::Value {
    match scope {
        Scope::All => json!({ "type": "all" }),
        Scope::App(app) => json!({ "type": "app", "appId": app }),
        Scope::Source(src) => json!({ "type": "source", "sourceId": src }),
        Scope::Endpoint {
            app_id,
            endpoint_id,
        } => json!({ "type": "endpoint", "appId": app_id, "endpointId": endpoint_id }),
        Scope::EventType { event_type, app_id } => {
            json!({ "type": "eventType", "eventType": event_type, "appId": app_id })
        }
    }
}

/// Tells, journals and logs one change.
fn changed(shard: &Shard, rule: &Rule, t: &Tracked, change: Change, v: f64, now_ms: u64) {
    let firing = change == Change::Fire;
    let data = json!({
        "ruleId": rule.id,
        "name": rule.name,
        "scope": scope_view(&rule.scope),
        "signal": rule.signal.name(),
        "comparison": match rule.comparison {
            super::Comparison::Gt => ">",
            super::Comparison::Ge => ">=",
            super::Comparison::Lt => "<",
            super::Comparison::Le => "<=",
        },
        "threshold": rule.threshold,
        "windowSeconds": rule.window_ms / 1000,
        "value": v,
        "status": if firing { "firing" } else { "ok" },
        "timestamp": crate::time::rfc3339(now_ms),
    });
    let notice = Notice::Rule {
        firing,
        rule_id: rule.id.clone(),
        change: t.changes,
        data,
    };
    // The event is journaled with the state, in one sync, and then
    // submitted (`shard::outbox`): neither goes without the other.
    let catalog = shard.shared().catalog.load_full();
    let told: Vec<_> = match catalog.app(crate::operational::APP_ID) {
        Some(_) => notice.message(&catalog).into_iter().collect(),
        None => Vec::new(),
    };
    drop(catalog);
    let state = RuleStateRecord {
        rule_id: rule.id.clone(),
        firing,
        value: v,
        changed_ms: now_ms,
        changes: t.changes,
        fired_ms: t.fired_ms,
    };
    match records::encode(&state) {
        Ok(body) => {
            let cause = crate::operational::Cause::Api;
            if let Err(e) = shard.commit_catalog_telling(Kind::RuleState, &body, cause, told) {
                tracing::error!(rule = %rule.id, error = %e, "cannot journal a rule's state");
            }
        }
        Err(e) => tracing::error!(rule = %rule.id, error = %e, "cannot encode a rule's state"),
    }
    match firing {
        true => {
            tracing::warn!(rule = %rule.id, name = %rule.name, signal = rule.signal.name(), value = v, threshold = rule.threshold, "rule firing")
        }
        false => {
            tracing::info!(rule = %rule.id, name = %rule.name, signal = rule.signal.name(), value = v, "rule resolved")
        }
    }
}

/// Runs until the engine stops.
pub async fn run(shard: Rc<Shard>) {
    let every = shard.shared().config.rule_eval_interval_ms.max(1);
    let mut engine = Engine {
        ring: VecDeque::new(),
        e2e: latency_histogram(),
    };
    let mut tracked: HashMap<String, Tracked> = HashMap::new();
    while !shard.shared().is_stopping() {
        let now = crate::time::now_ms();
        engine.sample(&shard.shared().metrics.snapshots(), now);
        let catalog = shard.shared().catalog.load_full();
        tracked.retain(|id, _| catalog.rule(id).is_some());
        let rules: Vec<Rule> = catalog
            .rules()
            .filter(|r| !r.disabled)
            .filter_map(|r| Rule::of(r))
            .collect();
        for rule in rules {
            let t = tracked.entry(rule.id.clone()).or_insert_with(|| {
                catalog
                    .rule_state(&rule.id)
                    .map_or_else(Tracked::default, |s| Tracked {
                        firing: s.firing,
                        changes: s.changes,
                        fired_ms: s.fired_ms,
                        clear_runs: 0,
                    })
            });
            let observed = match rule.scope {
                Scope::All => Some(engine.observe(rule.window_ms, &shard, now)),
                _ => observe_scope(&shard, &rule, now).await,
            };
            let Some(observed) = observed else {
                continue;
            };
            let v = value(&rule, &observed, now);
            if let Some(change) = next_state(t, v, &rule, now) {
                let t = *t;
                changed(&shard, &rule, &t, change, v.unwrap_or(0.0), now);
            }
        }
        glommio::timer::sleep(Duration::from_millis(every)).await;
    }
}

/// `ringhook_rule_firing{rule}`: 1 while a rule fires, 0 otherwise; from
/// the catalog's journaled states.
pub fn render_metrics(out: &mut String, catalog: &crate::catalog::Catalog) {
    use std::fmt::Write;
    if catalog.rule_count() == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "# HELP ringhook_rule_firing Whether a notification rule is firing (1) or not (0).\n# TYPE ringhook_rule_firing gauge"
    );
    for r in catalog.rules() {
        let firing = catalog.rule_state(&r.id).is_some_and(|s| s.firing);
        let _ = writeln!(
            out,
            "ringhook_rule_firing{{rule=\"{}\"}} {}",
            r.id,
            u8::from(firing)
        );
    }
}
