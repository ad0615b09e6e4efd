//! The series of one aggregator: its lock shards, the cut that orders batches against
//! snapshots, the change generation, the series cap and the running totals.
//!
//! Every part of the aggregator (ingest, snapshots, export and import, deletion and
//! eviction) reaches the series through this interface only, so how series are stored can
//! change behind it.

use super::accounting::{Stats, Totals};
use super::hash::shard_of;
use super::shard::{KeyRef, Shard};
use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// How key hashes map to the shards of a store: a copy, so that a batch's loops keep it in
/// registers.
#[derive(Clone, Copy)]
pub(super) struct ShardMap {
    mask: u64,
    count: usize,
}

impl ShardMap {
    /// The shard of a key whose hash is `hash`.
    #[inline(always)]
    pub(super) fn of(self, hash: u64) -> usize {
        shard_of(hash, self.mask)
    }

    /// Number of shards.
    #[inline(always)]
    pub(super) fn count(self) -> usize {
        self.count
    }
}

/// A shard's lock and state on cache lines of their own (128 bytes: a line and the neighbour
/// the adjacent-line prefetcher pulls with it), so that a batch working on one shard does not
/// take a line from a batch working on the next.
#[repr(align(128))]
struct Padded(Mutex<Shard>);

/// A counter on a cache line of its own.
#[repr(align(128))]
struct PaddedCounter(AtomicUsize);

/// The series state behind an aggregator.
pub(super) struct Store {
    shards: Box<[Padded]>,
    /// Counts the batches that have walked the shards, to start each at a different one.
    turn: PaddedCounter,
    shard_mask: u64,
    /// Calls that change series hold it shared; calls that read every series at once hold it
    /// exclusively, so they see whole batches.
    cut: RwLock<()>,
    /// Bumped by every snapshot: series record the generation of their last change, and
    /// `SnapshotOptions::since` selects by it.
    generation: AtomicU64,
    /// Live series, against `max_series`.
    live: AtomicU64,
    max_series: u64,
    totals: Totals,
}

impl Store {
    /// `shards` empty shards (a power of two) whose series keep `ring_len` slices (with a
    /// sketch each when `sketches`), holding at most `max_series` series in all.
    pub(super) fn new(shards: u32, ring_len: usize, sketches: bool, max_series: u64) -> Store {
        Store {
            shards: (0..shards)
                .map(|i| Padded(Mutex::new(Shard::new(i, ring_len, sketches))))
                .collect(),
            turn: PaddedCounter(AtomicUsize::new(0)),
            shard_mask: u64::from(shards.max(1) - 1),
            cut: RwLock::new(()),
            generation: AtomicU64::new(1),
            live: AtomicU64::new(0),
            max_series,
            totals: Totals::default(),
        }
    }

    /// Number of shards.
    #[inline(always)]
    pub(super) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// How hashes map to shards, to copy into the loops of a batch.
    #[inline(always)]
    pub(super) fn shard_map(&self) -> ShardMap {
        ShardMap {
            mask: self.shard_mask,
            count: self.shards.len(),
        }
    }

    /// The shard of a key whose hash is `hash`.
    #[inline(always)]
    pub(super) fn shard_for(&self, hash: u64) -> usize {
        self.shard_map().of(hash)
    }

    /// Locks shard `i`: one from [`Store::shard_for`], or below [`Store::shard_count`].
    #[inline(always)]
    pub(super) fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i].0.lock()
    }

    /// Locks shard `i` if no other call holds it.
    #[inline(always)]
    pub(super) fn try_lock(&self, i: usize) -> Option<MutexGuard<'_, Shard>> {
        self.shards[i].0.try_lock()
    }

    /// Locks shard `i` if there is one (`i` from a caller's id).
    pub(super) fn lock_checked(&self, i: usize) -> Option<MutexGuard<'_, Shard>> {
        self.shards.get(i).map(|sh| sh.0.lock())
    }

    /// The shard a batch starts its walk over the shards at: consecutive batches start about
    /// half the shards apart, so two batches at once work on different shards rather than
    /// one waiting on each shard the other holds.
    #[inline]
    pub(super) fn first_shard(&self) -> usize {
        let n = self.shards.len();
        let turn = self.turn.0.fetch_add(1, Relaxed);
        turn.wrapping_mul(n / 2 + 1) & (n - 1)
    }

    /// Calls `f` on each shard in turn, under its lock.
    pub(super) fn for_each_shard(&self, mut f: impl FnMut(&mut Shard)) {
        for sh in self.shards.iter() {
            f(&mut sh.0.lock());
        }
    }

    /// The cut held shared: by calls that change some series (ingest, import, delete).
    #[inline]
    pub(super) fn change(&self) -> RwLockReadGuard<'_, ()> {
        self.cut.read()
    }

    /// The cut held exclusively: by calls that read or remove series across shards
    /// (snapshot, export, clear, eviction).
    pub(super) fn cut(&self) -> RwLockWriteGuard<'_, ()> {
        self.cut.write()
    }

    /// The current change generation.
    #[inline]
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Starts the next change generation (with the cut held exclusively) and returns it.
    pub(super) fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Relaxed) + 1
    }

    /// Makes the series of `key` in `sh` unless the series cap is reached or the shard is
    /// full (`None`: the caller records into the overflow series).
    pub(super) fn create(
        &self,
        sh: &mut Shard,
        hash: u64,
        key: KeyRef<'_>,
        generation: u64,
    ) -> Option<u32> {
        if self.live.fetch_add(1, Relaxed) >= self.max_series {
            self.live.fetch_sub(1, Relaxed);
            return None;
        }
        let slot = sh.insert(hash, key, generation);
        if slot.is_none() {
            self.live.fetch_sub(1, Relaxed);
        }
        slot
    }

    /// Accounts for `n` series removed from their shards.
    pub(super) fn removed(&self, n: u64) {
        self.live.fetch_sub(n, Relaxed);
    }

    /// The running totals.
    #[inline]
    pub(super) fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Counters since creation (locks each shard briefly for its key bytes).
    pub(super) fn stats(&self) -> Stats {
        let key_bytes = self
            .shards
            .iter()
            .map(|s| s.0.lock().key_bytes() as u64)
            .sum();
        self.totals.stats(self.live.load(Relaxed), key_bytes)
    }

    /// Bytes of heap the series hold (walks every series).
    pub(super) fn heap_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().heap_bytes()).sum()
    }
}
