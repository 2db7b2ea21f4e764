//! Criterion benchmarks of the catalog: one write (the clone every change
//! makes, then the change) at 1,000 and at 100,000 applications, which must
//! cost about the same (the maps are persistent), an endpoint write in an
//! application of 1,000 endpoints (which copies that application's lists),
//! and the fan-out lookup a message makes, with one endpoint and with ten.
//!
//! Under `cargo test --benches` criterion runs each once without `--bench`;
//! the large catalog then holds 10,000 applications instead of 100,000.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use ringhook::catalog::Catalog;
use ringhook::records::{AppRecord, EndpointRecord};

fn app(i: usize) -> AppRecord {
    AppRecord {
        id: format!("app_{i:08}"),
        uid: Some(format!("customer-{i}")),
        name: format!("Customer {i}"),
        metadata: "{}".into(),
        rate_limit: None,
        created_ms: 1,
        updated_ms: 1,
    }
}

fn endpoint(app: usize, i: usize, types: &[&str]) -> EndpointRecord {
    EndpointRecord {
        event_types: types.iter().map(|t| t.to_string()).collect(),
        ..EndpointRecord::new(
            format!("ep_{app:08}_{i:03}"),
            format!("app_{app:08}"),
            format!("https://hooks.example.com/{app}/{i}"),
            1,
        )
    }
}

/// `apps` applications with one endpoint each, and application 0 with
/// `fan_out` endpoints: half of them without a filter, half filtering on
/// `invoice.paid`.
fn catalog(apps: usize, fan_out: usize) -> Catalog {
    let mut c = Catalog::default();
    for a in 0..apps {
        c.put_app(app(a));
        c.put_endpoint(endpoint(a, 0, &[]));
    }
    for i in 1..fan_out {
        let types: &[&str] = if i % 2 == 0 { &[] } else { &["invoice.paid"] };
        c.put_endpoint(endpoint(0, i, types));
    }
    c
}

fn write(c: &mut Criterion) {
    let mut g = c.benchmark_group("catalog_write");
    let large = match std::env::args().any(|a| a == "--bench") {
        true => 100_000,
        false => 10_000,
    };
    for apps in [1_000, large] {
        let live = catalog(apps, 1);
        let new = app(apps + 1);
        g.bench_with_input(
            BenchmarkId::new("clone_and_put_app", apps),
            &live,
            |b, live| {
                b.iter(|| {
                    let mut next = live.clone();
                    next.put_app(new.clone());
                    black_box(next)
                })
            },
        );
    }
    // An endpoint of an application at the default limit of 1,000
    // endpoints: the change copies that application's lists.
    let live = catalog(1_000, 1_000);
    let new = endpoint(0, 1_000, &[]);
    g.bench_function("clone_and_put_endpoint_of_1000", |b| {
        b.iter(|| {
            let mut next = live.clone();
            next.put_endpoint(new.clone());
            black_box(next)
        })
    });
    g.finish();
}

fn fan_out(c: &mut Criterion) {
    let mut g = c.benchmark_group("catalog_fan_out");
    for endpoints in [1, 10] {
        let live = catalog(1_000, endpoints);
        g.bench_with_input(
            BenchmarkId::new("endpoints", endpoints),
            &live,
            |b, live| {
                b.iter(|| {
                    let ids = live.fan_out(black_box("app_00000000"), "invoice.paid", &[]);
                    for id in &ids {
                        black_box(live.endpoint_name(id));
                    }
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, write, fan_out);
criterion_main!(benches);
