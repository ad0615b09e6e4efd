//! The C ABI: the only module with `extern "C"`.
//!
//! Every export runs inside the panic boundary (`boundary.rs`), checks its pointers and slices
//! (`ptr.rs`), looks objects up in the handle table (`handle.rs`) and returns an
//! [`offheap_status`]. The subsystem files convert arguments and call
//! the safe cores; they hold no logic of their own. `include/offheap.h` is generated from this
//! module by `build.rs`, with the few core types that are C records as they are (a `repr(C)`
//! core type re-exported here under its C name: `offheap_proxy_counters`,
//! `offheap_relay_counters`, `offheap_ingest_accounting`, `offheap_aggregator_counters`,
//! `offheap_known`).
//!
//! Seen from Rust, this module is the C ABI itself, for the project's own tests and fuzz
//! harness (it is hidden from the crate's documentation and is no API of the crate): every
//! export, `repr(C)` struct, enum and constant of the header is re-exported here under its C
//! name, so `use offheap::ffi::*` stands for `#include "offheap.h"`. A Rust caller uses these
//! definitions, never a copy of its own: a copied struct or status number is a second source
//! of the ABI that can drift from the header without a compiler noticing.

#[doc(hidden)]
pub mod bench;
pub(crate) mod boundary;
pub(crate) mod buffer;
pub(crate) mod debug;
pub(crate) mod engine;
pub(crate) mod engine_proxy;
pub(crate) mod expo;
pub(crate) mod handle;
pub(crate) mod headers;
pub(crate) mod messages;
pub(crate) mod ptr;
pub(crate) mod relay;
pub(crate) mod snapshot;
pub(crate) mod status;
pub(crate) mod window;

pub use boundary::offheap_debug_inject_panics;
pub use buffer::*;
pub use debug::*;
pub use engine::*;
pub use engine_proxy::*;
pub use expo::*;
pub use handle::{OFFHEAP_KIND_SLOTS, offheap_kind};
pub use headers::*;
pub use messages::offheap_status_str;
pub use relay::*;
pub use snapshot::*;
pub use status::offheap_status;
pub use window::*;

use boundary::guard_or;
use std::ffi::c_char;

/// The ABI version of this library. It changes whenever an export, a struct layout or a
/// status value changes incompatibly; the Go package refuses a library whose ABI version
/// differs from the header it was compiled with. 2: `offheap_relay_counters` gained
/// `bulk_buffers_live`, and relays copy unless `OFFHEAP_RELAY_SPLICE` is set. 3: the
/// aggregator's functions are `offheap_aggregator_*` and the snapshot's `offheap_snapshot_*`
/// (both were `offheap_window_*`), with their structs renamed to match. 4:
/// `offheap_aggregator_config` gained `key_format` and `metric_type`;
/// `offheap_aggregator_prometheus` gave way to `offheap_aggregator_scrape` and
/// `offheap_snapshot_read` (three formats); `offheap_aggregator_set_family`;
/// `offheap_snapshot_columns` gained lifetime totals, bucket columns and the schema, and
/// `offheap_snapshot_take`'s `delta` became `flags`. 5: the well-known header slots
/// `OFFHEAP_KNOWN_*` are the enum `offheap_known` (the parser's own), no longer macros: the
/// same names and values, but a preprocessor `#if` no longer sees them;
/// `offheap_relay_counters` gained `small_buffers_live`. 6: `offheap_head` is the parser's own
/// record, with its method, target and reason as `offheap_span`s (`method.off`, `method.len`
/// for `method_off`, `method_len`; the same layout), and so are the strings of
/// `offheap_rewrite_options` (`client_ip.off` for `client_ip_off` ...);
/// `offheap_proxy_options` gained `max_conns_per_upstream`, and `offheap_proxy_counters`
/// `upstream_queued` and `upstream_waiting`. 7: `offheap_aggregator_ingest` takes an
/// `offheap_series_key` and replaces `offheap_aggregator_ingest_u64` and `_ingest_ids`; the
/// numbers of `offheap_aggregator_delete`, `offheap_aggregator_remove` and of the aggregator
/// configuration's `mode`, `key_format` and `metric_type` are named (`offheap_series_key`,
/// `offheap_removal`, `offheap_window_mode`, `offheap_key_format`, `offheap_metric_type`;
/// the same values); `offheap_headers_parse` takes an `offheap_head_kind` and replaces
/// `offheap_headers_parse_requests` and `_parse_responses`; `offheap_session_options` and
/// `offheap_proxy_options` carry the rewrite as an `offheap_rewrite_options` (spans of the
/// call's strings) instead of string lengths and the `OFFHEAP_SESSION_SET_HOST`,
/// `_APPEND_FORWARDED`, `OFFHEAP_PROXY_SET_HOST` and `_APPEND_FORWARDED` flags;
/// `OFFHEAP_BODY_*` are the enum `offheap_body` (the parser's own `Body`) and
/// `OFFHEAP_HEAD_*` the parser's flag constants, with the same names and values.
pub const OFFHEAP_ABI_VERSION: u32 = 7;

const VERSION_STR: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version as `major << 16 | minor << 8 | patch` (0 only if a panic was caught).
#[unsafe(no_mangle)]
pub extern "C" fn offheap_version() -> u32 {
    guard_or(0, || {
        let part = |s: &str| s.parse::<u32>().unwrap_or(0);
        part(env!("CARGO_PKG_VERSION_MAJOR")) << 16
            | part(env!("CARGO_PKG_VERSION_MINOR")) << 8
            | part(env!("CARGO_PKG_VERSION_PATCH"))
    })
}

/// The library's version as a static NUL-terminated string such as "0.1.0" (never NULL; ""
/// only if a panic was caught).
#[unsafe(no_mangle)]
pub extern "C" fn offheap_version_str() -> *const c_char {
    guard_or(c"".as_ptr(), || VERSION_STR.as_ptr().cast())
}

/// The ABI version the library was built with; compare it with `OFFHEAP_ABI_VERSION` from the
/// header you compiled against (0 only if a panic was caught).
#[unsafe(no_mangle)]
pub extern "C" fn offheap_abi_version() -> u32 {
    guard_or(0, || OFFHEAP_ABI_VERSION)
}

/// Process-wide counters of offheap's Rust heap and handles.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_counters {
    /// Bytes allocated by Rust and not yet freed.
    pub heap_live_bytes: u64,
    /// The highest `heap_live_bytes` seen (precise to 64 KiB per allocating thread shard).
    pub heap_peak_bytes: u64,
    /// Allocations made since the process started.
    pub heap_allocations: u64,
    /// Frees made since the process started.
    pub heap_frees: u64,
    /// Handles currently live, all kinds together.
    pub handles_live: u64,
    /// Handles currently live, indexed by `offheap_kind` value (index 0 is unused).
    pub handles_by_kind: [u64; OFFHEAP_KIND_SLOTS],
}

/// Fills `*out` with the current counters.
///
/// Errors: `OFFHEAP_STATUS_NULL_POINTER` if `out` is NULL.
///
/// # Safety
/// `out` must be NULL or valid for writing one `offheap_counters`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_stats(out: *mut offheap_counters) -> offheap_status {
    let counters = || {
        let heap = crate::heap::stats();
        let by_kind = handle::live_by_kind();
        Ok(offheap_counters {
            heap_live_bytes: heap.live_bytes,
            heap_peak_bytes: heap.peak_bytes,
            heap_allocations: heap.allocations,
            heap_frees: heap.frees,
            handles_live: by_kind.iter().sum(),
            handles_by_kind: by_kind,
        })
    };
    // SAFETY: this function's `# Safety` gives `out` valid for writing one `offheap_counters`
    // until the call returns: what `ptr::guard_out` requires.
    unsafe { ptr::guard_out(out, counters) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_the_manifest() {
        let v = offheap_version();
        assert_eq!(
            format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff),
            env!("CARGO_PKG_VERSION")
        );
        // SAFETY: offheap_version_str returns a pointer to a static NUL-terminated string,
        // which CStr::from_ptr reads up to its NUL.
        let s = unsafe { std::ffi::CStr::from_ptr(offheap_version_str()) };
        assert_eq!(s.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        assert_eq!(offheap_abi_version(), OFFHEAP_ABI_VERSION);
    }

    #[test]
    fn stats_rejects_null_and_fills_on_success() {
        // SAFETY: NULL is rejected before use.
        let st = unsafe { offheap_stats(std::ptr::null_mut()) };
        assert_eq!(st, offheap_status::NullPointer);
        let mut s = offheap_counters::default();
        // SAFETY: `s` is a live local offheap_counters, valid for the one write.
        assert_eq!(unsafe { offheap_stats(&mut s) }, offheap_status::Ok);
        assert!(s.heap_allocations > 0);
    }
}
