//! Criterion benchmark of the read path's index on the delivery hot path:
//! what one delivery costs it (its message indexed on the home shard, the
//! delivery pending on the owner shard, its attempt recorded), with the
//! endpoint's maps full at `index_max_per_key`, so that every insert also
//! drops the oldest entry, as in a long run.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringhook::journal::Position;
use ringhook::message::{Loc, Message};
use ringhook::reads::index::{AttemptEntry, Index};
use ringhook::records::{MessageRecord, Outcome};
use std::sync::Arc;

/// Entries per key, as a full index in production holds (`index_max_per_key`).
const CAP: usize = 100_000;

fn message(n: u64) -> Arc<Message> {
    let rec = MessageRecord {
        id: ringhook::ids::new_id_at("msg", 1_795_000_000_000 + n),
        app_id: "app_bench".into(),
        event_type: "invoice.paid".into(),
        event_id: None,
        channels: vec![],
        payload: b"{}".to_vec(),
        created_ms: 1_795_000_000_000 + n,
        destinations: vec![],
    };
    let loc = Loc {
        journal: 0,
        pos: Position {
            segment_seq: 1,
            offset: n,
        },
    };
    Arc::new(Message::from_record(rec, loc).0)
}

/// One delivery's index work: message, pending delivery, attempt.
fn deliver(ix: &mut Index, endpoint: &Arc<str>, n: u64) {
    let m = message(n);
    ix.add_message(m.meta());
    ix.delivery_pending(endpoint, &m.meta(), 0);
    ix.set_sending(endpoint, &m.id);
    let attempt = AttemptEntry {
        id: Arc::from(ringhook::ids::new_id_at("atmpt", 1_795_000_000_000 + n).as_str()),
        msg: m.meta(),
        endpoint_id: endpoint.clone(),
        status_code: 200,
        outcome: Outcome::Succeeded,
        at_ms: 1_795_000_000_000 + n,
        duration_us: 100,
        manual: false,
        loc: m.loc,
    };
    ix.add_attempt(attempt, 0);
}

fn full_index(c: &mut Criterion) {
    let endpoint: Arc<str> = Arc::from("ep_bench");
    let mut ix = Index::new(u64::MAX / 4, CAP);
    let mut n = 0u64;
    // Full: every insert from here on drops the oldest entry.
    let fill = if cfg!(debug_assertions) {
        1_000
    } else {
        CAP as u64
    };
    while n < fill {
        deliver(&mut ix, &endpoint, n);
        n += 1;
    }
    let mut g = c.benchmark_group("index");
    g.throughput(Throughput::Elements(1));
    g.bench_function("one delivery, index full", |b| {
        b.iter(|| {
            n += 1;
            deliver(black_box(&mut ix), &endpoint, n);
        })
    });
    g.finish();
}

criterion_group!(benches, full_index);
criterion_main!(benches);
