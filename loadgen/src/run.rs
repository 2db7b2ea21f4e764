//! `loadgen run` and `loadgen ingest`: orchestration of engine, sink and producer, progress
//! display, and the final report (human-readable or one JSON object).
//!
//! Timing: the run starts when the producer starts sending (after the engine is healthy and
//! the endpoints exist); ingest ends at the last ACK, delivery at the last delivery the sink
//! saw. Engine CPU is the difference of `/proc/<pid>/stat` utime+stime over that window.

use crate::engine::{cpu_time, Api, Engine, EngineOptions};
use crate::producer::{self, ProducerConfig, ProducerProgress, ProducerReport};
use crate::sink::{self, now_us, SinkConfig, SinkStats, StatsSnapshot};
use anyhow::{bail, Context};
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often progress is polled (and the deliveries counted) while waiting.
const POLL: Duration = Duration::from_millis(20);
/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(1);
/// The signing secret endpoints get when `--verify` is on (any valid 24-byte key works).
const VERIFY_SECRET: &str = "whsec_bG9hZGdlbi1sb2FkZ2VuLWxvYWRnZW4tbG9h";
/// The ed25519 key endpoints get with `--signing ed25519` (seed of 7s, then
/// its public key).
const ED25519_SECRET: &str =
    "whsk_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwfqSmxj4pxSCr71UHsTLsX5lUd2rr6+e5JCHuppFEbSLA==";

/// Flags for a self-started engine.
#[derive(clap::Args, Clone, Debug)]
pub struct EngineArgs {
    /// The ringhook binary (default: next to loadgen's executable).
    #[arg(long)]
    engine: Option<PathBuf>,
    /// Cores to pin the engine's shards to, e.g. 0 or 0,1; the producer goes on the last.
    #[arg(long)]
    cpus: Option<String>,
    /// Engine shard count (default: one per CPU).
    #[arg(long)]
    shards: Option<usize>,
    /// Engine durability mode.
    #[arg(long, value_parser = ["sync", "batch", "none"])]
    durability: Option<String>,
    /// Requests the engine pipelines per delivery connection (1 = off; unset: the engine's
    /// `pipeline_depth`, 16 by default).
    #[arg(long)]
    http_pipeline: Option<usize>,
}

impl EngineArgs {
    pub(crate) fn options(&self) -> EngineOptions {
        EngineOptions {
            binary: self.engine.clone(),
            shards: self.shards,
            cpus: self.cpus.clone(),
            durability: self.durability.clone(),
            pipeline_depth: self.http_pipeline,
            retry_schedule: None,
            endpoints: 1,
        }
    }

    pub(crate) fn producer_cpu(&self, explicit: Option<usize>) -> anyhow::Result<Option<usize>> {
        if explicit.is_some() {
            return Ok(explicit);
        }
        match &self.cpus {
            Some(list) => Ok(crate::parse_cpus(list)?.last().copied()),
            None => Ok(None),
        }
    }
}

/// What the producer sends.
#[derive(clap::Args, Clone, Debug)]
pub struct ProduceArgs {
    /// Number of events to send.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) messages: u64,
    /// Payload size in bytes (JSON, at least ~40).
    #[arg(long, default_value_t = 300)]
    pub(crate) payload_bytes: usize,
    /// Events per ingest batch.
    #[arg(long, default_value_t = 100)]
    pub(crate) batch: usize,
    /// Batches in flight before waiting for an ACK.
    #[arg(long, default_value_t = 16)]
    pub(crate) pipeline: usize,
    /// Open-loop rate in events/s (default: as fast as ACKs allow).
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// Core to pin the producer thread to (default: the last of --cpus).
    #[arg(long)]
    pub(crate) producer_cpu: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    produce: ProduceArgs,
    /// Endpoints of the one application; every event goes to all of them
    /// unless --fan-out is smaller.
    #[arg(long, default_value_t = 1)]
    endpoints: usize,
    /// Endpoints each event goes to: the endpoints are split into groups of
    /// this size, each subscribed to its own event type, and events rotate
    /// through the types (default: all endpoints).
    #[arg(long)]
    fan_out: Option<usize>,
    /// Use a running sink at HOST:PORT (its GET /stats) instead of an in-process one.
    #[arg(long)]
    sink: Option<String>,
    /// Core to pin the in-process sink to.
    #[arg(long)]
    sink_cpu: Option<usize>,
    /// Sign with a fixed secret and verify every signature in the sink.
    #[arg(long)]
    verify: bool,
    /// How endpoints sign: `hmac` (`v1`, the default) or `ed25519` (`v1a`,
    /// a fixed key; the sink does not verify these).
    #[arg(long, value_parser = ["hmac", "ed25519"], default_value = "hmac")]
    signing: String,
    /// Give up waiting for deliveries after this many seconds.
    #[arg(long, default_value_t = 300)]
    deadline_secs: u64,
    /// Extra endpoints of the application, on a second sink that answers
    /// 500: every event fails there after one attempt (the engine runs with
    /// `--retry-schedule 0s`), and each failure is an operational
    /// `message.attempt.exhausted` event. Not counted as deliveries.
    #[arg(long, default_value_t = 0)]
    failing_endpoints: usize,
    /// An operational endpoint to hear of those failures: `ok` (a sink
    /// answering 204) or `hang` (accepts connections, never answers).
    #[arg(long, value_parser = ["ok", "hang"])]
    operational: Option<String>,
}

/// A listener that accepts connections and never answers on them (until
/// the process ends): an operator endpoint that hangs.
fn hanging_listener() -> anyhow::Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("loadgen-hang".into())
        .spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming().flatten() {
                held.push(conn);
            }
        })?;
    Ok(addr)
}

/// The second sink (answering 500) and the operational endpoint of
/// `--failing-endpoints` and `--operational`.
fn side_sinks(args: &RunArgs, api: &Api, app: &str) -> anyhow::Result<()> {
    let sink = |status: u16| -> anyhow::Result<std::net::SocketAddr> {
        let config = SinkConfig {
            addr: "127.0.0.1:0".parse()?,
            cpu: args.sink_cpu,
            fail_rate: 0.0,
            status,
            delay: None,
            key: None,
        };
        sink::start(config, SinkStats::new()?)
    };
    if args.failing_endpoints > 0 {
        let failing = sink(500)?;
        for i in 0..args.failing_endpoints {
            api.create_endpoint(app, &format!("http://{failing}/fail/{i}"), None, None)?;
        }
    }
    let ops = match args.operational.as_deref() {
        Some("ok") => sink(204)?,
        Some(_) => hanging_listener()?,
        None => return Ok(()),
    };
    api.create_operational_endpoint(&format!("http://{ops}/ops"))?;
    Ok(())
}

#[derive(clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    produce: ProduceArgs,
    /// Ingest socket of a running engine (needs --app); default: start one.
    #[arg(long, requires = "app")]
    socket: Option<PathBuf>,
    /// Application id or uid on the running engine.
    #[arg(long)]
    app: Option<String>,
}

/// The sink a run counts deliveries with.
enum SinkView {
    Local(Arc<SinkStats>),
    Remote(String),
}

impl SinkView {
    fn snapshot(&self) -> anyhow::Result<StatsSnapshot> {
        match self {
            SinkView::Local(s) => Ok(s.snapshot()),
            SinkView::Remote(addr) => {
                let v: serde_json::Value = ureq::get(&format!("http://{addr}/stats"))
                    .timeout(Duration::from_secs(5))
                    .call()?
                    .into_json()?;
                let n = |k: &str| v[k].as_u64().unwrap_or(0);
                let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
                Ok(StatsSnapshot {
                    requests: n("requests"),
                    delivered: n("delivered"),
                    duplicates: n("duplicates"),
                    untracked: n("untracked"),
                    failed: n("failed"),
                    bad_signatures: n("bad_signatures"),
                    latency_samples: n("latency_samples"),
                    e2e_p50_ms: f("e2e_p50_ms"),
                    e2e_p90_ms: f("e2e_p90_ms"),
                    e2e_p99_ms: f("e2e_p99_ms"),
                    e2e_p999_ms: f("e2e_p999_ms"),
                    e2e_max_ms: f("e2e_max_ms"),
                })
            }
        }
    }

    /// When the last delivery arrived (unix µs); remote sinks don't say, so: now.
    fn last_delivery_us(&self) -> u64 {
        match self {
            SinkView::Local(s) => s.last_delivery_us.load(Ordering::Relaxed),
            SinkView::Remote(_) => now_us(),
        }
    }
}

/// A progress display: a bar on a terminal, a plain line a second otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last_line: Instant,
}

impl Progress {
    fn new(total: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} deliveries {per_sec} {msg}",
            );
            if let Ok(style) = style {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress {
            bar,
            last_line: Instant::now(),
        }
    }

    fn update(&mut self, done: u64, total: u64, msg: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(msg.to_string());
            }
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                eprintln!("loadgen: {done}/{total} deliveries; {msg}");
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let produce = &args.produce;
    let (view, sink_addr) = match &args.sink {
        Some(addr) => (SinkView::Remote(addr.clone()), addr.clone()),
        None => {
            let stats = SinkStats::new()?;
            let config = SinkConfig {
                addr: "127.0.0.1:0".parse()?,
                cpu: args.sink_cpu,
                fail_rate: 0.0,
                status: 204,
                delay: None,
                key: crate::parse_key(args.verify.then_some(VERIFY_SECRET))?,
            };
            let addr = sink::start(config, stats.clone())?;
            (SinkView::Local(stats), addr.to_string())
        }
    };
    let mut options = args.engine.options();
    options.endpoints = args.endpoints;
    if args.failing_endpoints > 0 {
        options.retry_schedule = Some("0s".into());
    }
    let mut engine = Engine::start(&options)?;
    let api = Api {
        base: engine.http.clone(),
        token: engine.token.clone(),
    };
    let app = api.create_app("loadgen")?;
    side_sinks(&args, &api, &app)?;
    let secret = match (args.signing.as_str(), args.verify) {
        ("ed25519", true) => anyhow::bail!("--verify checks v1 (HMAC) signatures only"),
        ("ed25519", false) => Some(ED25519_SECRET),
        _ => args.verify.then_some(VERIFY_SECRET),
    };
    let fan_out = args
        .fan_out
        .unwrap_or(args.endpoints)
        .clamp(1, args.endpoints.max(1));
    let groups = args.endpoints.div_ceil(fan_out).max(1);
    let grouped = groups > 1;
    for i in 0..args.endpoints {
        let url = format!("http://{sink_addr}/ep/{i}");
        let event_type = grouped.then(|| format!("loadgen.g{}", i / fan_out));
        api.create_endpoint(&app, &url, secret, event_type.as_deref())?;
    }
    let event_types: Vec<String> = if grouped {
        (0..groups).map(|g| format!("loadgen.g{g}")).collect()
    } else {
        vec!["loadgen.event".to_string()]
    };
    let pid = engine.pid().context("engine has no pid")?;
    let baseline = view.snapshot()?;
    let cpu_before = cpu_time(pid)?;
    let cpu = args.engine.producer_cpu(produce.producer_cpu)?;
    let config = producer_config(produce, app, event_types, cpu);
    let progress = Arc::new(ProducerProgress::default());
    let start_us = now_us();
    let started = Instant::now();
    let producer = {
        let (socket, progress) = (engine.socket.clone(), progress.clone());
        std::thread::Builder::new()
            .name("loadgen-producer".into())
            .spawn(move || producer::run(&socket, &config, &progress))?
    };
    // Every group has `fan_out` endpoints except perhaps the last; events
    // rotate evenly, so the deliveries per event average out to this.
    let per_event = args.endpoints as f64 / groups as f64;
    let planned = (produce.messages as f64 * per_event).round() as u64;
    let mut display = Progress::new(planned, produce.json);
    let deadline = started + Duration::from_secs(args.deadline_secs);
    let ingest = loop {
        if producer.is_finished() {
            break producer
                .join()
                .map_err(|_| anyhow::anyhow!("producer thread panicked"))??;
        }
        let s = view.snapshot()?;
        let sent = progress.sent.load(Ordering::Relaxed);
        let msg = format!("sent {sent}/{}", produce.messages);
        display.update(
            s.delivered.saturating_sub(baseline.delivered),
            planned,
            &msg,
        );
        std::thread::sleep(POLL);
    };
    let expected = expected_deliveries(ingest.accepted, args.endpoints, fan_out, groups);
    let mut last = view.snapshot()?;
    while last.delivered.saturating_sub(baseline.delivered) < expected && Instant::now() < deadline
    {
        let done = last.delivered.saturating_sub(baseline.delivered);
        display.update(done, expected, "all sent");
        std::thread::sleep(POLL);
        last = view.snapshot()?;
    }
    display.finish();
    let cpu = cpu_time(pid)?.saturating_sub(cpu_before);
    // The engine's peak resident memory over the run (the kernel's VmHWM).
    let peak_rss = engine.status_bytes("VmHWM").unwrap_or(0);
    let end_us = view.last_delivery_us().max(start_us + 1);
    // Messages the engine accepted beyond the producer's: its own
    // operational events.
    let own = engine
        .metric("ringhook_messages_ingested_total")
        .map(|n| (n as u64).saturating_sub(ingest.accepted))
        .unwrap_or(0);
    engine.stop();
    report_run(
        &args,
        &ingest,
        &baseline,
        &last,
        expected,
        (cpu, peak_rss),
        (end_us - start_us, own),
    )
}

#[allow(clippy::too_many_arguments)]
fn report_run(
    args: &RunArgs,
    ingest: &ProducerReport,
    baseline: &StatsSnapshot,
    s: &StatsSnapshot,
    expected: u64,
    (cpu, peak_rss): (Duration, u64),
    (delivery_us, operational_messages): (u64, u64),
) -> anyhow::Result<()> {
    let delivered = s.delivered.saturating_sub(baseline.delivered);
    let duplicates = s.duplicates.saturating_sub(baseline.duplicates);
    let lost = expected.saturating_sub(delivered);
    let per_sec = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let ingest_secs = ingest.elapsed.as_secs_f64();
    let delivery_secs = delivery_us as f64 / 1e6;
    let cpu_us = cpu.as_secs_f64() * 1e6;
    let out = json!({
        "messages": args.produce.messages,
        "accepted": ingest.accepted,
        "rejected": ingest.rejected,
        "overloaded": ingest.overloaded,
        "endpoints": args.endpoints,
        "failing_endpoints": args.failing_endpoints,
        "signing": args.signing,
        "operational": args.operational,
        "operational_messages": operational_messages,
        "fan_out": args.fan_out.unwrap_or(args.endpoints).clamp(1, args.endpoints.max(1)),
        "expected_deliveries": expected,
        "delivered": delivered,
        "lost": lost,
        "duplicates": duplicates,
        "failed_answers": s.failed.saturating_sub(baseline.failed),
        "bad_signatures": s.bad_signatures.saturating_sub(baseline.bad_signatures),
        "ingest_seconds": ingest_secs,
        "delivery_seconds": delivery_secs,
        "ingest_per_sec": per_sec(ingest.accepted, ingest_secs),
        "deliveries_per_sec": per_sec(delivered, delivery_secs),
        "e2e_p50_ms": s.e2e_p50_ms,
        "e2e_p90_ms": s.e2e_p90_ms,
        "e2e_p99_ms": s.e2e_p99_ms,
        "e2e_p999_ms": s.e2e_p999_ms,
        "e2e_max_ms": s.e2e_max_ms,
        "engine_cpu_seconds": cpu.as_secs_f64(),
        "engine_cpu_us_per_delivery": if delivered > 0 { cpu_us / delivered as f64 } else { 0.0 },
        "engine_peak_rss_mib": peak_rss as f64 / (1024.0 * 1024.0),
        "shards": args.engine.shards,
        "cpus": args.engine.cpus,
        "durability": args.engine.durability.as_deref().unwrap_or("sync"),
        "payload_bytes": args.produce.payload_bytes,
        "batch": args.produce.batch,
        "pipeline": args.produce.pipeline,
        // null: the engine's default (`pipeline_depth` in its config).
        "http_pipeline": args.engine.http_pipeline,
        "rate": args.produce.rate,
    });
    if args.produce.json {
        println!("{out}");
    } else {
        let g = |k: &str| out[k].as_f64().unwrap_or(0.0);
        println!(
            "ingest:     {} accepted, {} rejected in {:.2} s = {:.0} events/s",
            ingest.accepted,
            ingest.rejected,
            ingest_secs,
            g("ingest_per_sec")
        );
        println!(
            "delivery:   {delivered}/{expected} in {delivery_secs:.2} s = {:.0} deliveries/s; \
             lost {lost}, duplicates {duplicates}, bad signatures {}",
            g("deliveries_per_sec"),
            out["bad_signatures"]
        );
        println!(
            "end-to-end: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            s.e2e_p50_ms, s.e2e_p90_ms, s.e2e_p99_ms, s.e2e_p999_ms, s.e2e_max_ms
        );
        println!(
            "engine CPU: {:.2} s = {:.2} µs per delivery",
            cpu.as_secs_f64(),
            g("engine_cpu_us_per_delivery")
        );
    }
    if lost > 0 {
        bail!("{lost} of {expected} deliveries did not arrive before the deadline");
    }
    Ok(())
}

pub fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let produce = &args.produce;
    let mut engine = None;
    let (socket, app) = match (&args.socket, &args.app) {
        (Some(socket), Some(app)) => (socket.clone(), app.clone()),
        _ => {
            let e = Engine::start(&args.engine.options())?;
            let api = Api {
                base: e.http.clone(),
                token: e.token.clone(),
            };
            let app = api.create_app("loadgen-ingest")?;
            let socket = e.socket.clone();
            engine = Some(e);
            (socket, app)
        }
    };
    let pid = engine.as_ref().and_then(Engine::pid);
    let cpu_before = pid.map(cpu_time).transpose()?;
    let cpu = args.engine.producer_cpu(produce.producer_cpu)?;
    let config = producer_config(produce, app, vec!["loadgen.event".into()], cpu);
    let progress = Arc::new(ProducerProgress::default());
    let report = producer::run(&socket, &config, &progress)?;
    let cpu = match (pid, cpu_before) {
        (Some(pid), Some(before)) => Some(cpu_time(pid)?.saturating_sub(before)),
        _ => None,
    };
    if let Some(mut e) = engine {
        e.stop();
    }
    let secs = report.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        report.accepted as f64 / secs
    } else {
        0.0
    };
    let cpu_us_per_event = cpu
        .filter(|_| report.accepted > 0)
        .map(|c| c.as_secs_f64() * 1e6 / report.accepted as f64);
    if produce.json {
        let out = json!({
            "messages": produce.messages,
            "accepted": report.accepted,
            "rejected": report.rejected,
            "overloaded": report.overloaded,
            "ingest_seconds": secs,
            "ingest_per_sec": rate,
            "engine_cpu_us_per_event": cpu_us_per_event,
            "durability": args.engine.durability.as_deref().unwrap_or("sync"),
            "payload_bytes": produce.payload_bytes,
            "batch": produce.batch,
            "pipeline": produce.pipeline,
        });
        println!("{out}");
    } else {
        println!(
            "ingest: {} accepted, {} rejected in {secs:.2} s = {rate:.0} events/s",
            report.accepted, report.rejected
        );
        if let Some(us) = cpu_us_per_event {
            println!("engine CPU: {us:.2} µs per event");
        }
    }
    Ok(())
}

/// The producer's settings from the command line's produce options.
pub(crate) fn producer_config(
    produce: &ProduceArgs,
    app: String,
    event_types: Vec<String>,
    cpu: Option<usize>,
) -> ProducerConfig {
    ProducerConfig {
        app,
        event_types,
        messages: produce.messages,
        payload_bytes: produce.payload_bytes,
        batch: produce.batch,
        pipeline: produce.pipeline,
        rate: produce.rate,
        cpu,
    }
}

/// Deliveries `accepted` events make when event k goes to group k % groups,
/// groups holding `fan_out` endpoints each except the last (the rest).
fn expected_deliveries(accepted: u64, endpoints: usize, fan_out: usize, groups: usize) -> u64 {
    let size = |g: usize| {
        if g + 1 < groups {
            fan_out
        } else {
            endpoints - fan_out * (groups - 1)
        }
    };
    let groups_u = groups as u64;
    let cycles = accepted / groups_u;
    let rest = (accepted % groups_u) as usize;
    cycles * endpoints as u64 + (0..rest).map(|g| size(g) as u64).sum::<u64>()
}

#[cfg(test)]
mod fan_out_tests {
    use super::expected_deliveries;

    #[test]
    fn deliveries_follow_the_groups() {
        assert_eq!(expected_deliveries(10, 1, 1, 1), 10);
        assert_eq!(expected_deliveries(10, 100, 100, 1), 1000);
        assert_eq!(expected_deliveries(10, 100, 10, 10), 100);
        assert_eq!(expected_deliveries(7, 25, 10, 3), 2 * 25 + 10);
    }
}
