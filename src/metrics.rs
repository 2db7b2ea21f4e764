//! Metrics: per-shard counters and latency histograms, rendered as Prometheus text.
//!
//! Shards never share a counter: each keeps plain numbers and hdrhistograms in
//! its own [`ShardStats`] (no atomics, no locks on the hot path) and publishes
//! a [`Snapshot`] every `PUBLISH_INTERVAL` into its slot of [`Published`],
//! an `ArcSwap` per shard. `GET /metrics` reads the slots and renders them
//! per shard and in total, so a scrape sees values at most one interval old.

use crate::limits::LATENCY_US_MAX;
use arc_swap::ArcSwap;
use hdrhistogram::Histogram;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

/// How often shards publish their snapshot.
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(250);

/// A latency histogram in microseconds with 2 significant digits (~20 KiB).
pub fn latency_histogram() -> Histogram<u64> {
    // hdrhistogram only fails for invalid bounds, and these are constants.
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 2).expect("constant histogram bounds are valid")
}

/// Records `us` into `h`, saturating at the histogram's range.
pub fn record_us(h: &mut Histogram<u64>, us: u64) {
    let _ = h.record(us.clamp(1, LATENCY_US_MAX));
}

// Why attempts got no usable response: `ATTEMPT_ERROR_KINDS` are the `kind`
// label of `ringhook_attempt_errors_total` (and the codes attempt records keep).
use crate::records::ATTEMPT_ERROR_KINDS;

/// What one shard counts, owned by the shard thread.
#[derive(Clone)]
pub struct ShardStats {
    pub messages_ingested: u64,
    pub attempts: u64,
    pub attempts_failed: u64,
    /// Attempts without a usable response, by `ATTEMPT_ERROR_KINDS`.
    pub attempt_errors: [u64; ATTEMPT_ERROR_KINDS.len()],
    pub deliveries_succeeded: u64,
    pub deliveries_failed: u64,
    pub deliveries_cancelled: u64,
    pub journal_bytes: u64,
    pub journal_syncs: u64,
    /// Attempt records the journal refused (a full disk): their deliveries
    /// ended here but a restart repeats them.
    pub attempt_records_refused: u64,
    /// API connections accepted by the shard's listener.
    pub api_connections: u64,
    /// Attempt duration (request written → response parsed).
    pub attempt_us: Histogram<u64>,
    /// Message accepted → successful delivery.
    pub e2e_us: Histogram<u64>,
    /// One group-commit msync.
    pub sync_us: Histogram<u64>,
}

impl Default for ShardStats {
    fn default() -> Self {
        ShardStats {
            messages_ingested: 0,
            attempts: 0,
            attempts_failed: 0,
            attempt_errors: [0; ATTEMPT_ERROR_KINDS.len()],
            deliveries_succeeded: 0,
            deliveries_failed: 0,
            deliveries_cancelled: 0,
            journal_bytes: 0,
            journal_syncs: 0,
            attempt_records_refused: 0,
            api_connections: 0,
            attempt_us: latency_histogram(),
            e2e_us: latency_histogram(),
            sync_us: latency_histogram(),
        }
    }
}

/// A shard's published state.
#[derive(Clone, Default)]
pub struct Snapshot {
    pub stats: ShardStats,
    pub pending_deliveries: u64,
    pub retries_pending: u64,
    pub ready_queued: u64,
    /// Bytes of messages held in memory by deliveries in ready queues.
    pub hot_ready_bytes: u64,
    pub in_flight: u64,
    pub endpoints: u64,
    /// The longest ready queue of any one endpoint.
    pub deepest_queue: u64,
    /// The endpoints with the most deliveries queued or in flight, most
    /// first (at most `LONGEST_QUEUES_MAX`; for the dashboard).
    pub longest_queues: Vec<(Arc<str>, u64)>,
    /// Outbound connections held (busy workers plus idle pooled ones).
    pub connections: u64,
    /// Endpoints waiting for room in the connection budget.
    pub connection_waiters: u64,
    /// Deliveries held behind FIFO endpoints' heads.
    pub fifo_held: u64,
    /// The longest a FIFO endpoint's head has been failing, whole seconds.
    pub fifo_blocked_s_max: u64,
}

/// One application's delivery counts on one shard (for the per-application
/// series; per application, not per endpoint, to bound their number).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppCounts {
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Attempts without a usable response, by `ATTEMPT_ERROR_KINDS`.
    pub errors: [u64; ATTEMPT_ERROR_KINDS.len()],
}

/// Every application's counts on one shard.
pub type AppCountsMap = std::collections::HashMap<Arc<str>, AppCounts>;

/// How often shards publish their per-application counts (a copy of a map
/// with an entry per application: rarer than the snapshot).
pub const APP_PUBLISH_INTERVAL: Duration = Duration::from_secs(5);

/// One published snapshot slot per shard.
pub struct Published {
    slots: Vec<ArcSwap<Snapshot>>,
    apps: Vec<ArcSwap<AppCountsMap>>,
}

impl Published {
    pub fn new(shards: usize) -> Published {
        Published {
            slots: (0..shards)
                .map(|_| ArcSwap::from_pointee(Snapshot::default()))
                .collect(),
            apps: (0..shards)
                .map(|_| ArcSwap::from_pointee(AppCountsMap::new()))
                .collect(),
        }
    }

    pub fn publish_apps(&self, shard: usize, counts: AppCountsMap) {
        if let Some(slot) = self.apps.get(shard) {
            slot.store(Arc::new(counts));
        }
    }

    /// Every application's counts, summed over the shards.
    pub fn app_totals(&self) -> std::collections::BTreeMap<Arc<str>, AppCounts> {
        let mut out: std::collections::BTreeMap<Arc<str>, AppCounts> = Default::default();
        for slot in &self.apps {
            for (app, c) in slot.load().iter() {
                let t = out.entry(app.clone()).or_default();
                t.succeeded += c.succeeded;
                t.failed += c.failed;
                t.cancelled += c.cancelled;
                for (a, b) in t.errors.iter_mut().zip(c.errors) {
                    *a += b;
                }
            }
        }
        out
    }

    pub fn publish(&self, shard: usize, snapshot: Snapshot) {
        if let Some(slot) = self.slots.get(shard) {
            slot.store(Arc::new(snapshot));
        }
    }

    pub fn snapshots(&self) -> Vec<Arc<Snapshot>> {
        self.slots.iter().map(|s| s.load_full()).collect()
    }
}

/// A metric's name, help text and how to read it from a snapshot.
type Metric<T> = (&'static str, &'static str, fn(&Snapshot) -> T);
/// How to find a histogram in a snapshot.
type HistogramOf = fn(&Snapshot) -> &Histogram<u64>;

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS_S: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Renders every shard's snapshot in Prometheus text format. Every series
/// carries a `shard` label and there is no unlabelled total, so a `sum()`
/// over a metric counts each event once. Latencies are histograms with
/// buckets, `_sum` and `_count` (cumulative since start, as Prometheus
/// histograms are: quantiles over a window come from `rate()` of the
/// buckets).
pub fn render(published: &Published) -> String {
    let snaps = published.snapshots();
    let mut out = String::with_capacity(8192);
    let all: Vec<(Option<usize>, &Snapshot)> = snaps
        .iter()
        .enumerate()
        .map(|(i, s)| (Some(i), s.as_ref()))
        .collect();
    let counters: [Metric<u64>; 8] = [
        (
            "ringhook_messages_ingested_total",
            "Messages accepted (durable and acknowledged).",
            |s| s.stats.messages_ingested,
        ),
        ("ringhook_attempts_total", "HTTP attempts made.", |s| {
            s.stats.attempts
        }),
        (
            "ringhook_attempts_failed_total",
            "Attempts that did not get a 2xx.",
            |s| s.stats.attempts_failed,
        ),
        (
            "ringhook_journal_bytes_total",
            "Bytes appended to the journal.",
            |s| s.stats.journal_bytes,
        ),
        (
            "ringhook_journal_syncs_total",
            "Group commits (msync calls).",
            |s| s.stats.journal_syncs,
        ),
        (
            "ringhook_attempt_records_refused_total",
            "Attempt records the journal refused (a full disk): a restart repeats their deliveries.",
            |s| s.stats.attempt_records_refused,
        ),
        (
            "ringhook_api_connections_total",
            "API connections accepted by the shard's listener (every shard listens on the API port).",
            |s| s.stats.api_connections,
        ),
        (
            "ringhook_endpoints_active",
            "Endpoints with a queue on the shard.",
            |s| s.endpoints,
        ),
    ];
    for (name, help, get) in counters {
        header(
            &mut out,
            name,
            help,
            if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            },
        );
        for (shard, s) in &all {
            line(&mut out, name, *shard, None, get(s) as f64);
        }
    }
    header(
        &mut out,
        "ringhook_attempt_errors_total",
        "Attempts that got no usable response, by why.",
        "counter",
    );
    for (shard, s) in &all {
        for (kind, v) in ATTEMPT_ERROR_KINDS.iter().zip(s.stats.attempt_errors) {
            let labels = Some(("kind", *kind));
            line(
                &mut out,
                "ringhook_attempt_errors_total",
                *shard,
                labels,
                v as f64,
            );
        }
    }
    header(
        &mut out,
        "ringhook_deliveries_total",
        "Deliveries ended, by outcome.",
        "counter",
    );
    for (shard, s) in &all {
        for (outcome, v) in [
            ("succeeded", s.stats.deliveries_succeeded),
            ("failed", s.stats.deliveries_failed),
            ("cancelled", s.stats.deliveries_cancelled),
        ] {
            line(
                &mut out,
                "ringhook_deliveries_total",
                *shard,
                Some(("outcome", outcome)),
                v as f64,
            );
        }
    }
    let gauges: [Metric<u64>; 10] = [
        (
            "ringhook_deliveries_pending",
            "Deliveries not yet ended (queued, in flight or waiting).",
            |s| s.pending_deliveries,
        ),
        (
            "ringhook_retries_pending",
            "Deliveries waiting in the timer wheel.",
            |s| s.retries_pending,
        ),
        (
            "ringhook_ready_queue_depth",
            "Deliveries queued for a free worker, all endpoints.",
            |s| s.ready_queued,
        ),
        (
            "ringhook_ready_queue_message_bytes",
            "Bytes of messages held in memory by deliveries queued for a worker (at most max_hot_ready_bytes_per_shard).",
            |s| s.hot_ready_bytes,
        ),
        (
            "ringhook_endpoint_queue_depth_max",
            "The longest ready queue of one endpoint (the total: the longest on any shard).",
            |s| s.deepest_queue,
        ),
        (
            "ringhook_in_flight_requests",
            "HTTP requests in flight.",
            |s| s.in_flight,
        ),
        (
            "ringhook_connections",
            "Outbound connections held, busy or idle (bounded by max_connections_per_shard).",
            |s| s.connections,
        ),
        (
            "ringhook_connection_waiters",
            "Endpoints with deliveries waiting for room in the connection budget.",
            |s| s.connection_waiters,
        ),
        (
            "ringhook_fifo_held",
            "Deliveries held behind a FIFO endpoint's head (in order, not yet tried).",
            |s| s.fifo_held,
        ),
        (
            "ringhook_fifo_blocked_seconds_max",
            "The longest a FIFO endpoint's head has been failing, holding its line back (whole seconds; 0: none blocked).",
            |s| s.fifo_blocked_s_max,
        ),
    ];
    for (name, help, get) in gauges {
        header(&mut out, name, help, "gauge");
        for (shard, s) in &all {
            line(&mut out, name, *shard, None, get(s) as f64);
        }
    }
    let histograms: [(&str, &str, HistogramOf); 3] = [
        (
            "ringhook_attempt_latency_seconds",
            "HTTP attempt duration.",
            |s| &s.stats.attempt_us,
        ),
        (
            "ringhook_e2e_latency_seconds",
            "Message accepted to successful delivery.",
            |s| &s.stats.e2e_us,
        ),
        (
            "ringhook_journal_sync_latency_seconds",
            "Duration of one group commit.",
            |s| &s.stats.sync_us,
        ),
    ];
    for (name, help, get) in histograms {
        header(&mut out, name, help, "histogram");
        for (shard, s) in &all {
            histogram(&mut out, name, *shard, get(s));
        }
    }
    render_apps(&mut out, &published.app_totals());
    out
}

/// The per-application series (summed over shards; no `shard` label, and
/// no engine-wide series they would duplicate): deliveries by outcome and
/// attempt errors by kind, for applications that have any.
fn render_apps(out: &mut String, apps: &std::collections::BTreeMap<Arc<str>, AppCounts>) {
    header(
        out,
        "ringhook_app_deliveries_total",
        "Deliveries ended, per application and outcome.",
        "counter",
    );
    for (app, c) in apps {
        for (outcome, v) in [
            ("succeeded", c.succeeded),
            ("failed", c.failed),
            ("cancelled", c.cancelled),
        ] {
            let _ = writeln!(
                out,
                "ringhook_app_deliveries_total{{app=\"{app}\",outcome=\"{outcome}\"}} {v}"
            );
        }
    }
    header(
        out,
        "ringhook_app_attempt_errors_total",
        "Attempts without a usable response, per application and why.",
        "counter",
    );
    for (app, c) in apps {
        for (kind, v) in ATTEMPT_ERROR_KINDS.iter().zip(c.errors) {
            if v > 0 {
                let _ = writeln!(
                    out,
                    "ringhook_app_attempt_errors_total{{app=\"{app}\",kind=\"{kind}\"}} {v}"
                );
            }
        }
    }
}

/// One histogram's `_bucket`, `_sum` and `_count` lines from an
/// hdrhistogram of microseconds. `_sum` is the histogram's mean times its
/// count: exact to its 2 significant digits.
fn histogram(out: &mut String, name: &str, shard: Option<usize>, h: &Histogram<u64>) {
    let mut counts = [0u64; BUCKETS_S.len()];
    for v in h.iter_recorded() {
        let secs = h.highest_equivalent(v.value_iterated_to()) as f64 / 1e6;
        let n = v.count_at_value();
        for (c, bound) in counts.iter_mut().zip(BUCKETS_S) {
            if secs <= bound {
                *c += n;
            }
        }
    }
    let bucket = format!("{name}_bucket");
    for (c, bound) in counts.iter().zip(BUCKETS_S) {
        line(
            out,
            &bucket,
            shard,
            Some(("le", &bound.to_string())),
            *c as f64,
        );
    }
    line(out, &bucket, shard, Some(("le", "+Inf")), h.len() as f64);
    let sum = if h.is_empty() {
        0.0
    } else {
        h.mean() * h.len() as f64 / 1e6
    };
    line(out, &format!("{name}_sum"), shard, None, sum);
    line(out, &format!("{name}_count"), shard, None, h.len() as f64);
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn line(out: &mut String, name: &str, shard: Option<usize>, extra: Option<(&str, &str)>, v: f64) {
    let mut labels = Vec::new();
    if let Some(s) = shard {
        labels.push(format!("shard=\"{s}\""));
    }
    if let Some((k, val)) = extra {
        labels.push(format!("{k}=\"{val}\""));
    }
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {v}");
    } else {
        let _ = writeln!(out, "{name}{{{}}} {v}", labels.join(","));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_per_shard_with_no_duplicate_total() {
        let p = Published::new(2);
        let mut s = Snapshot::default();
        s.stats.messages_ingested = 3;
        record_us(&mut s.stats.e2e_us, 1500);
        p.publish(0, s.clone());
        p.publish(1, s);
        let text = render(&p);
        assert!(
            text.contains("ringhook_messages_ingested_total{shard=\"0\"} 3"),
            "{text}"
        );
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("ringhook_messages_ingested_total ")),
            "no unlabelled total: {text}"
        );
        assert!(
            text.contains("ringhook_e2e_latency_seconds_count{shard=\"1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ringhook_e2e_latency_seconds_bucket{shard=\"0\",le=\"0.001\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("ringhook_e2e_latency_seconds_bucket{shard=\"0\",le=\"0.0025\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ringhook_e2e_latency_seconds_bucket{shard=\"0\",le=\"+Inf\"} 1"),
            "{text}"
        );
        assert!(text.contains("# TYPE ringhook_e2e_latency_seconds histogram"));
        assert!(text.contains("# TYPE ringhook_deliveries_total counter"));
    }
}
