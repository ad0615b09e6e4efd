//! Relay counters: per relay ([`RelayStats`]) and process-wide ([`stats`]).

use super::counters::{COUNTERS, load};
use super::pool;

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

/// Process-wide relay counters (monotonic, except the `*_live` gauges), as `stats` returns
/// them (in C, `offheap_relay_global_stats`).
// `repr(C)`: the C ABI's `offheap_relay_counters` is this record (build.rs, cbindgen.toml), so
// its fields and their docs are written once. Fields are only ever appended (C callers and the
// Go mirror read them by offset).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobalStats {
    /// Relays started (each tunnel direction counts one).
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
    /// Buffers alive now (in use or pooled), bulk and small buffers included.
    pub buffers_live: u64,
    /// Of `buffers_live`, bulk buffers (`BULK_BUFFER_SIZE` bytes each, at most
    /// `MAX_BULK_BUFFERS`; in C, `OFFHEAP_RELAY_BULK_BUFFER_SIZE` and
    /// `OFFHEAP_RELAY_MAX_BULK_BUFFERS`).
    pub bulk_buffers_live: u64,
    /// Of `buffers_live`, small buffers (`SMALL_BUFFER_SIZE`, 4 KiB each, what heads are read
    /// into first).
    pub small_buffers_live: u64,
}

/// A snapshot of the process-wide relay counters.
pub fn stats() -> GlobalStats {
    let c = &COUNTERS;
    GlobalStats {
        relays_started: load(&c.relays_started),
        relays_done: load(&c.relays_done),
        relays_failed: load(&c.relays_failed),
        bytes_spliced: load(&c.bytes_spliced),
        bytes_copied: load(&c.bytes_copied),
        pipes_created: load(&c.pipes_created),
        pipes_live: load(&c.pipes_live),
        buffers_live: load(&c.buffers_live),
        bulk_buffers_live: pool::bulk_buffers_live() as u64,
        small_buffers_live: pool::small_buffers_live() as u64,
    }
}
