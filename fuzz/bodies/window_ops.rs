// Body of the `window_ops` fuzz target, shared by fuzz/fuzz_targets/window_ops.rs (libFuzzer)
// and tests/fuzz_smoke.rs (`make test`): a random configuration (valid or not), then a random
// sequence of aggregator operations (ingest by u64 keys, byte keys and ids, weighted or not,
// with NaN/Inf, late and future timestamps, mismatched columns and bad offsets; resolve;
// delete; clear; evict; snapshots with quantiles, changed-only and delta; Prometheus
// rendering whole and in pieces; export, import into a twin, import of damaged state). After
// every operation:
// - a batch's accounting adds up to its length, and the aggregator's counters are the sum of
//   every batch's accounting (a failed call changes nothing);
// - in cumulative mode, until something removes or resets series, the snapshot counts add up
//   to every accepted and overflowed sample (nothing lost, nothing counted twice);
// - the id of a deleted series never records a sample again;
// - snapshot rows are sane (min <= max, quantiles within α of [min, max]);
// - exposition in each format read in small pieces equals the whole rendering;
// - an export imported into a fresh twin gives the same counts.

use offheap::window::{
    Accounting, Aggregator, Config, Exposition, Format, KeyFormat, Mode,
    Samples, Snapshot, SnapshotOptions, render_all,
};

struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |a, i| a | u64::from(self.u8()) << (8 * i))
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }
}

fn config(b: &mut Bytes) -> Config {
    let width = [1_000u64, 60_000, 1 << 20, 0, 7][usize::from(b.u8() % 5)];
    let mut cfg = match b.u8() % 3 {
        0 => Config::sliding(width, [1, 2, 4, 6, 0, 65][usize::from(b.u8() % 6)]),
        1 => Config::tumbling(width),
        _ => Config::cumulative(),
    };
    cfg.sketch = !b.u8().is_multiple_of(4);
    cfg.alpha = [0.01, 0.0001, 0.5, 0.05, 0.0, 0.7][usize::from(b.u8() % 6)];
    cfg.max_buckets = [16, 64, 2048, 8, 65537][usize::from(b.u8() % 5)];
    cfg.max_series = [1, 2, 5, 64, 0][usize::from(b.u8() % 5)];
    cfg.idle_ttl = [0, 0, 5_000, 100_000][usize::from(b.u8() % 4)];
    cfg.allowed_lateness = [u64::MAX, 0, 10_000][usize::from(b.u8() % 3)];
    cfg.max_future = [0, 1_000, 50_000][usize::from(b.u8() % 3)];
    cfg.shards = [1, 2, 16, 3, 512][usize::from(b.u8() % 5)];
    cfg.max_key_len = [1024, 4, 1, 0][usize::from(b.u8() % 4)];
    match b.u8() % 6 {
        0 => cfg.key_format = KeyFormat::Labels,
        1 => cfg.help = "help \"text\" \\ with escapes".into(),
        2 => cfg.name = "9bad".into(),
        _ => {}
    }
    cfg
}

fn value(b: &mut Bytes) -> f64 {
    match b.u8() % 12 {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => 0.0,
        4 => -1.5,
        5 => 1e300,
        6 => 1e-300,
        7 => -(f64::from(b.u16())),
        _ => f64::from(b.u16()) / 8.0,
    }
}

/// A snapshot row check: min <= max, quantiles within α of [min, max].
fn check_rows(snap: &Snapshot, alpha: f64, nq: usize) {
    for i in 0..snap.len() {
        if snap.counts()[i] == 0 {
            continue;
        }
        let (lo, hi) = (snap.mins()[i], snap.maxs()[i]);
        if !(lo.is_finite() && hi.is_finite()) {
            continue;
        }
        assert!(lo <= hi, "row {i}: min {lo} > max {hi}");
        for j in 0..nq {
            let q = snap.quantile(j)[i];
            if q.is_nan() {
                continue;
            }
            let slack = 1e-9 * (lo.abs() + hi.abs()) + 1e-300;
            assert!(
                q >= lo - alpha * lo.abs() - slack && q <= hi + alpha * hi.abs() + slack,
                "row {i}: quantile {j} = {q} outside [{lo}, {hi}] (alpha {alpha})"
            );
        }
    }
}

fn total_count(agg: &Aggregator, now: i64) -> u64 {
    let mut snap = Snapshot::new();
    agg.snapshot(now, &SnapshotOptions::default(), &mut snap)
        .expect("plain snapshot");
    snap.counts().iter().sum()
}

/// Reads the exposition of `snap` in `format` through a buffer of `cap` bytes.
fn render_in_pieces(agg: &Aggregator, snap: &Snapshot, format: Format, cap: usize) -> Vec<u8> {
    let mut e = Exposition::new();
    e.begin(agg, snap, format);
    let mut out = Vec::new();
    let mut buf = vec![0u8; cap];
    loop {
        match e.read(agg, snap, &mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("render: {e:?}"),
        }
    }
}

/// Inputs whose configuration was valid, and operations run (the smoke test reports them).
pub static VALID_CONFIGS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
pub static OPERATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub fn run(data: &[u8]) {
    let mut b = Bytes { data, pos: 0 };
    let cfg = config(&mut b);
    let Ok(agg) = Aggregator::new(cfg.clone()) else {
        return;
    };
    VALID_CONFIGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let cumulative = cfg.mode == Mode::Cumulative;
    let mut sum = Accounting::default();
    // Whether the snapshot counts must equal accepted + overflowed.
    let mut conserving = cumulative && cfg.idle_ttl == 0;
    let mut now: i64 = 1_000_000;
    let mut ids: Vec<(u64, bool)> = Vec::new(); // (id, deleted for sure)
    let mut ops = 0;
    while !b.done() && ops < 64 {
        ops += 1;
        OPERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        now += i64::from(b.u16()) * 8;
        let before = agg.stats();
        match b.u8() % 10 {
            0..=3 => {
                // Ingest a batch.
                let n = usize::from(b.u8() % 24);
                let kind = b.u8() % 3;
                let weighted = b.u8().is_multiple_of(4);
                let mismatch = b.u8().is_multiple_of(16);
                let mut ts = Vec::with_capacity(n);
                let mut vs = Vec::with_capacity(n);
                let mut ws = Vec::with_capacity(n);
                let mut keys = Vec::with_capacity(n);
                let mut key_bytes = Vec::new();
                let mut ends = Vec::with_capacity(n);
                let mut batch_ids = Vec::with_capacity(n);
                for _ in 0..n {
                    let off = i64::from(b.u16() as i16) * 16;
                    ts.push(now.saturating_add(off));
                    vs.push(value(&mut b));
                    ws.push(u32::from(b.u8() % 4));
                    keys.push(u64::from(b.u8() % 12));
                    let k = b.u8();
                    key_bytes.extend_from_slice(match k % 6 {
                        0 => b"/api".as_slice(),
                        1 => b"route=\"/a\",code=\"200\"",
                        2 => b"\xff\xfe",
                        3 => b"",
                        4 => b"a-much-longer-key-than-some-limits",
                        _ => b"k\"\\\n",
                    });
                    ends.push(key_bytes.len() as u32);
                    batch_ids.push(if ids.is_empty() {
                        b.u64()
                    } else {
                        ids[usize::from(k) % ids.len()].0
                    });
                }
                if mismatch && n > 0 {
                    vs.pop();
                }
                if kind == 1 && b.u8().is_multiple_of(16) && !ends.is_empty() {
                    ends[0] = u32::MAX; // out of range
                }
                let samples = if weighted {
                    Samples::weighted(&ts, &vs, &ws)
                } else {
                    Samples::new(&ts, &vs)
                };
                let r = match kind {
                    0 => agg.ingest_u64(&keys, samples, now),
                    1 => agg.ingest_keys(&key_bytes, &ends, samples, now),
                    _ => agg.ingest_ids(&batch_ids, samples, now),
                };
                match r {
                    Ok(acc) => {
                        assert!(!(mismatch && n > 0), "mismatched columns accepted");
                        assert_eq!(acc.total(), n as u64, "accounting {acc:?} for {n} samples");
                        if kind == 2 {
                            let dead = batch_ids
                                .iter()
                                .filter(|id| ids.iter().any(|&(i, d)| i == **id && d))
                                .count();
                            if dead == n && n > 0 {
                                assert_eq!(
                                    acc.accepted + acc.overflowed,
                                    0,
                                    "a deleted id recorded"
                                );
                            }
                        }
                        if weighted && acc.accepted + acc.overflowed > 0 {
                            conserving = false; // counts add weights, the accounting samples
                        }
                        sum.add(&acc);
                    }
                    Err(_) => assert_eq!(
                        agg.stats().samples,
                        before.samples,
                        "a failed batch counted"
                    ),
                }
            }
            4 => {
                // Resolve u64 keys to ids.
                let keys: Vec<u64> = (0..1 + b.u8() % 4)
                    .map(|_| u64::from(b.u8() % 12))
                    .collect();
                let mut out = vec![0u64; keys.len()];
                if let Ok(acc) = agg.resolve_u64(&keys, &mut out) {
                    assert_eq!(acc.total(), keys.len() as u64);
                    for id in out {
                        if ids.len() < 32 && id != u64::MAX && id != 0 {
                            ids.push((id, false));
                        }
                    }
                }
            }
            5 => {
                // Delete by key or id.
                let r = match b.u8() % 3 {
                    0 => agg.delete_u64(u64::from(b.u8() % 12)),
                    1 => agg.delete_key(b"/api"),
                    _ if !ids.is_empty() => {
                        let i = usize::from(b.u8()) % ids.len();
                        let r = agg.delete_id(ids[i].0);
                        if r.is_ok() {
                            assert!(!ids[i].1, "a deleted id deleted again");
                            ids[i].1 = true;
                        }
                        r
                    }
                    _ => agg.delete_id(b.u64()),
                };
                if r.is_ok() {
                    conserving = false;
                    assert_eq!(
                        agg.stats().series + 1,
                        before.series,
                        "delete did not remove one series"
                    );
                }
            }
            6 => {
                if b.u8().is_multiple_of(2) {
                    agg.clear();
                    ids.iter_mut().for_each(|i| i.1 = true);
                    assert_eq!(agg.stats().series, 0);
                } else {
                    agg.evict_idle(now);
                }
                conserving = false;
            }
            7 => {
                // Snapshot, then render.
                let qs = [
                    [0.5, 0.99, 0.0, 1.0].as_slice(),
                    &[],
                    &[0.5, 2.0],
                    &[f64::NAN],
                ][usize::from(b.u8() % 4)];
                let delta = b.u8().is_multiple_of(4);
                let opts = SnapshotOptions {
                    quantiles: qs,
                    since: u64::from(b.u8() % 3),
                    delta,
                    buckets: b.u8().is_multiple_of(2),
                };
                let mut snap = Snapshot::new();
                match agg.snapshot(now, &opts, &mut snap) {
                    Ok(()) => {
                        assert!(
                            qs.iter().all(|q| (0.0..=1.0).contains(q)),
                            "bad quantiles accepted"
                        );
                        check_rows(&snap, cfg.alpha, if cfg.sketch { qs.len() } else { 0 });
                        if opts.buckets && cfg.sketch {
                            // A row's buckets hold its count, each sign in ascending order.
                            for row in 0..snap.len() {
                                let (pi, pc) = snap.positive_buckets(row);
                                let (ni, nc) = snap.negative_buckets(row);
                                let held: u64 = pc.iter().chain(nc).sum::<u64>()
                                    + snap.zero_counts()[row];
                                assert_eq!(held, snap.counts()[row], "buckets lose samples");
                                assert!(pi.is_sorted() && ni.is_sorted(), "buckets out of order");
                            }
                        }
                        for row in 0..snap.len() {
                            assert!(
                                snap.total_counts()[row] >= snap.counts()[row],
                                "lifetime below the window"
                            );
                        }
                        if delta && cumulative {
                            conserving = false;
                        }
                        let format = [Format::Text, Format::OpenMetrics, Format::Protobuf]
                            [usize::from(b.u8() % 3)];
                        let mut whole = Vec::new();
                        render_all(&agg, &snap, format, &mut whole);
                        assert!(
                            format == Format::Protobuf || std::str::from_utf8(&whole).is_ok(),
                            "text exposition is not UTF-8"
                        );
                        let cap = [65536, 4096, 300, 1][usize::from(b.u8() % 4)];
                        let pieces = render_in_pieces(&agg, &snap, format, cap);
                        assert_eq!(pieces, whole, "reading in pieces differs from the whole");
                    }
                    Err(_) => assert!(
                        qs.len() > 16 || qs.iter().any(|q| !(0.0..=1.0).contains(q)),
                        "snapshot failed with valid quantiles"
                    ),
                }
            }
            8 => {
                // Export into a fresh twin: same counts.
                let mut state = Vec::new();
                let records = agg.export(now, &mut state);
                let twin = Aggregator::new(cfg.clone()).expect("same config");
                let imp = twin.merge_import(&state, now).expect("own export imports");
                assert_eq!(
                    imp.merged + imp.overflowed + imp.late + imp.bad_key,
                    records as u64
                );
                if imp.late == 0 && imp.bad_key == 0 && cumulative {
                    assert_eq!(
                        total_count(&twin, now),
                        total_count(&agg, now),
                        "export/import lost counts"
                    );
                }
            }
            _ => {
                // Import damaged state: all-or-nothing.
                let mut state = Vec::new();
                agg.export(now, &mut state);
                let flips = b.u8() % 4;
                for _ in 0..flips {
                    if state.is_empty() {
                        break;
                    }
                    let at = usize::from(b.u16()) % state.len();
                    state[at] ^= 1 << (b.u8() % 8);
                }
                if b.u8().is_multiple_of(4) {
                    let n = usize::from(b.u8());
                    state = b.take(n).to_vec();
                }
                let counts = total_count(&agg, now);
                let r = agg.merge_import(&state, now);
                if r.is_err() {
                    assert_eq!(
                        total_count(&agg, now),
                        counts,
                        "a failed import changed counts"
                    );
                } else {
                    conserving = false;
                }
            }
        }
        assert_eq!(
            agg.stats().samples,
            sum,
            "counters differ from the sum of batch accountings"
        );
        if conserving {
            let accepted = sum.accepted + sum.overflowed;
            assert_eq!(total_count(&agg, now), accepted, "counts not conserved");
        }
    }
}
