//! Per-batch working state of ingest: the checked sample records, the per-shard steps, and
//! the per-aggregator pool of scratch buffers they live in.

use super::sketch::Bucket;
use parking_lot::Mutex;

/// A sample that passed the checks (indexed by its position in the batch).
#[derive(Clone, Copy, Default)]
pub(super) struct Rec {
    pub(super) hash: u64,
    /// The `u64` key or id, or for byte keys the sample's index in the batch
    /// (`KeyColumn::word`).
    pub(super) key: u64,
    pub(super) ts: i64,
    pub(super) v: f64,
}

/// A sample of a shard's run with its series found: its slice and bucket.
#[derive(Clone, Copy)]
pub(super) struct Step {
    /// Index of the series' slice in the shard's slices (`usize::MAX` when the sample does
    /// not go to a series of the shard).
    pub(super) at: usize,
    pub(super) epoch: i64,
    pub(super) bucket: Bucket,
    /// The sample's index in the batch.
    pub(super) i: u32,
    /// The series' slot, or why the sample has none (see `ingest::TO_OVERFLOW`).
    pub(super) slot: u32,
}

impl Default for Step {
    /// A step that records nothing (its sample index is out of any batch's range).
    fn default() -> Step {
        Step {
            at: usize::MAX,
            epoch: 0,
            bucket: Bucket::None,
            i: u32::MAX,
            slot: u32::MAX,
        }
    }
}

/// Reusable buffers for partitioning a batch by shard: `route[i]` is sample `i`'s shard (or
/// the shard count for a dropped sample), `recs[i]` its record, and `order` the sample
/// indices grouped by shard (a counting sort of `route`).
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) route: Vec<u16>,
    pub(super) recs: Vec<Rec>,
    pub(super) order: Vec<u32>,
    /// The steps of the shard run being applied.
    pub(super) steps: Vec<Step>,
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
