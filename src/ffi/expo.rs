//! `offheap_aggregator_scrape`, `offheap_snapshot_read` and `offheap_aggregator_set_family`:
//! Prometheus exposition (text 0.0.4, OpenMetrics 1.0, protobuf) through the C ABI.
//!
//! A scrape takes a snapshot into a snapshot arena and starts its exposition there; reads then
//! copy the next bytes into a caller buffer of any size, until a read writes 0 bytes. The
//! arena holds one rendered chunk (about 16 KiB) at a time, so a slow reader never makes the
//! library buffer the whole exposition, and ingest goes on meanwhile (the snapshot is a copy).

use super::boundary::guard;
use super::handle;
use super::ptr;
use super::snapshot::{SnapshotArena, WindowSnapshot, fill};
use super::status::offheap_status;
use super::window::{parse_metric_type, status};
use crate::window::{Aggregator, Format, SnapshotOptions};

/// Exposition format: `0` text 0.0.4, `1` OpenMetrics 1.0, `2` protobuf (delimited
/// `io.prometheus.client.MetricFamily` messages).
#[allow(non_camel_case_types)]
pub type offheap_expo_format = u32;

fn parse_format(f: offheap_expo_format) -> Result<Format, offheap_status> {
    Ok(match f {
        0 => Format::Text,
        1 => Format::OpenMetrics,
        2 => Format::Protobuf,
        _ => return Err(offheap_status::WindowInvalidFormat),
    })
}

/// Takes a snapshot of the aggregator at `now` into `snapshot` (as `offheap_snapshot_take`,
/// with the `nquantiles` quantiles at `quantiles` for summaries) and starts its exposition in
/// `format`; writes the row count to `*rows_out`. Read the exposition with
/// `offheap_snapshot_read`.
///
/// # Safety
/// Until the call returns: `quantiles` is NULL with `nquantiles` = 0 or valid for reading
/// `nquantiles` doubles; `rows_out` is NULL or valid for writing one `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_aggregator_scrape(
    aggregator: u64,
    snapshot: u64,
    now: i64,
    quantiles: *const f64,
    nquantiles: usize,
    format: offheap_expo_format,
    rows_out: *mut u64,
) -> offheap_status {
    let options = |agg: &Aggregator, quantiles| {
        let format = parse_format(format)?;
        // Protobuf carries native histograms: the snapshot copies the buckets for them. Only
        // summaries need quantiles.
        let opts = SnapshotOptions {
            quantiles: if agg.may_have_summaries() {
                quantiles
            } else {
                &[]
            },
            buckets: format == Format::Protobuf,
            ..SnapshotOptions::default()
        };
        Ok((opts, format))
    };
    let begin = |agg: &Aggregator, arena: &mut SnapshotArena, format| {
        arena.expo.begin(agg, &arena.snap, format)
    };
    // SAFETY: `fill` requires `quantiles` valid for reading `nquantiles` doubles (or NULL with
    // none) and `rows_out` for one write until the call returns: this function's `# Safety`.
    unsafe {
        fill(
            aggregator, snapshot, now, quantiles, nquantiles, rows_out, options, begin,
        )
    }
}

/// Copies the next bytes of the exposition `offheap_aggregator_scrape` started in `snapshot`
/// (of `aggregator`) into `buf` and writes their number to `*written`: 0 when the exposition
/// is complete. Any `cap` works, 1 included.
///
/// Errors: `OFFHEAP_STATUS_WINDOW_NOT_BEGUN` without a scrape into `snapshot` since it was
/// last filled.
///
/// # Safety
/// Until the call returns: `written` is NULL or valid for writing one `size_t`; `buf` is NULL
/// with `cap` = 0 or valid for writing `cap` bytes; they do not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_snapshot_read(
    aggregator: u64,
    snapshot: u64,
    buf: *mut u8,
    cap: usize,
    written: *mut usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `written` valid for one write and `buf` for
        // writing `cap` bytes (or NULL with `cap` = 0), not overlapping, until the call
        // returns: what `ptr::out` and `ptr::slice_mut` require.
        let (written, buf) = unsafe { (ptr::out(written)?, ptr::slice_mut(buf, cap)?) };
        let agg = handle::get::<Aggregator>(aggregator)?;
        let snap = handle::get::<WindowSnapshot>(snapshot)?;
        let mut arena = snap.inner.lock();
        let arena = &mut *arena;
        let n = arena.expo.read(&agg, &arena.snap, buf).map_err(status)?;
        written.write(n);
        Ok(())
    })
}

/// Gives the metric family `name` a type (0 summary, 1 histogram, 2 counter, 3 gauge) and a
/// help text (may be empty) for the aggregator's expositions from now on.
///
/// Errors: `OFFHEAP_STATUS_WINDOW_INVALID_NAME`, `_INVALID_HELP`, `_INVALID_TYPE`,
/// `_TOO_MANY_FAMILIES`.
///
/// # Safety
/// Until the call returns: each `(pointer, length)` string is NULL with a length of 0, or valid
/// for reading that many bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_aggregator_set_family(
    aggregator: u64,
    name: *const u8,
    name_len: usize,
    metric_type: u32,
    help: *const u8,
    help_len: usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives each string valid for reading its length
        // (or NULL with none) until the call returns: what `ptr::slice` requires.
        let (name, help) = unsafe { (ptr::slice(name, name_len)?, ptr::slice(help, help_len)?) };
        let agg = handle::get::<Aggregator>(aggregator)?;
        let t = parse_metric_type(metric_type)?;
        let name = std::str::from_utf8(name).map_err(|_| offheap_status::WindowInvalidName)?;
        let help = std::str::from_utf8(help).map_err(|_| offheap_status::WindowInvalidHelp)?;
        agg.set_family(name, t, help).map_err(status)
    })
}
