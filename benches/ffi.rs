//! Costs of the C ABI machinery in Rust: the panic boundary and a handle lookup.
//! (The cgo crossing itself is measured from Go in benches/go/crossing_test.go.)

use criterion::{Criterion, criterion_group, criterion_main};
use offheap::__bench as b;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

fn boundary(c: &mut Criterion) {
    let mut g = c.benchmark_group("ffi");
    assert_eq!(b::plain_call(black_box(1)), 2);
    assert_eq!(b::guarded_call(black_box(1)), 2);
    g.bench_function("plain_call", |bn| bn.iter(|| b::plain_call(black_box(1))));
    g.bench_function("guarded_call", |bn| {
        bn.iter(|| b::guarded_call(black_box(1)))
    });
    let h = b::debug_object_new();
    assert!(b::handle_lookup(h));
    assert!(!b::handle_lookup(h ^ (1 << 40)));
    g.bench_function("handle_lookup", |bn| {
        bn.iter(|| b::handle_lookup(black_box(h)))
    });
    // Two threads (the machine's cores) hammering the same handle: the lease's cache line
    // bounces between cores. Reported per lookup per thread.
    g.bench_function("handle_lookup_2_threads_same_handle", |bn| {
        bn.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..iters {
                            assert!(b::handle_lookup(black_box(h)));
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    b::debug_object_free(h);
    // The floor of any lease, the bound of handle_lookup: the same two atomic
    // read-modify-writes of one word (take, then release), with no lookup around them.
    let word = AtomicU64::new(0);
    g.bench_function("lease_floor", |bn| {
        bn.iter(|| {
            let before = black_box(&word).fetch_add(1, Ordering::Acquire);
            word.fetch_sub(1, Ordering::Release);
            before
        })
    });
    assert_eq!(word.load(Ordering::Relaxed), 0);
    // The bound of handle_lookup_2_threads_same_handle: the lease floor from 2 threads at once,
    // each on a word of its own cache line (nothing shared), per pair per thread: what running
    // two threads at once costs on this machine, whatever the lookup does.
    #[repr(align(128))]
    struct Own(AtomicU64);
    let words = [Own(AtomicU64::new(0)), Own(AtomicU64::new(0))];
    g.bench_function("lease_floor_2_threads_own_words", |bn| {
        bn.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                for w in &words {
                    s.spawn(move || {
                        for _ in 0..iters {
                            black_box(&w.0).fetch_add(1, Ordering::Acquire);
                            w.0.fetch_sub(1, Ordering::Release);
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    assert!(words.iter().all(|w| w.0.load(Ordering::Relaxed) == 0));
    g.finish();
}

criterion_group!(benches, boundary);
criterion_main!(benches);
