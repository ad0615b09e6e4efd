//! The sketch as readers of native histograms and summaries see it: quantile error against
//! exact sorting across every store transition and after merges of stores in different
//! states, bucket columns in snapshots, and lifetime totals across window rotations.

use offheap::window::{
    Aggregator, Config, Samples, Sketch, SketchParams, Snapshot, SnapshotOptions,
};

mod common;
use common::Rng;

const SEC: i64 = 1_000_000_000;

/// `distinct` values that fall in `distinct` adjacent buckets (one per bucket), both signs
/// and zero among them, each repeated `reps` times.
fn values(p: &SketchParams, distinct: usize, reps: usize, rng: &mut Rng) -> Vec<f64> {
    let base = p.bucket_upper_bound(1);
    let mut out = Vec::new();
    for k in 0..distinct {
        let mag = base.powi(k as i32 - distinct as i32 / 2) * 1.0001;
        let v = match k % 5 {
            0 if k > 0 => -mag,
            3 if k == 3 => 0.0,
            _ => mag,
        };
        for _ in 0..reps {
            out.push(v);
        }
    }
    // A deterministic shuffle, so stores see indices in no particular order.
    for i in (1..out.len()).rev() {
        out.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    out
}

/// Every quantile of `s` against exact sorting of `vals`: within α of the rank value.
fn check(s: &Sketch, p: &SketchParams, vals: &[f64], what: &str) {
    let mut sorted = vals.to_vec();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(s.count(), vals.len() as u64, "{what}: count");
    for q in [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0] {
        let exact = sorted[(q * (sorted.len() - 1) as f64).floor() as usize];
        let est = s.quantile(p, q).unwrap();
        let err = if exact == 0.0 {
            est.abs()
        } else {
            ((est - exact) / exact).abs()
        };
        assert!(err <= p.alpha(), "{what}: q={q} exact {exact} est {est}");
    }
}

#[test]
fn quantiles_within_alpha_across_store_transitions_and_merges() {
    let mut rng = Rng(3);
    for alpha in [0.01, 0.001, 0.05] {
        let p = SketchParams::new(alpha, 65536).unwrap();
        let mut sketches = Vec::new();
        for distinct in [1, 2, 8, 64, 10_000] {
            let vals = values(&p, distinct, 3, &mut rng);
            let mut s = Sketch::new();
            for (n, &v) in vals.iter().enumerate() {
                s.add(&p, v, 1);
                // Check at every step while the store is small (every transition), then at the end.
                if n < 16 {
                    check(
                        &s,
                        &p,
                        &vals[..=n],
                        &format!("{distinct} distinct, {n} added"),
                    );
                }
            }
            check(&s, &p, &vals, &format!("{distinct} distinct"));
            assert_eq!(s.is_inline(), distinct <= 2, "{distinct} distinct");
            sketches.push((s, vals));
        }
        // Merges of stores in every pair of states, both ways round.
        for (a, va) in &sketches {
            for (b, vb) in &sketches {
                let mut m = a.clone();
                m.merge(&p, b);
                let both: Vec<f64> = va.iter().chain(vb).copied().collect();
                check(&m, &p, &both, &format!("merge {} + {}", va.len(), vb.len()));
            }
        }
    }
}

#[test]
fn buckets_add_up_and_ascend() {
    let p = SketchParams::new(0.01, 2048).unwrap();
    assert_eq!(p.schema(), 6);
    assert_eq!(p.zero_threshold(), f64::MIN_POSITIVE);
    let mut s = Sketch::new();
    for v in [1.0, 2.0, 2.0, -3.0, 0.0, 1e-320, 100.0, -0.5] {
        s.add(&p, v, 1);
    }
    assert_eq!(s.zero_count(), 2, "0 and a subnormal");
    let pos: Vec<(i32, u64)> = s.positive_buckets().collect();
    assert_eq!(
        pos,
        vec![(0, 1), (64, 2), (p.bucket_index(100.0).unwrap(), 1)]
    );
    let neg: Vec<(i32, u64)> = s.negative_buckets().collect();
    assert_eq!(
        neg,
        vec![
            (p.bucket_index(0.5).unwrap(), 1),
            (p.bucket_index(3.0).unwrap(), 1)
        ]
    );
    for (i, _) in pos.iter().chain(&neg) {
        assert!(p.bucket_upper_bound(*i) > p.bucket_upper_bound(*i - 1));
    }
}

fn snapshot(agg: &Aggregator, now: i64, buckets: bool) -> Snapshot {
    let mut s = Snapshot::new();
    let opts = SnapshotOptions {
        quantiles: &[0.5],
        buckets,
        ..Default::default()
    };
    agg.snapshot(now, &opts, &mut s).unwrap();
    s
}

#[test]
fn lifetime_totals_survive_rotation_and_count_imports() {
    let agg = Aggregator::new(Config::tumbling(10 * SEC as u64)).unwrap();
    let ingest = |ts: i64, v: f64| {
        let acc = agg
            .ingest_u64(&[7, 7], Samples::new(&[ts, ts], &[v, v]), ts)
            .unwrap();
        assert_eq!(acc.accepted, 2);
    };
    ingest(SEC, 1.5);
    let s = snapshot(&agg, SEC, false);
    assert_eq!(
        (s.counts()[0], s.total_counts()[0], s.total_sums()[0]),
        (2, 2, 3.0)
    );
    ingest(12 * SEC, 2.0); // the next window: the slice rotates
    ingest(25 * SEC, 4.0);
    let s = snapshot(&agg, 25 * SEC, false);
    assert_eq!(s.counts()[0], 2, "the window holds its own samples");
    assert_eq!(
        (s.total_counts()[0], s.total_sums()[0]),
        (6, 3.0 + 4.0 + 8.0)
    );
    // An import adds to the lifetime as it adds to the window.
    let mut blob = Vec::new();
    agg.export(25 * SEC, &mut blob);
    agg.merge_import(&blob, 25 * SEC).unwrap();
    let s = snapshot(&agg, 25 * SEC, false);
    assert_eq!((s.counts()[0], s.total_counts()[0]), (4, 8));
    // The overflow series has lifetime totals too.
    let capped = Aggregator::new(Config {
        max_series: 1,
        ..Config::tumbling(10 * SEC as u64)
    })
    .unwrap();
    for (ts, k) in [(SEC, 1), (SEC, 2), (15 * SEC, 3)] {
        capped
            .ingest_u64(&[k], Samples::new(&[ts], &[1.0]), ts)
            .unwrap();
    }
    let s = snapshot(&capped, 15 * SEC, false);
    let o = s.row_of(offheap::window::OVERFLOW_ID).unwrap();
    assert_eq!((s.counts()[o], s.total_counts()[o]), (1, 2));
}

#[test]
fn snapshot_bucket_columns_equal_each_window_sketch() {
    let agg = Aggregator::new(Config::sliding(60 * SEC as u64, 6)).unwrap();
    let p = agg.sketch_params();
    let mut rng = Rng(9);
    let mut per_key: Vec<Vec<f64>> = vec![Vec::new(); 5];
    for _ in 0..2000 {
        let k = rng.next() % 5;
        let v = ((rng.next() % 20_000) as f64 - 4000.0) / 7.0;
        let ts = SEC * (1 + (rng.next() % 50) as i64);
        agg.ingest_u64(&[k], Samples::new(&[ts], &[v]), 55 * SEC)
            .unwrap();
        per_key[k as usize].push(v);
    }
    let s = snapshot(&agg, 55 * SEC, true);
    assert_eq!(s.schema(), Some(6));
    for row in 0..s.len() {
        let mut want = Sketch::new();
        for &v in &per_key[s.raw_keys()[row] as usize] {
            want.add(&p, v, 1);
        }
        let (pi, pc) = s.positive_buckets(row);
        let (ni, nc) = s.negative_buckets(row);
        let pos: Vec<(i32, u64)> = pi.iter().copied().zip(pc.iter().copied()).collect();
        let neg: Vec<(i32, u64)> = ni.iter().copied().zip(nc.iter().copied()).collect();
        assert_eq!(pos, want.positive_buckets().collect::<Vec<_>>());
        assert_eq!(neg, want.negative_buckets().collect::<Vec<_>>());
        assert_eq!(s.zero_counts()[row], want.zero_count());
        assert_eq!(
            pc.iter().chain(nc).sum::<u64>() + s.zero_counts()[row],
            s.counts()[row]
        );
    }
    // Without the option the columns stay empty.
    let s = snapshot(&agg, 55 * SEC, false);
    assert!(s.zero_counts().is_empty() && s.positive_buckets(0).0.is_empty());
}
