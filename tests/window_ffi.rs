//! The window C ABI through the real exported symbols: a panic injected into every window
//! export is caught, returns OFFHEAP_STATUS_PANIC, writes no out-parameter, and leaves the
//! aggregator usable.

use std::fmt::Debug;

use offheap::ffi::*;

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
fn a_panic_through_every_kind_of_window_export() {
    let cfg = offheap_aggregator_config {
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
        ..offheap_aggregator_config::default()
    };
    let agg = panic_then_ok("aggregator_new", 0u64, |out| {
        let (name, help, label) = (b"m".as_ptr(), std::ptr::null(), b"k".as_ptr());
        // SAFETY: `cfg` is a live config, the name and label are valid for the lengths given
        // (the help is (NULL, 0)) and `out` is a live u64 for the one write.
        unsafe { offheap_aggregator_new(&cfg, name, 1, help, 0, label, 1, out) }
    });
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
            offheap_aggregator_ingest_u64(
                agg,
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

    let mut buf = [0u8; 1024];
    let (_, n) = panic_then_ok("prometheus", (0u64, usize::MAX), |(pos, n)| {
        // SAFETY: `buf` is valid for writing buf.len() bytes; `pos` and `n` are live.
        unsafe { offheap_aggregator_prometheus(agg, snap, pos, buf.as_mut_ptr(), buf.len(), n) }
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
        unsafe { offheap_aggregator_remove(agg, 0, 1, removed) }
    });
    assert_eq!(removed, 2);

    panic_then_ok("snapshot_free", (), |_| offheap_snapshot_free(snap));
    panic_then_ok("aggregator_free", (), |_| offheap_aggregator_free(agg));
}
