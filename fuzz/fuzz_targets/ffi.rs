//! cargo-fuzz target `ffi`: random programs of calls to every export of the C ABI, with
//! random, zero, stale and wrong-kind handles and bad pointers; afterwards handles, the Rust
//! heap, pools and fds are back to their baseline (see fuzz/bodies/ffi/mod.rs).
//! `make fuzz` runs it; seeds in fuzz/corpus/ffi/.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../bodies/ffi/mod.rs"]
mod body;

fuzz_target!(|data: &[u8]| body::run(data));
