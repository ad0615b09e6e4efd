//! One time slice of one series: mergeable moments and counter increase ([`Slice`]), and,
//! kept apart from it, the slice's sketch.
//!
//! What each configuration reads of a slice (ingest, rings, snapshot rows, export and import,
//! eviction; the C and Go snapshot views read snapshot columns only):
//!
//! | field | sliding, tumbling | cumulative | read by |
//! |---|---|---|---|
//! | `epoch` | yes | no (`[total, delta]` by position) | rotation, window membership |
//! | `count`, `sum` | yes | yes | every row, lifetime totals |
//! | `s1`, `s2`, `first` | yes | yes | mean, stddev; `first` also increase across merges |
//! | `min`, `max` | yes | yes | rows, quantile clamping, export |
//! | `first_ts` | yes | yes | out-of-order samples, merges; cumulative rates |
//! | `last`, `last_ts` | yes | yes | rows, counter increase; `last_ts` for idle eviction |
//! | `increase` | yes | yes | increase and rate columns |
//! | `changed_at` | yes | yes | `SnapshotOptions::since` |
//! | sketch | sketch on | sketch on | quantiles, buckets, export |
//!
//! Only the sketch depends on the configuration in a way worth a layout of its own: a
//! [`Slice`] holds no sketch, and storage ([`Slices`]) is either plain slices or slices each
//! followed by its sketch ([`Sketched`]), so an aggregator without sketches holds no sketch
//! bytes at all, and one with sketches keeps a slice and its sketch in adjacent cache lines
//! (ingest's one slice update, prefetched as one object). `epoch` stays in every mode:
//! cumulative rings are two slices a series (8 bytes of `epoch` each), and a slice type per
//! mode would make ingest, rings, snapshots and the codec generic over it (every path compiled
//! twice, or a branch per field access) for 16 bytes a series.

use super::bucket::Bucket;
use super::sketch::{Sketch, SketchParams};
use super::table::prefetch;

/// Marks a slice that holds no epoch.
pub(crate) const EMPTY_EPOCH: i64 = i64::MIN;

/// Statistics of the samples of one slice.
///
/// Mean and variance come from shifted sums: `s1 = Σ w·(x − first)` and
/// `s2 = Σ w·(x − first)²`, about the slice's `first` value (the sums move with it when an
/// earlier sample or a merge changes it). Recording needs no division, and because `first` is
/// one of the samples, `(mean − first)² <= n·σ²`, so `s2 − s1²/n` loses at most about `n·ε`
/// of relative accuracy to cancellation (not the `x²/σ²` of raw power sums).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slice {
    pub epoch: i64,
    pub count: u64,
    pub sum: f64,
    s1: f64,
    s2: f64,
    pub min: f64,
    pub max: f64,
    pub first: f64,
    pub first_ts: i64,
    pub last: f64,
    pub last_ts: i64,
    /// Counter increase between consecutive samples (in timestamp order), resets detected.
    pub increase: f64,
    /// Aggregator generation of the last sample recorded here (0: none since the slice was
    /// last emptied). A series' change time and newest sample time are kept in its slices,
    /// which ingest touches anyway, rather than in its `Meta`, which it then need not load.
    pub changed_at: u64,
}

/// The lifetime count and sum of a series' samples (client_golang's summary `_count` and
/// `_sum`): what its slices hold plus what they held before they were emptied for a later
/// time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Lifetime {
    pub count: u64,
    pub sum: f64,
}

impl Lifetime {
    /// Adds the count and sum of `sl`.
    #[inline]
    pub fn add(&mut self, sl: &Slice) {
        if sl.count > 0 {
            self.count = self.count.saturating_add(sl.count);
            self.sum += sl.sum;
        }
    }

    /// The lifetime of a ring whose emptied slices held `folded`.
    pub fn of_ring(folded: Lifetime, ring: Ring<'_>) -> Lifetime {
        ring.moments().fold(folded, |mut l, sl| {
            l.add(sl);
            l
        })
    }
}

/// Shifted sums `(Σ w·(x − from), Σ w·(x − from)²)` of total weight `n` moved to `to`:
/// `Σ(x − to) = Σ(x − from) + n·δ` and `Σ(x − to)² = Σ(x − from)² + 2δ·Σ(x − from) + n·δ²`
/// with `δ = from − to` (unchanged when `from == to`).
#[inline]
fn reshift(s1: f64, s2: f64, n: u64, from: f64, to: f64) -> (f64, f64) {
    if from == to {
        return (s1, s2);
    }
    let (n, delta) = (n as f64, from - to);
    (s1 + n * delta, s2 + delta * (2.0 * s1 + n * delta))
}

/// The increase of a counter from `prev` to `cur`: a drop means the counter restarted at zero.
#[inline]
pub(crate) fn counter_delta(prev: f64, cur: f64) -> f64 {
    if cur >= prev { cur - prev } else { cur }
}

impl Default for Slice {
    fn default() -> Slice {
        Slice {
            epoch: EMPTY_EPOCH,
            count: 0,
            sum: 0.0,
            s1: 0.0,
            s2: 0.0,
            min: f64::NAN,
            max: f64::NAN,
            first: f64::NAN,
            first_ts: 0,
            last: f64::NAN,
            last_ts: 0,
            increase: 0.0,
            changed_at: 0,
        }
    }
}

impl Slice {
    /// Empties the slice for `epoch`.
    #[inline]
    pub fn reset(&mut self, epoch: i64) {
        *self = Slice {
            epoch,
            ..Slice::default()
        };
    }

    /// Records `v` (finite) at `ts` with weight `w >= 1` into the moments (not the sketch).
    #[inline(always)]
    pub fn record_moments(&mut self, ts: i64, v: f64, w: u64) {
        let wf = w as f64;
        if self.count == 0 {
            self.count = w;
            self.sum = v * wf;
            self.s1 = 0.0;
            self.s2 = 0.0;
            self.min = v;
            self.max = v;
            self.first = v;
            self.first_ts = ts;
            self.last = v;
            self.last_ts = ts;
            self.increase = 0.0;
        } else {
            if ts < self.first_ts {
                // Rare (out of order): move the sums to the new first value.
                (self.s1, self.s2) = reshift(self.s1, self.s2, self.count, self.first, v);
                self.first = v;
                self.first_ts = ts;
            }
            self.count = self.count.saturating_add(w);
            self.sum += v * wf;
            let d = v - self.first;
            let wd = wf * d;
            self.s1 += wd;
            self.s2 += wd * d;
            // Both are numbers once count > 0 (v is finite): plain compares, no NaN handling.
            if v < self.min {
                self.min = v;
            }
            if v > self.max {
                self.max = v;
            }
            if ts >= self.last_ts {
                self.increase += counter_delta(self.last, v);
                self.last = v;
                self.last_ts = ts;
            }
        }
    }

    /// Adds the moments of `o` into `self`; `false` (nothing changed) when `o` is empty. `o`
    /// is taken as the later of the two when their time ranges touch; the counter increase
    /// across the boundary is included when one follows the other.
    fn merge_moments(&mut self, o: &Slice) -> bool {
        if o.count == 0 {
            return false;
        }
        self.changed_at = self.changed_at.max(o.changed_at);
        if self.count == 0 {
            let (epoch, changed_at) = (self.epoch, self.changed_at);
            *self = Slice {
                epoch,
                changed_at,
                ..*o
            };
            return true;
        }
        // Both sums about the merged first value.
        let first = if o.first_ts < self.first_ts {
            o.first
        } else {
            self.first
        };
        let (s1, s2) = reshift(self.s1, self.s2, self.count, self.first, first);
        let (o1, o2) = reshift(o.s1, o.s2, o.count, o.first, first);
        self.s1 = s1 + o1;
        self.s2 = s2 + o2;
        self.count = self.count.saturating_add(o.count);
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        if o.first_ts >= self.last_ts {
            self.increase += o.increase + counter_delta(self.last, o.first);
        } else if self.first_ts >= o.last_ts {
            self.increase += o.increase + counter_delta(o.last, self.first);
        } else {
            self.increase += o.increase;
        }
        if o.last_ts >= self.last_ts {
            self.last = o.last;
            self.last_ts = o.last_ts;
        }
        if o.first_ts < self.first_ts {
            self.first = o.first;
            self.first_ts = o.first_ts;
        }
        true
    }

    /// Population standard deviation (NaN when empty).
    pub fn stddev(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            (self.m2() / self.count as f64).sqrt()
        }
    }

    /// Mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let mean = self.first + self.s1 / self.count as f64;
        // Deviations past ±1.8e308 (values of opposite signs near f64::MAX) overflow the
        // shifted sums; the plain sum still gives the mean then.
        if mean.is_finite() {
            mean
        } else {
            self.sum / self.count as f64
        }
    }

    /// Sum of squared deviations from the mean, `Σ w·(x − mean)²` (0 when empty, +∞ when
    /// the squared deviations overflow).
    pub fn m2(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let m2 = self.s2 - self.s1 * (self.s1 / self.count as f64);
        if m2.is_nan() {
            f64::INFINITY
        } else {
            m2.max(0.0)
        }
    }

    /// Sets mean and `m2` (as [`mean`](Self::mean) and [`m2`](Self::m2) report them) for the
    /// slice's current count and first value, e.g. from serialized state.
    pub fn set_moments(&mut self, mean: f64, m2: f64) {
        (self.s1, self.s2) = reshift(0.0, m2, self.count, mean, self.first);
    }
}

/// A slice and its sketch (`None` when the aggregator keeps no sketches), to read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SliceRef<'a> {
    pub moments: &'a Slice,
    pub sketch: Option<&'a Sketch>,
}

/// A slice and its sketch (`None` when the aggregator keeps no sketches), to change.
#[derive(Debug)]
pub(crate) struct SliceMut<'a> {
    pub moments: &'a mut Slice,
    pub sketch: Option<&'a mut Sketch>,
}

impl SliceMut<'_> {
    /// The slice and its sketch to read.
    #[inline]
    pub fn as_ref(&self) -> SliceRef<'_> {
        SliceRef {
            moments: self.moments,
            sketch: self.sketch.as_deref(),
        }
    }

    /// Empties the slice of a series for `epoch`, adding what it held to `folded` (the
    /// series' lifetime totals); keeps the sketch's allocation for reuse.
    #[inline]
    pub fn rotate(&mut self, epoch: i64, folded: &mut Lifetime) {
        folded.add(self.moments);
        self.reset(epoch);
    }

    /// Empties the slice for `epoch`, keeping the sketch's allocation for reuse.
    #[inline]
    pub fn reset(&mut self, epoch: i64) {
        self.moments.reset(epoch);
        if let Some(s) = self.sketch.as_deref_mut() {
            s.clear();
        }
    }

    /// Records `v` (finite) at `ts` with weight `w >= 1`, and into the sketch (made on first
    /// use) at `v`'s bucket when one is given and the slice has a sketch.
    #[inline(always)]
    pub fn record_bucket(
        &mut self,
        ts: i64,
        v: f64,
        w: u64,
        sketch: Option<(&SketchParams, Bucket)>,
    ) {
        self.moments.record_moments(ts, v, w);
        if let (Some((p, b)), Some(s)) = (sketch, self.sketch.as_deref_mut()) {
            s.add_bucket(p, b, w);
        }
    }

    /// Adds `o` into `self` (see [`Slice::merge_moments`]); the sketches merge when `params`
    /// is given and both have one.
    pub fn merge_from(&mut self, o: SliceRef<'_>, params: Option<&SketchParams>) {
        let was_empty = self.moments.count == 0;
        if !self.moments.merge_moments(o.moments) {
            return;
        }
        let Some(s) = self.sketch.as_deref_mut() else {
            return;
        };
        if was_empty {
            s.clear();
        }
        if let (Some(p), Some(os)) = (params, o.sketch) {
            s.merge(p, os);
        }
    }
}

/// A slice with its sketch: how the slabs of an aggregator that keeps sketches store a slice
/// (side by side, so that recording a sample touches adjacent cache lines), and what reads
/// merge a window into.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sketched {
    pub moments: Slice,
    pub sketch: Sketch,
}

impl Sketched {
    /// The slice and its sketch to read.
    #[inline]
    pub fn as_ref(&self) -> SliceRef<'_> {
        SliceRef {
            moments: &self.moments,
            sketch: Some(&self.sketch),
        }
    }

    /// The slice and its sketch to change.
    #[inline]
    pub fn as_mut(&mut self) -> SliceMut<'_> {
        SliceMut {
            moments: &mut self.moments,
            sketch: Some(&mut self.sketch),
        }
    }
}

/// Slices in a row (the rings of a slab chunk's series, one after the other, or the overflow
/// series' ring): with their sketches when the aggregator keeps them, else moments only.
#[derive(Clone, Debug)]
pub(crate) enum Slices {
    Plain(Vec<Slice>),
    Sketched(Vec<Sketched>),
}

impl Slices {
    /// `n` empty slices, with sketches when `sketches`.
    pub fn new(n: usize, sketches: bool) -> Slices {
        if sketches {
            Slices::Sketched(vec![Sketched::default(); n])
        } else {
            Slices::Plain(vec![Slice::default(); n])
        }
    }

    /// Grows (or shrinks) to `n` slices, the new ones empty.
    pub fn resize(&mut self, n: usize) {
        match self {
            Slices::Plain(v) => v.resize(n, Slice::default()),
            Slices::Sketched(v) => v.resize_with(n, Sketched::default),
        }
    }

    /// Slices `r`.
    #[inline]
    pub fn ring(&self, r: std::ops::Range<usize>) -> Option<Ring<'_>> {
        Some(match self {
            Slices::Plain(v) => Ring::Plain(v.get(r)?),
            Slices::Sketched(v) => Ring::Sketched(v.get(r)?),
        })
    }

    /// Slices `r`, to change.
    #[inline]
    pub fn ring_mut(&mut self, r: std::ops::Range<usize>) -> Option<RingMut<'_>> {
        Some(match self {
            Slices::Plain(v) => RingMut::Plain(v.get_mut(r)?),
            Slices::Sketched(v) => RingMut::Sketched(v.get_mut(r)?),
        })
    }

    /// Every slice.
    #[inline]
    pub fn all(&self) -> Ring<'_> {
        match self {
            Slices::Plain(v) => Ring::Plain(v),
            Slices::Sketched(v) => Ring::Sketched(v),
        }
    }

    /// Every slice, to change.
    #[inline]
    pub fn all_mut(&mut self) -> RingMut<'_> {
        match self {
            Slices::Plain(v) => RingMut::Plain(v),
            Slices::Sketched(v) => RingMut::Sketched(v),
        }
    }

    /// Slice `i` and its sketch, to change.
    #[inline(always)]
    pub fn get_mut(&mut self, i: usize) -> Option<SliceMut<'_>> {
        match self {
            Slices::Plain(v) => Some(SliceMut {
                moments: v.get_mut(i)?,
                sketch: None,
            }),
            Slices::Sketched(v) => v.get_mut(i).map(Sketched::as_mut),
        }
    }

    /// The sketch of slice `i` (`None` without sketches).
    #[inline(always)]
    pub fn sketch(&self, i: usize) -> Option<&Sketch> {
        match self {
            Slices::Plain(_) => None,
            Slices::Sketched(v) => v.get(i).map(|c| &c.sketch),
        }
    }

    /// Starts loading slice `i` and its sketch (all that recording a sample writes, with the
    /// sketch's inline buckets).
    #[inline(always)]
    pub fn prefetch(&self, i: usize) {
        match self {
            Slices::Plain(v) => {
                if let Some(sl) = v.get(i) {
                    prefetch(sl);
                }
            }
            Slices::Sketched(v) => {
                if let Some(c) = v.get(i) {
                    prefetch(c);
                }
            }
        }
    }

    /// Empties slices `r` and frees their sketches' stores.
    pub fn free(&mut self, r: std::ops::Range<usize>) {
        match self {
            Slices::Plain(v) => {
                if let Some(v) = v.get_mut(r) {
                    v.fill(Slice::default());
                }
            }
            Slices::Sketched(v) => {
                for c in v.get_mut(r).into_iter().flatten() {
                    c.sketch.free();
                    c.moments = Slice::default();
                }
            }
        }
    }

    /// Number of slices.
    pub fn len(&self) -> usize {
        match self {
            Slices::Plain(v) => v.len(),
            Slices::Sketched(v) => v.len(),
        }
    }

    /// Heap bytes: the slices and their sketches' stores.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Slices::Plain(v) => v.capacity() * std::mem::size_of::<Slice>(),
            Slices::Sketched(v) => {
                v.capacity() * std::mem::size_of::<Sketched>()
                    + v.iter().map(|c| c.sketch.heap_bytes()).sum::<usize>()
            }
        }
    }
}

/// The ring of slices of one series, with their sketches when the aggregator keeps them.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ring<'a> {
    Plain(&'a [Slice]),
    Sketched(&'a [Sketched]),
}

impl<'a> Ring<'a> {
    /// An empty ring.
    pub const EMPTY: Ring<'static> = Ring::Plain(&[]);

    /// Number of slices.
    #[inline]
    pub fn len(self) -> usize {
        match self {
            Ring::Plain(s) => s.len(),
            Ring::Sketched(s) => s.len(),
        }
    }

    /// Slice `i` and its sketch.
    #[inline]
    pub fn get(self, i: usize) -> Option<SliceRef<'a>> {
        match self {
            Ring::Plain(s) => Some(SliceRef {
                moments: s.get(i)?,
                sketch: None,
            }),
            Ring::Sketched(s) => s.get(i).map(Sketched::as_ref),
        }
    }

    /// The slices' moments, in ring order.
    #[inline]
    pub fn moments(self) -> Moments<'a> {
        match self {
            Ring::Plain(s) => Moments::Plain(s.iter()),
            Ring::Sketched(s) => Moments::Sketched(s.iter()),
        }
    }
}

/// The moments of a ring's slices, in ring order (one iterator per layout, so that each step
/// is one branch on it, and a fold none).
#[derive(Clone, Debug)]
pub(crate) enum Moments<'a> {
    Plain(std::slice::Iter<'a, Slice>),
    Sketched(std::slice::Iter<'a, Sketched>),
}

impl<'a> Iterator for Moments<'a> {
    type Item = &'a Slice;

    #[inline]
    fn next(&mut self) -> Option<&'a Slice> {
        match self {
            Moments::Plain(i) => i.next(),
            Moments::Sketched(i) => i.next().map(|c| &c.moments),
        }
    }

    #[inline]
    fn fold<B, F: FnMut(B, &'a Slice) -> B>(self, init: B, mut f: F) -> B {
        match self {
            Moments::Plain(i) => i.fold(init, f),
            Moments::Sketched(i) => i.fold(init, |b, c| f(b, &c.moments)),
        }
    }
}

/// A ring of slices to change (see [`Ring`]).
#[derive(Debug)]
pub(crate) enum RingMut<'a> {
    Plain(&'a mut [Slice]),
    Sketched(&'a mut [Sketched]),
}

impl<'a> RingMut<'a> {
    /// Number of slices.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            RingMut::Plain(s) => s.len(),
            RingMut::Sketched(s) => s.len(),
        }
    }

    /// Slice `i` and its sketch.
    #[inline]
    pub fn into_slice(self, i: usize) -> Option<SliceMut<'a>> {
        match self {
            RingMut::Plain(s) => Some(SliceMut {
                moments: s.get_mut(i)?,
                sketch: None,
            }),
            RingMut::Sketched(s) => s.get_mut(i).map(Sketched::as_mut),
        }
    }

    /// The two slices of a cumulative ring, `[total, delta]` (`None` for another length).
    pub fn pair(self) -> Option<(SliceMut<'a>, SliceMut<'a>)> {
        match self {
            RingMut::Plain([total, delta]) => Some((
                SliceMut {
                    moments: total,
                    sketch: None,
                },
                SliceMut {
                    moments: delta,
                    sketch: None,
                },
            )),
            RingMut::Sketched([total, delta]) => Some((total.as_mut(), delta.as_mut())),
            _ => None,
        }
    }
}
