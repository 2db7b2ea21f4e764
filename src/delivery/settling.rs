//! Settling the answered runs of many workers together: each worker hands
//! its answered run to [`settle`] and waits; one task (a
//! `crate::gathering::Gathering`'s) takes the runs answered in the same
//! pass of the executor, judges every run and
//! records the attempts that need no operational notice, in run order,
//! with all their attempt records in one journal write (`Commit::held`).
//! A worker gets its run back with the attempts that wait for a notice,
//! which it settles itself (`worker::finish`).
//!
//! Without it, a worker whose run is one request (one request per round
//! trip, many slow receivers) wrote each attempt record with a `pwrite` of
//! its own. The simulator plays workers in rounds and settles each shard's
//! answered runs of a round together, in one hold (`sim::world::play`).
//!
//! # Bounds
//! A gathering holds at most one run per worker, and a shard runs at most
//! one worker per outbound connection (`max_connections_per_shard`).

use super::exchange::Answer;
use super::steps::{self, Loaded, Settlement};
use super::Deliveries;
use crate::gathering::Gathering;
use crate::operational::Notice;
use futures_channel::oneshot;
use std::rc::Rc;

/// A run whose attempts were settled, and those of its attempts that wait
/// for their operational notice: (index in the run, judgement, notice).
pub(super) struct Settled {
    pub run: Vec<Loaded>,
    pub noticed: Vec<(usize, Settlement, Notice)>,
}

/// An answered run waiting in a gathering.
struct Answered {
    run: Vec<Loaded>,
    answers: Vec<Answer>,
    at_ms: u64,
    endpoint_changed_ms: u64,
    reply: oneshot::Sender<Settled>,
}

/// The runs gathered on this shard.
#[derive(Default)]
pub struct Settling(Gathering<Answered>);

/// Settles `run`, whose attempts started at `at_ms` and got `answers` (one
/// per delivery, in order), with the other runs answered meanwhile. An
/// empty run comes back if the shard stopped first (its deliveries stay
/// pending in the journal).
pub(super) async fn settle(
    d: &Rc<Deliveries>,
    run: Vec<Loaded>,
    answers: Vec<Answer>,
    at_ms: u64,
    endpoint_changed_ms: u64,
) -> Settled {
    assert_eq!(run.len(), answers.len(), "one answer per delivery of a run");
    let (reply, settled) = oneshot::channel();
    let opened = d.settling.0.put([Answered {
        run,
        answers,
        at_ms,
        endpoint_changed_ms,
        reply,
    }]);
    if opened {
        glommio::spawn_local(settle_gathered(d.clone())).detach();
    }
    settled.await.unwrap_or(Settled {
        run: Vec::new(),
        noticed: Vec::new(),
    })
}

/// Takes the gathering and settles it.
async fn settle_gathered(d: Rc<Deliveries>) {
    let gathered = d.settling.0.take_after_a_pass().await;
    d.ports.commit.held(|| {
        for a in gathered {
            let mut noticed = Vec::new();
            for (i, (p, answer)) in a.run.iter().zip(a.answers).enumerate() {
                let (done, notice) = steps::judge(
                    &d,
                    &p.1,
                    a.at_ms,
                    answer,
                    a.endpoint_changed_ms,
                    rand::random,
                );
                match notice {
                    None => steps::record(&d, p.0, &p.1.msg, &p.1.endpoint_id, done),
                    Some(notice) => noticed.push((i, done, notice)),
                }
            }
            // The worker waits for this (it cannot run before this task
            // returns); if it is gone, so is its shard.
            let _ = a.reply.send(Settled {
                run: a.run,
                noticed,
            });
        }
    });
}
