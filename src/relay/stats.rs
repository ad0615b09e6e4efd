//! Relay counters: per relay ([`RelayStats`]) and process-wide ([`stats`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bytes and outcome of one relay (or of one tunnel, both directions summed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Bytes consumed from the source (framing included).
    pub bytes_in: u64,
    /// Bytes written to the destination.
    pub bytes_out: u64,
    /// Of `bytes_out`, bytes moved in the kernel with splice(2).
    pub spliced: u64,
    /// Of `bytes_out`, bytes copied through a Rust-owned buffer.
    pub copied: u64,
}

/// Process-wide relay counters (monotonic, except the `*_live` gauges).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobalStats {
    /// Relays (and tunnels) started.
    pub relays_started: u64,
    /// Relays that completed their framing.
    pub relays_done: u64,
    /// Relays that ended with an error.
    pub relays_failed: u64,
    /// Bytes moved with splice(2).
    pub bytes_spliced: u64,
    /// Bytes copied through Rust-owned buffers.
    pub bytes_copied: u64,
    /// Pipes created (a pool miss).
    pub pipes_created: u64,
    /// Pipes alive now (in use or pooled).
    pub pipes_live: u64,
    /// Buffers alive now (in use or pooled), bulk buffers included.
    pub buffers_live: u64,
    /// Of `buffers_live`, bulk buffers (`BULK_BUFFER_SIZE` bytes each, at most
    /// `MAX_BULK_BUFFERS`).
    pub bulk_buffers_live: u64,
}

pub(crate) struct Counters {
    pub relays_started: AtomicU64,
    pub relays_done: AtomicU64,
    pub relays_failed: AtomicU64,
    pub bytes_spliced: AtomicU64,
    pub bytes_copied: AtomicU64,
    pub pipes_created: AtomicU64,
    pub pipes_live: AtomicU64,
    pub buffers_live: AtomicU64,
}

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

pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

pub(crate) fn sub(c: &AtomicU64, n: u64) {
    c.fetch_sub(n, Relaxed);
}

/// A snapshot of the process-wide relay counters.
pub fn stats() -> GlobalStats {
    let c = &COUNTERS;
    GlobalStats {
        relays_started: c.relays_started.load(Relaxed),
        relays_done: c.relays_done.load(Relaxed),
        relays_failed: c.relays_failed.load(Relaxed),
        bytes_spliced: c.bytes_spliced.load(Relaxed),
        bytes_copied: c.bytes_copied.load(Relaxed),
        pipes_created: c.pipes_created.load(Relaxed),
        pipes_live: c.pipes_live.load(Relaxed),
        buffers_live: c.buffers_live.load(Relaxed),
        bulk_buffers_live: super::pool::bulk_buffers_live() as u64,
    }
}
