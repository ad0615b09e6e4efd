//! Rust-owned heaps for the hot paths of Go services.
//!
//! offheap moves the garbage-heavy work of a Go service onto memory that Go's garbage collector
//! never scans. The Go package (`go/` in the repository) calls this crate through a C ABI
//! (`include/offheap.h`), one crossing per batch; the crate keeps all state on its own heap.
//!
//! # Layers
//!
//! - [`heap`]: the global allocator (mimalloc by default) wrapped in cheap counters, so a Go
//!   service can see exactly how much memory offheap holds (`offheap_stats()`).
//! - `ffi` (hidden: the C ABI, public only for the project's tests and fuzz harness): the only
//!   module with `extern "C"`. It catches panics at the boundary, checks every pointer and
//!   slice, maps errors to `offheap_status` codes and hands out objects as generation-checked
//!   64-bit handles instead of raw pointers.
//! - [`engine`]: the HTTP engine, worker threads that own connection pairs and run relays,
//!   tunnels and keep-alive sessions on them. The one module that joins two cores (relay and
//!   headers).
//! - The safe cores, independent of each other: [`headers`] (HTTP/1.x head parsing),
//!   [`relay`] (buffer relay) and [`window`] (windowed aggregation).
//! - `sys` (private): the syscall wrappers the relay and the engine use, and the only unsafe
//!   code either of them needs.
//!
//! ```
//! let before = offheap::heap::stats();
//! let v: Vec<u8> = Vec::with_capacity(4096);
//! let during = offheap::heap::stats();
//! assert!(during.allocations > before.allocations);
//! drop(v);
//! ```
//!
//! # Crate features
//!
//! - `mimalloc` (default): mimalloc is the global allocator. Without it the system allocator is
//!   used. The counting wrapper is installed either way.
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod engine;
pub mod headers;
pub mod heap;
pub mod relay;
pub mod window;

#[doc(hidden)]
pub mod ffi;
mod sys;

#[doc(hidden)]
pub use ffi::bench as __bench;

#[global_allocator]
static GLOBAL: heap::CountingAllocator = heap::CountingAllocator;
