//! Per-batch working state of ingest: the prepared sample records, the per-thread scratch
//! they live in, and the reasons a sample is dropped before reaching a series.

use super::Accounting;
use super::sketch::Bucket;
use std::cell::RefCell;

/// A sample that passed the checks, ready for its shard.
#[derive(Clone, Copy, Default)]
pub(super) struct Prepared {
    pub(super) hash: u64,
    /// The `u64` key or id, or for byte keys the sample's index in the batch.
    pub(super) key: u64,
    pub(super) ts: i64,
    pub(super) v: f64,
    pub(super) epoch: i64,
    /// Ring position of `epoch`.
    pub(super) pos: u32,
    pub(super) w: u32,
    /// The series' slot when looked up ahead, else `NO_SLOT`.
    pub(super) slot: u32,
    /// The sketch bucket of `v` (when the aggregator keeps sketches).
    pub(super) bucket: Bucket,
}

/// `Prepared::slot` before (or without) a lookahead hit.
pub(super) const NO_SLOT: u32 = u32::MAX;

/// Per-thread reusable buffers for partitioning a batch by shard.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) route: Vec<u32>,
    pub(super) prepared: Vec<Prepared>,
    pub(super) sorted: Vec<Prepared>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The route of a sample dropped in pass 1.
pub(super) const DROPPED: u32 = u32::MAX;

/// Why a sample was dropped before reaching a series.
#[derive(Clone, Copy)]
pub(super) enum Drop {
    Invalid,
    Future,
    Late,
    BadKey,
    Stale,
}

impl Drop {
    pub(super) fn count(self, acc: &mut Accounting) {
        match self {
            Drop::Invalid => acc.invalid += 1,
            Drop::Future => acc.future += 1,
            Drop::Late => acc.late += 1,
            Drop::BadKey => acc.bad_key += 1,
            Drop::Stale => acc.stale += 1,
        }
    }
}

/// Takes this thread's scratch out (so a nested use would get a fresh one).
#[inline(always)]
pub(super) fn take_scratch() -> Scratch {
    SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

/// Puts the scratch back, keeping at most ~1M entries of capacity per thread between batches.
#[inline(always)]
pub(super) fn put_scratch(sc: Scratch) {
    if sc.route.capacity() <= 1 << 20 {
        SCRATCH.with(|s| *s.borrow_mut() = sc);
    }
}
