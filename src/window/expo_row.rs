//! What the exposition formats read of a snapshot row: its series' cumulative count and sum,
//! gauge value and native histogram.

use super::config::Config;
use super::native::NativeRow;
use super::snapshot::Snapshot;

/// The cumulative count and sum of a row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Totals {
    pub count: u64,
    pub sum: f64,
}

/// What the format writers read a row from.
pub(crate) struct RowSource<'a> {
    pub cfg: &'a Config,
    pub snap: &'a Snapshot,
    /// Sliding or tumbling (the window's buckets are a gauge histogram).
    pub windowed: bool,
}

impl RowSource<'_> {
    /// `_count` and `_sum` of row `i`.
    pub(crate) fn totals(&self, i: usize) -> Totals {
        Totals {
            count: self.snap.counts()[i],
            sum: self.snap.sums()[i],
        }
    }

    /// The gauge value of row `i`: its newest value, `None` without samples in the window.
    pub(crate) fn gauge(&self, i: usize) -> Option<f64> {
        (self.snap.counts()[i] != 0).then(|| self.snap.lasts()[i])
    }

    /// The native histogram of row `i`.
    pub(crate) fn native(&self, i: usize) -> NativeRow<'_> {
        self.snap.native_row(i)
    }
}
