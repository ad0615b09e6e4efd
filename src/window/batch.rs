//! Per-batch working state of ingest: the prepared sample records, the per-thread scratch
//! they live in, and the reasons a sample is dropped before reaching a series.

use super::Accounting;
use super::sketch::Bucket;
use parking_lot::Mutex;

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

/// Reusable buffers for partitioning a batch by shard.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) route: Vec<u32>,
    pub(super) prepared: Vec<Prepared>,
    pub(super) sorted: Vec<Prepared>,
}

/// An aggregator's pool of scratch buffers: an ingest takes one and returns it. They belong to
/// the aggregator (freed with it), not to the OS threads that happen to run ingests: Go runs cgo
/// calls on many threads, and per-thread buffers outlived every aggregator.
#[derive(Default)]
pub(super) struct ScratchPool(Mutex<Vec<Scratch>>);

/// Scratch buffers kept per aggregator: enough for this many concurrent ingests.
const POOLED: usize = 16;

impl ScratchPool {
    /// Takes a scratch (a fresh one if none is pooled).
    #[inline(always)]
    pub(super) fn take(&self) -> Scratch {
        self.0.lock().pop().unwrap_or_default()
    }

    /// Returns a scratch, keeping at most ~1M entries of capacity and `POOLED` scratches.
    #[inline(always)]
    pub(super) fn put(&self, sc: Scratch) {
        if sc.route.capacity() <= 1 << 20 {
            let mut pool = self.0.lock();
            if pool.len() < POOLED {
                pool.push(sc);
            }
        }
    }
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
