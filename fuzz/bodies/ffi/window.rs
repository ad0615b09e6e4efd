//! Aggregators and snapshots in the `ffi` fuzz target: ingestion of every key kind, resolve,
//! delete, remove and stats, snapshots and their column views (read in full), Prometheus
//! exposition in pieces, and export then import of (possibly corrupted) state.

use offheap::ffi::*;
use offheap::window::{KeyFormat, MetricType, Mode};

use super::{AGGREGATOR, Interp, Outcome, Program, SNAPSHOT, or_null, or_null_mut, status_name};

/// Reads the arguments of one `offheap_aggregator_new` (a valid configuration, or one with a
/// field out of range; valid and invalid names; NULL strings) and calls it; returns its status
/// and whether the arguments were bad.
///
/// # Safety
/// `out` is NULL, misaligned or valid for writing one `u64`.
pub(super) unsafe fn new_aggregator(p: &mut Program, out: *mut u64) -> (offheap_status, bool) {
    let sel = p.u8();
    let mut cfg = offheap_aggregator_config {
        mode: u32::from(sel % 3),
        slices: [1, 2, 4][usize::from(p.u8() % 3)],
        width_ns: 1 << 20,
        alpha: 0.01,
        max_buckets: 64,
        shards: [1, 4, 16][usize::from(p.u8() % 3)],
        max_series: u64::from(1 + p.u8() % 8),
        idle_ttl_ns: [0, 10_000][usize::from(p.u8() % 2)],
        allowed_lateness_ns: u64::MAX,
        max_future_ns: 1 << 20,
        max_key_len: 64,
        sketch: u32::from(p.u8() % 2),
        key_format: [0, 1, 2][usize::from(p.u8() % 3)],
        metric_type: [0, 1, 2, 3][usize::from(p.u8() % 4)],
    };
    let mut valid = true;
    match p.u8() % 8 {
        0 => (cfg.mode, valid) = (3 + u32::from(p.u8()), false),
        1 => (cfg.alpha, valid) = (f64::NAN, false),
        2 => (cfg.shards, valid) = (3, false),
        3 => (cfg.max_buckets, valid) = (1, false),
        4 => (cfg.max_key_len, valid) = (0, false),
        _ => {}
    }
    if cfg.mode < 2 && !cfg.width_ns.is_multiple_of(u64::from(cfg.slices)) {
        valid = false;
    }
    let names: [&[u8]; 4] = [b"fuzz_metric", b"9bad", b"", b"ok_name"];
    let name = names[usize::from(p.u8() % 4)];
    if name != b"fuzz_metric" && name != b"ok_name" {
        valid = false;
    }
    let (mut help, mut label): (&[u8], &[u8]) = (b"", b"key");
    if p.u8().is_multiple_of(4) {
        help = b"help text";
        label = b"";
        // Label values need a key label; label lists and series keys do without one.
        if cfg.key_format == 0 {
            valid = false;
        }
    }
    match p.u8() % 16 {
        0 => (cfg.key_format, valid) = (3 + u32::from(p.u8()), false),
        1 => (cfg.metric_type, valid) = (4 + u32::from(p.u8()), false),
        _ => {}
    }
    let null_name = p.u8().is_multiple_of(8);
    let name_ptr = or_null(null_name, name.as_ptr());
    // SAFETY: `cfg` is a live config; the name is NULL or valid for name.len() bytes, `help`
    // and `label` for theirs; `out` is NULL, misaligned (both refused) or valid for one write,
    // as this function's `# Safety` requires of its caller.
    let st = unsafe {
        offheap_aggregator_new(
            &cfg,
            name_ptr,
            name.len(),
            help.as_ptr(),
            help.len(),
            label.as_ptr(),
            label.len(),
            out,
        )
    };
    (st, !valid || (null_name && !name.is_empty()))
}

/// Makes an aggregator and a snapshot and runs every window export on them once, with the
/// interpreter's largest batches, every kind of key and on 16 shards: the aggregator keeps
/// per-thread scratch sized by the largest batch, and that scratch must be part of the
/// baseline.
pub(super) fn warm_up_aggregator() {
    const NOW: i64 = 1_000_000;
    let cfg = offheap_aggregator_config {
        mode: Mode::Cumulative as u32,
        slices: 1,
        width_ns: 1 << 20,
        alpha: 0.01,
        max_buckets: 64,
        shards: 16,
        max_series: 64,
        idle_ttl_ns: 0,
        allowed_lateness_ns: u64::MAX,
        max_future_ns: 1 << 20,
        max_key_len: 64,
        sketch: 1,
        key_format: KeyFormat::Value as u32,
        metric_type: MetricType::Summary as u32,
    };
    let (mut agg, mut snap) = (0u64, 0u64);
    // SAFETY: `cfg` is a live config, the name and label are valid for the lengths given (the
    // help is (NULL, 0)), and `agg` and `snap` are live for one write each.
    unsafe {
        let name = b"m";
        let label = b"key";
        let (np, lp) = (name.as_ptr(), label.as_ptr());
        let st = offheap_aggregator_new(&cfg, np, 1, std::ptr::null(), 0, lp, 3, &mut agg);
        assert_eq!(st, offheap_status::Ok);
        assert_eq!(offheap_snapshot_new(&mut snap), offheap_status::Ok);
    }
    let keys: Vec<u64> = (0..64).collect();
    let ts = [NOW; 64];
    let vs = [1.0f64; 64];
    let ws = [1u32; 64];
    let kb: Vec<u8> = (0..64u8)
        .flat_map(|k| [b'k', b'a' + k % 26, b'0' + k / 26])
        .collect();
    let ends: Vec<u32> = (1..=64).map(|i| i * 3).collect();
    let mut acc = offheap_ingest_accounting::default();
    let mut ids = [0u64; 64];
    for w in [std::ptr::null(), ws.as_ptr()] {
        let (t, v) = (ts.as_ptr(), vs.as_ptr());
        // SAFETY: every column holds 64 elements (the weights are NULL or 64 too), the key
        // bytes kb.len(); `ids` has room for 64 and `acc` is live for one write.
        unsafe {
            let (kp, ep) = (kb.as_ptr(), ends.as_ptr());
            let st =
                offheap_aggregator_ingest_keys(agg, kp, kb.len(), ep, t, v, w, 64, NOW, &mut acc);
            assert_eq!(st, offheap_status::Ok);
            let st =
                offheap_aggregator_resolve_u64(agg, keys.as_ptr(), 64, ids.as_mut_ptr(), &mut acc);
            assert_eq!(st, offheap_status::Ok);
        }
        for (key, k) in [
            (offheap_series_key::Id, ids.as_ptr()),
            (offheap_series_key::U64, keys.as_ptr()),
        ] {
            // SAFETY: the keys (or ids), timestamps and values hold 64 elements each, the
            // weights are NULL or 64 too, and `acc` is live for one write.
            let st = unsafe {
                offheap_aggregator_ingest(agg, key as u32, k, t, v, w, 64, NOW, &mut acc)
            };
            assert_eq!(st, offheap_status::Ok);
        }
    }
    let qs = [0.5, 0.9, 0.99];
    let (mut rows, mut removed) = (0, 0);
    let mut buf = [0u8; 4096];
    // SAFETY: the quantiles hold 3 values, `buf` has room for 4096 bytes, and every
    // out-parameter is a live local.
    unsafe {
        let st = offheap_snapshot_take(agg, snap, 2_000_000, qs.as_ptr(), 3, 0, 0, &mut rows);
        assert_eq!(st, offheap_status::Ok);
        for format in 0..3 {
            let q = qs.as_ptr();
            let st = offheap_aggregator_scrape(agg, snap, 2_000_000, q, 3, format, &mut rows);
            assert_eq!(st, offheap_status::Ok);
            let mut written = 1usize;
            while written > 0 {
                let bp = buf.as_mut_ptr();
                let st = offheap_snapshot_read(agg, snap, bp, 4096, &mut written);
                assert_eq!(st, offheap_status::Ok);
            }
        }
        let st = offheap_aggregator_export(agg, snap, 2_000_000, &mut rows);
        assert_eq!(st, offheap_status::Ok);
        let st = offheap_aggregator_remove(agg, 0, 2_000_000, &mut removed);
        assert_eq!(st, offheap_status::Ok);
    }
    assert_eq!(offheap_snapshot_free(snap), offheap_status::Ok);
    assert_eq!(offheap_aggregator_free(agg), offheap_status::Ok);
}

/// The samples an ingest accounted for: the sum of its fields.
fn total(a: &offheap_ingest_accounting) -> u64 {
    a.accepted + a.overflowed + a.late + a.future + a.invalid + a.bad_key + a.stale
}

impl Interp {
    pub(super) fn op_window_ingest(&mut self, p: &mut Program) {
        let pick = self.pick(p, AGGREGATOR);
        let n = usize::from(p.u8() % 20);
        let kind = p.u8() % 3;
        let null_sel = p.u8() % 16;
        let mode = self.out_mode(p);
        let now = 1_000_000 + i64::from(p.u32() % 1_000_000);
        let mut keys = [0u64; 20];
        let mut ts = [0i64; 20];
        let mut vs = [0f64; 20];
        let mut ws = [0u32; 20];
        let mut ends = [0u32; 20];
        let mut kb = Vec::new();
        for i in 0..n {
            keys[i] = u64::from(p.u8() % 8);
            ts[i] = now - i64::from(p.u8()) * 100;
            vs[i] = match p.u8() % 8 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                k => f64::from(k) * 1.5,
            };
            ws[i] = u32::from(p.u8() % 3);
            kb.extend_from_slice(
                [b"a".as_slice(), b"route", b"\xff", b""][usize::from(p.u8() % 4)],
            );
            ends[i] = kb.len() as u32;
        }
        let bad_ends = kind == 1 && n > 0 && p.u8().is_multiple_of(8);
        if bad_ends {
            ends[0] = kb.len() as u32 + 10;
        }
        let weighted = p.u8().is_multiple_of(3);
        // NULL for one column (with n > 0: NULL_POINTER).
        let col = |i: u8, ptr: *const u8| or_null(null_sel == i, ptr);
        let mut acc = offheap_ingest_accounting {
            accepted: 99,
            ..Default::default()
        };
        let out = self.out_ptr(mode, &mut acc);
        let w = or_null(!weighted, ws.as_ptr());
        let (t, v) = (
            col(1, ts.as_ptr().cast()).cast(),
            col(2, vs.as_ptr().cast()).cast(),
        );
        let st = if kind == 1 {
            let ends = col(0, ends.as_ptr().cast()).cast();
            let kp = col(3, kb.as_ptr());
            // SAFETY: every column is NULL or valid for n (≤ 20) elements, the key bytes for
            // kb.len(); `out` is NULL, misaligned or points to `acc`.
            unsafe {
                offheap_aggregator_ingest_keys(
                    pick.handle,
                    kp,
                    kb.len(),
                    ends,
                    t,
                    v,
                    w,
                    n,
                    now,
                    out,
                )
            }
        } else {
            // `kind` is 0 or 2 here: `offheap_series_key::U64` or `::Id`.
            let keys = col(0, keys.as_ptr().cast()).cast();
            // SAFETY: every column is NULL or valid for n (≤ 20) elements; `out` is NULL,
            // misaligned or points to `acc`.
            unsafe {
                offheap_aggregator_ingest(pick.handle, u32::from(kind), keys, t, v, w, n, now, out)
            }
        };
        let outcome = self.check_call(pick, st, &[(mode, 8)], "window_ingest");
        if outcome != Outcome::Injected && st != offheap_status::Ok {
            assert_eq!(acc.accepted, 99, "accounting written on failure");
        }
        if outcome != Outcome::Ran {
            return;
        }
        let null_col = n > 0 && (null_sel <= 2 || (null_sel == 3 && kind == 1 && !kb.is_empty()));
        if null_col {
            assert_eq!(st, offheap_status::NullPointer, "NULL column with n > 0");
        } else if pick.live.is_some() {
            if bad_ends {
                assert_ne!(st, offheap_status::Ok, "bad key offsets accepted");
            } else {
                assert_eq!(st, offheap_status::Ok, "ingest: {}", status_name(st));
                assert_eq!(total(&acc), n as u64, "accounting {acc:?} of {n} samples");
            }
        }
    }

    pub(super) fn op_window_maintain(&mut self, p: &mut Program) {
        let pick = self.pick(p, AGGREGATOR);
        let mode = self.out_mode(p);
        match p.u8() % 4 {
            0 => {
                let mut keys = [0u64; 8];
                let n = usize::from(p.u8() % 9);
                for k in keys.iter_mut() {
                    *k = u64::from(p.u8() % 8);
                }
                let mut ids = [7u64; 8];
                let mut acc = offheap_ingest_accounting::default();
                let out = self.out_ptr(mode, &mut acc);
                // SAFETY: the arrays are valid for n (≤ 8) elements; `out` is NULL, misaligned
                // or points to `acc`.
                let st = unsafe {
                    offheap_aggregator_resolve_u64(
                        pick.handle,
                        keys.as_ptr(),
                        n,
                        ids.as_mut_ptr(),
                        out,
                    )
                };
                if self.check_call(pick, st, &[(mode, 8)], "window_resolve_u64") == Outcome::Ran {
                    if st == offheap_status::Ok {
                        assert_eq!(total(&acc), n as u64);
                    } else {
                        assert!(ids.iter().all(|&i| i == 7), "ids written on failure");
                    }
                }
            }
            1 => {
                let kind = u32::from(p.u8() % 4);
                let key = if p.u8().is_multiple_of(2) {
                    u64::from(p.u8() % 8)
                } else {
                    p.u64()
                };
                let bytes = p.bytes(8);
                let null = p.u8().is_multiple_of(4);
                let len = if null {
                    usize::from(p.u8() % 3)
                } else {
                    bytes.len()
                };
                let bp = or_null(null, bytes.as_ptr());
                // SAFETY: `bp` is NULL or valid for `len` bytes.
                let st = unsafe { offheap_aggregator_delete(pick.handle, kind, key, bp, len) };
                self.check_call(pick, st, &[], "window_delete");
            }
            2 => {
                let what = u32::from(p.u8() % 3);
                let mut removed = u64::MAX;
                let out = self.out_ptr(mode, &mut removed);
                // SAFETY: `out` is NULL, misaligned or points to `removed`.
                let st = unsafe { offheap_aggregator_remove(pick.handle, what, 2_000_000, out) };
                let outcome = self.check_call(pick, st, &[(mode, 8)], "window_remove");
                if outcome == Outcome::Ran && pick.live.is_some() && what > 1 {
                    assert_ne!(st, offheap_status::Ok, "remove with what = {what}");
                }
                if outcome != Outcome::Injected && st != offheap_status::Ok {
                    assert_eq!(removed, u64::MAX);
                }
            }
            _ => {
                let mut c = offheap_aggregator_counters {
                    series: 12345,
                    ..Default::default()
                };
                let out = self.out_ptr(mode, &mut c);
                // SAFETY: `out` is NULL, misaligned or points to `c`.
                let st = unsafe { offheap_aggregator_stats(pick.handle, out) };
                let outcome = self.check_call(pick, st, &[(mode, 8)], "window_stats");
                if outcome == Outcome::Ran && pick.live.is_some() {
                    assert_eq!(st, offheap_status::Ok);
                }
                if outcome != Outcome::Injected && st != offheap_status::Ok {
                    assert_eq!(c.series, 12345);
                }
            }
        }
    }

    /// Reads every column of a snapshot view (so ASan checks the memory behind it).
    fn read_view(v: &offheap_snapshot_columns) {
        let rows = v.rows as usize;
        assert!(rows < 1 << 20);
        // SAFETY: the view's columns are valid for `rows` elements (NULL only when empty)
        // until the snapshot is filled again or freed; nothing runs in between.
        unsafe {
            let col = |p: *const u64| {
                if p.is_null() {
                    0
                } else {
                    std::slice::from_raw_parts(p, rows)
                        .iter()
                        .fold(0u64, |a, &x| a ^ x)
                }
            };
            let colf = |p: *const f64| {
                if p.is_null() {
                    0.0
                } else {
                    std::slice::from_raw_parts(p, rows)
                        .iter()
                        .fold(0.0, |a, &x| if x.is_finite() { a + x } else { a })
                }
            };
            let mut acc = col(v.ids) ^ col(v.raw_keys) ^ col(v.counts);
            for p in [
                v.sums,
                v.mins,
                v.maxs,
                v.lasts,
                v.means,
                v.stddevs,
                v.increases,
                v.rates,
            ] {
                acc ^= colf(p).to_bits();
            }
            for q in &v.quantiles[..(v.nquantiles as usize).min(OFFHEAP_WINDOW_MAX_QUANTILES)] {
                acc ^= colf(*q).to_bits();
            }
            if rows > 0 {
                assert!(!v.ids.is_null() && !v.counts.is_null() && !v.kinds.is_null());
                let kinds = std::slice::from_raw_parts(v.kinds, rows);
                assert!(kinds.iter().all(|&k| k <= 2));
                let ends = std::slice::from_raw_parts(v.key_ends, rows);
                assert!(ends.windows(2).all(|w| w[0] <= w[1]));
                assert!(ends.last().is_none_or(|&e| u64::from(e) <= v.key_bytes_len));
            }
            if v.key_bytes_len > 0 {
                let kb = std::slice::from_raw_parts(v.key_bytes, v.key_bytes_len as usize);
                acc ^= kb.iter().map(|&b| u64::from(b)).sum::<u64>();
            }
            if v.export_len > 0 {
                let eb = std::slice::from_raw_parts(v.export_bytes, v.export_len as usize);
                acc ^= eb.iter().map(|&b| u64::from(b)).sum::<u64>();
            }
            if rows > 0 {
                let totals = std::slice::from_raw_parts(v.total_counts, rows);
                let counts = std::slice::from_raw_parts(v.counts, rows);
                assert!(totals.iter().zip(counts).all(|(t, c)| t >= c));
                acc ^= colf(v.total_sums).to_bits();
            }
            if !v.bucket_ends.is_null() {
                let ends = std::slice::from_raw_parts(v.bucket_ends, rows);
                assert!(ends.last().is_some_and(|&e| u64::from(e) == v.buckets));
                if v.buckets > 0 {
                    let c = std::slice::from_raw_parts(v.bucket_counts, v.buckets as usize);
                    let i = std::slice::from_raw_parts(v.bucket_indexes, v.buckets as usize);
                    acc ^= c.iter().sum::<u64>() ^ i.iter().map(|&x| x as u64).sum::<u64>();
                }
            }
            std::hint::black_box(acc);
        }
    }

    pub(super) fn op_window_snapshot(&mut self, p: &mut Program) {
        let agg = self.pick(p, AGGREGATOR);
        let snap = self.pick(p, SNAPSHOT);
        let mode = self.out_mode(p);
        let qsets: [&[f64]; 5] = [&[0.5, 0.9, 0.99], &[], &[2.0], &[f64::NAN], &[0.1; 17]];
        let qs = qsets[usize::from(p.u8() % 5)];
        let null_q = p.u8().is_multiple_of(8);
        let qp = or_null(null_q, qs.as_ptr());
        let since = u64::from(p.u8() % 3);
        // Flags: 1 delta, 2 bucket columns, 4 unknown (refused).
        let delta = u32::from(p.u8() % 5);
        let mut rows = u64::MAX;
        let out = self.out_ptr(mode, &mut rows);
        // SAFETY: `qp` is NULL or valid for qs.len() doubles; `out` is NULL, misaligned or
        // points to `rows`.
        let st = unsafe {
            offheap_snapshot_take(
                agg.handle,
                snap.handle,
                2_000_000,
                qp,
                qs.len(),
                since,
                delta,
                out,
            )
        };
        let outcome = self.check_call(agg, st, &[(mode, 8)], "snapshot_take (aggregator)");
        if outcome == Outcome::Ran {
            self.check_pick(snap, st, "snapshot_take (snapshot)");
            if null_q && !qs.is_empty() {
                assert_eq!(st, offheap_status::NullPointer);
            } else {
                let valid_q = qs.len() <= OFFHEAP_WINDOW_MAX_QUANTILES
                    && qs.iter().all(|q| (0.0..=1.0).contains(q));
                if agg.live.is_some() && snap.live.is_some() && valid_q && delta <= 3 {
                    assert_eq!(st, offheap_status::Ok, "snapshot_take: {}", status_name(st));
                }
                if delta > 3 {
                    assert_ne!(st, offheap_status::Ok, "unknown snapshot flags accepted");
                }
                if !valid_q {
                    assert_ne!(st, offheap_status::Ok, "invalid quantiles accepted");
                }
            }
        }
        if outcome != Outcome::Injected && st != offheap_status::Ok {
            assert_eq!(rows, u64::MAX);
        }
        // View whatever the snapshot holds now.
        let snap = self.pick(p, SNAPSHOT);
        let mode = self.out_mode(p);
        // SAFETY: offheap_snapshot_columns is a repr(C) struct of integers and raw pointers
        // only, for which all-zero bytes (0 and NULL) are a valid value.
        let mut v: offheap_snapshot_columns = unsafe { std::mem::zeroed() };
        v.rows = 4242;
        let out = self.out_ptr(mode, &mut v);
        // SAFETY: `out` is NULL, misaligned or points to `v`.
        let st = unsafe { offheap_snapshot_view(snap.handle, out) };
        if self.check_call(snap, st, &[(mode, 8)], "snapshot_view") == Outcome::Injected {
            return;
        }
        if st == offheap_status::Ok {
            Self::read_view(&v);
        } else {
            assert_eq!(v.rows, 4242, "view written on failure");
        }
    }

    pub(super) fn op_window_prometheus(&mut self, p: &mut Program) {
        let agg = self.pick(p, AGGREGATOR);
        let snap = self.pick(p, SNAPSHOT);
        // Formats 0..=2 exist; 3 is refused.
        let format = u32::from(p.u8() % 4);
        let qs = [0.5, 0.99];
        let mut rows = u64::MAX;
        // SAFETY: `qs` holds 2 quantiles and `rows` is a live u64 for the one write.
        let st = unsafe {
            offheap_aggregator_scrape(
                agg.handle,
                snap.handle,
                2_000_000,
                qs.as_ptr(),
                2,
                format,
                &mut rows,
            )
        };
        if self.injected(st) {
            return;
        }
        self.check_pick(agg, st, "window_scrape (aggregator)");
        self.check_pick(snap, st, "window_scrape (snapshot)");
        if st != offheap_status::Ok {
            assert_eq!(rows, u64::MAX, "rows written on failure");
            return;
        }
        assert!(format < 3, "format {format} accepted");
        let cap = [4096usize, 64, 0, 1][usize::from(p.u8() % 4)];
        let null_buf = p.u8().is_multiple_of(8);
        let mut buf = [0u8; 4096];
        let mut whole = Vec::new();
        for _ in 0..64 {
            let mut written = usize::MAX;
            let bp = or_null_mut(null_buf, buf.as_mut_ptr());
            // SAFETY: `bp` is NULL or valid for `cap` (≤ 4096) bytes; `written` is a live local.
            let st =
                unsafe { offheap_snapshot_read(agg.handle, snap.handle, bp, cap, &mut written) };
            if self.injected(st) {
                return;
            }
            if null_buf && cap > 0 {
                assert_eq!(st, offheap_status::NullPointer);
                return;
            }
            assert_eq!(
                st,
                offheap_status::Ok,
                "read after a scrape: {}",
                status_name(st)
            );
            assert!(written <= cap);
            if written == 0 {
                break;
            }
            whole.extend_from_slice(&buf[..written]);
        }
        if format < 2 {
            assert!(
                std::str::from_utf8(&whole).is_ok(),
                "text exposition is not UTF-8"
            );
        }
    }

    pub(super) fn op_window_export_import(&mut self, p: &mut Program) {
        let agg = self.pick(p, AGGREGATOR);
        if p.u8().is_multiple_of(2) {
            let snap = self.pick(p, SNAPSHOT);
            let mut records = u64::MAX;
            // SAFETY: `records` is a live u64, valid for the one write the export makes.
            let st = unsafe {
                offheap_aggregator_export(agg.handle, snap.handle, 2_000_000, &mut records)
            };
            if self.injected(st) {
                return;
            }
            self.check_pick(agg, st, "window_export (aggregator)");
            self.check_pick(snap, st, "window_export (snapshot)");
            if st == offheap_status::Ok {
                let mut v = std::mem::MaybeUninit::<offheap_snapshot_columns>::uninit();
                // SAFETY: `v` is valid for one write.
                let st = unsafe { offheap_snapshot_view(snap.handle, v.as_mut_ptr()) };
                if !self.injected(st) {
                    assert_eq!(st, offheap_status::Ok);
                    // SAFETY: written by the successful call.
                    let v = unsafe { v.assume_init() };
                    Self::read_view(&v);
                    self.last_export = if v.export_len == 0 {
                        Vec::new()
                    } else {
                        // SAFETY: valid for export_len bytes until the snapshot changes.
                        unsafe { std::slice::from_raw_parts(v.export_bytes, v.export_len as usize) }
                            .to_vec()
                    };
                }
            }
            return;
        }
        let mut data = self.last_export.clone();
        match p.u8() % 4 {
            0 if !data.is_empty() => {
                let at = usize::from(p.u8()) % data.len();
                data[at] ^= p.u8() | 1;
            }
            1 => data = p.bytes(64).to_vec(),
            _ => {}
        }
        let null = p.u8().is_multiple_of(8);
        let mode = self.out_mode(p);
        let mut imp = offheap_import_accounting {
            merged: 77,
            ..Default::default()
        };
        let out = self.out_ptr(mode, &mut imp);
        let dp = or_null(null, data.as_ptr());
        // SAFETY: `dp` is NULL or valid for data.len() bytes; `out` is NULL, misaligned or
        // points to `imp`.
        let st =
            unsafe { offheap_aggregator_merge_import(agg.handle, dp, data.len(), 2_000_000, out) };
        let outcome = self.check_call(agg, st, &[(mode, 8)], "window_merge_import");
        if outcome == Outcome::Ran && null && !data.is_empty() {
            assert_eq!(st, offheap_status::NullPointer);
        }
        if outcome != Outcome::Injected && st != offheap_status::Ok {
            assert_eq!(imp.merged, 77, "import accounting written on failure");
        }
    }
}
