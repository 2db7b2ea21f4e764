//! Criterion benchmark of journal appends: records/s and bytes/s, without a sync, with a
//! sync per record, and with one sync per 64 records (group commit), in a temporary
//! directory on the real disk (not tmpfs, where msync would cost nothing).
//!
//! Each measured batch opens a fresh journal and deletes it afterwards, so disk use stays
//! bounded by one sample. Under `cargo test --benches` (no `--bench` argument) criterion
//! runs each benchmark once; the sizes are the same, one iteration is small.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringhook::journal::{Journal, JournalConfig};
use std::time::{Duration, Instant};

/// Segment size for the benchmark journals (rolls are part of the measured cost).
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Record kind byte used for the benchmark records (the journal does not interpret it).
const KIND: u8 = 7;

fn tempdir() -> tempfile::TempDir {
    // The target directory is on the real disk; /tmp may be tmpfs.
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    tempfile::Builder::new()
        .prefix("bench-journal-")
        .tempdir_in(base)
        .expect("temporary directory")
}

/// Appends `iters` records of `body` to a fresh journal, syncing every `sync_every`
/// records (0 = never), and returns the time taken.
fn append_run(iters: u64, body: &[u8], sync_every: u64) -> Duration {
    let dir = tempdir();
    let config = JournalConfig {
        segment_bytes: SEGMENT_BYTES,
        repair: false,
    };
    let (mut journal, _) = Journal::open(dir.path(), config, |_| {}).expect("open journal");
    let start = Instant::now();
    for i in 1..=iters {
        journal.append(KIND, body).expect("append");
        if sync_every > 0 && i % sync_every == 0 {
            journal.sync().expect("sync");
        }
    }
    if sync_every > 0 {
        journal.sync().expect("final sync");
    }
    start.elapsed()
}

fn bench_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal_append_records");
    group.measurement_time(Duration::from_secs(3));
    for size in [64usize, 1024] {
        let body = vec![0xabu8; size];
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("no_sync", size), &body, |b, body| {
            b.iter_custom(|iters| append_run(iters, body, 0))
        });
        group.bench_with_input(BenchmarkId::new("sync_every_64", size), &body, |b, body| {
            b.iter_custom(|iters| append_run(iters, body, 64))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("journal_append_bytes");
    group.measurement_time(Duration::from_secs(3));
    let body = vec![0xabu8; 1024];
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("no_sync/1024", |b| {
        b.iter_custom(|iters| append_run(iters, &body, 0))
    });
    group.finish();

    // One msync per record: a few thousand a second, so few samples.
    let mut group = c.benchmark_group("journal_append_sync_each");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    let body = vec![0xabu8; 64];
    group.bench_function("64", |b| b.iter_custom(|iters| append_run(iters, &body, 1)));
    group.finish();
}

criterion_group!(benches, bench_append);
criterion_main!(benches);
