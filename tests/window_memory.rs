//! Rust heap per series at a million series, and the heap given back when they go (deleted,
//! cleared or evicted as idle): one test in its own binary, so that no other test allocates
//! while the process-wide heap counters are read.

use offheap::window::{Aggregator, Config, Samples};

const SEC: i64 = 1_000_000_000;
const SERIES: u64 = 1_000_000;
const BATCH: usize = 1 << 16;

/// The value of sample `j` of series `k`: latency-like, spread over three decades (as the
/// demo's), so a series' four samples fall in four buckets.
fn value(k: u64, j: u64) -> f64 {
    let x = (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ j.wrapping_mul(0xBF58_476D_1CE4_E5B9)) >> 40;
    1.0 + (x % 100_000) as f64 / 100.0
}

fn ingest(agg: &Aggregator, keys: std::ops::Range<u64>, samples: u64) {
    let (mut k, mut ts, mut vs) = (Vec::new(), Vec::new(), Vec::new());
    for j in 0..samples {
        let mut start = keys.start;
        while start < keys.end {
            let end = (start + BATCH as u64).min(keys.end);
            k.clear();
            ts.clear();
            vs.clear();
            for key in start..end {
                k.push(key);
                ts.push(SEC + j as i64);
                vs.push(value(key, j));
            }
            let acc = agg.ingest_u64(&k, Samples::new(&ts, &vs), 2 * SEC).unwrap();
            assert_eq!(acc.accepted, end - start);
            start = end;
        }
    }
}

fn live() -> i64 {
    offheap::heap::stats().live_bytes as i64
}

#[test]
fn a_million_series_of_four_samples_fit_256_bytes_each_and_give_it_all_back() {
    let agg = Aggregator::new(Config {
        max_series: 2 * SERIES,
        idle_ttl: 60 * SEC as u64,
        ..Config::tumbling(60 * SEC as u64)
    })
    .unwrap();
    // Where it starts: an aggregator ready to ingest (its batch buffers made by a first batch,
    // whose series are deleted again).
    ingest(&agg, SERIES..SERIES + BATCH as u64, 1);
    for k in SERIES..SERIES + BATCH as u64 {
        agg.delete_u64(k).unwrap();
    }
    let start = live();

    ingest(&agg, 0..SERIES, 4);
    let held = live() - start;
    let per_series = held as f64 / SERIES as f64;
    println!("1M series x 4 samples: {per_series:.1} bytes of Rust heap per series");
    assert!(per_series <= 256.0, "{per_series:.1} bytes per series");
    assert_eq!(agg.stats().series, SERIES);
    // The aggregator's own count of what it holds agrees within the slack of its estimate.
    let own = agg.heap_bytes() as f64 / SERIES as f64;
    assert!(
        (own - per_series).abs() < 32.0,
        "heap_bytes {own:.1} vs counted {per_series:.1}"
    );

    for k in 0..SERIES {
        agg.delete_u64(k).unwrap();
    }
    let after = live();
    println!(
        "after deleting every series: {} bytes above the start",
        after - start
    );
    assert!(
        (after - start).abs() as f64 <= 0.01 * start as f64,
        "after deleting every series the heap is {after} bytes, it started at {start}"
    );
    assert_eq!(agg.stats().series, 0);

    // Clear and idle eviction give it back too.
    let back = |what: &str| {
        let after = live();
        println!("after {what}: {} bytes above the start", after - start);
        assert!(
            (after - start).abs() as f64 <= 0.01 * start as f64,
            "after {what} the heap is {after} bytes, it started at {start}"
        );
        assert_eq!(agg.stats().series, 0, "{what}");
    };
    ingest(&agg, 0..SERIES, 1);
    assert!(live() - start > 64 * SERIES as i64);
    assert_eq!(agg.clear(), SERIES);
    back("clearing every series");
    ingest(&agg, 0..SERIES, 1);
    assert_eq!(agg.evict_idle(SEC + 61 * SEC), SERIES);
    back("evicting every series as idle");
}
