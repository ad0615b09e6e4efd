//! `offheap_snapshot_*` and `offheap_aggregator_export`: the snapshot arena of the windowed
//! aggregator's C ABI.
//!
//! A snapshot (`offheap_snapshot_new`) is a Rust-owned arena of result columns that a
//! snapshot, a scrape (`expo.rs`) or an export fills and that callers read through
//! `offheap_snapshot_view` until the next call that fills it, or its free.

use super::boundary::{FfiResult, guard};
use super::handle::{self, HandleObject, offheap_kind};
use super::ptr::{self, guard_out};
use super::status::offheap_status;
use super::window::status;
use crate::window::{Aggregator, Exposition, MAX_QUANTILES, Snapshot, SnapshotOptions};
use parking_lot::Mutex;

/// A snapshot arena: result columns, an export buffer and the exposition in progress.
pub(crate) struct WindowSnapshot {
    pub(crate) inner: Mutex<SnapshotArena>,
}

/// What a snapshot handle holds.
#[derive(Default)]
pub(crate) struct SnapshotArena {
    pub(crate) snap: Snapshot,
    export: Vec<u8>,
    /// The exposition of `snap` (`offheap_aggregator_scrape`, `offheap_snapshot_read`).
    pub(crate) expo: Exposition,
}

impl HandleObject for WindowSnapshot {
    const KIND: offheap_kind = offheap_kind::Snapshot;
}

/// Most quantiles one snapshot computes (entries of `offheap_snapshot_columns.quantiles`).
pub const OFFHEAP_WINDOW_MAX_QUANTILES: usize = 16;
const _: () = assert!(OFFHEAP_WINDOW_MAX_QUANTILES == MAX_QUANTILES);

/// Read-only views of a snapshot's columns, valid until the snapshot is filled again or freed.
/// Every column has `rows` elements; a pointer is NULL when its length is 0.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct offheap_snapshot_columns {
    /// Number of rows.
    pub rows: u64,
    /// Number of quantiles computed (entries of `quantiles` used).
    pub nquantiles: u32,
    /// Reserved, 0.
    pub reserved: u32,
    /// The `now` of the snapshot.
    pub now: i64,
    /// Token for changed-only snapshots after this one.
    pub next_since: u64,
    /// Series ids (UINT64_MAX for the overflow row).
    pub ids: *const u64,
    /// Key kinds: 0 u64 key, 1 byte key, 2 overflow.
    pub kinds: *const u8,
    /// Caller u64 keys (0 for other rows).
    pub raw_keys: *const u64,
    /// End offset of each row's byte key in `key_bytes`.
    pub key_ends: *const u32,
    /// All byte keys, concatenated.
    pub key_bytes: *const u8,
    /// Length of `key_bytes`.
    pub key_bytes_len: u64,
    /// Counts (sum of weights).
    pub counts: *const u64,
    /// Sums.
    pub sums: *const f64,
    /// Minimums (NaN when empty).
    pub mins: *const f64,
    /// Maximums (NaN when empty).
    pub maxs: *const f64,
    /// Newest values (NaN when empty).
    pub lasts: *const f64,
    /// Means (NaN when empty).
    pub means: *const f64,
    /// Population standard deviations (NaN when empty).
    pub stddevs: *const f64,
    /// Counter increases.
    pub increases: *const f64,
    /// Increase per second.
    pub rates: *const f64,
    /// Column of each requested quantile (`nquantiles` used).
    pub quantiles: [*const f64; OFFHEAP_WINDOW_MAX_QUANTILES],
    /// The last export written into this snapshot by `offheap_aggregator_export`.
    pub export_bytes: *const u8,
    /// Length of `export_bytes`.
    pub export_len: u64,
    /// Lifetime counts of each series (monotonic across window rotations).
    pub total_counts: *const u64,
    /// Lifetime sums of each series.
    pub total_sums: *const f64,
    /// With `OFFHEAP_SNAPSHOT_BUCKETS`: zero-bucket counts of each row's sketch (else NULL).
    pub zero_counts: *const u64,
    /// End of each row's negative buckets in `bucket_indexes` (its positive ones follow).
    pub neg_bucket_ends: *const u32,
    /// End of each row's buckets in `bucket_indexes` (row `i` starts at `bucket_ends[i-1]`).
    pub bucket_ends: *const u32,
    /// Bucket indexes of every row, ascending within each sign of each row.
    pub bucket_indexes: *const i32,
    /// Counts of `bucket_indexes`.
    pub bucket_counts: *const u64,
    /// Length of `bucket_indexes` and `bucket_counts`.
    pub buckets: u64,
    /// The sketches' exponential schema (INT32_MIN when the aggregator keeps no sketches).
    pub schema: i32,
    /// Reserved, 0.
    pub reserved2: u32,
}

/// `offheap_snapshot_take` flag: report the change since the previous delta read (cumulative
/// aggregators).
pub const OFFHEAP_SNAPSHOT_DELTA: u32 = 1;
/// `offheap_snapshot_take` flag: copy each row's sketch buckets into the bucket columns.
pub const OFFHEAP_SNAPSHOT_BUCKETS: u32 = 2;

/// A column's pointer for C: NULL when it is empty (Rust's empty slices point anywhere
/// non-NULL, and a C caller must never get a dangling non-NULL pointer).
fn nonnull_or_null<T>(s: &[T]) -> *const T {
    if s.is_empty() {
        std::ptr::null()
    } else {
        s.as_ptr()
    }
}

/// Makes an empty snapshot arena and writes its handle to `*out`.
///
/// # Safety
/// `out` is NULL or valid for writing one `uint64_t` until the call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_snapshot_new(out: *mut u64) -> offheap_status {
    let snapshot = || {
        handle::insert(WindowSnapshot {
            inner: Mutex::new(SnapshotArena::default()),
        })
    };
    // SAFETY: this function's `# Safety` gives `out` valid for one write until the call
    // returns: what `guard_out` requires.
    unsafe { guard_out(out, snapshot) }
}

/// Frees a snapshot arena; views of it become invalid.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_snapshot_free(snapshot: u64) -> offheap_status {
    guard(|| handle::free::<WindowSnapshot>(snapshot))
}

/// The body of `offheap_snapshot_take` and `offheap_aggregator_scrape`: takes the snapshot of
/// `aggregator` at `now` into `snapshot` (ending the exposition in progress there) with the
/// options `options` makes of the aggregator and the caller's quantiles, lets `then` work on
/// the filled arena with what `options` made for it (a scrape starts its exposition in the
/// format it checked), and writes the row count to `*rows_out`.
///
/// # Safety
/// Until the call returns: `quantiles` is NULL with `nquantiles` = 0 or valid for reading
/// `nquantiles` doubles; `rows_out` is NULL or valid for writing one `uint64_t`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn fill<'q, T>(
    aggregator: u64,
    snapshot: u64,
    now: i64,
    quantiles: *const f64,
    nquantiles: usize,
    rows_out: *mut u64,
    options: impl FnOnce(&Aggregator, &'q [f64]) -> FfiResult<(SnapshotOptions<'q>, T)>,
    then: impl FnOnce(&Aggregator, &mut SnapshotArena, T),
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `rows_out` valid for one write and
        // `quantiles` for reading `nquantiles` doubles (or NULL with none) until the call
        // returns, which `'q` does not outlive: what `ptr::out` and `ptr::slice` require.
        let (rows_out, quantiles) =
            unsafe { (ptr::out(rows_out)?, ptr::slice(quantiles, nquantiles)?) };
        let agg = handle::get::<Aggregator>(aggregator)?;
        let snap = handle::get::<WindowSnapshot>(snapshot)?;
        let (opts, made) = options(&agg, quantiles)?;
        let mut arena = snap.inner.lock();
        let arena = &mut *arena;
        arena.expo.reset();
        agg.snapshot(now, &opts, &mut arena.snap).map_err(status)?;
        then(&agg, arena, made);
        rows_out.write(arena.snap.len() as u64);
        Ok(())
    })
}

/// Takes a consistent cut of the aggregator's windows at `now` into `snapshot` (replacing its
/// rows; reuses its memory), computing the `nquantiles` quantiles at `quantiles`. `since`: only
/// series changed since that token (0: all); `flags`: `OFFHEAP_SNAPSHOT_DELTA` (cumulative
/// mode: report and reset the change since the last delta read) and `OFFHEAP_SNAPSHOT_BUCKETS`
/// (fill the bucket columns). Writes the row count to `*rows_out`.
///
/// Errors: `OFFHEAP_STATUS_INVALID_ARGUMENT` for unknown flags.
///
/// # Safety
/// Until the call returns: `quantiles` is NULL with `nquantiles` = 0 or valid for reading
/// `nquantiles` doubles; `rows_out` is NULL or valid for writing one `uint64_t`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn offheap_snapshot_take(
    aggregator: u64,
    snapshot: u64,
    now: i64,
    quantiles: *const f64,
    nquantiles: usize,
    since: u64,
    flags: u32,
    rows_out: *mut u64,
) -> offheap_status {
    let options = |_: &Aggregator, quantiles| {
        if flags & !(OFFHEAP_SNAPSHOT_DELTA | OFFHEAP_SNAPSHOT_BUCKETS) != 0 {
            return Err(offheap_status::InvalidArgument);
        }
        let opts = SnapshotOptions {
            quantiles,
            since,
            delta: flags & OFFHEAP_SNAPSHOT_DELTA != 0,
            buckets: flags & OFFHEAP_SNAPSHOT_BUCKETS != 0,
        };
        Ok((opts, ()))
    };
    // SAFETY: `fill` requires `quantiles` valid for reading `nquantiles` doubles (or NULL with
    // none) and `rows_out` for one write until the call returns: this function's `# Safety`.
    unsafe {
        fill(
            aggregator,
            snapshot,
            now,
            quantiles,
            nquantiles,
            rows_out,
            options,
            |_, _, ()| {},
        )
    }
}

/// Writes views of the snapshot's columns to `*out` (valid until the snapshot is filled again
/// or freed; never written through).
///
/// # Safety
/// `out` is NULL or valid for writing one `offheap_snapshot_columns` until the call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_snapshot_view(
    snapshot: u64,
    out: *mut offheap_snapshot_columns,
) -> offheap_status {
    let columns = || {
        let snap = handle::get::<WindowSnapshot>(snapshot)?;
        let arena = snap.inner.lock();
        let s = &arena.snap;
        let mut quantiles = [std::ptr::null(); OFFHEAP_WINDOW_MAX_QUANTILES];
        for (j, q) in quantiles.iter_mut().enumerate().take(s.quantiles().len()) {
            *q = nonnull_or_null(s.quantile(j));
        }
        Ok(offheap_snapshot_columns {
            rows: s.len() as u64,
            nquantiles: s.quantiles().len() as u32,
            reserved: 0,
            now: s.now(),
            next_since: s.next_since(),
            ids: nonnull_or_null(s.ids()),
            kinds: nonnull_or_null(s.kinds()),
            raw_keys: nonnull_or_null(s.raw_keys()),
            key_ends: nonnull_or_null(s.key_ends()),
            key_bytes: nonnull_or_null(s.key_bytes()),
            key_bytes_len: s.key_bytes().len() as u64,
            counts: nonnull_or_null(s.counts()),
            sums: nonnull_or_null(s.sums()),
            mins: nonnull_or_null(s.mins()),
            maxs: nonnull_or_null(s.maxs()),
            lasts: nonnull_or_null(s.lasts()),
            means: nonnull_or_null(s.means()),
            stddevs: nonnull_or_null(s.stddevs()),
            increases: nonnull_or_null(s.increases()),
            rates: nonnull_or_null(s.rates()),
            quantiles,
            export_bytes: nonnull_or_null(&arena.export),
            export_len: arena.export.len() as u64,
            total_counts: nonnull_or_null(s.total_counts()),
            total_sums: nonnull_or_null(s.total_sums()),
            zero_counts: nonnull_or_null(s.zero_counts()),
            neg_bucket_ends: nonnull_or_null(s.neg_bucket_ends()),
            bucket_ends: nonnull_or_null(s.bucket_ends()),
            bucket_indexes: nonnull_or_null(s.bucket_indexes()),
            bucket_counts: nonnull_or_null(s.bucket_counts()),
            buckets: s.bucket_indexes().len() as u64,
            schema: s.schema().unwrap_or(i32::MIN),
            reserved2: 0,
        })
    };
    // SAFETY: this function's `# Safety` gives `out` valid for one write until the call
    // returns: what `guard_out` requires.
    unsafe { guard_out(out, columns) }
}

/// Writes the state of every series' window at `now` into `snapshot`'s export buffer (see the
/// format in the crate docs of `window::codec`); read it through `offheap_snapshot_view`
/// (`export_bytes`, `export_len`). Writes the number of records to `*records`.
///
/// # Safety
/// `records` is NULL or valid for writing one `uint64_t` until the call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_aggregator_export(
    aggregator: u64,
    snapshot: u64,
    now: i64,
    records: *mut u64,
) -> offheap_status {
    let exported = || {
        let agg = handle::get::<Aggregator>(aggregator)?;
        let snap = handle::get::<WindowSnapshot>(snapshot)?;
        let mut arena = snap.inner.lock();
        arena.export.clear();
        Ok(agg.export(now, &mut arena.export) as u64)
    };
    // SAFETY: this function's `# Safety` gives `records` valid for one write until the call
    // returns: what `guard_out` requires.
    unsafe { guard_out(records, exported) }
}
