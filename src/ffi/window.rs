//! `offheap_window_*`: the C ABI of the windowed aggregator (`crate::window`).
//!
//! Two kinds of objects: an aggregator (`offheap_window_new`) and a snapshot
//! (`offheap_window_snapshot_new`), a Rust-owned arena of result columns that a snapshot, a
//! Prometheus rendering or an export fills and that callers read through
//! `offheap_window_snapshot_view` until the next call that fills it or its free. Times are
//! nanoseconds chosen by the caller; every batch crosses as flat columns in one call.

use super::boundary::guard;
use super::handle::{self, HandleObject, offheap_kind};
use super::ptr;
use super::status::offheap_status;
use crate::window::{
    Accounting, Aggregator, Config, Error, ImportAccounting, MAX_QUANTILES, Mode, PrometheusCursor,
    Samples, Snapshot, SnapshotOptions, render_prometheus,
};
use parking_lot::Mutex;

impl HandleObject for Aggregator {
    const KIND: offheap_kind = offheap_kind::Aggregator;
}

/// A snapshot arena: result columns, an export buffer and a render scratch buffer.
pub(crate) struct WindowSnapshot {
    inner: Mutex<SnapshotArena>,
}

#[derive(Default)]
struct SnapshotArena {
    snap: Snapshot,
    export: Vec<u8>,
    scratch: Vec<u8>,
}

impl HandleObject for WindowSnapshot {
    const KIND: offheap_kind = offheap_kind::Snapshot;
}

/// The status a window error is reported as.
pub(crate) fn status(e: Error) -> offheap_status {
    use offheap_status as S;
    match e {
        Error::InvalidWidth => S::WindowInvalidWidth,
        Error::InvalidSlices => S::WindowInvalidSlices,
        Error::InvalidAlpha => S::WindowInvalidAlpha,
        Error::InvalidBuckets => S::WindowInvalidBuckets,
        Error::InvalidSeriesCap => S::WindowInvalidSeriesCap,
        Error::InvalidShards => S::WindowInvalidShards,
        Error::InvalidFutureSkew => S::WindowInvalidFutureSkew,
        Error::InvalidKeyLimit => S::WindowInvalidKeyLimit,
        Error::InvalidName => S::WindowInvalidName,
        Error::LengthMismatch => S::WindowLengthMismatch,
        Error::BatchTooLarge => S::TooLarge,
        Error::BadOffsets => S::WindowBadOffsets,
        Error::InvalidQuantile => S::WindowInvalidQuantile,
        Error::StaleId => S::WindowUnknownSeries,
        Error::BufferTooSmall => S::BufferTooSmall,
        Error::BadMagic | Error::Corrupt => S::WindowBadState,
        Error::UnsupportedVersion => S::WindowUnsupportedVersion,
        Error::AlphaMismatch => S::WindowIncompatibleState,
    }
}

/// Most quantiles one snapshot computes (entries of `offheap_window_view.quantiles`).
pub const OFFHEAP_WINDOW_MAX_QUANTILES: usize = 16;
const _: () = assert!(OFFHEAP_WINDOW_MAX_QUANTILES == MAX_QUANTILES);

/// Window mode: `0` sliding, `1` tumbling, `2` cumulative.
#[allow(non_camel_case_types)]
pub type offheap_window_mode = u32;

/// Aggregator configuration (all durations in nanoseconds). Zero is taken literally (and may
/// be invalid); the Go package fills its defaults before calling.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_window_config {
    /// 0 sliding, 1 tumbling, 2 cumulative.
    pub mode: offheap_window_mode,
    /// Slices of a sliding window (1..=64, dividing `width_ns`).
    pub slices: u32,
    /// Window width (sliding and tumbling).
    pub width_ns: u64,
    /// Quantile relative accuracy in [0.0001, 0.5].
    pub alpha: f64,
    /// Sketch bucket cap per sign, [16, 65536].
    pub max_buckets: u32,
    /// Lock shards, a power of two in [1, 256].
    pub shards: u32,
    /// Series cap; beyond it new keys go to the overflow series.
    pub max_series: u64,
    /// Evict series idle longer than this (0 = never).
    pub idle_ttl_ns: u64,
    /// Drop samples older than `now - allowed_lateness_ns` (UINT64_MAX = only the window rule).
    pub allowed_lateness_ns: u64,
    /// Drop samples newer than `now + max_future_ns`.
    pub max_future_ns: u64,
    /// Longest byte key, [1, 4096].
    pub max_key_len: u32,
    /// 1 to keep quantile sketches, 0 not to.
    pub sketch: u32,
}

/// What happened to the samples of a batch; the fields add up to the batch length.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_window_accounting {
    /// Recorded into their own series.
    pub accepted: u64,
    /// Recorded into the overflow series (series cap reached).
    pub overflowed: u64,
    /// Dropped as late.
    pub late: u64,
    /// Dropped as too far in the future.
    pub future: u64,
    /// Dropped: NaN/Inf value or zero weight.
    pub invalid: u64,
    /// Dropped: key too long, not UTF-8, or not a valid label list.
    pub bad_key: u64,
    /// Dropped: id of a removed series.
    pub stale: u64,
}

impl From<Accounting> for offheap_window_accounting {
    fn from(a: Accounting) -> Self {
        offheap_window_accounting {
            accepted: a.accepted,
            overflowed: a.overflowed,
            late: a.late,
            future: a.future,
            invalid: a.invalid,
            bad_key: a.bad_key,
            stale: a.stale,
        }
    }
}

/// Counters of an aggregator since it was made.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_window_counters {
    /// Live series (the overflow series not counted).
    pub series: u64,
    /// Sum of every batch's accounting.
    pub samples: offheap_window_accounting,
    /// Series evicted as idle.
    pub evicted: u64,
    /// Series removed by delete or clear.
    pub deleted: u64,
    /// Snapshots taken.
    pub snapshots: u64,
    /// Bytes of interned byte keys.
    pub key_bytes: u64,
}

/// What an import did with its records.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_window_import {
    /// Merged into a series of the same key.
    pub merged: u64,
    /// Merged into the overflow series.
    pub overflowed: u64,
    /// Dropped: the slice of `now` was already reused for a later time.
    pub late: u64,
    /// Dropped: key invalid for this aggregator.
    pub bad_key: u64,
}

impl From<ImportAccounting> for offheap_window_import {
    fn from(a: ImportAccounting) -> Self {
        offheap_window_import {
            merged: a.merged,
            overflowed: a.overflowed,
            late: a.late,
            bad_key: a.bad_key,
        }
    }
}

/// Read-only views of a snapshot's columns, valid until the snapshot is filled again or freed.
/// Every column has `rows` elements; a pointer is NULL when its length is 0.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct offheap_window_view {
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
    /// The last export written into this snapshot by `offheap_window_export`.
    pub export_bytes: *const u8,
    /// Length of `export_bytes`.
    pub export_len: u64,
}

fn nonnull_or_null<T>(s: &[T]) -> *const T {
    if s.is_empty() {
        std::ptr::null()
    } else {
        s.as_ptr()
    }
}

fn config_from(
    c: &offheap_window_config,
    name: &[u8],
    help: &[u8],
    label: &[u8],
) -> Result<Config, offheap_status> {
    let mode = match c.mode {
        0 => Mode::Sliding,
        1 => Mode::Tumbling,
        2 => Mode::Cumulative,
        _ => return Err(offheap_status::WindowInvalidMode),
    };
    let text = |b: &[u8]| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| offheap_status::WindowInvalidName)
    };
    let mut cfg = match mode {
        Mode::Sliding => Config::sliding(c.width_ns, c.slices),
        Mode::Tumbling => Config::tumbling(c.width_ns),
        Mode::Cumulative => Config::cumulative(),
    };
    cfg.alpha = c.alpha;
    cfg.max_buckets = c.max_buckets;
    cfg.shards = c.shards;
    cfg.max_series = c.max_series;
    cfg.idle_ttl = c.idle_ttl_ns;
    cfg.allowed_lateness = c.allowed_lateness_ns;
    cfg.max_future = c.max_future_ns;
    cfg.max_key_len = c.max_key_len;
    cfg.sketch = c.sketch != 0;
    cfg.name = text(name)?;
    cfg.help = text(help)?;
    cfg.key_label = text(label)?;
    Ok(cfg)
}

/// Makes an aggregator and writes its handle to `*out`. `name` is the Prometheus metric name,
/// `help` its help text (may be empty), `key_label` the label carrying keys (empty: byte keys
/// are label lists themselves).
///
/// Errors: the `OFFHEAP_STATUS_WINDOW_INVALID_*` status of the first invalid field.
///
/// # Safety
/// `config` and `out` must be NULL or valid; each `(ptr, len)` NULL or valid for `len` bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn offheap_window_new(
    config: *const offheap_window_config,
    name: *const u8,
    name_len: usize,
    help: *const u8,
    help_len: usize,
    key_label: *const u8,
    key_label_len: usize,
    out: *mut u64,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on each pointer.
        let out = unsafe { ptr::out(out) }?;
        // SAFETY: as above.
        let config = unsafe { ptr::one(config) }?;
        // SAFETY: as above.
        let (name, help, label) = unsafe {
            (
                ptr::slice(name, name_len)?,
                ptr::slice(help, help_len)?,
                ptr::slice(key_label, key_label_len)?,
            )
        };
        let cfg = config_from(config, name, help, label)?;
        let agg = Aggregator::new(cfg).map_err(status)?;
        out.write(handle::insert(agg)?);
        Ok(())
    })
}

/// Frees an aggregator (and all its series). A freed or forged handle gives
/// `OFFHEAP_STATUS_INVALID_HANDLE` and changes nothing.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_window_free(aggregator: u64) -> offheap_status {
    guard(|| handle::free::<Aggregator>(aggregator))
}

/// The value columns of a batch, shared by the ingest calls.
///
/// # Safety
/// Each pointer NULL or valid for `n` elements (`weights` may be NULL for unweighted samples).
unsafe fn samples<'a>(
    ts: *const i64,
    values: *const f64,
    weights: *const u32,
    n: usize,
) -> Result<Samples<'a>, offheap_status> {
    // SAFETY: the caller's contract.
    let (timestamps, values) = unsafe { (ptr::slice(ts, n)?, ptr::slice(values, n)?) };
    let weights = if weights.is_null() {
        None
    } else {
        // SAFETY: as above.
        Some(unsafe { ptr::slice(weights, n) }?)
    };
    Ok(Samples {
        timestamps,
        values,
        weights,
    })
}

/// Ingests `n` samples keyed by caller `uint64_t` keys; writes the batch accounting to `*out`.
///
/// # Safety
/// `keys`, `ts`, `values` NULL or valid for `n` elements; `weights` NULL (unweighted) or valid
/// for `n`; `out` NULL or valid.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn offheap_window_ingest_u64(
    aggregator: u64,
    keys: *const u64,
    ts: *const i64,
    values: *const f64,
    weights: *const u32,
    n: usize,
    now: i64,
    out: *mut offheap_window_accounting,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on each pointer.
        let out = unsafe { ptr::out(out) }?;
        // SAFETY: as above.
        let (keys, s) = unsafe { (ptr::slice(keys, n)?, samples(ts, values, weights, n)?) };
        let agg = handle::get::<Aggregator>(aggregator)?;
        out.write(agg.ingest_u64(keys, s, now).map_err(status)?.into());
        Ok(())
    })
}

/// Ingests `n` samples keyed by series ids (from `offheap_window_resolve_*`); ids of removed
/// series are counted as `stale`.
///
/// # Safety
/// As `offheap_window_ingest_u64`, with `ids` for `keys`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn offheap_window_ingest_ids(
    aggregator: u64,
    ids: *const u64,
    ts: *const i64,
    values: *const f64,
    weights: *const u32,
    n: usize,
    now: i64,
    out: *mut offheap_window_accounting,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on each pointer.
        let out = unsafe { ptr::out(out) }?;
        // SAFETY: as above.
        let (ids, s) = unsafe { (ptr::slice(ids, n)?, samples(ts, values, weights, n)?) };
        let agg = handle::get::<Aggregator>(aggregator)?;
        out.write(agg.ingest_ids(ids, s, now).map_err(status)?.into());
        Ok(())
    })
}

/// Ingests `n` samples keyed by byte strings: key `i` is
/// `key_bytes[key_ends[i-1] .. key_ends[i]]` (with `key_ends[-1] = 0`).
///
/// Errors: `OFFHEAP_STATUS_WINDOW_BAD_OFFSETS` for decreasing or out-of-range ends.
///
/// # Safety
/// As `offheap_window_ingest_u64`; `key_bytes` NULL or valid for `key_bytes_len` bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn offheap_window_ingest_keys(
    aggregator: u64,
    key_bytes: *const u8,
    key_bytes_len: usize,
    key_ends: *const u32,
    ts: *const i64,
    values: *const f64,
    weights: *const u32,
    n: usize,
    now: i64,
    out: *mut offheap_window_accounting,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on each pointer.
        let out = unsafe { ptr::out(out) }?;
        // SAFETY: as above.
        let (bytes, ends, s) = unsafe {
            (
                ptr::slice(key_bytes, key_bytes_len)?,
                ptr::slice(key_ends, n)?,
                samples(ts, values, weights, n)?,
            )
        };
        let agg = handle::get::<Aggregator>(aggregator)?;
        out.write(agg.ingest_keys(bytes, ends, s, now).map_err(status)?.into());
        Ok(())
    })
}

/// Finds or makes the series of `n` byte keys (laid out as in `offheap_window_ingest_keys`)
/// and writes their ids to `ids_out` (UINT64_MAX: overflow series, 0: rejected key); the
/// accounting counts keys.
///
/// # Safety
/// Pointers NULL or valid for their lengths (`ids_out` for `n` writes); `out` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_window_resolve_keys(
    aggregator: u64,
    key_bytes: *const u8,
    key_bytes_len: usize,
    key_ends: *const u32,
    n: usize,
    ids_out: *mut u64,
    out: *mut offheap_window_accounting,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on each pointer.
        let out = unsafe { ptr::out(out) }?;
        // SAFETY: as above.
        let (bytes, ends, ids) = unsafe {
            (
                ptr::slice(key_bytes, key_bytes_len)?,
                ptr::slice(key_ends, n)?,
                ptr::slice_mut(ids_out, n)?,
            )
        };
        let agg = handle::get::<Aggregator>(aggregator)?;
        out.write(agg.resolve_keys(bytes, ends, ids).map_err(status)?.into());
        Ok(())
    })
}

/// Finds or makes the series of `n` caller `uint64_t` keys and writes their ids to `ids_out`.
///
/// # Safety
/// `keys` and `ids_out` NULL or valid for `n` elements; `out` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_window_resolve_u64(
    aggregator: u64,
    keys: *const u64,
    n: usize,
    ids_out: *mut u64,
    out: *mut offheap_window_accounting,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on each pointer.
        let out = unsafe { ptr::out(out) }?;
        // SAFETY: as above.
        let (keys, ids) = unsafe { (ptr::slice(keys, n)?, ptr::slice_mut(ids_out, n)?) };
        let agg = handle::get::<Aggregator>(aggregator)?;
        out.write(agg.resolve_u64(keys, ids).map_err(status)?.into());
        Ok(())
    })
}

/// Deletes one series, named by `kind`: 0 the `uint64_t` key `key`, 1 the byte key
/// `(key_bytes, key_bytes_len)`, 2 the series id `key`.
///
/// Errors: `OFFHEAP_STATUS_WINDOW_UNKNOWN_SERIES` if no live series matches.
///
/// # Safety
/// `key_bytes` NULL or valid for `key_bytes_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_window_delete(
    aggregator: u64,
    kind: u32,
    key: u64,
    key_bytes: *const u8,
    key_bytes_len: usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `key_bytes`.
        let bytes = unsafe { ptr::slice(key_bytes, key_bytes_len) }?;
        let agg = handle::get::<Aggregator>(aggregator)?;
        match kind {
            0 => agg.delete_u64(key),
            1 => agg.delete_key(bytes),
            2 => agg.delete_id(key),
            _ => return Err(offheap_status::InvalidArgument),
        }
        .map_err(status)
    })
}

/// Removes every series (`what = 0`) or the series idle at `now` (`what = 1`); writes how many
/// were removed to `*out`.
///
/// # Safety
/// `out` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_window_remove(
    aggregator: u64,
    what: u32,
    now: i64,
    out: *mut u64,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `out`.
        let out = unsafe { ptr::out(out) }?;
        let agg = handle::get::<Aggregator>(aggregator)?;
        let n = match what {
            0 => agg.clear(),
            1 => agg.evict_idle(now),
            _ => return Err(offheap_status::InvalidArgument),
        };
        out.write(n);
        Ok(())
    })
}

/// Writes the aggregator's counters to `*out`.
///
/// # Safety
/// `out` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_window_stats(
    aggregator: u64,
    out: *mut offheap_window_counters,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `out`.
        let out = unsafe { ptr::out(out) }?;
        let s = handle::get::<Aggregator>(aggregator)?.stats();
        out.write(offheap_window_counters {
            series: s.series,
            samples: s.samples.into(),
            evicted: s.evicted,
            deleted: s.deleted,
            snapshots: s.snapshots,
            key_bytes: s.key_bytes,
        });
        Ok(())
    })
}

/// Makes an empty snapshot arena and writes its handle to `*out`.
///
/// # Safety
/// `out` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_window_snapshot_new(out: *mut u64) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `out`.
        let out = unsafe { ptr::out(out) }?;
        out.write(handle::insert(WindowSnapshot {
            inner: Mutex::new(SnapshotArena::default()),
        })?);
        Ok(())
    })
}

/// Frees a snapshot arena; views of it become invalid.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_window_snapshot_free(snapshot: u64) -> offheap_status {
    guard(|| handle::free::<WindowSnapshot>(snapshot))
}

/// Takes a consistent cut of the aggregator's windows at `now` into `snapshot` (replacing its
/// rows; reuses its memory), computing the `nquantiles` quantiles at `quantiles`. `since`: only
/// series changed since that token (0: all); `delta` (cumulative mode): report and reset the
/// change since the last delta read. Writes the row count to `*rows_out`.
///
/// # Safety
/// `quantiles` NULL or valid for `nquantiles` doubles; `rows_out` NULL or valid.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn offheap_window_snapshot_take(
    aggregator: u64,
    snapshot: u64,
    now: i64,
    quantiles: *const f64,
    nquantiles: usize,
    since: u64,
    delta: u32,
    rows_out: *mut u64,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on each pointer.
        let rows_out = unsafe { ptr::out(rows_out) }?;
        // SAFETY: as above.
        let quantiles = unsafe { ptr::slice(quantiles, nquantiles) }?;
        let agg = handle::get::<Aggregator>(aggregator)?;
        let snap = handle::get::<WindowSnapshot>(snapshot)?;
        let mut arena = snap.inner.lock();
        let opts = SnapshotOptions {
            quantiles,
            since,
            delta: delta != 0,
        };
        agg.snapshot(now, &opts, &mut arena.snap).map_err(status)?;
        rows_out.write(arena.snap.len() as u64);
        Ok(())
    })
}

/// Writes views of the snapshot's columns to `*out` (valid until the snapshot is filled again
/// or freed; never written through).
///
/// # Safety
/// `out` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_window_snapshot_view(
    snapshot: u64,
    out: *mut offheap_window_view,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `out`.
        let out = unsafe { ptr::out(out) }?;
        let snap = handle::get::<WindowSnapshot>(snapshot)?;
        let arena = snap.inner.lock();
        let s = &arena.snap;
        let mut quantiles = [std::ptr::null(); OFFHEAP_WINDOW_MAX_QUANTILES];
        for (j, q) in quantiles.iter_mut().enumerate().take(s.quantiles().len()) {
            *q = nonnull_or_null(s.quantile(j));
        }
        out.write(offheap_window_view {
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
        });
        Ok(())
    })
}

/// Renders the Prometheus text of the rows in `snapshot` (taken from `aggregator`, whose name
/// and key labels are used) into `buf`, whole series at a time, from position `*position`
/// (0 to start); advances `*position` and writes the bytes rendered to `*written`. Rendering is
/// finished when a call writes 0 bytes.
///
/// Errors: `OFFHEAP_STATUS_BUFFER_TOO_SMALL` if the next series does not fit an empty `buf`
/// (64 KiB always suffices).
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `position` and `written` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_window_prometheus(
    aggregator: u64,
    snapshot: u64,
    position: *mut u64,
    buf: *mut u8,
    cap: usize,
    written: *mut usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `position` (read here, before it is borrowed for
        // writing below).
        let start = *unsafe { ptr::one(position.cast_const()) }?;
        // SAFETY: the caller's contract on each pointer.
        let (position_out, written) = unsafe { (ptr::out(position)?, ptr::out(written)?) };
        // SAFETY: as above.
        let buf = unsafe { ptr::slice_mut(buf, cap) }?;
        let agg = handle::get::<Aggregator>(aggregator)?;
        let snap = handle::get::<WindowSnapshot>(snapshot)?;
        let mut arena = snap.inner.lock();
        let arena = &mut *arena;
        let mut cursor = PrometheusCursor::from_position(start);
        let n = render_prometheus(
            agg.config(),
            &arena.snap,
            &mut cursor,
            buf,
            &mut arena.scratch,
        )
        .map_err(status)?;
        position_out.write(cursor.position());
        written.write(n);
        Ok(())
    })
}

/// Writes the state of every series' window at `now` into `snapshot`'s export buffer (see the
/// format in the crate docs of `window::codec`); read it through `offheap_window_snapshot_view`
/// (`export_bytes`, `export_len`). Writes the number of records to `*records`.
///
/// # Safety
/// `records` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_window_export(
    aggregator: u64,
    snapshot: u64,
    now: i64,
    records: *mut u64,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `records`.
        let records = unsafe { ptr::out(records) }?;
        let agg = handle::get::<Aggregator>(aggregator)?;
        let snap = handle::get::<WindowSnapshot>(snapshot)?;
        let mut arena = snap.inner.lock();
        arena.export.clear();
        let n = agg.export(now, &mut arena.export);
        records.write(n as u64);
        Ok(())
    })
}

/// Merges an export (`data`, `len` bytes) into the aggregator at `now`; checks all of it first.
///
/// Errors: `OFFHEAP_STATUS_WINDOW_BAD_STATE`, `..._UNSUPPORTED_VERSION`,
/// `..._INCOMPATIBLE_STATE`; nothing changes on error.
///
/// # Safety
/// `data` NULL or valid for `len` bytes; `out` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_window_merge_import(
    aggregator: u64,
    data: *const u8,
    len: usize,
    now: i64,
    out: *mut offheap_window_import,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on each pointer.
        let out = unsafe { ptr::out(out) }?;
        // SAFETY: as above.
        let data = unsafe { ptr::slice(data, len) }?;
        let agg = handle::get::<Aggregator>(aggregator)?;
        out.write(agg.merge_import(data, now).map_err(status)?.into());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_agg() -> u64 {
        let cfg = offheap_window_config {
            mode: 1,
            slices: 1,
            width_ns: 60_000_000_000,
            alpha: 0.01,
            max_buckets: 2048,
            shards: 4,
            max_series: 100,
            idle_ttl_ns: 0,
            allowed_lateness_ns: u64::MAX,
            max_future_ns: 0,
            max_key_len: 64,
            sketch: 1,
        };
        let mut h = 0;
        let name = b"lat";
        // SAFETY: valid pointers and lengths.
        let st = unsafe {
            offheap_window_new(
                &cfg,
                name.as_ptr(),
                3,
                std::ptr::null(),
                0,
                b"k".as_ptr(),
                1,
                &mut h,
            )
        };
        assert_eq!(st, offheap_status::Ok);
        h
    }

    #[test]
    fn ingest_snapshot_view_render_and_free() {
        let _l = crate::ffi::boundary::tests::INJECTION_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let agg = new_agg();
        let keys = [1u64, 2, 1];
        let ts = [1i64, 2, 3];
        let vs = [1.0, 2.0, 3.0];
        let mut acc = offheap_window_accounting::default();
        // SAFETY: valid columns of length 3.
        let st = unsafe {
            offheap_window_ingest_u64(
                agg,
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
        // SAFETY: valid out pointer.
        let st = unsafe { offheap_window_snapshot_new(&mut snap) };
        assert_eq!(st, offheap_status::Ok);
        let q = [0.5];
        let mut rows = 0;
        // SAFETY: valid pointers.
        let st =
            unsafe { offheap_window_snapshot_take(agg, snap, 3, q.as_ptr(), 1, 0, 0, &mut rows) };
        assert_eq!((st, rows), (offheap_status::Ok, 2));
        let mut view = std::mem::MaybeUninit::<offheap_window_view>::uninit();
        // SAFETY: valid out pointer.
        let st = unsafe { offheap_window_snapshot_view(snap, view.as_mut_ptr()) };
        assert_eq!(st, offheap_status::Ok);
        // SAFETY: written on success.
        let view = unsafe { view.assume_init() };
        // SAFETY: the view's columns hold `rows` elements while the snapshot lives.
        let counts = unsafe { std::slice::from_raw_parts(view.counts, view.rows as usize) };
        assert_eq!(counts.iter().sum::<u64>(), 3);
        assert!(
            view.key_bytes.is_null(),
            "empty column is NULL, not dangling"
        );
        let mut pos = 0u64;
        let mut buf = [0u8; 4096];
        let mut n = 0usize;
        // SAFETY: valid pointers.
        let st = unsafe {
            offheap_window_prometheus(agg, snap, &mut pos, buf.as_mut_ptr(), buf.len(), &mut n)
        };
        assert_eq!(st, offheap_status::Ok);
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(text.contains("lat_count{k=\"1\"} 2\n"), "{text}");
        // SAFETY: valid pointers.
        let st = unsafe {
            offheap_window_prometheus(agg, snap, &mut pos, buf.as_mut_ptr(), buf.len(), &mut n)
        };
        assert_eq!((st, n), (offheap_status::Ok, 0));

        // Mismatched columns and bad handles are errors.
        // SAFETY: NULL with a non-zero length is rejected before use.
        let st = unsafe {
            offheap_window_ingest_u64(
                agg,
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
        // SAFETY: valid pointers; the snapshot handle is passed where an aggregator is expected.
        let st =
            unsafe { offheap_window_snapshot_take(snap, snap, 3, q.as_ptr(), 1, 0, 0, &mut rows) };
        assert_eq!(st, offheap_status::InvalidHandle);
        let bad_q = [2.0];
        // SAFETY: valid pointers.
        let st = unsafe {
            offheap_window_snapshot_take(agg, snap, 3, bad_q.as_ptr(), 1, 0, 0, &mut rows)
        };
        assert_eq!(st, offheap_status::WindowInvalidQuantile);
        assert_eq!(offheap_window_snapshot_free(snap), offheap_status::Ok);
        assert_eq!(offheap_window_free(agg), offheap_status::Ok);
        assert_eq!(offheap_window_free(agg), offheap_status::InvalidHandle);
    }

    #[test]
    fn bad_config_maps_to_window_statuses() {
        let _l = crate::ffi::boundary::tests::INJECTION_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let cfg = offheap_window_config {
            mode: 7,
            ..Default::default()
        };
        let mut h = 0;
        // SAFETY: valid pointers.
        let st = unsafe {
            offheap_window_new(
                &cfg,
                b"x".as_ptr(),
                1,
                std::ptr::null(),
                0,
                std::ptr::null(),
                0,
                &mut h,
            )
        };
        assert_eq!(st, offheap_status::WindowInvalidMode);
        let cfg = offheap_window_config {
            mode: 0,
            slices: 6,
            width_ns: 0,
            ..Default::default()
        };
        // SAFETY: valid pointers.
        let st = unsafe {
            offheap_window_new(
                &cfg,
                b"x".as_ptr(),
                1,
                std::ptr::null(),
                0,
                std::ptr::null(),
                0,
                &mut h,
            )
        };
        assert_eq!(st, offheap_status::WindowInvalidWidth);
    }
}
