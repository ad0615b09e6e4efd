//! The fuzz targets' smoke run inside `make test`, without cargo-fuzz: every seed corpus file
//! in fuzz/corpus/<target>/ and a few thousand deterministic pseudo-random inputs (fresh
//! bytes, and mutations of the seeds) go through the same bodies the libFuzzer targets run
//! (fuzz/bodies/, shared with `include!`, or as a module for the `ffi` target's directory). `make fuzz` runs the real fuzzers.
//!
//! It has its own `main` (`harness = false` in Cargo.toml) and runs the targets one after the
//! other on one thread: the `ffi` target checks that the Rust heap comes back exactly to its
//! baseline, and the test harness's own thread, recording another test's result meanwhile,
//! would allocate inside that window.

use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

#[allow(dead_code)]
mod chunked {
    include!("../fuzz/bodies/chunked.rs");
}

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

fn chunked_target() {
    replay("chunked", 4000, 300, chunked::run);
}

#[allow(dead_code)]
mod window_ops {
    include!("../fuzz/bodies/window_ops.rs");
}

/// Prints the counters a target's body keeps and fails unless each passed its least value
/// (`counters`: name, counter, least), i.e. when the generated inputs barely reach `what`.
fn reached(target: &str, what: &str, counters: [(&str, &AtomicUsize, usize); 2]) {
    let seen = counters.map(|(name, counter, least)| (name, counter.load(Relaxed), least));
    let said: Vec<String> = seen
        .iter()
        .map(|(name, n, _)| format!("{n} {name}"))
        .collect();
    eprintln!("fuzz smoke {target}: {}", said.join(", "));
    for (name, n, least) in seen {
        assert!(
            n > least,
            "the generated inputs barely reach {what} ({n} {name})"
        );
    }
}

fn window_ops_target() {
    replay("window_ops", 3000, 400, window_ops::run);
    reached(
        "window_ops",
        "the aggregator",
        [
            ("valid configurations", &window_ops::VALID_CONFIGS, 300),
            ("operations", &window_ops::OPERATIONS, 3000),
        ],
    );
}

#[allow(dead_code)]
mod expo {
    include!("../fuzz/bodies/expo.rs");
}

fn expo_target() {
    replay("expo", 3000, 300, expo::run);
    reached(
        "expo",
        "the exposition",
        [
            ("series rendered", &expo::SERIES, 3000),
            ("sample lines checked", &expo::LINES, 10_000),
        ],
    );
}

#[path = "../fuzz/bodies/ffi/mod.rs"]
mod ffi;

fn ffi_target() {
    replay("ffi", 3000, 400, ffi::run);
}

/// Every target in turn; or, with `OFFHEAP_FUZZ_CASE=path cargo test --test fuzz_smoke`, one
/// file replayed through one target (`OFFHEAP_FUZZ_TARGET`, default `ffi`; add
/// `OFFHEAP_FUZZ_TRACE=1` to print the `ffi` interpreter's operations). Test-name filters are
/// ignored: `cargo test --test fuzz_smoke` runs what this function runs.
fn main() {
    if let Some(path) = std::env::var_os("OFFHEAP_FUZZ_CASE") {
        case(std::path::Path::new(&path));
        return;
    }
    for (name, target) in [
        ("chunked", chunked_target as fn()),
        ("window_ops", window_ops_target),
        ("expo", expo_target),
        ("ffi", ffi_target),
    ] {
        let started = std::time::Instant::now();
        target();
        eprintln!("fuzz smoke {name}: ok in {:.1?}", started.elapsed());
    }
}

fn case(path: &Path) {
    let input = std::fs::read(path).unwrap();
    let repeat: usize = std::env::var("OFFHEAP_FUZZ_REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let target = std::env::var("OFFHEAP_FUZZ_TARGET").unwrap_or_else(|_| "ffi".into());
    let run: fn(&[u8]) = match target.as_str() {
        "chunked" => chunked::run,
        "window_ops" => window_ops::run,
        "expo" => expo::run,
        _ => ffi::run,
    };
    let mut failures = 0;
    for _ in 1..repeat {
        failures += usize::from(std::panic::catch_unwind(|| run(&input)).is_err());
    }
    if repeat > 1 {
        eprintln!("{failures} of {} repeated runs failed", repeat - 1);
    }
    run(&input);
}
