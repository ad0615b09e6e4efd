//! cargo-fuzz target `window_ops`: random configurations and sequences of aggregator
//! operations, checked for accounting, conservation, id, snapshot, exposition and
//! export/import invariants (see fuzz/bodies/window_ops.rs). `make fuzz` runs it; seeds in
//! fuzz/corpus/window_ops/.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod body {
    include!("../bodies/window_ops.rs");
}

fuzz_target!(|data: &[u8]| body::run(data));
