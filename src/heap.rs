//! Heap accounting that is cheap enough to leave on in production.
//!
//! Every allocation of the process's Rust code goes through [`CountingAllocator`], which wraps
//! mimalloc (or the system allocator without the `mimalloc` feature) and keeps counters in
//! cache-line-sized shards: a thread updates the shard it was assigned on first use, so threads
//! do not contend on one counter. [`stats`] sums the shards.
//!
//! `live_bytes`, `allocations` and `frees` are exact once allocation has quiesced. The peak is
//! tracked at a granularity of [`PEAK_GRANULE`] bytes per shard: it is never below the true peak
//! by more than `PEAK_GRANULE * SHARDS`, and never above it.
//!
//! ```
//! let before = offheap::heap::stats();
//! let block = vec![0u8; 1 << 20];
//! let during = offheap::heap::stats();
//! assert!(during.live_bytes >= before.live_bytes + (1 << 20) - 64 * 1024);
//! drop(block);
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

#[cfg(feature = "mimalloc")]
type Inner = mimalloc::MiMalloc;
#[cfg(not(feature = "mimalloc"))]
type Inner = std::alloc::System;

#[cfg(feature = "mimalloc")]
const INNER: Inner = mimalloc::MiMalloc;
#[cfg(not(feature = "mimalloc"))]
const INNER: Inner = std::alloc::System;

/// Number of counter shards; threads are spread over them round-robin.
pub const SHARDS: usize = 16;

/// Bytes a shard accumulates before it folds them into the global live count (and the peak).
pub const PEAK_GRANULE: i64 = 64 * 1024;

#[repr(align(128))]
struct Shard {
    /// Bytes allocated minus bytes freed on this shard and not yet folded into `LIVE`.
    pending: AtomicI64,
    allocations: AtomicU64,
    frees: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const SHARD_INIT: Shard = Shard {
    pending: AtomicI64::new(0),
    allocations: AtomicU64::new(0),
    frees: AtomicU64::new(0),
};

static SHARD_TABLE: [Shard; SHARDS] = [SHARD_INIT; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

thread_local! {
    // A const-initialised Cell without Drop: reading it never allocates and never registers a
    // destructor, which is what code inside a global allocator may do.
    static MY_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn shard() -> &'static Shard {
    let i = MY_SHARD
        .try_with(|c| {
            let mut i = c.get();
            if i == usize::MAX {
                i = NEXT_SHARD.fetch_add(1, Relaxed) % SHARDS;
                c.set(i);
            }
            i
        })
        .unwrap_or(0);
    &SHARD_TABLE[i]
}

#[inline]
fn account(delta: i64) {
    let s = shard();
    if delta > 0 {
        s.allocations.fetch_add(1, Relaxed);
    } else {
        s.frees.fetch_add(1, Relaxed);
    }
    let pending = s.pending.fetch_add(delta, Relaxed) + delta;
    if !(-PEAK_GRANULE..=PEAK_GRANULE).contains(&pending) {
        let taken = s.pending.swap(0, Relaxed);
        let live = LIVE.fetch_add(taken, Relaxed) + taken;
        if live > PEAK.load(Relaxed) {
            PEAK.fetch_max(live, Relaxed);
        }
    }
}

/// The process-wide global allocator of offheap: the inner allocator plus counters.
pub struct CountingAllocator;

// SAFETY: every method forwards to the inner allocator with the caller's arguments unchanged;
// the counters only observe sizes and never touch the memory.
unsafe impl GlobalAlloc for CountingAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `GlobalAlloc::alloc`'s contract (a layout of non-zero size) holds for the
        // caller's `layout`, forwarded unchanged.
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `GlobalAlloc::alloc_zeroed`'s contract (a layout of non-zero size) holds for
        // the caller's `layout`, forwarded unchanged.
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() {
            account(layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `GlobalAlloc::dealloc`'s contract: `ptr` was allocated by this allocator,
        // which is INNER's allocation, with `layout`.
        unsafe { INNER.dealloc(ptr, layout) };
        account(-(layout.size() as i64));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `GlobalAlloc::realloc`'s contract: `ptr` was allocated by this allocator
        // (INNER's allocation) with `layout`, and `new_size` is non-zero and fits `isize`
        // once rounded to the alignment; all forwarded unchanged.
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(-(layout.size() as i64));
            account(new_size as i64);
        }
        p
    }
}

/// A reading of the Rust heap counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes currently allocated (requested sizes, not allocator overhead).
    pub live_bytes: u64,
    /// Highest `live_bytes` seen (see the module docs for its granularity).
    pub peak_bytes: u64,
    /// Allocations made since the process started (a `realloc` counts as one free and one
    /// allocation).
    pub allocations: u64,
    /// Deallocations made since the process started.
    pub frees: u64,
}

/// Reads the heap counters.
pub fn stats() -> HeapStats {
    let mut live = LIVE.load(Relaxed);
    let mut allocations = 0u64;
    let mut frees = 0u64;
    for s in &SHARD_TABLE {
        live += s.pending.load(Relaxed);
        allocations += s.allocations.load(Relaxed);
        frees += s.frees.load(Relaxed);
    }
    let live = live.max(0) as u64;
    let peak = (PEAK.load(Relaxed).max(0) as u64).max(live);
    HeapStats {
        live_bytes: live,
        peak_bytes: peak,
        allocations,
        frees,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_allocations() {
        let before = stats();
        let v: Vec<u64> = Vec::with_capacity(1 << 16);
        let during = stats();
        assert!(during.allocations > before.allocations);
        // Other test threads allocate concurrently, so only a lower bound holds here.
        assert!(during.peak_bytes >= during.live_bytes);
        drop(v);
        let after = stats();
        assert!(after.frees > before.frees);
    }

    #[test]
    fn big_allocation_raises_peak() {
        let v = vec![1u8; 8 << 20];
        let s = stats();
        assert!(s.peak_bytes >= 8 << 20);
        assert!(s.live_bytes >= (8 << 20) - (PEAK_GRANULE as u64) * SHARDS as u64);
        drop(v);
    }
}
