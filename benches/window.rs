//! Criterion benches of the window core: ingest per sample (batch 1024, with the sketch),
//! snapshot per series, and Prometheus exposition throughput. Each checks its own output.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use offheap::window::{Aggregator, Config, Exposition, Format, Samples, Snapshot, SnapshotOptions};
use std::hint::black_box;

const SEC: i64 = 1_000_000_000;
const BATCH: usize = 1024;

fn lcg(x: &mut u64) -> u64 {
    *x = x
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *x >> 33
}

/// Benchmarks `agg` ingesting the batch of `keys` and `samples`, after checking that it
/// accepts every sample.
fn bench_u64_batch(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    agg: &Aggregator,
    keys: &[u64],
    samples: Samples<'_>,
) {
    let acc = agg.ingest_u64(keys, samples, 10 * SEC).unwrap();
    assert_eq!(acc.accepted, BATCH as u64);
    g.bench_function(name, |b| {
        b.iter(|| {
            let acc = agg.ingest_u64(black_box(keys), samples, 10 * SEC).unwrap();
            debug_assert_eq!(acc.accepted, BATCH as u64);
            acc
        })
    });
}

fn ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("window/ingest");
    g.throughput(Throughput::Elements(BATCH as u64));
    let agg = Aggregator::new(Config::sliding(60 * SEC as u64, 6)).unwrap();
    let mut x = 1u64;
    let keys: Vec<u64> = (0..BATCH).map(|_| lcg(&mut x) % 1_000).collect();
    let values: Vec<f64> = (0..BATCH)
        .map(|_| 1.0 + (lcg(&mut x) % 100_000) as f64 / 100.0)
        .collect();
    let ts = vec![10 * SEC; BATCH];
    let samples = Samples::new(&ts, &values);
    bench_u64_batch(&mut g, "u64_keys_batch1024_sketch", &agg, &keys, samples);
    let plain = Aggregator::new(Config {
        sketch: false,
        ..Config::sliding(60 * SEC as u64, 6)
    })
    .unwrap();
    bench_u64_batch(
        &mut g,
        "u64_keys_batch1024_no_sketch",
        &plain,
        &keys,
        samples,
    );
    let mut ids = vec![0u64; BATCH];
    agg.resolve_u64(&keys, &mut ids).unwrap();
    g.bench_function("ids_batch1024_sketch", |b| {
        b.iter(|| {
            agg.ingest_ids(black_box(&ids), Samples::new(&ts, &values), 10 * SEC)
                .unwrap()
        })
    });
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for k in &keys {
        bytes.extend_from_slice(format!("route=/api/v1/item/{k}").as_bytes());
        ends.push(bytes.len() as u32);
    }
    g.bench_function("byte_keys_batch1024_sketch", |b| {
        b.iter(|| {
            agg.ingest_keys(
                black_box(&bytes),
                &ends,
                Samples::new(&ts, &values),
                10 * SEC,
            )
            .unwrap()
        })
    });
    g.finish();
}

fn snapshot_and_exposition(c: &mut Criterion) {
    const SERIES: u64 = 100_000;
    let agg = Aggregator::new(Config {
        max_series: SERIES,
        ..Config::tumbling(60 * SEC as u64)
    })
    .unwrap();
    let mut x = 7u64;
    let keys: Vec<u64> = (0..SERIES).collect();
    for _ in 0..4 {
        let values: Vec<f64> = (0..SERIES)
            .map(|_| 1.0 + (lcg(&mut x) % 10_000) as f64)
            .collect();
        let acc = agg
            .ingest_u64(
                &keys,
                Samples::new(&vec![SEC; SERIES as usize], &values),
                SEC,
            )
            .unwrap();
        assert_eq!(acc.accepted, SERIES);
    }
    let q = [0.5, 0.9, 0.99];
    let opts = SnapshotOptions {
        quantiles: &q,
        ..Default::default()
    };
    let mut snap = Snapshot::new();
    let mut g = c.benchmark_group("window/snapshot");
    g.sample_size(10);
    g.throughput(Throughput::Elements(SERIES));
    g.bench_function("100k_series_3_quantiles", |b| {
        b.iter(|| {
            agg.snapshot(SEC, &opts, &mut snap).unwrap();
            assert_eq!(snap.len(), SERIES as usize);
        })
    });
    g.finish();

    agg.snapshot(SEC, &opts, &mut snap).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let mut expo = Exposition::new();
    let mut render = |buf: &mut [u8]| {
        expo.begin(&agg, &snap, Format::Text);
        let mut total = 0;
        loop {
            match expo.read(&agg, &snap, buf).unwrap() {
                0 => return total,
                n => total += n,
            }
        }
    };
    let bytes = render(&mut buf);
    assert!(bytes > SERIES as usize * 100);
    let mut g = c.benchmark_group("window/prometheus");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("100k_series_3_quantiles", |b| b.iter(|| render(&mut buf)));
    g.finish();
}

criterion_group!(benches, ingest, snapshot_and_exposition);
criterion_main!(benches);
