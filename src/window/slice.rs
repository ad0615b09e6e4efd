//! One time slice of one series: mergeable moments, counter increase and an optional sketch.

use super::sketch::{Bucket, Sketch, SketchParams};

/// Marks a slice that holds no epoch.
pub(crate) const EMPTY_EPOCH: i64 = i64::MIN;

/// Statistics of the samples of one slice.
///
/// Mean and variance come from shifted sums: `s1 = Σ w·(x − shift)` and
/// `s2 = Σ w·(x − shift)²`, with `shift` the first value recorded into the slice. Recording
/// needs no division, and because `shift` is one of the samples, `(mean − shift)² <= n·σ²`, so
/// `s2 − s1²/n` loses at most about `n·ε` of relative accuracy to cancellation (not the
/// `x²/σ²` of raw power sums). Merging moves the other slice's sums to this slice's shift.
#[derive(Clone, Debug)]
pub(crate) struct Slice {
    pub epoch: i64,
    pub count: u64,
    pub sum: f64,
    shift: f64,
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
    pub sketch: Option<Box<Sketch>>,
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
            shift: 0.0,
            s1: 0.0,
            s2: 0.0,
            min: f64::NAN,
            max: f64::NAN,
            first: f64::NAN,
            first_ts: 0,
            last: f64::NAN,
            last_ts: 0,
            increase: 0.0,
            sketch: None,
        }
    }
}

impl Slice {
    /// Empties the slice for `epoch`, keeping the sketch's allocation for reuse.
    #[inline]
    pub fn reset(&mut self, epoch: i64) {
        let sketch = self.sketch.take();
        *self = Slice {
            epoch,
            sketch,
            ..Slice::default()
        };
        if let Some(s) = self.sketch.as_deref_mut() {
            s.clear();
        }
    }

    /// Empties the slice and frees its sketch.
    pub fn free(&mut self) {
        *self = Slice::default();
    }

    /// Records `v` (finite) at `ts` with weight `w >= 1` into the moments (not the sketch).
    #[inline(always)]
    pub fn record_moments(&mut self, ts: i64, v: f64, w: u64) {
        let wf = w as f64;
        if self.count == 0 {
            self.count = w;
            self.sum = v * wf;
            self.shift = v;
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
            self.count = self.count.saturating_add(w);
            self.sum += v * wf;
            let d = v - self.shift;
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
            if ts < self.first_ts {
                self.first = v;
                self.first_ts = ts;
            }
        }
    }

    /// Records `v` (finite) at `ts` with weight `w >= 1`, and into the sketch (made on first
    /// use) at `v`'s bucket when one is given.
    #[inline(always)]
    pub fn record_bucket(
        &mut self,
        ts: i64,
        v: f64,
        w: u64,
        sketch: Option<(&SketchParams, Bucket)>,
    ) {
        self.record_moments(ts, v, w);
        if let Some((p, b)) = sketch {
            self.sketch
                .get_or_insert_with(Box::default)
                .add_bucket(p, b, w);
        }
    }

    /// Adds `o` into `self`. `o` is taken as the later of the two when their time ranges
    /// touch; the counter increase across the boundary is included when one follows the other.
    pub fn merge_from(&mut self, o: &Slice, params: Option<&SketchParams>) {
        if o.count == 0 {
            return;
        }
        if self.count == 0 {
            self.count = o.count;
            self.sum = o.sum;
            self.shift = o.shift;
            self.s1 = o.s1;
            self.s2 = o.s2;
            self.min = o.min;
            self.max = o.max;
            self.first = o.first;
            self.first_ts = o.first_ts;
            self.last = o.last;
            self.last_ts = o.last_ts;
            self.increase = o.increase;
            if let Some(s) = self.sketch.as_deref_mut() {
                s.clear();
            }
        } else {
            // o's sums about this slice's shift: Σ(x − a) = Σ(x − b) + n·(b − a), and
            // Σ(x − a)² = Σ(x − b)² + 2(b − a)·Σ(x − b) + n·(b − a)².
            let nb = o.count as f64;
            let delta = o.shift - self.shift;
            self.s1 += o.s1 + nb * delta;
            self.s2 += o.s2 + delta * (2.0 * o.s1 + nb * delta);
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
        }
        if let (Some(p), Some(os)) = (params, o.sketch.as_deref()) {
            let s = self.sketch.get_or_insert_with(Box::default);
            s.merge(p, os);
        }
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
        let mean = self.shift + self.s1 / self.count as f64;
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
    /// slice's current count, e.g. from serialized state.
    pub fn set_moments(&mut self, mean: f64, m2: f64) {
        self.shift = mean;
        self.s1 = 0.0;
        self.s2 = m2;
    }
}
