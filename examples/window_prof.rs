//! A fixed-work ingest loop for instruction counting (not a timing bench): run it under
//! `valgrind --tool=callgrind` twice with different batch counts and divide the difference in
//! instructions by the extra samples, which cancels the setup.
//!
//! ```text
//! cargo build --release --example window_prof
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/window_prof u64 1000 sketch 200
//! ```
//!
//! Arguments: key kind (`u64`, `ids`, `bytes`), series count, `sketch` or `plain`, batches,
//! and the number of distinct batches cycled through (default 64; 1 repeats one batch, as the
//! Go and criterion benches do).

use offheap::window::{Aggregator, Config, Samples};
use std::hint::black_box;

const SEC: i64 = 1_000_000_000;
const BATCH: usize = 1024;

fn lcg(x: &mut u64) -> u64 {
    *x = x
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *x >> 33
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = args.get(1).map_or("u64", String::as_str).to_string();
    let series: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let sketch = args.get(3).is_none_or(|s| s == "sketch");
    let batches: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(100);
    let pool: usize = args
        .get(5)
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
        .max(1);
    let agg = Aggregator::new(Config {
        sketch,
        max_series: series.max(1) * 2,
        ..Config::sliding(60 * SEC as u64, 6)
    })
    .unwrap();
    let mut x = 1u64;
    // A pool of batches over `series` keys, latency-like values in [1, 1000].
    let keys: Vec<Vec<u64>> = (0..pool)
        .map(|_| (0..BATCH).map(|_| lcg(&mut x) % series).collect())
        .collect();
    let values: Vec<Vec<f64>> = (0..pool)
        .map(|_| {
            (0..BATCH)
                .map(|_| 1.0 + (lcg(&mut x) % 100_000) as f64 / 100.0)
                .collect()
        })
        .collect();
    let ts = vec![10 * SEC; BATCH];
    let all: Vec<u64> = (0..series).collect();
    let mut ids_all = vec![0u64; all.len()];
    agg.resolve_u64(&all, &mut ids_all).unwrap();
    let ids: Vec<Vec<u64>> = keys
        .iter()
        .map(|k| k.iter().map(|&k| ids_all[k as usize]).collect())
        .collect();
    let byte_keys: Vec<(Vec<u8>, Vec<u32>)> = keys
        .iter()
        .filter(|_| kind == "bytes")
        .map(|k| {
            let mut b = Vec::new();
            let mut e = Vec::new();
            for k in k {
                b.extend_from_slice(format!("route=/api/v1/item/{k}").as_bytes());
                e.push(b.len() as u32);
            }
            (b, e)
        })
        .collect();
    let run = |j: usize| {
        let s = Samples::new(&ts, &values[j]);
        let acc = match kind.as_str() {
            "ids" => agg.ingest_ids(black_box(&ids[j]), s, 10 * SEC),
            "bytes" => agg.ingest_keys(&byte_keys[j].0, &byte_keys[j].1, s, 10 * SEC),
            _ => agg.ingest_u64(black_box(&keys[j]), s, 10 * SEC),
        }
        .unwrap();
        assert_eq!(acc.accepted, BATCH as u64);
    };
    // Warm up: every series and sketch bucket range exists before the counted batches.
    for j in 0..pool {
        run(j);
    }
    for b in 0..batches {
        run(b % pool);
    }
}
