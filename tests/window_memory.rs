//! Rust heap per series at a million series, with and without sketches, and the heap given
//! back when they go (deleted, cleared or evicted as idle): tests in a binary of their own,
//! one at a time (they take [`SERIAL`]), so that nothing else allocates while the
//! process-wide heap counters are read.

use offheap::window::{Aggregator, Config, Samples};
use std::sync::Mutex;

/// Held by each test for its whole run: the heap counters are process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

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

/// A tumbling aggregator (1 minute) with room for 2M series, with or without sketches.
fn aggregator(sketch: bool) -> Aggregator {
    Aggregator::new(Config {
        max_series: 2 * SERIES,
        idle_ttl: 60 * SEC as u64,
        sketch,
        ..Config::tumbling(60 * SEC as u64)
    })
    .unwrap()
}

/// Rust heap bytes per series that 1M series of four samples each add to `agg`, measured from
/// an aggregator ready to ingest (its batch buffers made by a first batch, whose series are
/// deleted again); returns it and the heap at that start.
fn held_per_series(agg: &Aggregator, what: &str) -> (f64, i64) {
    ingest(agg, SERIES..SERIES + BATCH as u64, 1);
    for k in SERIES..SERIES + BATCH as u64 {
        agg.delete_u64(k).unwrap();
    }
    let start = live();

    ingest(agg, 0..SERIES, 4);
    let held = live() - start;
    let per_series = held as f64 / SERIES as f64;
    println!("1M series x 4 samples, {what}: {per_series:.1} bytes of Rust heap per series");
    assert_eq!(agg.stats().series, SERIES);
    // The aggregator's own count of what it holds agrees within the slack of its estimate.
    let own = agg.heap_bytes() as f64 / SERIES as f64;
    assert!(
        (own - per_series).abs() < 32.0,
        "heap_bytes {own:.1} vs counted {per_series:.1} ({what})"
    );
    (per_series, start)
}

/// Checks that the heap is back within 1% of `start` and `agg` holds no series, after `what`.
fn given_back(agg: &Aggregator, start: i64, what: &str) {
    let after = live();
    println!("after {what}: {} bytes above the start", after - start);
    assert!(
        (after - start).abs() as f64 <= 0.01 * start as f64,
        "after {what} the heap is {after} bytes, it started at {start}"
    );
    assert_eq!(agg.stats().series, 0, "{what}");
}

/// Deletes the series of keys `0..SERIES` one by one.
fn delete_all(agg: &Aggregator) {
    for k in 0..SERIES {
        agg.delete_u64(k).unwrap();
    }
}

/// A new aggregator with or without sketches, whose 1M series of four samples must hold at
/// most `limit` bytes each and give them all back when deleted; returns it and the heap
/// before its series.
fn held_then_deleted(sketch: bool, limit: f64) -> (Aggregator, i64) {
    let agg = aggregator(sketch);
    let what = if sketch { "sketch on" } else { "sketch off" };
    let (per_series, start) = held_per_series(&agg, what);
    assert!(
        per_series <= limit,
        "{per_series:.1} bytes per series ({what})"
    );
    delete_all(&agg);
    given_back(&agg, start, "deleting every series");
    (agg, start)
}

#[test]
fn a_million_series_of_four_samples_fit_256_bytes_each_and_give_it_all_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (agg, start) = held_then_deleted(true, 256.0);

    // Clear and idle eviction give it back too.
    ingest(&agg, 0..SERIES, 1);
    assert!(live() - start > 64 * SERIES as i64);
    assert_eq!(agg.clear(), SERIES);
    given_back(&agg, start, "clearing every series");
    ingest(&agg, 0..SERIES, 1);
    assert_eq!(agg.evict_idle(SEC + 61 * SEC), SERIES);
    given_back(&agg, start, "evicting every series as idle");
}

/// Without sketches a series pays for no sketch bytes at all: its slices hold moments only.
#[test]
fn without_sketches_a_series_holds_no_sketch_bytes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // With every slice carrying a sketch (the layout before the sketch left the slice), a
    // series held 219.4 bytes here, as many as with sketches on.
    held_then_deleted(false, 176.0);
}
