//! A mergeable quantile sketch with relative accuracy α, whose buckets are those of
//! Prometheus native histograms and OpenTelemetry exponential histograms.
//!
//! A magnitude goes into bucket `i` of the exponential schema `s` (`(base^(i-1), base^i]`,
//! `base = 2^(2^-s)`; see `mapping.rs` for the α → schema table and the index computation)
//! chosen as the smallest whose relative error `(base-1)/(base+1)` is at most α. A bucket's
//! representative `2·L·U/(L+U)` is then within a factor `1 ± α` of every value in it, so the
//! rank-`floor(q·(n-1))` value comes back with relative error at most α. Negative values count
//! in mirrored buckets of their magnitude; magnitudes up to [`ZERO_THRESHOLD`] count in the
//! zero bucket. Sketches with the same parameters merge exactly by adding bucket counts, and
//! so do the native histograms and OTLP exponential histograms made from them.
//!
//! Each sign keeps at most `max_buckets` contiguous buckets. When a value would need more, the
//! buckets of the *smallest* magnitudes collapse into the lowest kept one: high quantiles keep
//! their guarantee, and only values in the collapsed range lose it. (Prometheus' own rule,
//! halving the resolution of the whole histogram, would give up the α bound of every quantile
//! of that series, and sketches of different series or slices would then merge only after
//! reducing both to the coarser schema; the cap of 2048 buckets spans a ratio of 2^32 at
//! schema 6, which latencies and sizes rarely exceed.)
//!
//! The counts live in a store that grows with what it holds (`buckets.rs`): a few pairs inline
//! in the sketch, then a dense range of narrow counters.

use super::Error;
use super::bucket::Bucket;
pub use super::buckets::BucketIter;
use super::buckets::Buckets;
pub use super::mapping::{MAX_SCHEMA, ZERO_THRESHOLD};
use super::mapping::{Mapping, schema_for};

/// Parameters shared by all sketches of one aggregator (they are not stored per sketch).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SketchParams {
    alpha: f64,
    mapping: Mapping,
    max_buckets: usize,
}

impl SketchParams {
    /// Parameters for relative accuracy `alpha` in `[0.0001, 0.5]` and at most `max_buckets`
    /// (in `[16, 65536]`) buckets per sign.
    pub fn new(alpha: f64, max_buckets: u32) -> Result<SketchParams, Error> {
        if !(0.0001..=0.5).contains(&alpha) {
            return Err(Error::InvalidAlpha);
        }
        if !(16..=65536).contains(&max_buckets) {
            return Err(Error::InvalidBuckets);
        }
        Ok(SketchParams {
            alpha,
            mapping: Mapping::new(schema_for(alpha)),
            max_buckets: max_buckets as usize,
        })
    }

    /// The relative accuracy α asked for.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The bucket cap per sign.
    pub fn max_buckets(&self) -> u32 {
        self.max_buckets as u32
    }

    /// The exponential schema of the buckets (Prometheus' `schema`, OTLP's `scale`): bucket
    /// `i` covers magnitudes `(base^(i-1), base^i]`, `base = 2^(2^-schema)`.
    pub fn schema(&self) -> i32 {
        i32::from(self.mapping.schema())
    }

    /// Magnitudes at or below this count in the zero bucket (Prometheus' `zero_threshold`).
    pub fn zero_threshold(&self) -> f64 {
        ZERO_THRESHOLD
    }

    /// The upper bound `base^i` of bucket `i` (its lower bound is that of bucket `i - 1`).
    pub fn bucket_upper_bound(&self, i: i32) -> f64 {
        self.mapping.upper_bound(i)
    }

    /// The bucket index of magnitude `v`: `None` for the zero bucket (`v` at or below the
    /// zero threshold), NaN and infinities.
    pub fn bucket_index(&self, v: f64) -> Option<i32> {
        match self.bucket(v.abs()) {
            Bucket::Pos(i) => Some(i),
            _ => None,
        }
    }

    /// The bucket of `v`.
    #[inline(always)]
    pub(crate) fn bucket(&self, v: f64) -> Bucket {
        if v.is_finite() {
            self.bucket_finite(v)
        } else {
            Bucket::None
        }
    }

    /// The bucket of a finite `v`.
    #[inline(always)]
    pub(crate) fn bucket_finite(&self, v: f64) -> Bucket {
        if v > ZERO_THRESHOLD {
            Bucket::Pos(self.mapping.index(v))
        } else if v < -ZERO_THRESHOLD {
            Bucket::Neg(self.mapping.index(-v))
        } else {
            Bucket::Zero
        }
    }

    /// The representative value of bucket `i`, `2·L·U/(L+U)` for its bounds `(L, U]`.
    #[inline]
    fn value(&self, i: i32) -> f64 {
        self.mapping.value(i)
    }
}

/// A mergeable quantile sketch with relative accuracy α over the buckets of an exponential
/// schema (see the [window docs](super#sketch-buckets)).
///
/// ```
/// use offheap::window::{Sketch, SketchParams};
/// let p = SketchParams::new(0.01, 2048).unwrap();
/// assert_eq!(p.schema(), 6);
/// let mut s = Sketch::new();
/// for v in 1..=1000 {
///     s.add(&p, f64::from(v), 1);
/// }
/// let median = s.quantile(&p, 0.5).unwrap();
/// assert!((median - 500.0).abs() <= 0.01 * 500.0);
/// // Buckets as a native histogram reads them: (index, count), ascending.
/// let (first, count) = s.positive_buckets().next().unwrap();
/// assert_eq!((first, count), (0, 1)); // 1.0 is the upper bound of bucket 0
/// assert_eq!(s.positive_buckets().map(|(_, c)| c).sum::<u64>(), 1000);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sketch {
    pub(crate) buckets: Buckets,
}

impl Sketch {
    /// An empty sketch (allocates nothing until it holds more than a few buckets).
    pub fn new() -> Sketch {
        Sketch::default()
    }

    /// Adds `v` with weight `w`. Non-finite values are ignored (callers count them as invalid).
    #[inline(always)]
    pub fn add(&mut self, p: &SketchParams, v: f64, w: u64) {
        self.add_bucket(p, p.bucket(v), w);
    }

    /// Adds weight `w` to a bucket from [`SketchParams::bucket`] (of the same parameters).
    #[inline(always)]
    pub(crate) fn add_bucket(&mut self, p: &SketchParams, b: Bucket, w: u64) {
        self.buckets.add(b, w, p.max_buckets);
    }

    /// Starts loading bucket `b`'s counter (a hint; no effect on results).
    #[inline(always)]
    pub(crate) fn prefetch(&self, b: Bucket) {
        if let Some(at) = self.buckets.counter_addr(b) {
            super::table::prefetch_addr(at);
        }
    }

    /// Starts loading the header of a dense store (a hint; inline buckets need none).
    #[inline(always)]
    pub(crate) fn prefetch_store(&self) {
        if let Some(at) = self.buckets.store_addr() {
            super::table::prefetch_addr(at);
        }
    }

    /// Total weight added.
    pub fn count(&self) -> u64 {
        self.buckets.total()
    }

    /// The count of the zero bucket.
    pub fn zero_count(&self) -> u64 {
        self.buckets.zero()
    }

    /// The non-empty positive buckets as `(index, count)` in ascending index order: the input
    /// of a native histogram's positive spans and deltas, or of OTLP's positive buckets (whose
    /// index is this index minus one: see the [window docs](super#sketch-buckets)).
    pub fn positive_buckets(&self) -> BucketIter<'_> {
        self.buckets.positive()
    }

    /// The non-empty negative buckets as `(index, count)` in ascending index order, where a
    /// negative value's bucket is the bucket of its magnitude.
    pub fn negative_buckets(&self) -> BucketIter<'_> {
        self.buckets.negative()
    }

    /// Empties the sketch; a dense store keeps its allocation.
    pub fn clear(&mut self) {
        self.buckets.clear();
    }

    /// Empties the sketch and frees its heap memory.
    pub(crate) fn free(&mut self) {
        self.buckets.free();
    }

    /// Adds every value of `other` (made with the same parameters).
    pub fn merge(&mut self, p: &SketchParams, other: &Sketch) {
        self.buckets.merge(&other.buckets, p.max_buckets);
    }

    /// Bytes of heap this sketch holds (0 while its buckets are inline).
    pub fn heap_bytes(&self) -> usize {
        self.buckets.heap_bytes()
    }

    /// Whether the sketch keeps its buckets inline (no heap memory of its own).
    pub fn is_inline(&self) -> bool {
        self.buckets.is_inline()
    }

    /// Every non-empty bucket in ascending value order, with its representative value.
    fn walk<'a>(&'a self, p: &'a SketchParams) -> impl Iterator<Item = (u64, f64)> + 'a {
        let neg = self.negative_buckets().rev().map(|(i, c)| (c, -p.value(i)));
        let zero = Some(self.zero_count())
            .filter(|&c| c != 0)
            .map(|c| (c, 0.0));
        let pos = self.positive_buckets().map(|(i, c)| (c, p.value(i)));
        neg.chain(zero).chain(pos)
    }

    /// Estimates of several quantiles (at most 16, each in `[0, 1]`) in one walk over the
    /// buckets, given the sketch's total count `n` (so it is not recounted). `out[j]` gets the
    /// estimate for `qs[j]`; NaN for an empty sketch or a quantile out of range.
    #[inline]
    pub fn quantiles_into(&self, p: &SketchParams, qs: &[f64], n: u64, out: &mut [f64]) {
        let k = qs.len().min(out.len()).min(16);
        out[..k].fill(f64::NAN);
        if n == 0 {
            return;
        }
        // Requested ranks in ascending order (insertion sort of at most 16 entries).
        let mut order = [(0u64, 0usize); 16];
        let mut m = 0;
        for (j, &q) in qs[..k].iter().enumerate() {
            if (0.0..=1.0).contains(&q) {
                let r = (q * (n - 1) as f64).floor() as u64;
                let mut at = m;
                while at > 0 && order[at - 1].0 > r {
                    order[at] = order[at - 1];
                    at -= 1;
                }
                order[at] = (r, j);
                m += 1;
            }
        }
        let mut next = 0;
        let mut seen = 0u64;
        for (c, v) in self.walk(p) {
            seen = seen.saturating_add(c);
            while next < m && seen > order[next].0 {
                out[order[next].1] = v;
                next += 1;
            }
            if next >= m {
                break;
            }
        }
    }

    /// The estimate of the rank-`floor(q·(n-1))` value, or `None` if the sketch is empty or
    /// `q` is not in `[0, 1]`.
    pub fn quantile(&self, p: &SketchParams, q: f64) -> Option<f64> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = (q * (n - 1) as f64).floor() as u64;
        let mut seen = 0u64;
        let mut last = 0.0;
        for (c, v) in self.walk(p) {
            seen = seen.saturating_add(c);
            last = v;
            if seen > rank {
                return Some(v);
            }
        }
        // Only reachable if counts saturated; the top bucket is the best answer.
        Some(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel_err(est: f64, exact: f64) -> f64 {
        if exact == 0.0 {
            est.abs()
        } else {
            ((est - exact) / exact).abs()
        }
    }

    #[test]
    fn every_value_is_within_alpha_of_its_bucket_value() {
        let p = SketchParams::new(0.01, 2048).unwrap();
        let mut v = 1e-300;
        while v < 1e300 {
            let mut s = Sketch::new();
            s.add(&p, v, 1);
            let est = s.quantile(&p, 0.5).unwrap();
            assert!(rel_err(est, v) <= 0.01 * (1.0 + 1e-9), "{v} -> {est}");
            s.clear();
            s.add(&p, -v, 1);
            assert!(rel_err(s.quantile(&p, 0.5).unwrap(), -v) <= 0.01 * (1.0 + 1e-9));
            v *= 1.37;
        }
    }

    #[test]
    fn bucket_values_are_strictly_within_alpha() {
        // No slack: the multiplier's margin covers rounding. Values around powers of two (where
        // the exponent steps) and a pseudo-random spread over the whole normal range.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for alpha in [0.0001, 0.001, 0.01, 0.05, 0.5] {
            let p = SketchParams::new(alpha, 65536).unwrap();
            let check = |v: f64| {
                let mut s = Sketch::new();
                s.add(&p, v, 1);
                let est = s.quantile(&p, 0.5).unwrap();
                assert!(rel_err(est, v) <= alpha, "alpha={alpha} {v} -> {est}");
            };
            for e in -1021..1024 {
                let b = 2f64.powi(e);
                for v in [b, b * (1.0 + f64::EPSILON), b * (1.0 - f64::EPSILON / 2.0)] {
                    if v > ZERO_THRESHOLD && v.is_finite() {
                        check(v);
                    }
                }
            }
            check(f64::MAX);
            for _ in 0..20_000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = f64::from_bits((x >> 12) | (((x >> 52) % 2045 + 1) << 52));
                if v > ZERO_THRESHOLD {
                    check(v);
                }
            }
        }
    }

    #[test]
    fn indices_increase_with_values() {
        let p = SketchParams::new(0.01, 2048).unwrap();
        let mut v = ZERO_THRESHOLD.next_up();
        let mut prev = p.mapping.index(v);
        while v < 1e300 {
            let i = p.mapping.index(v);
            assert!(i >= prev && i <= prev + 1, "{v}: {prev} -> {i}");
            prev = i;
            v *= 1.003;
        }
    }

    #[test]
    fn one_walk_equals_one_walk_per_quantile() {
        let p = SketchParams::new(0.01, 2048).unwrap();
        let mut s = Sketch::new();
        for i in 0..5000 {
            s.add(&p, (i as f64 - 1000.0) * 0.37, 1 + i % 3);
        }
        s.add(&p, 0.0, 5);
        let qs = [0.99, 0.0, 0.5, 0.1, 1.0, 0.5, 2.0];
        let mut out = [0.0; 7];
        s.quantiles_into(&p, &qs, s.count(), &mut out);
        for (j, &q) in qs.iter().enumerate() {
            match s.quantile(&p, q) {
                Some(v) => assert_eq!(out[j], v, "q={q}"),
                None => assert!(out[j].is_nan()),
            }
        }
    }

    #[test]
    fn merge_equals_single_stream() {
        let p = SketchParams::new(0.02, 64).unwrap();
        let (mut a, mut b, mut both) = (Sketch::new(), Sketch::new(), Sketch::new());
        for i in 0..1000 {
            let v = (i as f64 - 300.0) * 1.7;
            if i % 3 == 0 {
                a.add(&p, v, 2)
            } else {
                b.add(&p, v, 2)
            }
            both.add(&p, v, 2);
        }
        a.merge(&p, &b);
        assert_eq!(a.count(), both.count());
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(a.quantile(&p, q), both.quantile(&p, q));
        }
    }

    #[test]
    fn collapse_keeps_top_and_count() {
        let p = SketchParams::new(0.01, 16).unwrap();
        let mut s = Sketch::new();
        let mut v = 1.0;
        for _ in 0..1000 {
            s.add(&p, v, 1);
            v *= 1.05;
        }
        for _ in 0..10 {
            s.add(&p, 1e-5, 1);
        }
        assert_eq!(s.count(), 1010);
        let (lo, hi) = (
            s.positive_buckets().next().unwrap().0,
            s.positive_buckets().next_back().unwrap().0,
        );
        assert!(hi - lo < 16, "{lo}..{hi}");
        let top = s.quantile(&p, 1.0).unwrap();
        assert!(rel_err(top, v / 1.05) <= 0.01 * (1.0 + 1e-9));
    }

    #[test]
    fn empty_and_out_of_range() {
        let p = SketchParams::new(0.01, 16).unwrap();
        let mut s = Sketch::new();
        assert_eq!(s.quantile(&p, 0.5), None);
        s.add(&p, f64::NAN, 1);
        s.add(&p, f64::INFINITY, 1);
        assert_eq!(s.count(), 0);
        s.add(&p, 0.0, 3);
        assert_eq!(s.quantile(&p, 0.5), Some(0.0));
        assert_eq!(s.quantile(&p, 1.5), None);
        assert_eq!(s.quantile(&p, f64::NAN), None);
    }
}
