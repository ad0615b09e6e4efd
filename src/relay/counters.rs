//! The process-wide relay counters as atomics: what the pools and relays bump as they work.
//!
//! They sit below both their writers (`pool.rs`, `flow.rs`) and their reader (`stats.rs`,
//! which snapshots them into [`GlobalStats`](super::GlobalStats)), so neither side imports
//! the other.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The monotonic counters and the `*_live` gauges of [`GlobalStats`](super::GlobalStats),
/// one atomic each (relaxed: they are statistics, not synchronisation).
pub(crate) struct Counters {
    /// Relays (and tunnel directions) started.
    pub relays_started: AtomicU64,
    /// Relays that completed their framing.
    pub relays_done: AtomicU64,
    /// Relays that ended with an error.
    pub relays_failed: AtomicU64,
    /// Bytes moved with splice(2).
    pub bytes_spliced: AtomicU64,
    /// Bytes copied through Rust-owned buffers.
    pub bytes_copied: AtomicU64,
    /// Pipes created (pool misses).
    pub pipes_created: AtomicU64,
    /// Pipes alive (in use or pooled).
    pub pipes_live: AtomicU64,
    /// Buffers alive (in use or pooled), bulk ones included.
    pub buffers_live: AtomicU64,
}

/// The one set of relay counters of the process.
pub(crate) static COUNTERS: Counters = Counters {
    relays_started: AtomicU64::new(0),
    relays_done: AtomicU64::new(0),
    relays_failed: AtomicU64::new(0),
    bytes_spliced: AtomicU64::new(0),
    bytes_copied: AtomicU64::new(0),
    pipes_created: AtomicU64::new(0),
    pipes_live: AtomicU64::new(0),
    buffers_live: AtomicU64::new(0),
};

/// Adds `n` to a counter.
pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

/// Subtracts `n` from a gauge.
pub(crate) fn sub(c: &AtomicU64, n: u64) {
    c.fetch_sub(n, Relaxed);
}

/// Reads a counter.
pub(crate) fn load(c: &AtomicU64) -> u64 {
    c.load(Relaxed)
}
