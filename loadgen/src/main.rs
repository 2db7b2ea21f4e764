//! loadgen: the load generator and webhook sink for benchmarking ringhook.
//!
//! `sink` runs a standalone receiver, `run` is the one-command end-to-end benchmark (engine,
//! sink, producer, report), `ingest` measures the ingest path alone, `retries` the memory
//! of pending retries and the restart that rebuilds them. Everything stays on
//! 127.0.0.1 and Unix sockets, and every run stops by itself.

mod engine;
mod producer;
mod retries;
mod run;
mod sink;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator and sink for ringhook"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a webhook receiver until SIGINT/SIGTERM, then print its counts.
    Sink(SinkArgs),
    /// End-to-end benchmark: engine, sink, producer; reports rates and latency.
    Run(run::RunArgs),
    /// Push events only and report the ingest rate.
    Ingest(run::IngestArgs),
    /// Fill the engine with pending retries; report its memory, then kill -9
    /// it and report how long the restart takes to rebuild them.
    Retries(retries::RetriesArgs),
}

#[derive(clap::Args)]
struct SinkArgs {
    #[arg(long, default_value = "127.0.0.1:9090")]
    addr: std::net::SocketAddr,
    /// Core to pin the sink to.
    #[arg(long)]
    cpu: Option<usize>,
    /// Fraction of deliveries answered with 500.
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Status of the other answers.
    #[arg(long, default_value_t = 204)]
    status: u16,
    /// Delay before each answer, in milliseconds.
    #[arg(long)]
    delay_ms: Option<u64>,
    /// Verify signatures with this whsec_ secret (bad ones are answered 401).
    #[arg(long)]
    secret: Option<String>,
}

pub(crate) fn parse_key(secret: Option<&str>) -> anyhow::Result<Option<Vec<u8>>> {
    secret
        .map(|s| ringhook::signing::parse_secret(s).context("--secret"))
        .transpose()
}

fn sink(args: SinkArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.fail_rate),
        "--fail-rate must be within 0..=1"
    );
    let stats = sink::SinkStats::new()?;
    let config = sink::SinkConfig {
        addr: args.addr,
        cpu: args.cpu,
        fail_rate: args.fail_rate,
        status: args.status,
        delay: args.delay_ms.map(Duration::from_millis),
        key: parse_key(args.secret.as_deref())?,
    };
    // Handlers first: a signal that arrives while the sink starts still ends
    // it with its counts printed.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let addr = sink::start(config, stats.clone())?;
    eprintln!("loadgen sink listening on {addr} (GET /stats for counts; Ctrl-C to stop)");
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("{}", serde_json::to_string(&stats.snapshot())?);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // The sink holds a connection per engine worker: many endpoints open
    // far more than the usual soft limit of 1024.
    ringhook::engine::raise_fd_limit();
    match Cli::parse().command {
        Command::Sink(args) => sink(args),
        Command::Run(args) => run::run(args),
        Command::Ingest(args) => run::ingest(args),
        Command::Retries(args) => retries::retries(args),
    }
}

/// Parses a comma-separated core list such as `0,1`.
pub(crate) fn parse_cpus(list: &str) -> anyhow::Result<Vec<usize>> {
    list.split(',')
        .map(|c| {
            c.trim()
                .parse::<usize>()
                .with_context(|| format!("cpu {c:?}"))
        })
        .collect()
}
