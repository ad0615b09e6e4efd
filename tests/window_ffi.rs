//! The window C ABI through the real exported symbols: a panic injected into every window
//! export is caught, returns OFFHEAP_STATUS_PANIC, writes no out-parameter, and leaves the
//! aggregator usable.

use offheap as _;

const OK: u32 = 0;
const PANIC: u32 = 1;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Config {
    mode: u32,
    slices: u32,
    width_ns: u64,
    alpha: f64,
    max_buckets: u32,
    shards: u32,
    max_series: u64,
    idle_ttl_ns: u64,
    allowed_lateness_ns: u64,
    max_future_ns: u64,
    max_key_len: u32,
    sketch: u32,
    key_format: u32,
    metric_type: u32,
}

#[repr(C)]
#[derive(Default, Clone, Copy, Debug, PartialEq)]
struct Accounting([u64; 7]);

unsafe extern "C" {
    fn offheap_debug_inject_panics(count: u32);
    fn offheap_aggregator_new(
        c: *const Config,
        name: *const u8,
        name_len: usize,
        help: *const u8,
        help_len: usize,
        label: *const u8,
        label_len: usize,
        out: *mut u64,
    ) -> u32;
    fn offheap_aggregator_free(a: u64) -> u32;
    fn offheap_aggregator_ingest_u64(
        a: u64,
        keys: *const u64,
        ts: *const i64,
        values: *const f64,
        weights: *const u32,
        n: usize,
        now: i64,
        out: *mut Accounting,
    ) -> u32;
    fn offheap_snapshot_new(out: *mut u64) -> u32;
    fn offheap_snapshot_free(s: u64) -> u32;
    fn offheap_snapshot_take(
        a: u64,
        s: u64,
        now: i64,
        q: *const f64,
        nq: usize,
        since: u64,
        delta: u32,
        rows: *mut u64,
    ) -> u32;
    fn offheap_aggregator_scrape(
        aggregator: u64,
        snapshot: u64,
        now: i64,
        quantiles: *const f64,
        nquantiles: usize,
        format: u32,
        rows_out: *mut u64,
    ) -> u32;
    fn offheap_snapshot_read(
        aggregator: u64,
        snapshot: u64,
        buf: *mut u8,
        cap: usize,
        written: *mut usize,
    ) -> u32;
    fn offheap_aggregator_export(a: u64, s: u64, now: i64, records: *mut u64) -> u32;
    fn offheap_aggregator_merge_import(
        a: u64,
        data: *const u8,
        len: usize,
        now: i64,
        out: *mut [u64; 4],
    ) -> u32;
    fn offheap_aggregator_remove(a: u64, what: u32, now: i64, out: *mut u64) -> u32;
}

#[test]
fn a_panic_through_every_kind_of_window_export() {
    let cfg = Config {
        mode: 1,
        slices: 1,
        width_ns: 60_000_000_000,
        alpha: 0.01,
        max_buckets: 2048,
        shards: 4,
        max_series: 1000,
        allowed_lateness_ns: u64::MAX,
        max_key_len: 64,
        sketch: 1,
        key_format: 0,
        metric_type: 0,
        ..Config::default()
    };
    let mut agg = 0u64;
    let (keys, ts, vals) = ([1u64, 2], [1i64, 1], [1.0f64, 2.0]);
    // SAFETY (all calls): pointers are valid for the lengths given; out-parameters are valid.
    unsafe {
        offheap_debug_inject_panics(1);
        assert_eq!(
            offheap_aggregator_new(
                &cfg,
                b"m".as_ptr(),
                1,
                std::ptr::null(),
                0,
                b"k".as_ptr(),
                1,
                &mut agg
            ),
            PANIC
        );
        assert_eq!(agg, 0, "no out-parameter written on panic");
        assert_eq!(
            offheap_aggregator_new(
                &cfg,
                b"m".as_ptr(),
                1,
                std::ptr::null(),
                0,
                b"k".as_ptr(),
                1,
                &mut agg
            ),
            OK
        );
        let mut snap = 0u64;
        assert_eq!(offheap_snapshot_new(&mut snap), OK);

        let mut acc = Accounting([u64::MAX; 7]);
        offheap_debug_inject_panics(1);
        let st = offheap_aggregator_ingest_u64(
            agg,
            keys.as_ptr(),
            ts.as_ptr(),
            vals.as_ptr(),
            std::ptr::null(),
            2,
            1,
            &mut acc,
        );
        assert_eq!((st, acc), (PANIC, Accounting([u64::MAX; 7])));
        let st = offheap_aggregator_ingest_u64(
            agg,
            keys.as_ptr(),
            ts.as_ptr(),
            vals.as_ptr(),
            std::ptr::null(),
            2,
            1,
            &mut acc,
        );
        assert_eq!((st, acc.0[0]), (OK, 2));

        let mut rows = u64::MAX;
        offheap_debug_inject_panics(1);
        assert_eq!(
            offheap_snapshot_take(agg, snap, 1, std::ptr::null(), 0, 0, 0, &mut rows),
            PANIC
        );
        assert_eq!(rows, u64::MAX);
        assert_eq!(
            offheap_snapshot_take(agg, snap, 1, std::ptr::null(), 0, 0, 0, &mut rows),
            OK
        );
        assert_eq!(rows, 2);

        let mut rows = u64::MAX;
        offheap_debug_inject_panics(1);
        assert_eq!(
            offheap_aggregator_scrape(agg, snap, 1, std::ptr::null(), 0, 2, &mut rows),
            PANIC
        );
        assert_eq!(rows, u64::MAX);
        assert_eq!(
            offheap_aggregator_scrape(agg, snap, 1, std::ptr::null(), 0, 2, &mut rows),
            OK
        );
        assert_eq!(rows, 2);
        let (mut buf, mut n) = ([0u8; 1024], usize::MAX);
        offheap_debug_inject_panics(1);
        assert_eq!(
            offheap_snapshot_read(agg, snap, buf.as_mut_ptr(), buf.len(), &mut n),
            PANIC
        );
        assert_eq!(n, usize::MAX);
        assert_eq!(
            offheap_snapshot_read(agg, snap, buf.as_mut_ptr(), buf.len(), &mut n),
            OK
        );
        assert!(n > 0);

        let mut records = u64::MAX;
        offheap_debug_inject_panics(1);
        assert_eq!(offheap_aggregator_export(agg, snap, 1, &mut records), PANIC);
        assert_eq!(offheap_aggregator_export(agg, snap, 1, &mut records), OK);
        assert_eq!(records, 2);

        let mut imp = [u64::MAX; 4];
        offheap_debug_inject_panics(1);
        assert_eq!(
            offheap_aggregator_merge_import(agg, b"x".as_ptr(), 1, 1, &mut imp),
            PANIC
        );
        assert_eq!(imp, [u64::MAX; 4]);

        let mut removed = u64::MAX;
        offheap_debug_inject_panics(1);
        assert_eq!(offheap_aggregator_remove(agg, 0, 1, &mut removed), PANIC);
        assert_eq!(offheap_aggregator_remove(agg, 0, 1, &mut removed), OK);
        assert_eq!(removed, 2);

        offheap_debug_inject_panics(1);
        assert_eq!(offheap_snapshot_free(snap), PANIC);
        assert_eq!(offheap_snapshot_free(snap), OK);
        offheap_debug_inject_panics(1);
        assert_eq!(offheap_aggregator_free(agg), PANIC);
        assert_eq!(offheap_aggregator_free(agg), OK);
    }
}
