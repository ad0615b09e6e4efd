//! One time slice of one series: mergeable moments, counter increase and an optional sketch.

use super::sketch::{Bucket, Sketch, SketchParams};

/// Marks a slice that holds no epoch.
pub(crate) const EMPTY_EPOCH: i64 = i64::MIN;

/// Statistics of the samples of one slice. Mean and `m2` (sum of squared deviations) are kept
/// with West's weighted update and merged with Chan's parallel formula, so stddev is mergeable.
#[derive(Clone, Debug)]
pub(crate) struct Slice {
    pub epoch: i64,
    pub count: u64,
    pub sum: f64,
    pub mean: f64,
    pub m2: f64,
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
            mean: 0.0,
            m2: 0.0,
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

    /// Records `v` (finite) at `ts` with weight `w >= 1`, and into the sketch (made on first
    /// use) at `v`'s bucket when one is given.
    #[inline(always)]
    pub fn record(&mut self, ts: i64, v: f64, w: u64, sketch: Option<(&SketchParams, Bucket)>) {
        let wf = w as f64;
        if self.count == 0 {
            self.count = w;
            self.sum = v * wf;
            self.mean = v;
            self.m2 = 0.0;
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
            let delta = v - self.mean;
            self.mean += delta * (wf / self.count as f64);
            self.m2 += wf * delta * (v - self.mean);
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
            self.mean = o.mean;
            self.m2 = o.m2;
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
            let (na, nb) = (self.count as f64, o.count as f64);
            let n = na + nb;
            let delta = o.mean - self.mean;
            self.mean += delta * (nb / n);
            self.m2 += o.m2 + delta * delta * (na * nb / n);
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
            (self.m2.max(0.0) / self.count as f64).sqrt()
        }
    }

    /// Mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { self.mean }
    }
}
