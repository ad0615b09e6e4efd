//! What the exposition formats read of a snapshot row: its series' lifetime count and sum, its
//! window, gauge value and native histogram.

use super::config::Config;
use super::mapping::ZERO_THRESHOLD;
use super::snapshot::Snapshot;

/// A count and a sum.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Totals {
    pub count: u64,
    pub sum: f64,
}

/// The native histogram of a row: the sketch's buckets in ascending index order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NativeRow<'a> {
    pub schema: i32,
    pub zero_threshold: f64,
    pub zero_count: u64,
    pub neg_index: &'a [i32],
    pub neg_count: &'a [u64],
    pub pos_index: &'a [i32],
    pub pos_count: &'a [u64],
}

/// What the format writers read a row from.
pub(crate) struct RowSource<'a> {
    pub cfg: &'a Config,
    pub snap: &'a Snapshot,
    /// Sliding or tumbling (the window's buckets are a gauge histogram).
    pub windowed: bool,
}

impl RowSource<'_> {
    /// The lifetime count and sum of row `i`'s series: monotonic across window rotations, as
    /// client_golang's summary `_count` and `_sum` and a counter's total are.
    pub(crate) fn totals(&self, i: usize) -> Totals {
        Totals {
            count: self.snap.total_counts()[i],
            sum: self.snap.total_sums()[i],
        }
    }

    /// The count and sum of row `i`'s window (what its buckets hold).
    pub(crate) fn window(&self, i: usize) -> Totals {
        Totals {
            count: self.snap.counts()[i],
            sum: self.snap.sums()[i],
        }
    }

    /// The gauge value of row `i`: its newest value, `None` without samples in the window.
    pub(crate) fn gauge(&self, i: usize) -> Option<f64> {
        (self.snap.counts()[i] != 0).then(|| self.snap.lasts()[i])
    }

    /// The native histogram of row `i`'s window, `None` when the snapshot holds no buckets
    /// (taken without `SnapshotOptions::buckets`, or an aggregator without sketches).
    pub(crate) fn native(&self, i: usize) -> Option<NativeRow<'_>> {
        let schema = self.snap.schema()?;
        let zero_count = *self.snap.zero_counts().get(i)?;
        let (neg_index, neg_count) = self.snap.negative_buckets(i);
        let (pos_index, pos_count) = self.snap.positive_buckets(i);
        Some(NativeRow {
            schema,
            zero_threshold: ZERO_THRESHOLD,
            zero_count,
            neg_index,
            neg_count,
            pos_index,
            pos_count,
        })
    }
}
