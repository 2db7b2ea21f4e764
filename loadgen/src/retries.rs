//! `loadgen retries`: how much memory pending retries cost and how fast a
//! restart rebuilds them.
//!
//! Starts an engine whose retry schedule is `0s,<delay>` and a sink that
//! answers 500, pushes `--messages` events at one endpoint, and waits until
//! every first attempt has failed and its retry waits in the timer wheel
//! (`ringhook_retries_pending` on `/metrics`). It reports the engine's
//! `RssAnon` (anonymous memory; the journal's mapped file pages are not in
//! it), kills the engine with SIGKILL, starts it again on the same journal and
//! reports how long recovery took and the memory after it.

use crate::engine::{Api, Engine};
use crate::producer::{self, ProducerProgress};
use crate::run::{producer_config, EngineArgs, ProduceArgs};
use crate::sink::{self, SinkConfig, SinkStats};
use anyhow::{bail, Context};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(250);

#[derive(clap::Args)]
pub struct RetriesArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    produce: ProduceArgs,
    /// Delay of the one retry each message waits for.
    #[arg(long, default_value = "1h")]
    retry_delay: String,
    /// Core to pin the in-process sink to.
    #[arg(long)]
    sink_cpu: Option<usize>,
    /// Give up waiting for the retries after this many seconds.
    #[arg(long, default_value_t = 1800)]
    deadline_secs: u64,
    /// How long `RssAnon` is watched once the retries are armed, for freed
    /// memory to go back to the system (the lowest value is reported too).
    #[arg(long, default_value_t = 5)]
    settle_secs: u64,
}

/// Waits until `ringhook_retries_pending` reaches `want`; returns the time it took.
fn wait_for_retries(
    engine: &Engine,
    want: u64,
    deadline: Instant,
    what: &str,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut last_line = Instant::now();
    loop {
        let pending = engine.metric("ringhook_retries_pending").unwrap_or(0.0) as u64;
        if pending >= want {
            return Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            bail!("{what}: {pending} of {want} retries pending at the deadline");
        }
        if last_line.elapsed() >= Duration::from_secs(2) {
            last_line = Instant::now();
            eprintln!("loadgen: {what}: {pending}/{want} retries pending");
        }
        std::thread::sleep(POLL);
    }
}

/// `RssAnon` now, and the lowest value seen while watching it for `settle`.
fn rss_anon(engine: &Engine, settle: Duration) -> anyhow::Result<(u64, u64)> {
    let first = engine.status_bytes("RssAnon")?;
    let mut low = first;
    let until = Instant::now() + settle;
    while Instant::now() < until {
        std::thread::sleep(POLL);
        low = low.min(engine.status_bytes("RssAnon")?);
    }
    Ok((first, low))
}

pub fn retries(args: RetriesArgs) -> anyhow::Result<()> {
    let produce = &args.produce;
    let stats = SinkStats::new()?;
    let config = SinkConfig {
        addr: "127.0.0.1:0".parse()?,
        cpu: args.sink_cpu,
        fail_rate: 0.0,
        status: 500,
        delay: None,
        key: None,
    };
    let sink_addr = sink::start(config, stats)?;
    let mut options = args.engine.options();
    let (shards, durability) = (options.shards, options.durability.clone());
    options.retry_schedule = Some(format!("0s,{}", args.retry_delay));
    let mut engine = Engine::start(&options)?;
    let api = Api {
        base: engine.http.clone(),
        token: engine.token.clone(),
    };
    let app = api.create_app("loadgen-retries")?;
    api.create_endpoint(&app, &format!("http://{sink_addr}/ep/0"), None, None)?;
    let baseline = engine.status_bytes("RssAnon")?;
    let cpu = args.engine.producer_cpu(produce.producer_cpu)?;
    let config = producer_config(produce, app, vec!["loadgen.retry".into()], cpu);
    let progress = Arc::new(ProducerProgress::default());
    let started = Instant::now();
    let report = {
        let (socket, progress) = (engine.socket.clone(), progress.clone());
        std::thread::Builder::new()
            .name("loadgen-producer".into())
            .spawn(move || producer::run(&socket, &config, &progress))?
            .join()
            .map_err(|_| anyhow::anyhow!("producer thread panicked"))??
    };
    let want = report.accepted;
    let deadline = started + Duration::from_secs(args.deadline_secs);
    wait_for_retries(&engine, want, deadline, "first attempts")?;
    let armed_secs = started.elapsed().as_secs_f64();
    let settle = Duration::from_secs(args.settle_secs);
    let (rss, rss_low) = rss_anon(&engine, settle)?;
    let journal = engine.data_bytes();
    eprintln!(
        "loadgen: {want} retries armed after {armed_secs:.1} s; RssAnon {:.1} MiB (settled {:.1}); restarting",
        rss as f64 / 1048576.0,
        rss_low as f64 / 1048576.0
    );
    let limit = Duration::from_secs(args.deadline_secs);
    let restart = engine.kill9_and_restart(limit)?;
    let rearmed = wait_for_retries(&engine, want, Instant::now() + limit, "after restart")?;
    let (rss_after, rss_after_low) = rss_anon(&engine, settle)?;
    let accepted = progress.accepted.load(Ordering::Relaxed);
    engine.stop();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let per = |b: u64| {
        if want > 0 {
            b as f64 / want as f64
        } else {
            0.0
        }
    };
    let out = serde_json::json!({
        "messages": produce.messages,
        "accepted": accepted,
        "pending_retries": want,
        "payload_bytes": produce.payload_bytes,
        "seconds_until_all_armed": armed_secs,
        "rss_anon_baseline_mib": mib(baseline),
        "rss_anon_mib": mib(rss),
        "rss_anon_settled_mib": mib(rss_low),
        "rss_anon_bytes_per_retry": per(rss_low.saturating_sub(baseline)),
        "journal_file_mib": mib(journal),
        "restart_to_healthy_secs": restart.as_secs_f64(),
        "restart_to_all_rearmed_secs": (restart + rearmed).as_secs_f64(),
        "rss_anon_after_restart_mib": mib(rss_after),
        "rss_anon_after_restart_settled_mib": mib(rss_after_low),
        "shards": shards,
        "durability": durability.unwrap_or_else(|| "sync".into()),
    });
    if produce.json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out).context("report")?);
    }
    Ok(())
}
