//! The time layout every series' ring of slices shares, and reading it: which slices a read
//! at `now` merges, and which slice an import at `now` adds to.
//!
//! A windowed (sliding or tumbling) series keeps `len` slices of `slice_width` nanoseconds;
//! the slice of epoch `e` (`floor(ts / slice_width)`) sits at position `e mod len`, and a read
//! at `now` merges the `slices` epochs ending with the one of `now`. A cumulative series keeps
//! two slices, `[total, delta]`: samples go into the delta, which a delta read folds into the
//! total.

use super::config::{Config, Derived, Mode};
use super::sketch::SketchParams;
use super::slice::{Lifetime, Ring, RingMut, Sketched, SliceMut, SliceRef};

/// The shape of the rings of one aggregator's series.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rings {
    windowed: bool,
    slice_width: i64,
    slices: usize,
    len: usize,
    /// Seconds rates are taken over (0 for cumulative: the span of the samples).
    rate_span: f64,
    params: Option<SketchParams>,
}

impl Rings {
    /// The rings of a valid config (`derived` from its validation); `params` when series keep
    /// sketches.
    pub(super) fn new(cfg: &Config, derived: &Derived, params: Option<SketchParams>) -> Rings {
        let windowed = cfg.mode != Mode::Cumulative;
        Rings {
            windowed,
            slice_width: derived.slice_width,
            slices: derived.slices,
            len: derived.ring_len,
            rate_span: if windowed {
                cfg.width as f64 / 1e9
            } else {
                0.0
            },
            params,
        }
    }

    /// Sliding or tumbling (`false`: cumulative).
    #[inline(always)]
    pub(super) fn windowed(&self) -> bool {
        self.windowed
    }

    /// Nanoseconds per slice (`i64::MAX` for cumulative).
    #[inline(always)]
    pub(super) fn slice_width(&self) -> i64 {
        self.slice_width
    }

    /// Slices a read merges.
    #[inline(always)]
    pub(super) fn slices(&self) -> usize {
        self.slices
    }

    /// Slices each series holds.
    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The sketch parameters, when series keep sketches.
    #[inline(always)]
    pub(super) fn params(&self) -> Option<&SketchParams> {
        self.params.as_ref()
    }

    /// Seconds a rate divides a window's increase by; 0 for cumulative series, whose rate is
    /// taken over the span of their samples.
    pub(super) fn rate_span(&self) -> f64 {
        self.rate_span
    }

    /// The first and last epoch of the window at `now`.
    fn window_epochs(&self, now: i64) -> (i64, i64) {
        let now_epoch = now.div_euclid(self.slice_width);
        (now_epoch.saturating_sub(self.slices as i64 - 1), now_epoch)
    }

    /// The window of `ring` at `now`: the one slice inside it when only one holds samples (no
    /// copy), else the slices merged into `acc` (which must be empty).
    pub(super) fn window_of<'a>(
        &self,
        ring: Ring<'a>,
        now: i64,
        acc: &'a mut Sketched,
    ) -> SliceRef<'a> {
        if self.windowed {
            let (first, last) = self.window_epochs(now);
            let mut only: Option<usize> = None;
            let mut many = false;
            for (i, sl) in ring.moments().enumerate() {
                if sl.count > 0 && sl.epoch >= first && sl.epoch <= last {
                    many |= only.is_some();
                    only = Some(i);
                }
            }
            match (only.and_then(|i| ring.get(i)), many) {
                (None, _) => return acc.as_ref(),
                (Some(sl), false) => return sl,
                _ => {}
            }
        }
        self.read_window(ring, now, acc);
        acc.as_ref()
    }

    /// Merges the slices of `ring` inside the window at `now` into `acc` (in time order).
    pub(super) fn read_window(&self, ring: Ring<'_>, now: i64, acc: &mut Sketched) {
        let params = self.params();
        let mut acc = acc.as_mut();
        if !self.windowed {
            for sl in [ring.get(0), ring.get(1)].into_iter().flatten() {
                acc.merge_from(sl, params);
            }
            return;
        }
        let (first, last) = self.window_epochs(now);
        // Counted, not `while e <= last`, which would overflow at i64::MAX.
        for k in 0..=last.saturating_sub(first) {
            let e = first + k;
            let at = e.rem_euclid(ring.len() as i64) as usize;
            if let Some(sl) = ring.get(at).filter(|sl| sl.moments.epoch == e) {
                acc.merge_from(sl, params);
            }
        }
    }

    /// The slice of `ring` that holds `now`, emptied for it if it held an older epoch (whose
    /// count and sum go to `folded`, the series' lifetime totals); `None` when it was already
    /// reused for a later one. Cumulative series: the delta slice.
    pub(super) fn slice_at<'a>(
        &self,
        ring: RingMut<'a>,
        now: i64,
        folded: &mut Lifetime,
    ) -> Option<SliceMut<'a>> {
        if !self.windowed {
            return ring.into_slice(1);
        }
        let e = now.div_euclid(self.slice_width);
        let at = e.rem_euclid(ring.len() as i64) as usize;
        let mut sl = ring.into_slice(at)?;
        if sl.moments.epoch < e {
            sl.rotate(e, folded);
        }
        (sl.moments.epoch == e).then_some(sl)
    }
}
