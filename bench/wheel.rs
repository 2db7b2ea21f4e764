//! Criterion benchmark of the timer wheel: insert, advance over empty time, and expiry, on
//! a wheel holding 10 M timers (the scale the design budgets for).
//!
//! Under `cargo test --benches` criterion runs each benchmark once without `--bench`; the
//! wheel then holds 1,000 timers so the test suite stays fast.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringhook::wheel::TimerWheel;
use std::time::Duration;

/// Deadlines are spread over one day, like a retry schedule's later steps.
const SPREAD_MS: u64 = 24 * 3600 * 1000;

/// Timers in the wheel: 10 M in a real benchmark run, 1,000 in test mode.
fn timers() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        10_000_000
    } else {
        1_000
    }
}

/// Pseudo-random deadlines (xorshift), reproducible across runs.
fn deadlines(n: usize) -> Vec<u64> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            1 + x % SPREAD_MS
        })
        .collect()
}

fn filled(deadlines: &[u64]) -> TimerWheel {
    let mut wheel = TimerWheel::with_capacity(0, deadlines.len());
    for (i, &d) in deadlines.iter().enumerate() {
        wheel.insert(d, i as u32);
    }
    wheel
}

fn bench_wheel(c: &mut Criterion) {
    let n = timers();
    let ds = deadlines(n);
    let mut group = c.benchmark_group("wheel");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));

    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(format!("insert_{n}"), |b| {
        b.iter_batched(
            || TimerWheel::with_capacity(0, n),
            |mut wheel| {
                for (i, &d) in ds.iter().enumerate() {
                    wheel.insert(d, i as u32);
                }
                wheel
            },
            BatchSize::PerIteration,
        )
    });

    // Expire everything: advance through the spread in 1 s steps, collecting every handle.
    group.bench_function(format!("expire_all_{n}"), |b| {
        b.iter_batched(
            || (filled(&ds), Vec::with_capacity(n)),
            |(mut wheel, mut expired)| {
                for now in (0..=SPREAD_MS + 1000).step_by(1000) {
                    wheel.advance(now, &mut expired);
                }
                assert_eq!(expired.len(), n);
                (wheel, expired)
            },
            BatchSize::PerIteration,
        )
    });

    // Advance in 1 ms ticks through the first second, as the shard's timer loop does.
    group.throughput(Throughput::Elements(1000));
    let mut wheel = filled(&ds);
    let mut expired = Vec::new();
    let mut now = 0u64;
    group.bench_function(format!("advance_1000_ticks_with_{n}"), |b| {
        b.iter(|| {
            for _ in 0..1000 {
                now += 1;
                wheel.advance(now, &mut expired);
            }
            expired.clear();
        })
    });
    group.finish();
}

criterion_group!(benches, bench_wheel);
criterion_main!(benches);
