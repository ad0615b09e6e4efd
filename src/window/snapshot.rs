//! Snapshots: a consistent cut of every series' window, in reusable columns.

use super::maintain;
use super::rings::Rings;
use super::shard::KeyRef;
use super::sketch::SketchParams;
use super::slice::{Lifetime, RingMut, Sketched, SliceRef};
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
    /// Also copy each row's sketch buckets (zero count, negative and positive buckets as
    /// `(index, count)`: see [`Snapshot::positive_buckets`]), the input of native histograms.
    pub buckets: bool,
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
    pub(crate) total_counts: Vec<u64>,
    pub(crate) total_sums: Vec<f64>,
    pub(crate) zero_counts: Vec<u64>,
    pub(crate) bucket_indexes: Vec<i32>,
    pub(crate) bucket_counts: Vec<u64>,
    pub(crate) neg_bucket_ends: Vec<u32>,
    pub(crate) bucket_ends: Vec<u32>,
    /// The sketches' schema (`None` without sketches).
    pub(crate) schema: Option<i32>,
    /// `quantile="<q>"} ` for each quantile, rendered once per snapshot for exposition.
    qlabels: Vec<u8>,
    qlabel_ends: Vec<usize>,
    pub(crate) now: i64,
    pub(crate) next_since: u64,
    acc: Sketched,
}

/// A column of a snapshot's rows, emptied for the next snapshot with its capacity kept.
trait Column {
    fn clear(&mut self);
}

impl<T> Column for Vec<T> {
    fn clear(&mut self) {
        Vec::clear(self);
    }
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
        /// Lifetime sample counts (sum of weights) of each series: everything it was ever
        /// given, monotonic across window rotations (client_golang's summary `_count`).
        total_counts: u64,
        /// Lifetime sums of values times weights (a summary's `_sum`).
        total_sums: f64,
        /// Zero-bucket counts of each row's sketch (with [`SnapshotOptions::buckets`]; empty
        /// otherwise).
        zero_counts: u64,
        /// Bucket indexes of every row, concatenated: row `i`'s negative buckets are
        /// `row_start..neg_bucket_ends[i]`, its positive ones `neg_bucket_ends[i]..bucket_ends[i]`
        /// (`row_start` is `bucket_ends[i-1]`, 0 for the first row), each in ascending index
        /// order (with [`SnapshotOptions::buckets`]).
        bucket_indexes: i32,
        /// The counts of [`bucket_indexes`](Self::bucket_indexes).
        bucket_counts: u64,
        /// End of each row's negative buckets in [`bucket_indexes`](Self::bucket_indexes).
        neg_bucket_ends: u32,
        /// End of each row's buckets in [`bucket_indexes`](Self::bucket_indexes).
        bucket_ends: u32,
    }

    /// The schema of the sketches' buckets, `None` when the aggregator keeps no sketches:
    /// bucket `i` holds magnitudes in `(base^(i-1), base^i]`, `base = 2^(2^-schema)`.
    pub fn schema(&self) -> Option<i32> {
        self.schema
    }

    /// Row `i`'s negative buckets (`(index, count)` of magnitudes, ascending; empty without
    /// [`SnapshotOptions::buckets`]).
    pub fn negative_buckets(&self, i: usize) -> (&[i32], &[u64]) {
        let (a, b) = self.bucket_range(i, false);
        (&self.bucket_indexes[a..b], &self.bucket_counts[a..b])
    }

    /// Row `i`'s positive buckets (`(index, count)`, ascending).
    pub fn positive_buckets(&self, i: usize) -> (&[i32], &[u64]) {
        let (a, b) = self.bucket_range(i, true);
        (&self.bucket_indexes[a..b], &self.bucket_counts[a..b])
    }

    fn bucket_range(&self, i: usize, positive: bool) -> (usize, usize) {
        let (Some(&neg_end), Some(&end)) = (self.neg_bucket_ends.get(i), self.bucket_ends.get(i))
        else {
            return (0, 0);
        };
        let start = if i == 0 { 0 } else { self.bucket_ends[i - 1] };
        let (a, b) = if positive {
            (neg_end, end)
        } else {
            (start, neg_end)
        };
        (a as usize, b as usize)
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
        self.ids.capacity() * 8 * 13
            + self.kinds.capacity()
            + self.zero_counts.capacity() * 8
            + self.bucket_indexes.capacity() * 4
            + self.bucket_counts.capacity() * 8
            + (self.neg_bucket_ends.capacity() + self.bucket_ends.capacity()) * 4
            + self.key_bytes.capacity()
            + self.key_ends.capacity() * 4
            + self.qvalues.iter().map(|v| v.capacity() * 8).sum::<usize>()
    }

    fn begin(&mut self, quantiles: &[f64], now: i64, schema: Option<i32>) {
        self.schema = schema;
        self.quantiles.clear();
        self.quantiles.extend_from_slice(quantiles);
        self.qlabels.clear();
        self.qlabel_ends.clear();
        for q in quantiles {
            use std::io::Write;
            let _ = write!(self.qlabels, "quantile=\"{q}\"}} ");
            self.qlabel_ends.push(self.qlabels.len());
        }
        let rows: [&mut dyn Column; 21] = [
            &mut self.ids,
            &mut self.kinds,
            &mut self.raw_keys,
            &mut self.key_bytes,
            &mut self.key_ends,
            &mut self.counts,
            &mut self.sums,
            &mut self.mins,
            &mut self.maxs,
            &mut self.lasts,
            &mut self.means,
            &mut self.stddevs,
            &mut self.increases,
            &mut self.rates,
            &mut self.total_counts,
            &mut self.total_sums,
            &mut self.zero_counts,
            &mut self.bucket_indexes,
            &mut self.bucket_counts,
            &mut self.neg_bucket_ends,
            &mut self.bucket_ends,
        ];
        for column in rows {
            column.clear();
        }
        self.qvalues.resize_with(quantiles.len(), Vec::new);
        for q in &mut self.qvalues {
            q.clear();
        }
        self.now = now;
    }

    /// Appends the row of the merged window `a` of a series whose lifetime totals are `life`
    /// (and its buckets when `buckets`).
    #[allow(clippy::too_many_arguments)]
    fn push_row(
        &mut self,
        row: SliceRef<'_>,
        life: Lifetime,
        id: u64,
        kind: KeyKind,
        key: Option<KeyRef<'_>>,
        params: Option<&SketchParams>,
        span_secs: f64,
        buckets: bool,
    ) {
        let a = row.moments;
        // The sketch of the row when the aggregator keeps sketches (`params`).
        let sketch = params.and(row.sketch);
        self.total_counts.push(life.count);
        self.total_sums.push(life.sum);
        if buckets {
            let end = |v: &Vec<i32>| u32::try_from(v.len()).unwrap_or(u32::MAX);
            self.zero_counts.push(sketch.map_or(0, |s| s.zero_count()));
            for (i, c) in sketch.into_iter().flat_map(|s| s.negative_buckets()) {
                self.bucket_indexes.push(i);
                self.bucket_counts.push(c);
            }
            self.neg_bucket_ends.push(end(&self.bucket_indexes));
            for (i, c) in sketch.into_iter().flat_map(|s| s.positive_buckets()) {
                self.bucket_indexes.push(i);
                self.bucket_counts.push(c);
            }
            self.bucket_ends.push(end(&self.bucket_indexes));
        }
        self.ids.push(id);
        self.kinds.push(kind as u8);
        match key {
            Some(KeyRef::U64(k)) => self.raw_keys.push(k),
            _ => self.raw_keys.push(0),
        }
        if let Some(KeyRef::Bytes(b)) = key {
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
        if let (Some(p), Some(s), false) = (params, sketch, empty) {
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
    out.begin(opts.quantiles, now, params.map(SketchParams::schema));
    let buckets = opts.buckets && params.is_some();
    let mut overflow_life = Lifetime::default();
    let mut overflow_used = false;
    let mut overflow_changed = false;
    let mut overflow_acc = Sketched::default();
    let mut acc = std::mem::take(&mut out.acc);
    store.for_each_shard(|sh| {
        for slot in 0..sh.slot_count() {
            if !sh.is_live(slot) || sh.changed_at(slot) < opts.since {
                continue;
            }
            acc.as_mut().reset(0);
            let id = sh.id(slot);
            let row = if delta {
                fold_delta(sh.ring_mut(slot), &mut acc, params);
                acc.as_ref()
            } else {
                rings.window_of(sh.ring(slot), now, &mut acc)
            };
            let key = sh.key(slot);
            let kind = if matches!(key, Some(KeyRef::U64(_))) {
                KeyKind::U64
            } else {
                KeyKind::Bytes
            };
            let life = sh.lifetime(slot);
            out.push_row(row, life, id, kind, key, params, span, buckets);
        }
        if sh.overflow.used {
            let life = sh.overflow.lifetime();
            overflow_life.count = overflow_life.count.saturating_add(life.count);
            overflow_life.sum += life.sum;
            overflow_used = true;
            overflow_changed |= sh.overflow.changed_at >= opts.since;
            if delta {
                fold_delta(sh.overflow.ring_mut().0, &mut overflow_acc, params);
            } else {
                rings.read_window(sh.overflow.ring(), now, &mut overflow_acc);
            }
        }
    });
    if overflow_used && overflow_changed {
        out.push_row(
            overflow_acc.as_ref(),
            overflow_life,
            OVERFLOW_ID,
            KeyKind::Overflow,
            None,
            params,
            span,
            buckets,
        );
    }
    out.acc = acc;
    out.next_since = store.next_generation();
    store.totals().snapshot();
    Ok(())
}

/// Cumulative rings are `[total, delta]`: add the delta to `acc`, fold it into the total and
/// empty it.
fn fold_delta(ring: RingMut<'_>, acc: &mut Sketched, params: Option<&SketchParams>) {
    if let Some((mut total, mut delta)) = ring.pair() {
        acc.as_mut().merge_from(delta.as_ref(), params);
        total.merge_from(delta.as_ref(), params);
        delta.reset(0);
    }
}
