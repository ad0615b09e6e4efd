//! The window C ABI through the real exported symbols: ingest, snapshot and view through the
//! exports, and a panic injected into every window export is caught, returns
//! OFFHEAP_STATUS_PANIC, writes no out-parameter, and leaves the aggregator usable.

use std::fmt::Debug;
use std::sync::Mutex;

use offheap::ffi::*;

/// Injected panics are process-wide: every test here takes this lock, so a panic one test arms
/// fires in that test's calls only.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Calls `offheap_aggregator_new` with the one configuration of these tests (a tumbling
/// one-minute window over at most 1000 series, with quantile sketches; metric `m`, key label
/// `k`), which writes the handle to `*out`.
fn aggregator_new(out: &mut u64) -> offheap_status {
    let cfg = offheap_aggregator_config {
        mode: offheap::window::Mode::Tumbling as u32,
        slices: 1,
        width_ns: 60_000_000_000,
        alpha: 0.01,
        max_buckets: 2048,
        shards: 4,
        max_series: 1000,
        allowed_lateness_ns: u64::MAX,
        max_key_len: 64,
        sketch: 1,
        ..offheap_aggregator_config::default()
    };
    let (name, help, label) = (b"m".as_ptr(), std::ptr::null(), b"k".as_ptr());
    // SAFETY: `cfg` is a live config, the name and label are valid for the lengths given (the
    // help is (NULL, 0)) and `out` is a live u64 for the one write.
    unsafe { offheap_aggregator_new(&cfg, name, 1, help, 0, label, 1, out) }
}

/// Calls `call` with a panic injected: it must return PANIC and leave its out-parameters
/// (`out`) as they were (compared through `Debug`: the C structs have no `PartialEq`). Then
/// calls it again: it must succeed. Returns what the second call wrote.
fn panic_then_ok<T: Debug>(
    what: &str,
    mut out: T,
    mut call: impl FnMut(&mut T) -> offheap_status,
) -> T {
    let before = format!("{out:?}");
    offheap_debug_inject_panics(1);
    assert_eq!(
        call(&mut out),
        offheap_status::Panic,
        "{what} under a panic"
    );
    assert_eq!(format!("{out:?}"), before, "{what}: written on panic");
    assert_eq!(call(&mut out), offheap_status::Ok, "{what}");
    out
}

#[test]
fn ingest_snapshot_view_render_and_free() {
    let _serial = serial();
    let mut agg = 0;
    assert_eq!(aggregator_new(&mut agg), offheap_status::Ok);
    let keys = [1u64, 2, 1];
    let ts = [1i64, 2, 3];
    let vs = [1.0, 2.0, 3.0];
    let mut acc = offheap_ingest_accounting::default();
    // SAFETY: `keys`, `ts` and `vs` are arrays of 3, weights are (NULL, unweighted) and
    // `acc` is a live local.
    let st = unsafe {
        offheap_aggregator_ingest(
            agg,
            offheap_series_key::U64 as u32,
            keys.as_ptr(),
            ts.as_ptr(),
            vs.as_ptr(),
            std::ptr::null(),
            3,
            3,
            &mut acc,
        )
    };
    assert_eq!((st, acc.accepted), (offheap_status::Ok, 3));
    let mut snap = 0;
    // SAFETY: `snap` is a live local.
    let st = unsafe { offheap_snapshot_new(&mut snap) };
    assert_eq!(st, offheap_status::Ok);
    let q = [0.5];
    let mut rows = 0;
    // SAFETY: `q` holds 1 quantile and `rows` is a live local.
    let st = unsafe { offheap_snapshot_take(agg, snap, 3, q.as_ptr(), 1, 0, 0, &mut rows) };
    assert_eq!((st, rows), (offheap_status::Ok, 2));
    let mut view = std::mem::MaybeUninit::<offheap_snapshot_columns>::uninit();
    // SAFETY: `view` is a live local with room for one view.
    let st = unsafe { offheap_snapshot_view(snap, view.as_mut_ptr()) };
    assert_eq!(st, offheap_status::Ok);
    // SAFETY: the call returned OK, and an out-parameter is written on success.
    let view = unsafe { view.assume_init() };
    // SAFETY: a non-empty column of the view points to `rows` elements of the snapshot,
    // which is neither filled again nor freed before this read.
    let counts = unsafe { std::slice::from_raw_parts(view.counts, view.rows as usize) };
    assert_eq!(counts.iter().sum::<u64>(), 3);
    assert!(
        view.key_bytes.is_null(),
        "empty column is NULL, not dangling"
    );
    // Mismatched columns and bad handles are errors.
    // SAFETY: NULL with a non-zero length is rejected before use.
    let st = unsafe {
        offheap_aggregator_ingest(
            agg,
            offheap_series_key::U64 as u32,
            std::ptr::null(),
            ts.as_ptr(),
            vs.as_ptr(),
            std::ptr::null(),
            3,
            3,
            &mut acc,
        )
    };
    assert_eq!(st, offheap_status::NullPointer);
    // Ingest takes uint64 keys and series ids; byte keys and unknown kinds are refused, and
    // nothing of those batches counts.
    for (key, want) in [
        (
            offheap_series_key::Bytes as u32,
            offheap_status::InvalidArgument,
        ),
        (7, offheap_status::InvalidArgument),
        (offheap_series_key::Id as u32, offheap_status::Ok),
    ] {
        acc = offheap_ingest_accounting::default();
        // SAFETY: `keys`, `ts` and `vs` are arrays of 3, weights are NULL and `acc` is a
        // live local.
        let st = unsafe {
            offheap_aggregator_ingest(
                agg,
                key,
                keys.as_ptr(),
                ts.as_ptr(),
                vs.as_ptr(),
                std::ptr::null(),
                3,
                3,
                &mut acc,
            )
        };
        assert_eq!((st, acc.accepted), (want, 0), "key kind {key}");
    }
    assert_eq!(acc.stale, 3, "uint64 keys given as ids name no live series");
    // Delete and remove name their kinds too.
    // SAFETY: no key bytes (NULL, 0); `rows` is a live local.
    unsafe {
        let u64_key = offheap_series_key::U64 as u32;
        assert_eq!(
            offheap_aggregator_delete(agg, u64_key, 2, std::ptr::null(), 0),
            offheap_status::Ok
        );
        assert_eq!(
            offheap_aggregator_delete(agg, 9, 1, std::ptr::null(), 0),
            offheap_status::InvalidArgument
        );
        assert_eq!(
            offheap_aggregator_remove(agg, 2, 3, &mut rows),
            offheap_status::InvalidArgument
        );
        let idle = offheap_removal::Idle as u32;
        assert_eq!(
            offheap_aggregator_remove(agg, idle, 3, &mut rows),
            offheap_status::Ok
        );
    }
    // SAFETY: `q` holds 1 quantile and `rows` is a live local (the snapshot handle passed
    // as the aggregator is checked, not dereferenced).
    let st = unsafe { offheap_snapshot_take(snap, snap, 3, q.as_ptr(), 1, 0, 0, &mut rows) };
    assert_eq!(st, offheap_status::InvalidHandle);
    let bad_q = [2.0];
    // SAFETY: `bad_q` holds 1 quantile and `rows` is a live local.
    let st = unsafe { offheap_snapshot_take(agg, snap, 3, bad_q.as_ptr(), 1, 0, 0, &mut rows) };
    assert_eq!(st, offheap_status::WindowInvalidQuantile);
    assert_eq!(offheap_snapshot_free(snap), offheap_status::Ok);
    assert_eq!(offheap_aggregator_free(agg), offheap_status::Ok);
    assert_eq!(offheap_aggregator_free(agg), offheap_status::InvalidHandle);
}

#[test]
fn a_panic_through_every_kind_of_window_export() {
    let _serial = serial();
    let agg = panic_then_ok("aggregator_new", 0u64, aggregator_new);
    let snap = panic_then_ok("snapshot_new", 0u64, |out| {
        // SAFETY: `out` is a live u64 for the one write.
        unsafe { offheap_snapshot_new(out) }
    });

    let (keys, ts, vals) = ([1u64, 2], [1i64, 1], [1.0f64, 2.0]);
    let untouched = offheap_ingest_accounting {
        accepted: u64::MAX,
        overflowed: u64::MAX,
        late: u64::MAX,
        future: u64::MAX,
        invalid: u64::MAX,
        bad_key: u64::MAX,
        stale: u64::MAX,
    };
    let acc = panic_then_ok("ingest_u64", untouched, |out| {
        // SAFETY: the three columns hold 2 elements each (no weights: NULL); `out` is a live
        // accounting for the one write.
        unsafe {
            offheap_aggregator_ingest(
                agg,
                offheap_series_key::U64 as u32,
                keys.as_ptr(),
                ts.as_ptr(),
                vals.as_ptr(),
                std::ptr::null(),
                2,
                1,
                out,
            )
        }
    });
    assert_eq!(acc.accepted, 2);

    let rows = panic_then_ok("snapshot_take", u64::MAX, |rows| {
        // SAFETY: no quantiles (NULL, 0); `rows` is a live u64 for the one write.
        unsafe { offheap_snapshot_take(agg, snap, 1, std::ptr::null(), 0, 0, 0, rows) }
    });
    assert_eq!(rows, 2);

    let rows = panic_then_ok("scrape", u64::MAX, |rows| {
        // SAFETY: no quantiles (NULL, 0); `rows` is a live u64 for the one write.
        unsafe { offheap_aggregator_scrape(agg, snap, 1, std::ptr::null(), 0, 2, rows) }
    });
    assert_eq!(rows, 2);
    let mut buf = [0u8; 1024];
    let n = panic_then_ok("snapshot_read", usize::MAX, |n| {
        // SAFETY: `buf` is valid for writing buf.len() bytes; `n` is live for the one write.
        unsafe { offheap_snapshot_read(agg, snap, buf.as_mut_ptr(), buf.len(), n) }
    });
    assert!(n > 0);

    let records = panic_then_ok("export", u64::MAX, |records| {
        // SAFETY: `records` is a live u64 for the one write.
        unsafe { offheap_aggregator_export(agg, snap, 1, records) }
    });
    assert_eq!(records, 2);

    // An import of bad state fails anyway: only the panic is checked.
    let untouched = offheap_import_accounting {
        merged: u64::MAX,
        overflowed: u64::MAX,
        late: u64::MAX,
        bad_key: u64::MAX,
    };
    let mut imp = untouched;
    offheap_debug_inject_panics(1);
    assert_eq!(
        // SAFETY: the data is valid for its 1 byte; `imp` is live for the one write.
        unsafe { offheap_aggregator_merge_import(agg, b"x".as_ptr(), 1, 1, &mut imp) },
        offheap_status::Panic
    );
    assert_eq!(format!("{imp:?}"), format!("{untouched:?}"));

    let removed = panic_then_ok("remove", u64::MAX, |removed| {
        // SAFETY: `removed` is a live u64 for the one write.
        unsafe { offheap_aggregator_remove(agg, offheap_removal::All as u32, 1, removed) }
    });
    assert_eq!(removed, 2);

    panic_then_ok("snapshot_free", (), |_| offheap_snapshot_free(snap));
    panic_then_ok("aggregator_free", (), |_| offheap_aggregator_free(agg));
}
