//! `ringhook-sim`: a deterministic simulation of the engine's core, after
//! TigerBeetle's VOPR. One seed drives a simulated clock, receivers that
//! answer 2xx, 4xx, 5xx, 410, `Retry-After`, timeouts and resets, a disk
//! that keeps, drops or tears unsynced writes at a crash, flips bits in
//! old records, fails syncs (EIO: the engine aborts), refuses new
//! segments and the growth of segment files (ENOSPC: appends and catalog
//! changes are refused), brings grown files back shorter, crashes
//! with restarts (some with another shard count), endpoints created,
//! disabled, re-enabled and deleted while messages flow, and (in half the
//! seeds) a retention of seconds, so that compaction deletes journal
//! segments while deliveries retry, and (in half) producers' batches that
//! wait for the flusher's group commit together, as accept tasks do.
//! See `world` for what is the engine's own code and what the simulator
//! plays.
//!
//! Invariants checked as it runs and at the end (`oracle`):
//! - every acknowledged message reaches every endpoint it was fanned out to
//!   (the enabled, matching endpoints at acceptance) at least once, or ends
//!   failed after its schedule (or 410, or a disabled endpoint), or
//!   cancelled (deleted endpoint);
//! - a delivery's message id (its `webhook-id`) never changes: the record a
//!   cold retry reads back is the one written at that position;
//! - no attempt goes to a disabled or deleted endpoint, or to an endpoint
//!   the message was not fanned out to;
//! - after every restart, every acknowledged, unfinished delivery is
//!   pending again, on its owner shard for the new shard count, and every
//!   acknowledged message is still in the journal unless it is older than
//!   the retention and all its deliveries had ended at a compaction;
//! - an `eventId` refuses a message only within its window, and always
//!   within it;
//! - a flipped bit in a record with records after it makes recovery refuse
//!   and `journal check` report it: never silently dropped;
//! - once drained and synced, a restart finds nothing pending (unless a
//!   full journal refused an attempt record: that delivery repeats).

mod disk;
mod oracle;
mod world;

use rand::SeedableRng;
use serde::Serialize;

/// A deliberate bug the simulator must catch (its own test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// Acknowledge a batch before its group commit.
    AckBeforeSync,
    /// Compact journals as if no delivery were pending (by age alone).
    CompactPending,
}

/// What one or many seeds did.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Counters {
    pub acknowledged: u64,
    pub delivered: u64,
    pub crashes: u64,
    pub faults_injected: u64,
    pub corruption_detected: u64,
    pub catalog_compactions: u64,
    /// Compaction passes of shard journals that deleted segments.
    pub compactions: u64,
    /// Producers' batches acknowledged when the flusher's group commit
    /// woke their waiter (several may share one).
    pub batches_waited: u64,
    /// Injected disk errors that struck: failed syncs (each an abort and a
    /// restart) and rolls refused for a full disk.
    pub disk_errors: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.acknowledged += o.acknowledged;
        self.delivered += o.delivered;
        self.crashes += o.crashes;
        self.faults_injected += o.faults_injected;
        self.corruption_detected += o.corruption_detected;
        self.catalog_compactions += o.catalog_compactions;
        self.compactions += o.compactions;
        self.batches_waited += o.batches_waited;
        self.disk_errors += o.disk_errors;
    }
}

/// The result of one seed.
#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    pub seed: u64,
    #[serde(flatten)]
    pub counters: Counters,
    /// The first broken invariant, if any.
    pub failure: Option<String>,
    /// Digest of the run's events: the same seed gives the same trace.
    pub trace: String,
}

/// A failed seed, to replay with `--seed`.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub seed: u64,
    pub reason: String,
}

/// The result of a run of seeds (one JSON line).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub seeds: u64,
    pub failures: u64,
    #[serde(flatten)]
    pub counters: Counters,
    pub failed_seeds: Vec<Failure>,
}

/// Runs one seed for `steps` steps, then drains; deterministic per seed.
pub fn run_seed(seed: u64, steps: u32, bug: Option<Bug>) -> SeedReport {
    let dir = tempfile::tempdir();
    let (failure, counters, trace) = match dir {
        Err(e) => (
            Some(format!("no temporary directory: {e}")),
            Counters::default(),
            0,
        ),
        Ok(dir) => {
            let rng = rand::rngs::StdRng::seed_from_u64(seed);
            match world::World::new(rng, dir.path().join("data"), bug) {
                Err(e) => (Some(e), Counters::default(), 0),
                Ok(mut w) => {
                    let result = drive(&mut w, steps);
                    (result.err(), w.counters, w.trace())
                }
            }
        }
    };
    SeedReport {
        seed,
        counters,
        failure,
        trace: format!("{trace:016x}"),
    }
}

fn drive(w: &mut world::World, steps: u32) -> Result<(), String> {
    for _ in 0..steps {
        w.step(false)?;
    }
    w.drain()?;
    // Everything ended and was synced: a restart must find nothing to do,
    // and the model must agree that everything ended.
    w.crash()?;
    if !w.idle() {
        if !w.attempts_may_repeat {
            return Err(
                "a restart after everything ended and was synced found deliveries pending".into(),
            );
        }
        // A refused attempt record repeats its delivery (at least once).
        w.drain()?;
    }
    w.oracle.check_end()?;
    w.counters.acknowledged = w.oracle.acknowledged_count();
    Ok(())
}

/// Runs seeds `first..first + seeds`.
pub fn run(first: u64, seeds: u64, steps: u32, bug: Option<Bug>) -> Summary {
    let mut summary = Summary::default();
    for seed in first..first + seeds {
        let report = run_seed(seed, steps, bug);
        summary.seeds += 1;
        summary.counters.add(&report.counters);
        if let Some(reason) = report.failure {
            summary.failures += 1;
            summary.failed_seeds.push(Failure { seed, reason });
        }
    }
    summary
}
