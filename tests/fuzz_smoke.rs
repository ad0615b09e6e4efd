//! The fuzz targets' smoke run inside `make test`, without cargo-fuzz: every seed corpus file
//! in fuzz/corpus/<target>/ and a few thousand deterministic pseudo-random inputs (fresh
//! bytes, and mutations of the seeds) go through the same bodies the libFuzzer targets run
//! (fuzz/bodies/, shared with `include!`). `make fuzz` runs the real fuzzers.

use std::path::Path;
use std::sync::Mutex;

#[allow(dead_code)]
mod chunked {
    include!("../fuzz/bodies/chunked.rs");
}

/// The targets share process-wide state (the handle table, the heap counters, injected
/// panics): run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let out: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!out.is_empty(), "no seed corpus in {}", dir.display());
    out
}

/// The seeds, then `random` inputs: half fresh random bytes, half mutated seeds.
fn replay(target: &str, random: usize, max_len: usize, run: impl Fn(&[u8])) {
    let seeds = seeds(target);
    // On a failure, print the input so it can become a seed (fuzz/corpus/<target>/).
    let run = |input: &[u8]| {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(input))) {
            eprintln!(
                "fuzz smoke {target}: failing input ({} bytes): {input:02x?}",
                input.len()
            );
            std::panic::resume_unwind(e);
        }
    };
    for s in &seeds {
        run(s);
    }
    let mut rng = chunked::SplitRng::new(0x5eed ^ target.len() as u64);
    for k in 0..random {
        let input = if k % 2 == 0 {
            let n = rng.below(max_len as u64 + 1) as usize;
            (0..n).map(|_| rng.next() as u8).collect::<Vec<u8>>()
        } else {
            let mut s = seeds[rng.below(seeds.len() as u64) as usize].clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(s.len() as u64 + 1) as usize;
                let b = rng.next() as u8;
                match rng.below(3) {
                    0 if at < s.len() => s[at] = b,
                    1 => s.insert(at, b),
                    _ if at < s.len() => {
                        s.remove(at);
                    }
                    _ => {}
                }
            }
            s
        };
        run(&input);
    }
    eprintln!(
        "fuzz smoke {target}: {} seeds + {random} generated inputs",
        seeds.len()
    );
}

#[test]
fn chunked_target() {
    let _l = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    replay("chunked", 4000, 300, chunked::run);
}

#[allow(dead_code)]
mod window_ops {
    include!("../fuzz/bodies/window_ops.rs");
}

#[test]
fn window_ops_target() {
    let _l = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    replay("window_ops", 3000, 400, window_ops::run);
    let valid = window_ops::VALID_CONFIGS.load(std::sync::atomic::Ordering::Relaxed);
    let ops = window_ops::OPERATIONS.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("fuzz smoke window_ops: {valid} valid configurations, {ops} operations");
    assert!(
        valid > 300 && ops > 3000,
        "the generated inputs barely reach the aggregator"
    );
}

#[allow(dead_code)]
mod ffi {
    include!("../fuzz/bodies/ffi.rs");
}

#[test]
fn ffi_target() {
    let _l = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    replay("ffi", 3000, 400, ffi::run);
}

/// Replays one file through a target: `OFFHEAP_FUZZ_CASE=path cargo test --test fuzz_smoke case`
/// (add `OFFHEAP_FUZZ_TRACE=1` to print the `ffi` interpreter's operations).
#[test]
fn case() {
    let Some(path) = std::env::var_os("OFFHEAP_FUZZ_CASE") else {
        return;
    };
    let _l = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let input = std::fs::read(&path).unwrap();
    let repeat: usize = std::env::var("OFFHEAP_FUZZ_REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let target = std::env::var("OFFHEAP_FUZZ_TARGET").unwrap_or_else(|_| "ffi".into());
    let mut failures = 0;
    for _ in 1..repeat {
        let r = std::panic::catch_unwind(|| match target.as_str() {
            "chunked" => chunked::run(&input),
            "window_ops" => window_ops::run(&input),
            _ => ffi::run(&input),
        });
        failures += usize::from(r.is_err());
    }
    if repeat > 1 {
        eprintln!("{failures} of {} repeated runs failed", repeat - 1);
    }
    let target = std::env::var("OFFHEAP_FUZZ_TARGET").unwrap_or_else(|_| "ffi".into());
    match target.as_str() {
        "chunked" => chunked::run(&input),
        "window_ops" => window_ops::run(&input),
        _ => ffi::run(&input),
    }
}
