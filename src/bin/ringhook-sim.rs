//! `ringhook-sim`: runs the deterministic simulator (`ringhook::sim`) over a
//! range of seeds, or replays one, and prints one JSON line.

use clap::Parser;
use ringhook::sim::{self, Bug};

#[derive(Parser)]
#[command(
    name = "ringhook-sim",
    about = "Deterministic simulation of ringhook's core"
)]
struct Args {
    /// How many seeds to run (from --from).
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Replay this one seed (prints its report and trace digest).
    #[arg(long)]
    seed: Option<u64>,
    /// Steps per seed before draining.
    #[arg(long, default_value_t = 300)]
    steps: u32,
    /// Break the core on purpose, to see the simulator catch it:
    /// ack-before-sync, compact-pending.
    #[arg(long)]
    bug: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bug = match args.bug.as_deref() {
        None => None,
        Some("ack-before-sync") => Some(Bug::AckBeforeSync),
        Some("compact-pending") => Some(Bug::CompactPending),
        Some(other) => {
            anyhow::bail!("unknown --bug {other:?} (known: ack-before-sync, compact-pending)")
        }
    };
    let line = match args.seed {
        Some(seed) => serde_json::to_string(&sim::run_seed(seed, args.steps, bug))?,
        None => serde_json::to_string(&sim::run(args.from, args.seeds, args.steps, bug))?,
    };
    println!("{line}");
    Ok(())
}
