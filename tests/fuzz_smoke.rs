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
use std::sync::atomic::Ordering::Relaxed;

/// The fuzz bodies this run shares with the libFuzzer targets (`fuzz/bodies/<name>.rs`).
macro_rules! bodies {
    ($($name:ident),*) => {$(
        #[allow(dead_code)]
        mod $name {
            include!(concat!("../fuzz/bodies/", stringify!($name), ".rs"));
        }
    )*};
}

bodies!(chunked, window_ops, expo);

#[path = "../fuzz/bodies/ffi/mod.rs"]
mod ffi;

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

/// Every target in turn; or, with `OFFHEAP_FUZZ_CASE=path cargo test --test fuzz_smoke`, one
/// file replayed through one target (`OFFHEAP_FUZZ_TARGET`, default `ffi`; add
/// `OFFHEAP_FUZZ_TRACE=1` to print the `ffi` interpreter's operations). Test-name filters are
/// ignored: `cargo test --test fuzz_smoke` runs what this function runs.
fn main() {
    if let Some(path) = std::env::var_os("OFFHEAP_FUZZ_CASE") {
        case(std::path::Path::new(&path));
        return;
    }
    // Each target with its count of generated inputs and their longest length.
    for (name, random, max_len, run) in [
        ("chunked", 4000, 300, chunked::run as fn(&[u8])),
        ("window_ops", 3000, 400, window_ops::run),
        ("expo", 3000, 300, expo::run),
        ("ffi", 3000, 400, ffi::run),
    ] {
        let started = std::time::Instant::now();
        replay(name, random, max_len, run);
        eprintln!("fuzz smoke {name}: ok in {:.1?}", started.elapsed());
    }
    // Counters the bodies keep, each with the least value it must pass: below it, the
    // generated inputs barely reach the code it counts.
    for (counter, least, counts) in [
        (&window_ops::VALID_CONFIGS, 300, "valid configurations"),
        (&window_ops::OPERATIONS, 3000, "window operations"),
        (&expo::SERIES, 3000, "series exposed"),
        (&expo::LINES, 10_000, "exposition sample lines checked"),
    ] {
        let n = counter.load(Relaxed);
        eprintln!("fuzz smoke: {n} {counts}");
        assert!(
            n > least,
            "the generated inputs barely reach it: {n} {counts}"
        );
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
