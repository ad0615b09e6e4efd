//! `offheap_aggregator_*`: the C ABI of the windowed aggregator (`crate::window`), its
//! configuration, batches, deletion and import. The snapshot arena it fills, and the calls
//! that read it, are in `snapshot.rs`.
//!
//! Times are nanoseconds chosen by the caller; every batch crosses as flat columns in one
//! call.

use super::boundary::guard;
use super::handle::{self, HandleObject, offheap_kind};
use super::ptr::{self, guard_out};
use super::status::offheap_status;
use crate::window::{
    Accounting, Aggregator, Config, Error, ImportAccounting, KeyFormat, MetricType, Mode, Samples,
    Stats,
};

impl HandleObject for Aggregator {
    const KIND: offheap_kind = offheap_kind::Aggregator;
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
        Error::InvalidHelp => S::WindowInvalidHelp,
        Error::InvalidKeyLabel => S::WindowInvalidKeyLabel,
        Error::TooManyFamilies => S::WindowTooManyFamilies,
        Error::NotBegun => S::WindowNotBegun,
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

// The values of the two enums below are the order of their variants (0, 1, ...), which is
// the C ABI: a new variant goes last.

/// How a call names a series (`offheap_aggregator_ingest`, `offheap_aggregator_delete`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum offheap_series_key {
    /// A caller `uint64_t` key.
    U64,
    /// A byte key (its format is the aggregator's `key_format`).
    Bytes,
    /// A series id from `offheap_aggregator_resolve_*`.
    Id,
}

/// Which series `offheap_aggregator_remove` removes.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum offheap_removal {
    /// Every series.
    All,
    /// The series idle at `now` (longer than the aggregator's `idle_ttl_ns`).
    Idle,
}

const KEY_U64: u32 = offheap_series_key::U64 as u32;
const KEY_BYTES: u32 = offheap_series_key::Bytes as u32;
const KEY_ID: u32 = offheap_series_key::Id as u32;

/// Aggregator configuration (all durations in nanoseconds). Zero is taken literally (and may
/// be invalid); the Go package fills its defaults before calling.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_aggregator_config {
    /// An `offheap_window_mode`.
    pub mode: u32,
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
    /// What byte keys are, an `offheap_key_format`: a label value (under `key_label`), a
    /// label list, or a series (`name{labels}`, each metric under its own name).
    pub key_format: u32,
    /// The `offheap_metric_type` of the metric families given none.
    pub metric_type: u32,
}

/// What happened to the samples of a batch (`offheap_aggregator_ingest`, `_ingest_keys`): the aggregator's
/// own `repr(C)` record, which cbindgen exports under this name (`cbindgen.toml`).
pub use crate::window::Accounting as offheap_ingest_accounting;

/// Counters of an aggregator since it was made (`offheap_aggregator_stats`): the
/// aggregator's own `repr(C)` record, which cbindgen exports under this name (`cbindgen.toml`).
pub use crate::window::Stats as offheap_aggregator_counters;

/// What an import did with its records.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_import_accounting {
    /// Merged into a series of the same key.
    pub merged: u64,
    /// Merged into the overflow series.
    pub overflowed: u64,
    /// Dropped: the slice of `now` was already reused for a later time.
    pub late: u64,
    /// Dropped: key invalid for this aggregator.
    pub bad_key: u64,
}

impl From<ImportAccounting> for offheap_import_accounting {
    fn from(a: ImportAccounting) -> Self {
        offheap_import_accounting {
            merged: a.merged,
            overflowed: a.overflowed,
            late: a.late,
            bad_key: a.bad_key,
        }
    }
}
fn config_from(
    c: &offheap_aggregator_config,
    name: &[u8],
    help: &[u8],
    label: &[u8],
) -> Result<Config, offheap_status> {
    let mode = Mode::ALL
        .into_iter()
        .find(|&m| m as u32 == c.mode)
        .ok_or(offheap_status::WindowInvalidMode)?;
    // Text that is not UTF-8 is refused with the status of its field.
    let text = |b: &[u8], e: Error| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| status(e))
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
    cfg.name = text(name, Error::InvalidName)?;
    cfg.help = text(help, Error::InvalidHelp)?;
    cfg.key_label = text(label, Error::InvalidKeyLabel)?;
    cfg.key_format = KeyFormat::ALL
        .into_iter()
        .find(|&f| f as u32 == c.key_format)
        .ok_or(offheap_status::WindowInvalidKeyFormat)?;
    cfg.metric_type = parse_metric_type(c.metric_type)?;
    Ok(cfg)
}

/// The metric type of its C value (an `offheap_metric_type`).
pub(crate) fn parse_metric_type(t: u32) -> Result<MetricType, offheap_status> {
    MetricType::ALL
        .into_iter()
        .find(|&m| m as u32 == t)
        .ok_or(offheap_status::WindowInvalidType)
}

/// Makes an aggregator and writes its handle to `*out`. `name` is the Prometheus metric name,
/// `help` its help text (may be empty), `key_label` the label carrying keys (empty: byte keys
/// are label lists themselves).
///
/// Errors: the `OFFHEAP_STATUS_WINDOW_INVALID_*` status of the first invalid field.
///
/// # Safety
/// Until the call returns: `config` is NULL or valid for reading one `offheap_aggregator_config`;
/// `out` is NULL or valid for writing one `uint64_t`; each `(pointer, length)` string is NULL
/// with any length of 0, or valid for reading that many bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn offheap_aggregator_new(
    config: *const offheap_aggregator_config,
    name: *const u8,
    name_len: usize,
    help: *const u8,
    help_len: usize,
    key_label: *const u8,
    key_label_len: usize,
    out: *mut u64,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `out` valid for one write, `config` for one
        // read and each string for its length (or NULL), until the call returns: what
        // `ptr::out`, `ptr::one` and `ptr::slice` require.
        let (out, config, name, help, label) = unsafe {
            (
                ptr::out(out)?,
                ptr::one(config)?,
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
pub extern "C" fn offheap_aggregator_free(aggregator: u64) -> offheap_status {
    guard(|| handle::free::<Aggregator>(aggregator))
}

/// The value columns of a batch, shared by the ingest calls.
///
/// # Safety
/// Until the call that uses them returns, `ts` and `values` are NULL with `n` = 0 or valid for
/// reading `n` elements, and `weights` is NULL (unweighted samples) or valid for reading `n`
/// elements.
unsafe fn samples<'a>(
    ts: *const i64,
    values: *const f64,
    weights: *const u32,
    n: usize,
) -> Result<Samples<'a>, offheap_status> {
    // SAFETY: this function's `# Safety` gives `ts` and `values` valid for reading `n`
    // elements (or NULL with `n` = 0) until the call returns: what `ptr::slice` requires.
    let (timestamps, values) = unsafe { (ptr::slice(ts, n)?, ptr::slice(values, n)?) };
    let weights = if weights.is_null() {
        None
    } else {
        // SAFETY: a non-NULL `weights` is valid for reading `n` elements until the call
        // returns (this function's `# Safety`): what `ptr::slice` requires.
        Some(unsafe { ptr::slice(weights, n) }?)
    };
    Ok(Samples {
        timestamps,
        values,
        weights,
    })
}

/// Ingests `n` samples keyed by `keys`, which `key` says are caller `uint64_t` keys
/// (`OFFHEAP_SERIES_KEY_U64`) or series ids from `offheap_aggregator_resolve_*`
/// (`OFFHEAP_SERIES_KEY_ID`: ids of removed series are counted as `stale`); writes the batch
/// accounting to `*out`. Byte keys go through `offheap_aggregator_ingest_keys`.
///
/// Errors: `OFFHEAP_STATUS_INVALID_ARGUMENT` for any other `key`.
///
/// # Safety
/// Until the call returns: `keys`, `ts` and `values` are NULL with `n` = 0, or valid for
/// reading `n` elements; `weights` is NULL (unweighted) or valid for reading `n` elements;
/// `out` is NULL or valid for writing one `offheap_ingest_accounting`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn offheap_aggregator_ingest(
    aggregator: u64,
    key: u32,
    keys: *const u64,
    ts: *const i64,
    values: *const f64,
    weights: *const u32,
    n: usize,
    now: i64,
    out: *mut Accounting,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `out` valid for one write and `keys`,
        // `ts`, `values` and a non-NULL `weights` valid for reading `n` elements (or NULL with
        // `n` = 0) until the call returns: what `ptr::out`, `ptr::slice` and `samples` require.
        let (out, keys, s) = unsafe {
            (
                ptr::out(out)?,
                ptr::slice(keys, n)?,
                samples(ts, values, weights, n)?,
            )
        };
        let agg = handle::get::<Aggregator>(aggregator)?;
        let accounting = match key {
            KEY_U64 => agg.ingest_u64(keys, s, now),
            KEY_ID => agg.ingest_ids(keys, s, now),
            _ => return Err(offheap_status::InvalidArgument),
        };
        out.write(accounting.map_err(status)?);
        Ok(())
    })
}

/// Ingests `n` samples keyed by byte strings: key `i` is
/// `key_bytes[key_ends[i-1] .. key_ends[i]]` (with `key_ends[-1] = 0`).
///
/// Errors: `OFFHEAP_STATUS_WINDOW_BAD_OFFSETS` for decreasing or out-of-range ends.
///
/// # Safety
/// Those of `offheap_aggregator_ingest`, with `key_ends` for `keys`; and `key_bytes` is NULL
/// with `key_bytes_len` = 0, or valid for reading `key_bytes_len` bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn offheap_aggregator_ingest_keys(
    aggregator: u64,
    key_bytes: *const u8,
    key_bytes_len: usize,
    key_ends: *const u32,
    ts: *const i64,
    values: *const f64,
    weights: *const u32,
    n: usize,
    now: i64,
    out: *mut Accounting,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `out` valid for one write, `key_bytes` for
        // `key_bytes_len` bytes, and `key_ends`, `ts`, `values` and a non-NULL `weights` for
        // reading `n` elements (NULL with a zero length) until the call returns: what
        // `ptr::out`, `ptr::slice` and `samples` require.
        let (out, bytes, ends, s) = unsafe {
            (
                ptr::out(out)?,
                ptr::slice(key_bytes, key_bytes_len)?,
                ptr::slice(key_ends, n)?,
                samples(ts, values, weights, n)?,
            )
        };
        let agg = handle::get::<Aggregator>(aggregator)?;
        out.write(agg.ingest_keys(bytes, ends, s, now).map_err(status)?);
        Ok(())
    })
}

/// Finds or makes the series of `n` byte keys (laid out as in `offheap_aggregator_ingest_keys`)
/// and writes their ids to `ids_out` (UINT64_MAX: overflow series, 0: rejected key); the
/// accounting counts keys.
///
/// # Safety
/// Until the call returns: `key_bytes` is NULL with `key_bytes_len` = 0 or valid for reading
/// `key_bytes_len` bytes; `key_ends` is NULL with `n` = 0 or valid for reading `n` elements;
/// `ids_out` is NULL with `n` = 0 or valid for writing `n` elements that nothing else uses;
/// `out` is NULL or valid for writing one `offheap_ingest_accounting`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_aggregator_resolve_keys(
    aggregator: u64,
    key_bytes: *const u8,
    key_bytes_len: usize,
    key_ends: *const u32,
    n: usize,
    ids_out: *mut u64,
    out: *mut Accounting,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `out` valid for one write, `key_bytes` and
        // `key_ends` for reading their lengths and `ids_out` for writing `n` elements nothing
        // else uses (NULL with a zero length) until the call returns: what `ptr::out`,
        // `ptr::slice` and `ptr::slice_mut` require.
        let (out, bytes, ends, ids) = unsafe {
            (
                ptr::out(out)?,
                ptr::slice(key_bytes, key_bytes_len)?,
                ptr::slice(key_ends, n)?,
                ptr::slice_mut(ids_out, n)?,
            )
        };
        let agg = handle::get::<Aggregator>(aggregator)?;
        out.write(agg.resolve_keys(bytes, ends, ids).map_err(status)?);
        Ok(())
    })
}

/// Finds or makes the series of `n` caller `uint64_t` keys and writes their ids to `ids_out`.
///
/// # Safety
/// Until the call returns: `keys` is NULL with `n` = 0 or valid for reading `n` elements;
/// `ids_out` is NULL with `n` = 0 or valid for writing `n` elements that nothing else uses;
/// `out` is NULL or valid for writing one `offheap_ingest_accounting`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_aggregator_resolve_u64(
    aggregator: u64,
    keys: *const u64,
    n: usize,
    ids_out: *mut u64,
    out: *mut Accounting,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `out` valid for one write, `keys` for
        // reading and `ids_out` for writing `n` elements nothing else uses (NULL with `n` = 0)
        // until the call returns: what `ptr::out`, `ptr::slice` and `ptr::slice_mut` require.
        let (out, keys, ids) = unsafe {
            (
                ptr::out(out)?,
                ptr::slice(keys, n)?,
                ptr::slice_mut(ids_out, n)?,
            )
        };
        let agg = handle::get::<Aggregator>(aggregator)?;
        out.write(agg.resolve_u64(keys, ids).map_err(status)?);
        Ok(())
    })
}

/// Deletes one series, named as `kind` (an `offheap_series_key`) says: by the `uint64_t` key
/// `key`, by the byte key `(key_bytes, key_bytes_len)`, or by the series id `key`.
///
/// Errors: `OFFHEAP_STATUS_WINDOW_UNKNOWN_SERIES` if no live series matches.
///
/// # Safety
/// `key_bytes` is NULL with `key_bytes_len` = 0, or valid for reading `key_bytes_len` bytes
/// until the call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_aggregator_delete(
    aggregator: u64,
    kind: u32,
    key: u64,
    key_bytes: *const u8,
    key_bytes_len: usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `key_bytes` valid for reading
        // `key_bytes_len` bytes (or NULL with a zero length) until the call returns: what
        // `ptr::slice` requires.
        let bytes = unsafe { ptr::slice(key_bytes, key_bytes_len) }?;
        let agg = handle::get::<Aggregator>(aggregator)?;
        match kind {
            KEY_U64 => agg.delete_u64(key),
            KEY_BYTES => agg.delete_key(bytes),
            KEY_ID => agg.delete_id(key),
            _ => return Err(offheap_status::InvalidArgument),
        }
        .map_err(status)
    })
}

/// Removes the series `what` (an `offheap_removal`) names, every one or those idle at `now`;
/// writes how many were removed to `*out`.
///
/// # Safety
/// `out` is NULL or valid for writing one `uint64_t` until the call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_aggregator_remove(
    aggregator: u64,
    what: u32,
    now: i64,
    out: *mut u64,
) -> offheap_status {
    const ALL: u32 = offheap_removal::All as u32;
    const IDLE: u32 = offheap_removal::Idle as u32;
    let removed = || {
        let agg = handle::get::<Aggregator>(aggregator)?;
        match what {
            ALL => Ok(agg.clear()),
            IDLE => Ok(agg.evict_idle(now)),
            _ => Err(offheap_status::InvalidArgument),
        }
    };
    // SAFETY: this function's `# Safety` gives `out` valid for one write until the call
    // returns: what `guard_out` requires.
    unsafe { guard_out(out, removed) }
}

/// Writes the aggregator's counters to `*out`.
///
/// # Safety
/// `out` is NULL or valid for writing one `offheap_aggregator_counters` until the call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_aggregator_stats(
    aggregator: u64,
    out: *mut Stats,
) -> offheap_status {
    let stats = || Ok(handle::get::<Aggregator>(aggregator)?.stats());
    // SAFETY: this function's `# Safety` gives `out` valid for one write until the call
    // returns: what `guard_out` requires.
    unsafe { guard_out(out, stats) }
}

/// Merges an export (`data`, `len` bytes) into the aggregator at `now`; checks all of it first.
///
/// Errors: `OFFHEAP_STATUS_WINDOW_BAD_STATE`, `..._UNSUPPORTED_VERSION`,
/// `..._INCOMPATIBLE_STATE`; nothing changes on error.
///
/// # Safety
/// Until the call returns: `data` is NULL with `len` = 0 or valid for reading `len` bytes;
/// `out` is NULL or valid for writing one `offheap_import_accounting`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_aggregator_merge_import(
    aggregator: u64,
    data: *const u8,
    len: usize,
    now: i64,
    out: *mut offheap_import_accounting,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `out` valid for one write and `data` for
        // reading `len` bytes (or NULL with `len` = 0) until the call returns: what `ptr::out`
        // and `ptr::slice` require.
        let (out, data) = unsafe { (ptr::out(out)?, ptr::slice(data, len)?) };
        let agg = handle::get::<Aggregator>(aggregator)?;
        out.write(agg.merge_import(data, now).map_err(status)?.into());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `offheap_aggregator_new` with `cfg`, metric name `name`, no help and key label `label`.
    fn new(cfg: &offheap_aggregator_config, name: &[u8], label: &[u8]) -> (offheap_status, u64) {
        let mut h = 0;
        // SAFETY: `cfg` and `h` are live locals, and each string pointer is valid for its
        // length (the help string is (NULL, 0)).
        let st = unsafe {
            offheap_aggregator_new(
                cfg,
                name.as_ptr(),
                name.len(),
                std::ptr::null(),
                0,
                label.as_ptr(),
                label.len(),
                &mut h,
            )
        };
        (st, h)
    }

    #[test]
    fn bad_config_maps_to_window_statuses() {
        let _l = crate::ffi::boundary::tests::INJECTION_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let cfg = offheap_aggregator_config {
            mode: 7,
            ..Default::default()
        };
        assert_eq!(new(&cfg, b"x", b"").0, offheap_status::WindowInvalidMode);
        let cfg = offheap_aggregator_config {
            mode: Mode::Sliding as u32,
            slices: 6,
            width_ns: 0,
            ..Default::default()
        };
        assert_eq!(new(&cfg, b"x", b"").0, offheap_status::WindowInvalidWidth);
    }
}
