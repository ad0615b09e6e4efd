//! Integration tests of the window core against naive references.

use offheap::window::{
    Aggregator, Config, Error, Exposition, Format, KeyFormat, KeyKind, Mode, OVERFLOW_ID, Samples,
    Snapshot, SnapshotOptions, render_all,
};

const SEC: i64 = 1_000_000_000;

/// splitmix64: a small deterministic PRNG for property tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn snap(agg: &Aggregator, now: i64, q: &[f64]) -> Snapshot {
    let mut s = Snapshot::new();
    agg.snapshot(
        now,
        &SnapshotOptions {
            quantiles: q,
            ..Default::default()
        },
        &mut s,
    )
    .unwrap();
    s
}

fn check_quantiles(name: &str, values: &[f64], alpha: f64) {
    let agg = Aggregator::new(Config {
        alpha,
        max_buckets: 65536,
        ..Config::tumbling(3600 * SEC as u64)
    })
    .unwrap();
    let ts = vec![SEC; values.len()];
    let acc = agg
        .ingest_u64(&vec![1; values.len()], Samples::new(&ts, values), SEC)
        .unwrap();
    assert_eq!(acc.accepted, values.len() as u64);
    let qs = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0];
    let s = snap(&agg, SEC, &qs);
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    for (j, &q) in qs.iter().enumerate() {
        let exact = sorted[(q * (sorted.len() - 1) as f64).floor() as usize];
        let est = s.quantile(j)[0];
        let err = if exact == 0.0 {
            est.abs()
        } else {
            ((est - exact) / exact).abs()
        };
        assert!(
            err <= alpha * (1.0 + 1e-9),
            "{name} q={q}: est {est} exact {exact} err {err}"
        );
    }
    assert_eq!(s.mins()[0], sorted[0]);
    assert_eq!(s.maxs()[0], sorted[sorted.len() - 1]);
}

#[test]
fn quantiles_within_alpha_on_four_distributions() {
    let mut r = Rng(42);
    let n = 50_000;
    let uniform: Vec<f64> = (0..n).map(|_| r.unit() * 1000.0).collect();
    let lognormal: Vec<f64> = (0..n).map(|_| (r.normal() * 2.0 + 3.0).exp()).collect();
    let bimodal: Vec<f64> = (0..n)
        .map(|_| {
            if r.below(2) == 0 {
                10.0 + r.normal()
            } else {
                1e6 + 1e4 * r.normal()
            }
        })
        .collect();
    let constant = vec![42.5; n];
    let signed: Vec<f64> = (0..n).map(|_| r.normal() * 100.0).collect();
    for alpha in [0.01, 0.001, 0.05] {
        check_quantiles("uniform", &uniform, alpha);
        check_quantiles("lognormal", &lognormal, alpha);
        check_quantiles("bimodal", &bimodal, alpha);
        check_quantiles("constant", &constant, alpha);
        check_quantiles("signed", &signed, alpha);
    }
}

/// A naive sliding window: keep every accepted sample, filter by slice epoch on read.
#[derive(Clone, Copy, Debug)]
struct Sample {
    key: u64,
    ts: i64,
    v: f64,
    w: u32,
}

#[test]
fn sliding_window_equals_brute_force() {
    for seed in 0..20u64 {
        let mut r = Rng(seed);
        let slices = 1 + r.below(6) as u32;
        let slice_w = (1 + r.below(5) as i64) * SEC;
        let cfg = Config {
            max_future: 0,
            ..Config::sliding(slice_w as u64 * u64::from(slices), slices)
        };
        let agg = Aggregator::new(cfg).unwrap();
        let mut kept: Vec<Sample> = Vec::new();
        let mut now = 100 * SEC;
        let mut last_ts = [0i64; 5];
        for _round in 0..30 {
            now += r.below(3 * slice_w as u64) as i64;
            let n = r.below(40) as usize;
            let mut batch = Vec::new();
            for _ in 0..n {
                let key = r.below(5);
                // Counters advance in timestamp order per key; occasionally reset.
                let ts = (now - r.below(slice_w as u64 / 2) as i64).max(last_ts[key as usize]);
                last_ts[key as usize] = ts;
                let v = if r.below(10) == 0 {
                    r.unit()
                } else {
                    (ts / SEC) as f64 + r.unit()
                };
                batch.push(Sample {
                    key,
                    ts,
                    v,
                    w: 1 + r.below(3) as u32,
                });
            }
            let keys: Vec<u64> = batch.iter().map(|s| s.key).collect();
            let ts: Vec<i64> = batch.iter().map(|s| s.ts).collect();
            let vs: Vec<f64> = batch.iter().map(|s| s.v).collect();
            let ws: Vec<u32> = batch.iter().map(|s| s.w).collect();
            let acc = agg
                .ingest_u64(&keys, Samples::weighted(&ts, &vs, &ws), now)
                .unwrap();
            assert_eq!(acc.total(), n as u64);
            let oldest = now.div_euclid(slice_w) - i64::from(slices) + 1;
            let in_window: Vec<Sample> = batch
                .into_iter()
                .filter(|x| x.ts.div_euclid(slice_w) >= oldest)
                .collect();
            assert_eq!(acc.accepted, in_window.len() as u64, "seed {seed}");
            assert_eq!(acc.late, n as u64 - acc.accepted);
            kept.extend(in_window);

            let read_now = now + r.below(slice_w as u64) as i64;
            let s = snap(&agg, read_now, &[0.5]);
            let now_epoch = read_now.div_euclid(slice_w);
            for key in 0..5u64 {
                let mut win: Vec<Sample> = kept
                    .iter()
                    .copied()
                    .filter(|x| {
                        x.key == key && x.ts.div_euclid(slice_w) > now_epoch - i64::from(slices)
                    })
                    .collect();
                win.sort_by_key(|x| x.ts);
                let Some(row) = (0..s.len()).find(|&i| s.raw_keys()[i] == key) else {
                    assert!(kept.iter().all(|x| x.key != key));
                    continue;
                };
                let count: u64 = win.iter().map(|x| u64::from(x.w)).sum();
                assert_eq!(s.counts()[row], count, "seed {seed} key {key}");
                if count == 0 {
                    assert!(s.means()[row].is_nan());
                    continue;
                }
                let sum: f64 = win.iter().map(|x| x.v * f64::from(x.w)).sum();
                let mean = sum / count as f64;
                let var = win
                    .iter()
                    .map(|x| f64::from(x.w) * (x.v - mean).powi(2))
                    .sum::<f64>()
                    / count as f64;
                let min = win.iter().map(|x| x.v).fold(f64::INFINITY, f64::min);
                let max = win.iter().map(|x| x.v).fold(f64::NEG_INFINITY, f64::max);
                let mut inc = 0.0;
                for pair in win.windows(2) {
                    inc += if pair[1].v >= pair[0].v {
                        pair[1].v - pair[0].v
                    } else {
                        pair[1].v
                    };
                }
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + b.abs());
                assert!(
                    close(s.sums()[row], sum),
                    "seed {seed} sum {} {sum}",
                    s.sums()[row]
                );
                assert!(close(s.means()[row], mean));
                assert!(
                    close(s.stddevs()[row], var.sqrt()),
                    "{} {}",
                    s.stddevs()[row],
                    var.sqrt()
                );
                assert_eq!(s.mins()[row], min);
                assert_eq!(s.maxs()[row], max);
                assert_eq!(s.lasts()[row], win[win.len() - 1].v);
                assert!(
                    close(s.increases()[row], inc),
                    "seed {seed} inc {} {inc}",
                    s.increases()[row]
                );
            }
        }
    }
}

#[test]
fn lateness_future_invalid_and_accounting() {
    let cfg = Config {
        allowed_lateness: 5 * SEC as u64,
        max_future: 2 * SEC as u64,
        ..Config::sliding(60 * SEC as u64, 6)
    };
    let agg = Aggregator::new(cfg).unwrap();
    let now = 1000 * SEC;
    let ts = [now, now - 6 * SEC, now + 3 * SEC, now + SEC, now, now, now];
    let vs = [1.0, 1.0, 1.0, 1.0, f64::NAN, f64::INFINITY, 1.0];
    let ws = [1, 1, 1, 1, 1, 1, 0];
    let acc = agg
        .ingest_u64(&[1; 7], Samples::weighted(&ts, &vs, &ws), now)
        .unwrap();
    assert_eq!(
        (acc.accepted, acc.late, acc.future, acc.invalid),
        (2, 1, 1, 3)
    );
    assert_eq!(agg.stats().samples, acc);
    // Column mismatch and bad offsets are errors with no effect.
    assert_eq!(
        agg.ingest_u64(&[1, 2], Samples::new(&[0], &[1.0]), now),
        Err(Error::LengthMismatch)
    );
    assert_eq!(
        agg.ingest_keys(b"ab", &[3], Samples::new(&[now], &[1.0]), now),
        Err(Error::BadOffsets)
    );
    assert_eq!(
        agg.ingest_keys(b"ab", &[2, 1], Samples::new(&[now; 2], &[1.0; 2]), now),
        Err(Error::BadOffsets)
    );
    assert_eq!(
        agg.ingest_u64(&[], Samples::new(&[], &[]), now)
            .unwrap()
            .total(),
        0
    );
    assert_eq!(agg.stats().samples, acc);
}

#[test]
fn tumbling_and_cumulative_delta() {
    let agg = Aggregator::new(Config::tumbling(10 * SEC as u64)).unwrap();
    agg.ingest_u64(&[1, 1], Samples::new(&[SEC, 9 * SEC], &[1.0, 2.0]), 9 * SEC)
        .unwrap();
    assert_eq!(snap(&agg, 9 * SEC, &[]).counts(), &[2]);
    assert_eq!(
        snap(&agg, 10 * SEC, &[]).counts(),
        &[0],
        "next window starts empty"
    );
    let acc = agg
        .ingest_u64(&[1], Samples::new(&[9 * SEC], &[1.0]), 10 * SEC)
        .unwrap();
    assert_eq!(acc.late, 1, "previous window already closed");

    let agg = Aggregator::new(Config {
        mode: Mode::Cumulative,
        ..Config::cumulative()
    })
    .unwrap();
    let delta = SnapshotOptions {
        delta: true,
        ..Default::default()
    };
    let mut s = Snapshot::new();
    agg.ingest_u64(&[5, 5, 5], Samples::new(&[1, 2, 3], &[10.0, 20.0, 5.0]), 3)
        .unwrap();
    agg.snapshot(4, &delta, &mut s).unwrap();
    assert_eq!(
        (s.counts()[0], s.sums()[0], s.increases()[0]),
        (3, 35.0, 15.0)
    );
    agg.ingest_u64(&[5], Samples::new(&[4], &[7.0]), 4).unwrap();
    agg.snapshot(5, &delta, &mut s).unwrap();
    assert_eq!((s.counts()[0], s.sums()[0]), (1, 7.0));
    agg.snapshot(6, &delta, &mut s).unwrap();
    assert_eq!(s.counts()[0], 0);
    let total = snap(&agg, 7, &[]);
    assert_eq!(
        (
            total.counts()[0],
            total.sums()[0],
            total.mins()[0],
            total.maxs()[0]
        ),
        (4, 42.0, 5.0, 20.0)
    );
    assert_eq!(total.increases()[0], 15.0 + 2.0);
}

#[test]
fn ids_keys_stale_delete_and_changed_only() {
    let agg = Aggregator::new(Config::tumbling(60 * SEC as u64)).unwrap();
    let bytes = b"route=/aroute=/broute=/b";
    let mut ids = [0u64; 3];
    let acc = agg.resolve_keys(bytes, &[8, 16, 24], &mut ids).unwrap();
    assert_eq!(acc.accepted, 3);
    assert_ne!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2], "same key, same id");
    let acc = agg
        .ingest_ids(&ids, Samples::new(&[SEC; 3], &[1.0, 2.0, 3.0]), SEC)
        .unwrap();
    assert_eq!(acc.accepted, 3);
    let acc = agg
        .ingest_keys(bytes, &[8], Samples::new(&[SEC], &[4.0]), SEC)
        .unwrap();
    assert_eq!(acc.accepted, 1);
    let s = snap(&agg, SEC, &[]);
    let row = s.row_of(ids[0]).unwrap();
    assert_eq!(
        (s.counts()[row], s.key(row), s.kind(row)),
        (2, &b"route=/a"[..], Some(KeyKind::Bytes))
    );
    let since = s.next_since();

    agg.delete_key(b"route=/a").unwrap();
    assert_eq!(agg.delete_key(b"route=/a"), Err(Error::StaleId));
    let acc = agg
        .ingest_ids(&ids[..1], Samples::new(&[SEC], &[1.0]), SEC)
        .unwrap();
    assert_eq!(acc.stale, 1, "deleted series' id is stale");
    // The same key gets a new id; the old one stays stale.
    let mut again = [0u64; 1];
    agg.resolve_keys(bytes, &[8], &mut again).unwrap();
    assert_ne!(again[0], ids[0]);
    assert_eq!(
        agg.ingest_ids(&ids[..1], Samples::new(&[SEC], &[1.0]), SEC)
            .unwrap()
            .stale,
        1
    );
    assert_eq!(
        agg.ingest_ids(&[12345 << 8], Samples::new(&[SEC], &[1.0]), SEC)
            .unwrap()
            .stale,
        1
    );

    agg.ingest_ids(&again, Samples::new(&[SEC], &[9.0]), SEC)
        .unwrap();
    let mut s = Snapshot::new();
    agg.snapshot(
        SEC,
        &SnapshotOptions {
            since,
            ..Default::default()
        },
        &mut s,
    )
    .unwrap();
    assert_eq!(s.ids(), &again, "only the changed series");
    agg.snapshot(
        SEC,
        &SnapshotOptions {
            since: s.next_since(),
            ..Default::default()
        },
        &mut s,
    )
    .unwrap();
    assert!(s.is_empty());

    assert_eq!(agg.clear(), 2);
    assert_eq!(agg.stats().series, 0);
    assert!(snap(&agg, SEC, &[]).is_empty());
}

#[test]
fn bad_keys_are_counted() {
    let raw = Config {
        key_format: KeyFormat::Labels,
        max_key_len: 16,
        ..Config::tumbling(60 * SEC as u64)
    };
    let agg = Aggregator::new(raw).unwrap();
    let keys = b"a=\"1\"broken\xff\xfeaaaaaaaaaaaaaaaaaaaaaaaa";
    let acc = agg
        .ingest_keys(
            keys,
            &[5, 11, 13, keys.len() as u32],
            Samples::new(&[SEC; 4], &[1.0; 4]),
            SEC,
        )
        .unwrap();
    assert_eq!((acc.accepted, acc.bad_key), (1, 3));
}

#[test]
fn series_cap_overflow_conserves_every_sample_with_bounded_memory() {
    let cfg = Config {
        max_series: 100_000,
        sketch: false,
        ..Config::tumbling(60 * SEC as u64)
    };
    let agg = Aggregator::new(cfg).unwrap();
    // 10 million distinct keys against a 100,000 cap.
    let total: u64 = 10_000_000;
    let batch = 65_536u64;
    let mut keys = Vec::new();
    let ts = vec![SEC; batch as usize];
    let vs = vec![1.0; batch as usize];
    let mut sum = offheap::window::Accounting::default();
    let mut k = 0u64;
    while k < total {
        keys.clear();
        keys.extend(k..k + batch);
        sum.add(&agg.ingest_u64(&keys, Samples::new(&ts, &vs), SEC).unwrap());
        k += batch;
    }
    assert_eq!(sum.accepted, 100_000);
    assert_eq!(sum.accepted + sum.overflowed, k);
    assert_eq!(agg.stats().series, 100_000);
    let heap = agg.heap_bytes();
    assert!(heap < 64 << 20, "heap {heap}");
    let s = snap(&agg, SEC, &[]);
    assert_eq!(s.len(), 100_001);
    let row = s.row_of(OVERFLOW_ID).unwrap();
    assert_eq!(s.kind(row), Some(KeyKind::Overflow));
    assert_eq!(s.counts()[row], k - 100_000);
    assert_eq!(s.counts().iter().sum::<u64>(), k);
}

#[test]
fn idle_ttl_evicts_and_frees() {
    let cfg = Config {
        idle_ttl: 10 * SEC as u64,
        ..Config::tumbling(60 * SEC as u64)
    };
    let agg = Aggregator::new(cfg).unwrap();
    let keys: Vec<u64> = (0..1000).collect();
    agg.ingest_u64(&keys, Samples::new(&vec![SEC; 1000], &vec![1.5; 1000]), SEC)
        .unwrap();
    agg.ingest_u64(&[0], Samples::new(&[20 * SEC], &[1.0]), 20 * SEC)
        .unwrap();
    let before = agg.heap_bytes();
    assert_eq!(agg.evict_idle(20 * SEC), 999);
    assert!(agg.heap_bytes() < before, "sketches freed");
    assert_eq!(agg.stats().series, 1);
    assert_eq!(agg.stats().evicted, 999);
    assert_eq!(snap(&agg, 40 * SEC, &[]).len(), 0, "snapshot evicts too");
}

#[test]
fn idle_ttl_and_changed_since_follow_the_newest_sample_across_slices() {
    // A series' newest sample time and change time live in its slices: they must survive the
    // ring moving on (sliding) and a delta read folding the delta slice away (cumulative).
    let cfg = Config {
        idle_ttl: 30 * SEC as u64,
        ..Config::sliding(60 * SEC as u64, 6)
    };
    let agg = Aggregator::new(cfg).unwrap();
    agg.ingest_u64(&[1, 2], Samples::new(&[SEC, SEC], &[1.0, 1.0]), SEC)
        .unwrap();
    agg.ingest_u64(&[1], Samples::new(&[25 * SEC], &[1.0]), 25 * SEC)
        .unwrap();
    // Late, into the first slice again: the newest time stays 25 s.
    agg.ingest_u64(&[1], Samples::new(&[2 * SEC], &[1.0]), 25 * SEC)
        .unwrap();
    assert_eq!(
        agg.evict_idle(40 * SEC),
        1,
        "key 2 idle since 1 s, key 1 since 25 s"
    );
    assert_eq!(agg.evict_idle(54 * SEC), 0);
    assert_eq!(agg.evict_idle(56 * SEC), 1);

    let agg = Aggregator::new(Config::cumulative()).unwrap();
    agg.ingest_u64(&[7], Samples::new(&[SEC], &[2.0]), SEC)
        .unwrap();
    let first = snap(&agg, SEC, &[]).next_since();
    agg.ingest_u64(&[7], Samples::new(&[SEC], &[3.0]), SEC)
        .unwrap();
    let after = snap(&agg, SEC, &[]).next_since();
    let mut s = Snapshot::new();
    let mut read = |since: u64, delta: bool| {
        let opts = SnapshotOptions {
            since,
            delta,
            ..Default::default()
        };
        agg.snapshot(2 * SEC, &opts, &mut s).unwrap();
        s.len()
    };
    assert_eq!(
        read(first, true),
        1,
        "the delta read folds the sample into the total"
    );
    assert_eq!(
        read(first, false),
        1,
        "still changed since before the sample"
    );
    assert_eq!(read(after, false), 0, "nothing changed since after it");
}

#[test]
fn merge_of_two_instances_equals_one_fed_both() {
    let mut r = Rng(7);
    let cfg = Config::sliding(60 * SEC as u64, 6);
    let (a, b, both) = (
        Aggregator::new(cfg.clone()).unwrap(),
        Aggregator::new(cfg.clone()).unwrap(),
        Aggregator::new(cfg).unwrap(),
    );
    let now = 1000 * SEC;
    for _ in 0..20 {
        let n = 500;
        let keys: Vec<u64> = (0..n).map(|_| r.below(50)).collect();
        let ts: Vec<i64> = (0..n).map(|_| now - r.below(50) as i64 * SEC).collect();
        let vs: Vec<f64> = (0..n).map(|_| (r.normal() + 2.0).exp()).collect();
        let half = if r.below(2) == 0 { &a } else { &b };
        half.ingest_u64(&keys, Samples::new(&ts, &vs), now).unwrap();
        both.ingest_u64(&keys, Samples::new(&ts, &vs), now).unwrap();
    }
    let mut blob = Vec::new();
    let records = a.export(now, &mut blob);
    assert!(records > 0);
    let imp = b.merge_import(&blob, now).unwrap();
    assert_eq!(imp.merged, records as u64);
    let q = [0.1, 0.5, 0.99];
    let (sb, sboth) = (snap(&b, now, &q), snap(&both, now, &q));
    assert_eq!(sb.len(), sboth.len());
    for i in 0..sboth.len() {
        let j = (0..sb.len())
            .find(|&j| sb.raw_keys()[j] == sboth.raw_keys()[i])
            .unwrap();
        assert_eq!(sb.counts()[j], sboth.counts()[i]);
        assert_eq!(sb.mins()[j], sboth.mins()[i]);
        assert_eq!(sb.maxs()[j], sboth.maxs()[i]);
        assert!((sb.sums()[j] - sboth.sums()[i]).abs() <= 1e-9 * sboth.sums()[i].abs());
        assert!((sb.stddevs()[j] - sboth.stddevs()[i]).abs() <= 1e-9 * (1.0 + sboth.stddevs()[i]));
        for k in 0..q.len() {
            assert_eq!(
                sb.quantile(k)[j],
                sboth.quantile(k)[i],
                "sketch merge is exact"
            );
        }
    }
}

#[test]
fn import_rejects_bad_input_without_effect() {
    let agg = Aggregator::new(Config::tumbling(60 * SEC as u64)).unwrap();
    agg.ingest_keys(b"abc", &[3], Samples::new(&[SEC], &[3.0]), SEC)
        .unwrap();
    let mut blob = Vec::new();
    agg.export(SEC, &mut blob);
    let target = Aggregator::new(Config::tumbling(60 * SEC as u64)).unwrap();
    assert_eq!(target.merge_import(b"", SEC), Err(Error::Corrupt));
    assert_eq!(
        target.merge_import(b"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", SEC),
        Err(Error::BadMagic)
    );
    // Versions 1 and 2 (other bucket mappings) and unknown versions are refused.
    for version in [1, 2, 4] {
        let mut other = blob.clone();
        other[4] = version;
        assert_eq!(
            target.merge_import(&other, SEC),
            Err(Error::UnsupportedVersion)
        );
    }
    // Every truncation and every single-byte corruption is an error or a clean merge.
    for cut in 0..blob.len() {
        assert!(
            target.merge_import(&blob[..cut], SEC).is_err(),
            "truncated at {cut}"
        );
    }
    let mut r = Rng(3);
    for _ in 0..2000 {
        let mut bad = blob.clone();
        let i = r.below(bad.len() as u64) as usize;
        bad[i] ^= 1 << r.below(8);
        let _ = target.merge_import(&bad, SEC);
    }
    let other = Aggregator::new(Config {
        alpha: 0.02,
        ..Config::tumbling(60 * SEC as u64)
    })
    .unwrap();
    assert_eq!(other.merge_import(&blob, SEC), Err(Error::AlphaMismatch));
    let fresh = Aggregator::new(Config::tumbling(60 * SEC as u64)).unwrap();
    assert_eq!(fresh.merge_import(&blob, SEC).unwrap().merged, 1);
    let s = snap(&fresh, SEC, &[0.5]);
    assert_eq!(
        (s.key(0), s.counts()[0], s.sums()[0]),
        (&b"abc"[..], 1, 3.0)
    );
}

#[test]
fn concurrent_ingest_conserves_counts_while_snapshots_run() {
    let cfg = Config {
        max_series: 5000,
        ..Config::cumulative()
    };
    let agg = std::sync::Arc::new(Aggregator::new(cfg).unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (agg, stop) = (agg.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut s = Snapshot::new();
            let mut last = 0u64;
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                agg.snapshot(1, &SnapshotOptions::default(), &mut s)
                    .unwrap();
                let total: u64 = s.counts().iter().sum();
                assert!(total >= last, "monotone");
                assert_eq!(total % 256, 0, "whole batches only");
                last = total;
                n += 1;
            }
            n
        })
    };
    let writers: Vec<_> = (0..8u64)
        .map(|t| {
            let agg = agg.clone();
            std::thread::spawn(move || {
                let mut r = Rng(t);
                let mut acc = offheap::window::Accounting::default();
                for _ in 0..200 {
                    let keys: Vec<u64> = (0..256).map(|_| r.below(10_000)).collect();
                    acc.add(
                        &agg.ingest_u64(&keys, Samples::new(&[1; 256], &[1.0; 256]), 1)
                            .unwrap(),
                    );
                }
                acc
            })
        })
        .collect();
    let mut total = offheap::window::Accounting::default();
    for w in writers {
        total.add(&w.join().unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(total.accepted + total.overflowed, 8 * 200 * 256);
    let s = snap(&agg, 1, &[]);
    assert_eq!(s.counts().iter().sum::<u64>(), 8 * 200 * 256);
    assert_eq!(agg.stats().series, 5000);
}

#[test]
fn prometheus_text_and_paging() {
    let cfg = Config {
        name: "http_latency_seconds".into(),
        help: "Latency \\ per route".into(),
        max_series: 2,
        ..Config::tumbling(60 * SEC as u64)
    };
    let agg = Aggregator::new(cfg.clone()).unwrap();
    let keys = b"/a\"b\n/c/d";
    agg.ingest_keys(
        keys,
        &[5, 8, 9],
        Samples::new(&[SEC; 3], &[1.0, 2.0, 3.0]),
        SEC,
    )
    .unwrap();
    agg.ingest_u64(&[77], Samples::new(&[SEC], &[0.5]), SEC)
        .unwrap();
    let s = snap(&agg, SEC, &[0.5, 0.99]);
    let mut all = Vec::new();
    render_all(&agg, &s, Format::Text, &mut all);
    let text = String::from_utf8(all.clone()).unwrap();
    assert!(text.starts_with(
        "# HELP http_latency_seconds Latency \\\\ per route\n# TYPE http_latency_seconds summary\n"
    ));
    assert!(
        text.contains("http_latency_seconds{key=\"/c/\",quantile=\"0.5\"} 2.0")
            || text.contains("http_latency_seconds_sum{key=\"d\"} 3.0\n"),
        "{text}"
    );
    let made = [
        "{key=\"/a\\\"b\\n\"} 1\n",
        "{key=\"/c/\"} 1\n",
        "{key=\"d\"} 1\n",
    ];
    assert_eq!(
        made.iter()
            .filter(|m| text.contains(&format!("_count{}", m)))
            .count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("http_latency_seconds_count{otel_metric_overflow=\"true\"} 2\n"),
        "{text}"
    );
    assert_eq!(text.matches("_count{").count(), 3);
    // Reading in pieces of any size, one byte included, gives the same bytes.
    for cap in [1, 7, 400, 1 << 16] {
        let mut paged = Vec::new();
        let mut e = Exposition::new();
        e.begin(&agg, &s, Format::Text);
        let mut buf = vec![0u8; cap];
        loop {
            let n = e.read(&agg, &s, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            paged.extend_from_slice(&buf[..n]);
        }
        assert_eq!(paged, all, "cap {cap}");
    }
    // A new snapshot into the same columns needs a new begin.
    let mut e = Exposition::new();
    assert_eq!(e.read(&agg, &s, &mut [0u8; 8]), Err(Error::NotBegun));
    e.begin(&agg, &s, Format::Text);
    let s2 = snap(&agg, 2 * SEC, &[0.5]);
    assert_eq!(e.read(&agg, &s2, &mut [0u8; 8]), Err(Error::NotBegun));
}

#[test]
fn extreme_timestamps_and_now_never_panic() {
    for cfg in [
        Config {
            allowed_lateness: 0,
            max_future: 5,
            ..Config::sliding(6, 6)
        },
        Config::sliding(6, 6),
        Config::tumbling(1),
        Config::cumulative(),
        Config {
            idle_ttl: 1,
            ..Config::tumbling(u64::MAX / 2)
        },
    ] {
        let agg = Aggregator::new(cfg).unwrap();
        let edges = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
        for &now in &edges {
            let acc = agg
                .ingest_u64(&[1; 7], Samples::new(&edges, &[1.0; 7]), now)
                .unwrap();
            assert_eq!(acc.total(), 7);
            let s = snap(&agg, now, &[0.5]);
            assert!(s.len() <= 2);
            let mut blob = Vec::new();
            agg.export(now, &mut blob);
            agg.merge_import(&blob, now).unwrap();
        }
    }
}

#[test]
fn every_shard_count_routes_every_sample() {
    for shards in [1, 2, 16, 256] {
        let agg = Aggregator::new(Config {
            shards,
            sketch: false,
            ..Config::tumbling(60 * SEC as u64)
        })
        .unwrap();
        let keys: Vec<u64> = (0..20_000).collect();
        let acc = agg
            .ingest_u64(
                &keys,
                Samples::new(&vec![SEC; 20_000], &vec![1.0; 20_000]),
                SEC,
            )
            .unwrap();
        assert_eq!(acc.accepted, 20_000);
        let s = snap(&agg, SEC, &[]);
        assert_eq!((s.len(), s.counts().iter().sum::<u64>()), (20_000, 20_000));
        let mut ids = vec![0u64; 20_000];
        agg.resolve_u64(&keys, &mut ids).unwrap();
        assert!(ids.iter().all(|&id| (id & 0xff) < u64::from(shards)));
        assert_eq!(
            agg.ingest_ids(
                &ids,
                Samples::new(&vec![SEC; 20_000], &vec![1.0; 20_000]),
                SEC
            )
            .unwrap()
            .accepted,
            20_000
        );
    }
}

/// Two-pass mean and population stddev of weighted samples (the accurate reference).
fn two_pass(xs: &[(f64, u32)]) -> (f64, f64) {
    let n: f64 = xs.iter().map(|&(_, w)| f64::from(w)).sum();
    let mean = xs.iter().map(|&(x, w)| x * f64::from(w)).sum::<f64>() / n;
    let m2: f64 = xs
        .iter()
        .map(|&(x, w)| f64::from(w) * (x - mean) * (x - mean))
        .sum();
    (mean, (m2 / n).sqrt())
}

#[test]
fn stddev_stays_accurate_at_large_offsets() {
    // Values 1e9 + noise (σ ≈ 1): raw power sums lose every digit of the variance here (their
    // rounding is ~1e2 per 1e18), shifted sums keep ~1e-12 relative. Samples spread over the
    // slices of a sliding window (so reads merge slices with different shifts), with
    // weights, a first value far from the rest in one series, and negative offsets in another.
    let mut r = Rng(11);
    let cfg = Config::sliding(60 * SEC as u64, 6);
    let agg = Aggregator::new(cfg.clone()).unwrap();
    let now = 10_000 * SEC;
    let mut series: Vec<Vec<(f64, u32)>> = vec![Vec::new(); 3];
    let offsets = [1e9, -1e9, 1e9];
    // Series 2 starts with an outlier: the shift is a sample far from the mean.
    let ts0 = [now - 49 * SEC];
    agg.ingest_u64(&[2], Samples::weighted(&ts0, &[0.0], &[1]), now)
        .unwrap();
    series[2].push((0.0, 1));
    for _ in 0..20 {
        let n = 300;
        let keys: Vec<u64> = (0..n).map(|_| r.below(3)).collect();
        let ts: Vec<i64> = (0..n).map(|_| now - r.below(50) as i64 * SEC).collect();
        let ws: Vec<u32> = (0..n).map(|_| 1 + r.below(4) as u32).collect();
        let vs: Vec<f64> = keys
            .iter()
            .map(|&k| offsets[k as usize] + r.normal())
            .collect();
        let acc = agg
            .ingest_u64(&keys, Samples::weighted(&ts, &vs, &ws), now)
            .unwrap();
        assert_eq!(acc.accepted, n as u64);
        for i in 0..n {
            series[keys[i] as usize].push((vs[i], ws[i]));
        }
    }
    let check = |s: &Snapshot, series: &[Vec<(f64, u32)>], what: &str| {
        for (k, xs) in series.iter().enumerate() {
            let row = (0..s.len()).find(|&i| s.raw_keys()[i] == k as u64).unwrap();
            let (mean, sd) = two_pass(xs);
            let got = s.stddevs()[row];
            assert!(
                (got - sd).abs() <= 1e-9 * sd,
                "{what} key {k}: stddev {got} vs two-pass {sd}"
            );
            assert!(
                (s.means()[row] - mean).abs() <= 1e-12 * mean.abs(),
                "{what} key {k}: mean {} vs {mean}",
                s.means()[row]
            );
        }
    };
    check(&snap(&agg, now, &[]), &series, "sliding read");
    // The serialized state carries mean and m2; an import into an empty aggregator and into
    // one that already holds the same data (doubling every weight) keeps them accurate.
    let mut blob = Vec::new();
    agg.export(now, &mut blob);
    let other = Aggregator::new(cfg).unwrap();
    other.merge_import(&blob, now).unwrap();
    check(&snap(&other, now, &[]), &series, "import");
    other.merge_import(&blob, now).unwrap();
    for xs in &mut series {
        for x in xs.iter_mut() {
            x.1 *= 2;
        }
    }
    check(&snap(&other, now, &[]), &series, "import twice");
}

#[test]
fn moments_of_values_near_the_float_range_stay_sane() {
    // Deviations of ±2e308 overflow: stddev is +Inf (the variance is past f64::MAX), the mean
    // still comes from the sum, and the state still exports and imports.
    let agg = Aggregator::new(Config::tumbling(60 * SEC as u64)).unwrap();
    let vs = [1e308, -1e308, 1e200, 0.0];
    let acc = agg
        .ingest_u64(&[1; 4], Samples::new(&[SEC; 4], &vs), SEC)
        .unwrap();
    assert_eq!(acc.accepted, 4);
    let s = snap(&agg, SEC, &[]);
    assert_eq!(s.means()[0], 1e200 / 4.0);
    assert_eq!(s.stddevs()[0], f64::INFINITY);
    let mut blob = Vec::new();
    assert_eq!(agg.export(SEC, &mut blob), 1);
    let other = Aggregator::new(Config::tumbling(60 * SEC as u64)).unwrap();
    other.merge_import(&blob, SEC).unwrap();
    let s = snap(&other, SEC, &[]);
    assert_eq!(s.counts()[0], 4);
    assert_eq!(s.means()[0], 1e200 / 4.0);
    assert_eq!(s.stddevs()[0], f64::INFINITY);
}
