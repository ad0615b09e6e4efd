//! The time checks of one ingest, derived once from `now`: which samples are late or in the
//! future, and where in its ring each of the others records.

use super::accounting::DropReason;
use super::config::Config;
use super::rings::Rings;

/// The time checks of one ingest at one `now`.
pub(super) struct Clock {
    pub(super) windowed: bool,
    slice_width: i64,
    ring_len: i64,
    late_before: i64,
    future_after: i64,
    oldest_epoch: i64,
    now_epoch: i64,
    /// The slice of `now` is `[now_lo, now_hi)` (clamped to the `i64` range).
    now_lo: i64,
    now_hi: i64,
    now_pos: u32,
    /// Timestamps in `[fast_lo, fast_hi]` are neither late nor future, and of a windowed
    /// series fall into the slice of `now` (empty when `fast_lo > fast_hi`).
    pub(super) fast_lo: i64,
    pub(super) fast_hi: i64,
}

impl Clock {
    /// The checks of an ingest at `now` into series of `rings`, with the lateness and future
    /// limits of `cfg`.
    pub(super) fn new(cfg: &Config, rings: &Rings, now: i64) -> Clock {
        let late_before =
            now.saturating_sub(i64::try_from(cfg.allowed_lateness).unwrap_or(i64::MAX));
        let future_after = now.saturating_add(i64::try_from(cfg.max_future).unwrap_or(i64::MAX));
        let windowed = rings.windowed();
        let sw = rings.slice_width();
        let ring_len = rings.len() as i64;
        let now_epoch = now.div_euclid(sw);
        let now_lo = now_epoch.saturating_mul(sw);
        let now_hi = now_lo.saturating_add(sw);
        let (fast_lo, fast_hi) = if windowed {
            (now_lo.max(late_before), (now_hi - 1).min(future_after))
        } else {
            (late_before, future_after)
        };
        Clock {
            windowed,
            slice_width: sw,
            ring_len,
            late_before,
            future_after,
            oldest_epoch: now_epoch.saturating_sub(rings.slices() as i64 - 1),
            now_epoch,
            now_lo,
            now_hi,
            now_pos: now_epoch.rem_euclid(ring_len) as u32,
            fast_lo,
            fast_hi,
        }
    }

    /// The epoch of `ts` and its ring position (cumulative series record into `ring[1]`; `ring[0]`
    /// is their delta base).
    #[inline(always)]
    pub(super) fn epoch_pos(&self, ts: i64) -> (i64, u32) {
        if !self.windowed {
            (0, 1)
        } else if ts >= self.now_lo && ts < self.now_hi {
            (self.now_epoch, self.now_pos)
        } else {
            self.epoch_pos_outside(ts)
        }
    }

    #[cold]
    #[inline(never)]
    fn epoch_pos_outside(&self, ts: i64) -> (i64, u32) {
        let epoch = ts.div_euclid(self.slice_width);
        (epoch, epoch.rem_euclid(self.ring_len) as u32)
    }

    /// Why a sample outside the fast range is dropped, if it is.
    #[cold]
    #[inline(never)]
    pub(super) fn check(&self, ts: i64, v: f64, w: u32) -> Result<(), DropReason> {
        if !v.is_finite() || w == 0 {
            Err(DropReason::Invalid)
        } else if ts > self.future_after {
            Err(DropReason::Future)
        } else if ts < self.late_before
            || (self.windowed && ts.div_euclid(self.slice_width) < self.oldest_epoch)
        {
            Err(DropReason::Late)
        } else {
            Ok(())
        }
    }
}
