//! The shard runtime: one glommio executor per shard (pinned with `--cpus`),
//! the channel mesh between them, each shard's timer loop, start and stop.
//!
//! The caller (`ringhook serve`, in `engine.rs`) recovers state and binds listeners; this
//! module builds each shard's rooms from what recovery found, starts the
//! executors, starts the caller's services on each shard, and then only waits
//! for SIGTERM/SIGINT or a shard's exit. On a signal it sets `stopping`;
//! shards stop taking work, sync their journals and return.

use super::state::Shard;
use super::{route, ShardMsg};
use crate::accept::event_ids::EventIds;
use crate::accept::Accept;
use crate::commit::Commit;
use crate::delivery::{Deliveries, Ports};
use crate::metrics::ShardStats;
use crate::recovery::Recovered;
use crate::shared::Shared;
use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Where a pinned shard's blocking thread (its journal syncs: page
/// writeback and the disk's cache flush, mostly kernel work and waiting)
/// may run: on any of the engine's `--cpus`, not only its shard's core, so
/// that a sync's writeback uses a core that is idle at the time instead of
/// taking its turn on the shard's. With one core given, everything stays
/// on it. `None`: glommio's default, the shard's own placement (unpinned
/// shards, beyond the `--cpus` given, run anywhere and so do their syncs).
fn blocking_pool_placement(cpus: &[usize]) -> Option<glommio::PoolPlacement> {
    if cpus.is_empty() {
        return None;
    }
    // Without the CPU topology, glommio's default: the shard's own core.
    let online = glommio::CpuSet::online().ok()?;
    Some(glommio::PoolPlacement::Fenced(
        1,
        online.filter(|l| cpus.contains(&l.cpu)),
    ))
}

/// Everything a shard runtime needs handed to it at start.
pub struct Start {
    pub shared: Arc<Shared>,
    /// What recovery rebuilt (its catalog and idempotency answers are
    /// already taken by the caller).
    pub recovered: Recovered,
    /// Outbound connections per shard (`delivery::budget`).
    pub connection_budget: usize,
    /// Started on each shard once its state exists, one per shard in shard
    /// order: the API on every shard, the ingest socket and shard 0's
    /// tasks, which the caller knows and this runtime does not.
    pub services: Vec<Services>,
    /// Printed once every shard is up.
    pub banner: String,
}

/// What a shard starts besides the shard itself; an error stops the start.
pub type Services = Box<dyn FnOnce(&Rc<Shard>) -> Result<(), StartError> + Send>;

/// Why a shard could not start its part of the engine.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot join the channel mesh between shards")]
    Mesh,
    #[error("cannot bind {}: {source}", path.display())]
    Bind {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot restrict {} to its owner: {source}", path.display())]
    Restrict {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Why the runtime could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("shard {0} failed to start: {1}")]
    Shard(usize, #[source] StartError),
    #[error("shard {0}'s thread could not be made: {1}")]
    Spawn(usize, #[source] std::io::Error),
    #[error("a shard's thread exited during start-up")]
    ExitedStarting,
    #[error("signal handling: {0}")]
    Signals(std::io::Error),
    #[error(
        "a shard ended unexpectedly; the engine stopped ({exited} of {shards} shard(s) ended)"
    )]
    ShardFailed { exited: usize, shards: usize },
}

/// Runs the shards until SIGTERM or SIGINT (or a shard's exit), then stops
/// them: they stop taking work, finish accepted batches, sync and return.
pub fn run(start: Start) -> Result<(), RuntimeError> {
    let Start {
        shared,
        recovered,
        connection_budget,
        services,
        banner,
    } = start;
    // Before any shard starts: a SIGTERM that arrives while they start (the
    // API answers before the last shard is up) must stop the engine cleanly,
    // not kill it with the default action.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .map_err(RuntimeError::Signals)?;
    abort_on_panic();
    release_free_memory();
    let Recovered {
        catalog_store,
        journals,
        pending,
        dedup,
        indexes,
        segment_times,
        retired,
        failing_since,
        compacted_before_ms,
        ..
    } = recovered;
    shared
        .compacted_before_ms
        .store(compacted_before_ms, Ordering::Relaxed);
    // Each live shard directory holds the horizon from the start, so that a
    // pass on a full disk overwrites it in place instead of creating it
    // (written only where it is missing or holds another value).
    for i in 0..shared.config.shards {
        let dir = crate::datadir::shard_dir(&shared.config.data_dir, i);
        let holds = dir.join(crate::datadir::HORIZON_FILE).exists()
            && crate::datadir::read_horizon(&dir) == compacted_before_ms;
        if holds {
            continue;
        }
        if let Err(e) = crate::datadir::write_horizon(&dir, compacted_before_ms) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot record the compaction horizon");
        }
    }
    let mut services: Vec<Option<Services>> = services.into_iter().map(Some).collect();
    let mut retired = Some(retired);
    let n = shared.config.shards;
    let mesh =
        (n > 1).then(|| MeshBuilder::<ShardMsg, _>::full(n, shared.config.shard_channel_capacity));
    let exited = Arc::new(AtomicUsize::new(0));
    let (ready_tx, ready_rx) = mpsc::channel::<Result<usize, (usize, StartError)>>();

    let mut catalog_store = Some(catalog_store);
    let mut handles = Vec::with_capacity(n);
    let blocking_pool = blocking_pool_placement(&shared.config.cpus);
    for (i, (((((journal, pending), dedup), index), times), failing)) in journals
        .into_iter()
        .zip(pending)
        .zip(dedup)
        .zip(indexes)
        .zip(segment_times)
        .zip(failing_since)
        .enumerate()
    {
        let placement = match shared.config.cpus.get(i) {
            Some(&cpu) => Placement::Fixed(cpu),
            None => Placement::Unbound,
        };
        let shared = shared.clone();
        let mesh = mesh.clone();
        let ready = ready_tx.clone();
        let exited = exited.clone();
        let services = services.get_mut(i).and_then(Option::take);
        let catalog_store = if i == 0 { catalog_store.take() } else { None };
        let retired = if i == 0 {
            retired.take().unwrap_or_default()
        } else {
            Vec::new()
        };
        let pinned = matches!(placement, Placement::Fixed(_));
        let mut builder = LocalExecutorBuilder::new(placement);
        // Only a pinned shard's syncs are fenced to the engine's cores.
        if let (true, Some(pool)) = (pinned, &blocking_pool) {
            builder = builder.blocking_thread_pool_placement(pool.clone());
        }
        let handle = builder
            .name(&format!("ringhook-shard-{i}"))
            .spawn(move || async move {
                let _guard = ExitGuard(exited);
                let mode = shared.config.durability;
                let interval = shared.config.batch_sync_interval_ms;
                let senders = match mesh {
                    Some(mesh) => match mesh.join().await {
                        Ok((s, r)) => Some((s, r)),
                        Err(_) => {
                            let _ = ready.send(Err((i, StartError::Mesh)));
                            return;
                        }
                    },
                    None => None,
                };
                let (senders, receivers) = match senders {
                    Some((s, r)) => (Some(s), Some(r)),
                    None => (None, None),
                };
                let commit = Rc::new(Commit::new(journal, mode, interval));
                commit.set_segment_times(times);
                let stats = Rc::new(RefCell::new(ShardStats::default()));
                let index = Rc::new(RefCell::new(index));
                let event_ids = EventIds::new(
                    shared.config.idempotency_window_ms,
                    shared.config.max_event_ids_per_shard,
                );
                // The shard is built after its `Deliveries`: the notice sink
                // reaches it through a cell set just below.
                let this: Rc<std::cell::OnceCell<std::rc::Weak<Shard>>> = Rc::default();
                let sink_to = this.clone();
                let notices: crate::delivery::NoticeSink = Rc::new(move |notice| {
                    let shard = sink_to.get().and_then(std::rc::Weak::upgrade);
                    Box::pin(async move {
                        match shard {
                            Some(shard) => super::route::notify(&shard, notice).await,
                            None => false,
                        }
                    })
                });
                let delivery = Deliveries::new(
                    Ports {
                        shard: i,
                        shared: shared.clone(),
                        commit: commit.clone(),
                        index: index.clone(),
                        stats: stats.clone(),
                        notices,
                    },
                    connection_budget,
                    crate::delivery::Workers::Tasks,
                );
                let shard = Rc::new(Shard {
                    id: i,
                    count: n,
                    accept: Accept::new(i as u32, commit.clone(), event_ids, dedup),
                    commit,
                    delivery,
                    senders,
                    catalog_store: catalog_store.map(RefCell::new),
                    retired: RefCell::new(retired),
                    stats,
                    index,
                    tasks: RefCell::new(Default::default()),
                    outbox: Default::default(),
                    gathered: Default::default(),
                    read_files: Default::default(),
                    removal: Default::default(),
                    shared,
                });
                let _ = this.set(Rc::downgrade(&shard));
                if let Some(mut receivers) = receivers {
                    for (_, rx) in receivers.streams() {
                        glommio::spawn_local(receive(shard.clone(), rx)).detach();
                    }
                }
                let flusher = shard.clone();
                glommio::spawn_local(async move {
                    let s = flusher.clone();
                    flusher.commit.flusher(move || s.shared.is_stopping()).await
                })
                .detach();
                if let Some(services) = services {
                    if let Err(e) = services(&shard) {
                        let _ = ready.send(Err((i, e)));
                        return;
                    }
                }
                shard.delivery.resume_streaks(failing);
                shard.delivery.accept(pending);
                release_free_memory();
                let _ = ready.send(Ok(i));
                timer_loop(&shard).await;
                drain(&shard).await;
                shard.removal.finish();
                shard.publish_metrics();
                shard.commit.sync_blocking();
                if let Some(s) = &shard.catalog_store {
                    let _ = s.borrow_mut().sync();
                }
            })
            .map_err(|e| RuntimeError::Spawn(i, e.into()))?;
        handles.push(handle);
    }
    drop(ready_tx);
    for _ in 0..n {
        match ready_rx.recv() {
            Ok(Ok(_)) => {}
            Ok(Err((i, e))) => return Err(RuntimeError::Shard(i, e)),
            Err(_) => return Err(RuntimeError::ExitedStarting),
        }
    }
    for line in banner.lines() {
        tracing::info!("{line}");
    }

    // A shard that ends before it is asked to stops the engine: the other
    // shards stop taking work and sync, and the process exits non-zero, so
    // a supervisor restarts it. (A panic does not get here: it aborts the
    // process at once, see `abort_on_panic`.)
    let failed = loop {
        if signals.pending().next().is_some() {
            tracing::info!("stopping: draining shards");
            break false;
        }
        if exited.load(Ordering::Relaxed) > 0 {
            tracing::error!("a shard ended unexpectedly; stopping");
            break true;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    shared.stopping.store(true, Ordering::Relaxed);
    if !failed {
        for h in handles {
            let _ = h.join();
        }
        return Ok(());
    }
    // After a failure a shard may never stop (a task it waits for died):
    // give them `STOP_AFTER_FAILURE_MAX`, then leave the rest to the exit.
    let deadline = std::time::Instant::now() + STOP_AFTER_FAILURE_MAX;
    while exited.load(Ordering::Relaxed) < n && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(RuntimeError::ShardFailed {
        exited: exited.load(Ordering::Relaxed),
        shards: n,
    })
}

/// Longest wait for the shards to stop after one failed.
const STOP_AFTER_FAILURE_MAX: Duration = Duration::from_secs(10);

/// Makes any panic abort the process after it is reported.
///
/// The deliberate choice between aborting and isolating the failed task: a
/// panic means one of our own invariants broke, so the shard's state (its
/// slab, queues, budget) may be half-changed, and the executor may even
/// survive the task and keep running on that state (glommio does, for a
/// task's panic: the task is gone, the shard stalls). Aborting loses
/// nothing acknowledged: messages are acknowledged only once synced, and
/// the page cache keeps what was written but not synced (attempt records,
/// at worst sent again). The exit is abnormal (SIGABRT), which every
/// supervisor's restart-on-failure restarts. It is a hook rather than
/// `panic = "abort"` in the profile so that test binaries keep unwinding.
fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        tracing::error!("a panic is a bug: aborting; restart to recover from the journal (nothing acknowledged is lost)");
        std::process::abort();
    }));
}

/// Hands memory the allocator holds free back to the system. Recovery's
/// working state is several times what it leaves behind; without this the
/// allocator would keep it (see docs/BENCHMARKS.md, restart).
fn release_free_memory() {
    // SAFETY: mi_collect only walks the allocator's own free lists.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Counts a shard's exit, including by panic.
struct ExitGuard(Arc<AtomicUsize>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Drains one peer's queue. Delivery hand-offs are applied inline (they never
/// wait); ingest requests get their own task so that a receiver never blocks
/// on a send, which could otherwise deadlock two shards sending to each other.
async fn receive(
    shard: Rc<Shard>,
    rx: glommio::channels::shared_channel::ConnectedReceiver<ShardMsg>,
) {
    while let Some(msg) = rx.recv().await {
        match msg {
            ShardMsg::Deliver(batch) => shard.delivery.accept(batch),
            ShardMsg::Disable(req) => {
                disable(&shard, &req);
            }
            ShardMsg::Request { request, reply } => super::query::receive(&shard, request, reply),
            ShardMsg::Ingest { events, reply } => {
                let s = shard.clone();
                glommio::spawn_local(async move {
                    let results = route::accept_local(&s, events).await;
                    let _ = reply.send(results);
                })
                .detach();
            }
        }
    }
}

/// Longest a stopping shard waits for accepted-but-unacknowledged batches.
const DRAIN_MAX: Duration = Duration::from_secs(5);

/// Lets batches that were already being accepted finish: their records are
/// synced and their producers answered, so a clean stop never leaves a
/// producer without an answer for work the journal already holds.
async fn drain(shard: &Rc<Shard>) {
    let deadline = std::time::Instant::now() + DRAIN_MAX;
    while shard.accept.in_flight() > 0 && std::time::Instant::now() < deadline {
        shard.commit.sync_once().await;
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}

/// Fires due retries until the engine stops; prunes old eventIds and
/// read-path index entries now and then.
async fn timer_loop(shard: &Rc<Shard>) {
    let mut expired = Vec::new();
    let mut last_prune_ms = 0;
    let mut last_publish_ms = 0;
    let mut last_sweep_ms = 0;
    let mut last_compaction_ms = 0;
    while !shard.shared.is_stopping() {
        let now = crate::time::now_ms();
        shard.delivery.fire_due(now, &mut expired);
        shard.delivery.deadlines().fire_due();
        for req in shard.delivery.take_disable_requests() {
            send_disable(shard, req);
        }
        if now.saturating_sub(last_publish_ms)
            >= crate::metrics::PUBLISH_INTERVAL.as_millis() as u64
        {
            shard.publish_metrics();
            last_publish_ms = now;
        }
        if now.saturating_sub(last_sweep_ms) >= 1_000 {
            shard.delivery.sweep(now);
            shard.read_files.expire(now);
            last_sweep_ms = now;
        }
        if now.saturating_sub(last_compaction_ms) >= shard.shared.config.compaction_interval_ms {
            super::compaction::publish_oldest_pending(shard);
            // The first tick only publishes: other shards' values are not in yet.
            if last_compaction_ms != 0 {
                super::compaction::compact(shard, now);
            }
            last_compaction_ms = now;
        }
        if now.saturating_sub(last_prune_ms) > 60_000 {
            shard.accept.expire_event_ids(now);
            shard.index.borrow_mut().prune(now);
            if shard.id == 0 {
                let retention = shard.shared.config.retention_ms;
                // A margin of two prune periods: every shard's index has let
                // go of a message before its expunge is forgotten.
                let margin = 2 * 60_000;
                shard
                    .shared
                    .expunged
                    .prune(now.saturating_sub(retention).saturating_sub(margin));
            }
            last_prune_ms = now;
        }
        let retry_ms = shard.delivery.next_wake_ms().map(|t| t.saturating_sub(now));
        let deadline_ms = shard
            .delivery
            .deadlines()
            .next_wake()
            .map(|d| d.as_millis() as u64);
        let wait_ms = match (retry_ms, deadline_ms) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(50),
        }
        .clamp(1, 50);
        futures_lite::future::or(
            shard.delivery.kicked(),
            glommio::timer::sleep(Duration::from_millis(wait_ms)),
        )
        .await;
    }
}

/// Disables an endpoint on shard 0 and tells the operators
/// (`endpoint.disabled`, trigger `automatic`).
fn disable(shard: &Rc<Shard>, req: &crate::delivery::DisableRequest) {
    shard.disable_endpoint(&req.endpoint_id, &req.reason.to_string(), req.fail_since_ms);
}

/// Carries a disable request to shard 0, which owns the catalog journal.
fn send_disable(shard: &Rc<Shard>, req: crate::delivery::DisableRequest) {
    if shard.id == 0 {
        disable(shard, &req);
        return;
    }
    // Sent from a task of its own: the timer loop never waits on a full
    // queue (a lost request is asked again by the endpoint's next failure).
    let s = shard.clone();
    glommio::spawn_local(async move {
        if let Some(senders) = &s.senders {
            let _ = senders.send_to(0, ShardMsg::Disable(req)).await;
        }
    })
    .detach();
}

#[cfg(test)]
mod tests {
    use super::blocking_pool_placement;
    use glommio::PoolPlacement;

    #[test]
    fn a_shards_syncs_may_run_on_any_core_given_to_the_engine() {
        assert_eq!(blocking_pool_placement(&[]), None);
        let online: Vec<usize> = glommio::CpuSet::online()
            .expect("topology")
            .into_iter()
            .map(|l| l.cpu)
            .collect();
        for given in [vec![online[0]], online.clone()] {
            match blocking_pool_placement(&given) {
                Some(PoolPlacement::Fenced(1, set)) => {
                    let mut cpus: Vec<usize> = set.into_iter().map(|l| l.cpu).collect();
                    cpus.sort_unstable();
                    let mut want = given.clone();
                    want.sort_unstable();
                    assert_eq!(cpus, want);
                }
                other => panic!("{given:?}: {other:?}"),
            }
        }
    }
}
