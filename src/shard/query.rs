//! Running a closure on another shard and awaiting its answer.
//!
//! The read path's indexes live on the shards that own the data; the API on
//! shard 0 reaches them with a [`ShardMsg::Query`] carrying a closure, which
//! the receiving shard runs inline in its mesh receiver and which answers
//! through a oneshot. No locks are shared. The closure must not block: work
//! that awaits (journal syncs, sends) is spawned as a task by [`on_async`].

use super::state::Shard;
use super::ShardMsg;
use futures_channel::oneshot;
use std::future::Future;
use std::rc::Rc;

/// Runs `f` on shard `target` (directly when that is this shard); `None` if
/// the shard cannot be reached (only at shutdown).
pub async fn on<T: Send + 'static>(
    shard: &Rc<Shard>,
    target: usize,
    f: impl FnOnce(&Rc<Shard>) -> T + Send + 'static,
) -> Option<T> {
    if target == shard.id {
        return Some(f(shard));
    }
    let senders = shard.senders.as_ref()?;
    let (tx, rx) = oneshot::channel();
    let run = Box::new(move |s: &Rc<Shard>| {
        let _ = tx.send(f(s));
    });
    senders.send_to(target, ShardMsg::Query(run)).await.ok()?;
    rx.await.ok()
}

/// Runs the future `f` makes on shard `target` as a task there and awaits
/// its output.
pub async fn on_async<T, F>(
    shard: &Rc<Shard>,
    target: usize,
    f: impl FnOnce(Rc<Shard>) -> F + Send + 'static,
) -> Option<T>
where
    T: Send + 'static,
    F: Future<Output = T> + 'static,
{
    if target == shard.id {
        return Some(f(shard.clone()).await);
    }
    let senders = shard.senders.as_ref()?;
    let (tx, rx) = oneshot::channel();
    let run = Box::new(move |s: &Rc<Shard>| {
        let s = s.clone();
        glommio::spawn_local(async move {
            let _ = tx.send(f(s).await);
        })
        .detach();
    });
    senders.send_to(target, ShardMsg::Query(run)).await.ok()?;
    rx.await.ok()
}

/// Runs `f` on every shard and collects the answers in shard order.
pub async fn on_all<T: Send + 'static>(
    shard: &Rc<Shard>,
    f: impl Fn(&Rc<Shard>) -> T + Send + Sync + Clone + 'static,
) -> Vec<T> {
    let mut out = Vec::with_capacity(shard.count);
    for target in 0..shard.count {
        if let Some(v) = on(shard, target, f.clone()).await {
            out.push(v);
        }
    }
    out
}
