//! Snapshots: a consistent cut of every series' window, in reusable columns.

use super::maintain;
use super::rings::Rings;
use super::shard::Key;
use super::sketch::SketchParams;
use super::slice::Slice;
use super::store::Store;
use super::{Error, MAX_QUANTILES, OVERFLOW_ID};

/// What a snapshot reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct SnapshotOptions<'a> {
    /// Quantiles to compute, each in `[0, 1]` (at most [`MAX_QUANTILES`]).
    pub quantiles: &'a [f64],
    /// Only series changed (by a sample or an import) at or after this token;
    /// 0 means all series. Pass [`Snapshot::next_since`] of the previous snapshot to get the
    /// series that changed since. Series that were removed since are not reported.
    pub since: u64,
    /// Cumulative mode only: report the change since the previous delta read, and fold it into
    /// the running total (so the next delta read starts from zero).
    pub delta: bool,
}

/// How a snapshot row's series is keyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyKind {
    /// A caller `u64` key (in [`Snapshot::raw_keys`]).
    U64 = 0,
    /// A byte-string key (in [`Snapshot::key`]).
    Bytes = 1,
    /// The overflow series.
    Overflow = 2,
}

/// Columns of one snapshot, one row per series, reused across snapshots (taking a snapshot
/// into a `Snapshot` that has held one of equal size allocates nothing).
///
/// Statistics of a series with no samples in the window are 0 (count, sum, increase, rate) or
/// NaN (min, max, last, mean, stddev, quantiles). Quantile `j` of row `i` is
/// `quantile(j)[i]`, clamped to the row's exact `[min, max]`; NaN when sketches are off.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub(crate) quantiles: Vec<f64>,
    pub(crate) ids: Vec<u64>,
    pub(crate) kinds: Vec<u8>,
    pub(crate) raw_keys: Vec<u64>,
    pub(crate) key_bytes: Vec<u8>,
    pub(crate) key_ends: Vec<u32>,
    pub(crate) counts: Vec<u64>,
    pub(crate) sums: Vec<f64>,
    pub(crate) mins: Vec<f64>,
    pub(crate) maxs: Vec<f64>,
    pub(crate) lasts: Vec<f64>,
    pub(crate) means: Vec<f64>,
    pub(crate) stddevs: Vec<f64>,
    pub(crate) increases: Vec<f64>,
    pub(crate) rates: Vec<f64>,
    pub(crate) qvalues: Vec<Vec<f64>>,
    /// `quantile="<q>"} ` for each quantile, rendered once per snapshot for exposition.
    qlabels: Vec<u8>,
    qlabel_ends: Vec<usize>,
    pub(crate) now: i64,
    pub(crate) next_since: u64,
    acc: Slice,
}

macro_rules! column {
    ($($(#[$doc:meta])* $name:ident: $t:ty),* $(,)?) => {
        $($(#[$doc])* pub fn $name(&self) -> &[$t] { &self.$name })*
    };
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new() -> Snapshot {
        Snapshot::default()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    column! {
        /// Series ids ([`OVERFLOW_ID`] for the overflow row).
        ids: u64,
        /// Key kinds (`KeyKind as u8`).
        kinds: u8,
        /// Caller `u64` keys (0 for rows keyed otherwise).
        raw_keys: u64,
        /// All byte keys concatenated; see [`key_ends`](Self::key_ends).
        key_bytes: u8,
        /// End offset of each row's byte key in [`key_bytes`](Self::key_bytes) (rows keyed
        /// otherwise have empty keys).
        key_ends: u32,
        /// Sample counts (sum of weights) in the window.
        counts: u64,
        /// Sums of values times weights.
        sums: f64,
        /// Minimum values.
        mins: f64,
        /// Maximum values.
        maxs: f64,
        /// Values of the newest samples.
        lasts: f64,
        /// Weighted means.
        means: f64,
        /// Weighted population standard deviations.
        stddevs: f64,
        /// Counter increases (sum of increases between consecutive samples, a drop read as a reset to 0).
        increases: f64,
        /// Increase per second over the window width (cumulative: over the span of the samples).
        rates: f64,
        /// The quantiles the snapshot was taken with.
        quantiles: f64,
    }

    /// Values of the `j`-th requested quantile, one per row (empty if `j` is out of range).
    pub fn quantile(&self, j: usize) -> &[f64] {
        self.qvalues.get(j).map_or(&[], |v| &v[..self.ids.len()])
    }

    /// `quantile="<q>"} ` for quantile `j` (exposition).
    pub(crate) fn quantile_label(&self, j: usize) -> &[u8] {
        let Some(&end) = self.qlabel_ends.get(j) else {
            return b"";
        };
        let start = if j == 0 { 0 } else { self.qlabel_ends[j - 1] };
        &self.qlabels[start..end]
    }

    /// The byte key of row `i` (empty for rows not keyed by bytes or out of range).
    pub fn key(&self, i: usize) -> &[u8] {
        let Some(&end) = self.key_ends.get(i) else {
            return &[];
        };
        let start = if i == 0 { 0 } else { self.key_ends[i - 1] };
        &self.key_bytes[start as usize..end as usize]
    }

    /// The key kind of row `i`.
    pub fn kind(&self, i: usize) -> Option<KeyKind> {
        match self.kinds.get(i) {
            Some(0) => Some(KeyKind::U64),
            Some(1) => Some(KeyKind::Bytes),
            Some(2) => Some(KeyKind::Overflow),
            _ => None,
        }
    }

    /// The `now` the snapshot was taken at.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The token to pass as [`SnapshotOptions::since`] to get only series changed after this
    /// snapshot.
    pub fn next_since(&self) -> u64 {
        self.next_since
    }

    /// Index of the row of `id`, by linear search (for tests and small snapshots).
    pub fn row_of(&self, id: u64) -> Option<usize> {
        self.ids.iter().position(|&x| x == id)
    }

    /// Bytes of heap the columns hold.
    pub fn heap_bytes(&self) -> usize {
        self.ids.capacity() * 8 * 11
            + self.kinds.capacity()
            + self.key_bytes.capacity()
            + self.key_ends.capacity() * 4
            + self.qvalues.iter().map(|v| v.capacity() * 8).sum::<usize>()
    }

    fn begin(&mut self, quantiles: &[f64], now: i64) {
        self.quantiles.clear();
        self.quantiles.extend_from_slice(quantiles);
        self.qlabels.clear();
        self.qlabel_ends.clear();
        for q in quantiles {
            use std::io::Write;
            let _ = write!(self.qlabels, "quantile=\"{q}\"}} ");
            self.qlabel_ends.push(self.qlabels.len());
        }
        for v in [
            &mut self.sums,
            &mut self.mins,
            &mut self.maxs,
            &mut self.lasts,
            &mut self.means,
            &mut self.stddevs,
            &mut self.increases,
            &mut self.rates,
        ] {
            v.clear();
        }
        self.ids.clear();
        self.kinds.clear();
        self.raw_keys.clear();
        self.key_bytes.clear();
        self.key_ends.clear();
        self.counts.clear();
        self.qvalues.resize_with(quantiles.len(), Vec::new);
        for q in &mut self.qvalues {
            q.clear();
        }
        self.now = now;
    }

    /// Appends the row of the merged window `a`.
    fn push_row(
        &mut self,
        a: &Slice,
        id: u64,
        kind: KeyKind,
        key: &Key,
        params: Option<&SketchParams>,
        span_secs: f64,
    ) {
        self.ids.push(id);
        self.kinds.push(kind as u8);
        match key {
            Key::U64(k) => self.raw_keys.push(*k),
            _ => self.raw_keys.push(0),
        }
        if let Key::Bytes(b) = key {
            self.key_bytes.extend_from_slice(b);
        }
        // Keys are at most 4096 bytes and series at most 2^32, but the sum could pass u32:
        // saturate (readers see an empty key past that point rather than a wrong one).
        self.key_ends
            .push(u32::try_from(self.key_bytes.len()).unwrap_or(u32::MAX));
        self.counts.push(a.count);
        let empty = a.count == 0;
        let nan_if_empty = |v: f64| if empty { f64::NAN } else { v };
        self.sums.push(if empty { 0.0 } else { a.sum });
        self.mins.push(nan_if_empty(a.min));
        self.maxs.push(nan_if_empty(a.max));
        self.lasts.push(nan_if_empty(a.last));
        self.means.push(a.mean());
        self.stddevs.push(a.stddev());
        let inc = if empty { 0.0 } else { a.increase };
        self.increases.push(inc);
        let span = if span_secs > 0.0 {
            span_secs
        } else {
            (a.last_ts.saturating_sub(a.first_ts)) as f64 / 1e9
        };
        self.rates.push(if span > 0.0 { inc / span } else { 0.0 });
        let nq = self.quantiles.len();
        let mut est = [f64::NAN; MAX_QUANTILES];
        if let (Some(p), Some(s), false) = (params, a.sketch.as_deref(), empty) {
            s.quantiles_into(p, &self.quantiles, a.count, &mut est[..nq]);
        }
        for (j, q) in self.quantiles.iter().enumerate() {
            // The lowest and highest ranks are the exact min and max; the rest come from the
            // sketch, clamped to [min, max] (which can only bring them closer).
            let rank = (q * a.count.saturating_sub(1) as f64).floor() as u64;
            let v = if empty {
                f64::NAN
            } else if rank == 0 {
                a.min
            } else if rank + 1 >= a.count {
                a.max
            } else if est[j].is_nan() {
                f64::NAN
            } else {
                est[j].clamp(a.min, a.max)
            };
            self.qvalues[j].push(v);
        }
    }
}

/// Checks a quantile list.
pub(crate) fn check_quantiles(q: &[f64]) -> Result<(), Error> {
    if q.len() > MAX_QUANTILES || q.iter().any(|q| !(0.0..=1.0).contains(q)) {
        return Err(Error::InvalidQuantile);
    }
    Ok(())
}

/// Takes a consistent cut of every series' window at `now` into `out` (replacing its rows),
/// after evicting the series idle for longer than `idle_ttl`: the body of
/// [`Aggregator::snapshot`](super::Aggregator::snapshot).
pub(super) fn take(
    store: &Store,
    rings: &Rings,
    idle_ttl: u64,
    now: i64,
    opts: &SnapshotOptions<'_>,
    out: &mut Snapshot,
) -> Result<(), Error> {
    check_quantiles(opts.quantiles)?;
    let params = rings.params();
    let delta = opts.delta && !rings.windowed();
    let span = rings.rate_span();
    let _cut = store.cut();
    maintain::evict_idle(store, idle_ttl, now);
    out.begin(opts.quantiles, now);
    let mut overflow_used = false;
    let mut overflow_changed = false;
    let mut overflow_acc = Slice::default();
    let mut acc = std::mem::take(&mut out.acc);
    store.for_each_shard(|sh| {
        for slot in 0..sh.slot_count() {
            if !sh.is_live(slot) || sh.changed_at(slot) < opts.since {
                continue;
            }
            acc.reset(0);
            let id = sh.id(slot);
            let row: &Slice = if delta {
                let ring = sh.ring_mut(slot);
                acc.merge_from(&ring[1], params);
                fold_delta(ring, params);
                &acc
            } else {
                rings.window_of(sh.ring(slot), now, &mut acc)
            };
            let key = sh.key(slot);
            let kind = if matches!(key, Key::U64(_)) {
                KeyKind::U64
            } else {
                KeyKind::Bytes
            };
            out.push_row(row, id, kind, key, params, span);
        }
        if sh.overflow.used {
            overflow_used = true;
            overflow_changed |= sh.overflow.changed_at >= opts.since;
            if delta {
                overflow_acc.merge_from(&sh.overflow.ring[1], params);
                fold_delta(&mut sh.overflow.ring, params);
            } else {
                rings.read_window(&sh.overflow.ring, now, &mut overflow_acc);
            }
        }
    });
    if overflow_used && overflow_changed {
        out.push_row(
            &overflow_acc,
            OVERFLOW_ID,
            KeyKind::Overflow,
            &Key::Free,
            params,
            span,
        );
    }
    out.acc = acc;
    out.next_since = store.next_generation();
    store.totals().snapshot();
    Ok(())
}

/// Cumulative rings are `[total, delta]`: fold the delta into the total and empty it.
fn fold_delta(ring: &mut [Slice], params: Option<&SketchParams>) {
    if let [total, delta] = ring {
        total.merge_from(delta, params);
        delta.reset(0);
    }
}
