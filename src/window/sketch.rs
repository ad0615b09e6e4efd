//! A DDSketch-style quantile sketch: logarithm-like buckets with relative accuracy α.
//!
//! A positive value `v = 2^e·(1+s)` (`s` in `[0, 1)`) goes into bucket
//! `i = floor(m·(e + P(s)))`, where `P(s) = ((6/35·s − 3/5)·s + 10/7)·s` is a cubic that
//! interpolates `log2(1+s)` (DDSketch's cubically interpolated mapping). `P` is increasing
//! with `P(0) = 0`, `P(1) = 1`, and `d(e + P(s))/d ln v = (1+s)·P'(s) >= 10/7`, so with
//! `m = 7 / (10·ln γ)`, `γ = (1+α)/(1−α)`, every bucket `[L_i, L_{i+1})` spans a ratio
//! `L_{i+1}/L_i <= γ`. Its representative `2·L_i·L_{i+1}/(L_i + L_{i+1})` is therefore within
//! a factor `1±α` of every value in it. The index costs a few multiply-adds on the float's
//! bits instead of a `ln` (about 1% more buckets than exact logarithms); `m` is computed for an
//! α smaller by a factor `1 − 1e-6`, which covers floating-point rounding, so the bound holds
//! strictly. Negative values use a mirrored store, values with magnitude below
//! `f64::MIN_POSITIVE·γ` count as zero. The rank-`floor(q·(n-1))` value is therefore returned
//! with relative error at most α. Sketches with the same parameters merge exactly by adding
//! bucket counts.
//!
//! Each sign keeps at most `max_buckets` contiguous buckets. When a value would need more, the
//! buckets of the *smallest* magnitudes collapse into the lowest kept one: high quantiles keep
//! their guarantee, and only values in the collapsed range lose it.

use super::Error;

// The interpolating cubic P(s) = ((A·s + B)·s + C)·s of sketches-go/sketches-java.
const A: f64 = 6.0 / 35.0;
const B: f64 = -3.0 / 5.0;
const C: f64 = 10.0 / 7.0;
const MANTISSA: u64 = (1 << 52) - 1;
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;

/// Parameters shared by all sketches of one aggregator (they are not stored per sketch).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SketchParams {
    alpha: f64,
    /// Buckets per unit of `e + P(s)` (see the module docs).
    multiplier: f64,
    min_indexable: f64,
    max_buckets: usize,
}

/// `e + P(s)` for a positive normal `v = 2^e·(1+s)`: a monotone approximation of `log2 v`.
#[inline(always)]
fn approx_log2(v: f64) -> f64 {
    let bits = v.to_bits();
    let e = ((bits >> 52) as i32 - 1023) as f64;
    let s = f64::from_bits((bits & MANTISSA) | ONE_BITS) - 1.0;
    ((A * s + B) * s + C) * s + e
}

/// `2^e` for `e` in `[-1100, 1100]` (two exact steps, so subnormal and huge results work).
fn pow2(e: i32) -> f64 {
    let half = e / 2;
    let f = |k: i32| f64::from_bits(((k + 1023) as u64) << 52);
    f(half) * f(e - half)
}

/// The inverse of `approx_log2` as `(e, 1+s)`: `e = floor(x)` and `s` with `P(s) = x − e`.
fn approx_exp2(x: f64) -> (i32, f64) {
    let e = x.floor();
    let y = x - e;
    // Newton on the increasing cubic, from s = y·ln 2 ≈ log2⁻¹ (P'(s) >= 10/7·1/2 > 0 on [0, 1]).
    let mut s = (y * std::f64::consts::LN_2).clamp(0.0, 1.0);
    for _ in 0..6 {
        let p = ((A * s + B) * s + C) * s - y;
        let dp = (3.0 * A * s + 2.0 * B) * s + C;
        s = (s - p / dp).clamp(0.0, 1.0);
    }
    (e as i32, 1.0 + s)
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
        let gamma = (1.0 + alpha) / (1.0 - alpha);
        // Buckets for a slightly smaller α, so that rounding cannot push an error past α.
        let a = alpha * (1.0 - 1e-6);
        let ln_gamma = ((1.0 + a) / (1.0 - a)).ln();
        Ok(SketchParams {
            alpha,
            multiplier: 7.0 / (10.0 * ln_gamma),
            min_indexable: f64::MIN_POSITIVE * gamma,
            max_buckets: max_buckets as usize,
        })
    }

    /// The relative accuracy α.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The bucket cap per sign.
    pub fn max_buckets(&self) -> u32 {
        self.max_buckets as u32
    }

    /// Bucket index of a positive value `v >= min_indexable` (finite).
    #[inline(always)]
    fn index(&self, v: f64) -> i32 {
        // |e + P(s)| <= 1024 and m <= 3500 for α >= 1e-4: the product fits an i32 easily.
        // floor without a libm call (baseline x86-64 has no SSE4.1 round instruction).
        let x = approx_log2(v) * self.multiplier;
        // Adding 1.5·2^52 rounds |x| < 2^51 to the nearest integer, which lands in the low
        // bits of the sum; `r`, the rounded value, is exact, so `r > x` says it rounded up.
        const ROUND: f64 = 6_755_399_441_055_744.0;
        let big = x + ROUND;
        let r = big - ROUND;
        (big.to_bits() as i32).wrapping_sub(i32::from(r > x))
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
        if v > self.min_indexable {
            Bucket::Pos(self.index(v))
        } else if v < -self.min_indexable {
            Bucket::Neg(self.index(-v))
        } else {
            Bucket::Zero
        }
    }

    /// The representative value of bucket `i`, `2·L·U/(L+U)` for its bounds `[L, U)`, computed
    /// on mantissas so that the top bucket does not overflow (clamped to `f64::MAX`).
    #[inline]
    fn value(&self, i: i32) -> f64 {
        let (el, ml) = approx_exp2(f64::from(i) / self.multiplier);
        let (eu, mu) = approx_exp2(f64::from(i + 1) / self.multiplier);
        let r = mu / ml * pow2(eu - el);
        let v = ml * (2.0 * r / (1.0 + r)) * pow2(el);
        v.min(f64::MAX)
    }
}

/// Where a value goes in a sketch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Bucket {
    /// Nowhere (NaN or infinite).
    #[default]
    None,
    /// The zero counter (magnitude below `f64::MIN_POSITIVE·γ`).
    Zero,
    /// Positive bucket index.
    Pos(i32),
    /// Negative value, bucket index of its magnitude.
    Neg(i32),
}

/// Contiguous bucket counts: `counts[j]` counts index `offset + j` (`counts[0]` also holds
/// collapsed lower indices). Empty `counts` means an empty store.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Store {
    pub(crate) offset: i32,
    pub(crate) counts: Vec<u64>,
}

impl Store {
    fn clear(&mut self) {
        self.counts.clear();
    }

    fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    #[inline(always)]
    pub(crate) fn add(&mut self, idx: i32, w: u64, max: usize) {
        // Indices are within ±2^23, so the difference cannot overflow; below `offset` it
        // wraps to a huge `rel` and, like an empty store, takes the out-of-line path.
        let rel = idx.wrapping_sub(self.offset) as u32 as usize;
        if let Some(c) = self.counts.get_mut(rel) {
            *c = c.saturating_add(w);
        } else {
            self.add_outside(idx, w, max);
        }
    }

    /// `add` for an index outside the stored range (or into an empty store).
    #[cold]
    #[inline(never)]
    fn add_outside(&mut self, idx: i32, w: u64, max: usize) {
        if self.counts.is_empty() {
            self.offset = idx;
            self.counts.push(w);
        } else if idx > self.offset {
            self.grow_high(idx, w, max);
        } else {
            self.grow_low(idx, w, max);
        }
    }

    fn grow_high(&mut self, idx: i32, w: u64, max: usize) {
        let new_len = (i64::from(idx) - i64::from(self.offset) + 1) as usize;
        if new_len <= max {
            self.counts.resize(new_len, 0);
        } else {
            // Keep [idx - max + 1, idx]; everything below collapses into the new lowest bucket.
            let new_low = idx - (max as i32 - 1);
            let shift = (i64::from(new_low) - i64::from(self.offset)) as usize;
            if shift >= self.counts.len() {
                let all = self.total();
                self.counts.clear();
                self.counts.resize(max, 0);
                self.counts[0] = all;
            } else {
                let collapsed = self.counts[..=shift]
                    .iter()
                    .fold(0u64, |a, &c| a.saturating_add(c));
                self.counts.drain(..shift);
                self.counts[0] = collapsed;
                self.counts.resize(max, 0);
            }
            self.offset = new_low;
        }
        let last = self.counts.len() - 1;
        self.counts[last] = self.counts[last].saturating_add(w);
    }

    fn grow_low(&mut self, idx: i32, w: u64, max: usize) {
        let len = self.counts.len();
        let high = i64::from(self.offset) + len as i64 - 1;
        let want_low = (high - max as i64 + 1).max(i64::from(idx)) as i32;
        let pad = (i64::from(self.offset) - i64::from(want_low)).max(0) as usize;
        if pad > 0 {
            self.counts.splice(0..0, std::iter::repeat_n(0, pad));
            self.offset = want_low;
        }
        // idx is either the new lowest bucket or below the kept range: both land in counts[0].
        self.counts[0] = self.counts[0].saturating_add(w);
    }

    fn merge(&mut self, other: &Store, max: usize) {
        if other.counts.is_empty() {
            return;
        }
        let hi = other.offset + (other.counts.len() as i32 - 1);
        // Make room once for the whole range, then add bucket by bucket.
        self.add(hi, 0, max);
        self.add(other.offset, 0, max);
        for (j, &c) in other.counts.iter().enumerate() {
            if c != 0 {
                self.add(other.offset + j as i32, c, max);
            }
        }
    }
}

/// A mergeable DDSketch-style quantile sketch with relative accuracy α.
///
/// A positive value goes into a bucket `[L_i, L_{i+1})` of ratio at most `γ = (1+α)/(1-α)`,
/// indexed from the float's bits, no `ln`: `v = 2^e·(1+s)` goes into bucket
/// `floor(m·(e + P(s)))` with `P(s) = ((6/35·s − 3/5)·s + 10/7)·s` and
/// `m = 7/(10·ln γ')`, `γ'` the γ of `α·(1 − 1e-6)`; the bucket's representative is within a factor `1±α` of every value
/// in it, so the rank-`floor(q·(n-1))` value comes back with relative error at most α.
/// Negative values use a mirrored store; values
/// of magnitude below `f64::MIN_POSITIVE·γ` count as zero. Sketches with the same parameters
/// merge exactly. Each sign keeps at most `max_buckets` contiguous buckets; past that the
/// smallest magnitudes collapse into the lowest kept bucket (high quantiles keep the bound).
///
/// ```
/// use offheap::window::{Sketch, SketchParams};
/// let p = SketchParams::new(0.01, 2048).unwrap();
/// let mut s = Sketch::new();
/// for v in 1..=1000 {
///     s.add(&p, f64::from(v), 1);
/// }
/// let median = s.quantile(&p, 0.5).unwrap();
/// assert!((median - 500.0).abs() <= 0.01 * 500.0);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sketch {
    pub(crate) zero: u64,
    pub(crate) pos: Store,
    pub(crate) neg: Store,
}

impl Sketch {
    /// An empty sketch (allocates nothing until the first value).
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
        // Positive values (latencies, sizes) are the common case: the others out of line.
        if let Bucket::Pos(i) = b {
            self.pos.add(i, w, p.max_buckets);
        } else {
            self.add_bucket_other(p, b, w);
        }
    }

    #[inline(never)]
    fn add_bucket_other(&mut self, p: &SketchParams, b: Bucket, w: u64) {
        match b {
            Bucket::Pos(i) => self.pos.add(i, w, p.max_buckets),
            Bucket::Neg(i) => self.neg.add(i, w, p.max_buckets),
            Bucket::Zero => self.zero = self.zero.saturating_add(w),
            Bucket::None => {}
        }
    }

    /// Starts loading bucket `b`'s counter (a hint; no effect on results).
    #[inline(always)]
    pub(crate) fn prefetch(&self, b: Bucket) {
        let (store, i) = match b {
            Bucket::Pos(i) => (&self.pos, i),
            Bucket::Neg(i) => (&self.neg, i),
            Bucket::Zero | Bucket::None => return,
        };
        let rel = i.wrapping_sub(store.offset) as u32 as usize;
        if let Some(c) = store.counts.get(rel) {
            super::table::prefetch(c);
        }
    }

    /// Total weight added.
    pub fn count(&self) -> u64 {
        self.zero
            .saturating_add(self.pos.total())
            .saturating_add(self.neg.total())
    }

    /// Empties the sketch but keeps its allocation.
    pub fn clear(&mut self) {
        self.zero = 0;
        self.pos.clear();
        self.neg.clear();
    }

    /// Adds every value of `other` (made with the same parameters).
    pub fn merge(&mut self, p: &SketchParams, other: &Sketch) {
        self.zero = self.zero.saturating_add(other.zero);
        self.pos.merge(&other.pos, p.max_buckets);
        self.neg.merge(&other.neg, p.max_buckets);
    }

    /// Bytes of heap this sketch holds.
    pub fn heap_bytes(&self) -> usize {
        (self.pos.counts.capacity() + self.neg.counts.capacity()) * 8
    }

    /// Estimates of several quantiles (at most 16, each in `[0, 1]`) in one walk over the
    /// buckets, given the sketch's total count `n` (so it is not recounted). `out[j]` gets the
    /// estimate for `qs[j]`; NaN for an empty sketch or a quantile out of range.
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
        let mut take = |seen: u64, value: &dyn Fn() -> f64, next: &mut usize| {
            let mut v = None;
            while *next < m && seen > order[*next].0 {
                let x = *v.get_or_insert_with(value);
                out[order[*next].1] = x;
                *next += 1;
            }
        };
        for (j, &c) in self.neg.counts.iter().enumerate().rev() {
            if c != 0 {
                seen = seen.saturating_add(c);
                take(seen, &|| -p.value(self.neg.offset + j as i32), &mut next);
            }
        }
        if self.zero != 0 {
            seen = seen.saturating_add(self.zero);
            take(seen, &|| 0.0, &mut next);
        }
        for (j, &c) in self.pos.counts.iter().enumerate() {
            if c != 0 {
                seen = seen.saturating_add(c);
                take(seen, &|| p.value(self.pos.offset + j as i32), &mut next);
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
        for (j, &c) in self.neg.counts.iter().enumerate().rev() {
            seen = seen.saturating_add(c);
            if seen > rank {
                return Some(-p.value(self.neg.offset + j as i32));
            }
        }
        seen = seen.saturating_add(self.zero);
        if seen > rank {
            return Some(0.0);
        }
        for (j, &c) in self.pos.counts.iter().enumerate() {
            seen = seen.saturating_add(c);
            if seen > rank {
                return Some(p.value(self.pos.offset + j as i32));
            }
        }
        // Only reachable if counts saturated; the top bucket is the best answer.
        match self.pos.counts.len() {
            0 => Some(0.0),
            len => Some(p.value(self.pos.offset + len as i32 - 1)),
        }
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
                    if v > p.min_indexable && v.is_finite() {
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
                if v > p.min_indexable {
                    check(v);
                }
            }
        }
    }

    #[test]
    fn indices_increase_with_values() {
        let p = SketchParams::new(0.01, 2048).unwrap();
        let mut v = p.min_indexable;
        let mut prev = p.index(v);
        while v < 1e300 {
            let i = p.index(v);
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
        assert!(s.pos.counts.len() <= 16);
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
