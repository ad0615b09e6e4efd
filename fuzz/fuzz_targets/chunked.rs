//! cargo-fuzz target `chunked`: the relay's chunked decoder on arbitrary input in arbitrary
//! splits, checked against a whole-input reference (see fuzz/bodies/chunked.rs).
//! `make fuzz` runs it; seeds in fuzz/corpus/chunked/.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod body {
    include!("../bodies/chunked.rs");
}

fuzz_target!(|data: &[u8]| body::run(data));
