//! cargo-fuzz target `expo`: random keys, labels, help texts, family types and values; the
//! exposition must read back in every format (see fuzz/bodies/expo.rs). `make fuzz` runs it;
//! seeds in fuzz/corpus/expo/.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod body {
    include!("../bodies/expo.rs");
}

fuzz_target!(|data: &[u8]| body::run(data));
