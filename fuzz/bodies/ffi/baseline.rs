//! The baseline of the `ffi` fuzz target: one warm-up of every kind of object (so lazily built
//! process state is part of the baseline), then each run's check that handles, the Rust heap,
//! the relay pools and the open fds are back where they were.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use offheap::ffi::*;

use super::{Interp, MAX_ENGINES, MAX_LIVE, Program, open_fds};

/// Panics the library raises on purpose (injected, or requested under a lease) are caught at
/// the boundary; keep them quiet (no message, no backtrace capture, which would allocate and
/// cache megabytes) and hand every other panic to the previous hook (libFuzzer's aborts).
fn quiet_intended_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(|s| s.as_str()))
                .unwrap_or("");
            let loud = std::env::var_os("OFFHEAP_FUZZ_LOUD").is_some();
            if !loud && msg.starts_with("offheap: panic injected")
                || msg.starts_with("offheap: panic requested")
            {
                return;
            }
            previous(info);
        }));
    });
}

/// A SIGPIPE means a library call wrote to a closed socket in a way that raises it (a C
/// caller's process, whose SIGPIPE is at its default, dies of it): abort, so libFuzzer reports
/// the stack and saves the input instead of the process vanishing without an artifact, and the
/// smoke run fails (the Rust test harness ignores SIGPIPE otherwise).
extern "C" fn sigpipe_is_a_finding(_: libc::c_int) {
    const MSG: &[u8] = b"ffi fuzz: SIGPIPE raised inside a library call\n";
    // SAFETY: write(2) and abort(3) are async-signal-safe; MSG is a static byte string.
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
        libc::abort();
    }
}

/// Creates and frees enough objects of every kind once, so lazily built process state (handle
/// table segments, the free list, pools, thread machinery) is part of the baseline.
fn warm_up() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        quiet_intended_panics();
        // SAFETY: the handler is an `extern "C" fn(c_int)` that only calls async-signal-safe
        // functions; replacing SIGPIPE's disposition affects no memory.
        unsafe {
            libc::signal(
                libc::SIGPIPE,
                sigpipe_is_a_finding as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
        // The first panic caught at the boundary sets up the unwinding machinery.
        offheap_debug_inject_panics(1);
        assert_eq!(offheap_relay_trim(), offheap_status::Panic);
        let mut hs = Vec::new();
        for _ in 0..(MAX_LIVE * 3 + MAX_ENGINES + 8) {
            let mut h = 0;
            // SAFETY: `h` is a valid out-parameter.
            assert_eq!(
                unsafe { offheap_debug_object_new(&mut h) },
                offheap_status::Ok
            );
            hs.push(h);
        }
        for h in hs {
            assert_eq!(offheap_debug_object_free(h), offheap_status::Ok);
        }
        // One of each kind, used once: an engine tunnel, a relay step, a buffer read.
        let mut e = 0;
        let (mut r, mut b) = (0, 0);
        let (x, y) = UnixStream::pair().unwrap();
        let (z, w) = UnixStream::pair().unwrap();
        for s in [&x, &y, &z, &w] {
            s.set_nonblocking(true).unwrap();
        }
        (&x).write_all(b"warm").unwrap();
        let mut prog = offheap_relay_progress::default();
        let (mut n, mut state) = (0usize, 0u32);
        let mut comps = [offheap_engine_completion::default(); 4];
        // SAFETY: every pointer is a valid out-parameter; the fds are open sockets.
        unsafe {
            assert_eq!(offheap_engine_new(1, 4, &mut e), offheap_status::Ok);
            assert_eq!(offheap_relay_new(3, 0, 0, &mut r), offheap_status::Ok);
            assert_eq!(offheap_buffer_new(&mut b), offheap_status::Ok);
            assert_eq!(
                offheap_relay_step(r, y.as_raw_fd(), z.as_raw_fd(), &mut prog),
                offheap_status::Ok
            );
            (&x).write_all(b"warm").unwrap();
            assert_eq!(
                offheap_buffer_read(b, y.as_raw_fd(), &mut n, &mut state),
                offheap_status::Ok
            );
            assert_eq!(
                offheap_engine_submit(
                    e,
                    1,
                    y.as_raw_fd(),
                    z.as_raw_fd(),
                    OFFHEAP_ENGINE_TUNNEL,
                    0,
                    0
                ),
                offheap_status::Ok
            );
            drop((x, w));
            for _ in 0..1000 {
                assert_eq!(
                    offheap_engine_poll(e, comps.as_mut_ptr(), 4, &mut n),
                    offheap_status::Ok
                );
                if n > 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            assert_eq!(offheap_engine_free(e), offheap_status::Ok);
            assert_eq!(offheap_relay_free(r), offheap_status::Ok);
            assert_eq!(offheap_buffer_free(b), offheap_status::Ok);
            assert_eq!(offheap_relay_trim(), offheap_status::Ok);
        }
        super::window::warm_up_aggregator();
        let mut interp = Interp::new();
        interp.free_all();
    });
}

/// Runs the program once and checks the baseline; returns the Rust heap growth in bytes.
fn run_once(data: &[u8]) -> i64 {
    let base_fds = open_fds();
    let base = {
        let mut c = offheap_counters::default();
        // SAFETY: `c` is a live offheap_counters, valid for the one write offheap_stats makes.
        assert_eq!(unsafe { offheap_stats(&mut c) }, offheap_status::Ok);
        c
    };
    {
        let mut interp = Interp::new();
        let mut p = Program::new(data);
        let mut ops = 0;
        while !p.done() && ops < 256 {
            interp.step(&mut p);
            ops += 1;
            if ops % 8 == 0 {
                interp.check_counts(&base);
            }
        }
        interp.check_counts(&base);
        interp.free_all();
    }
    let mut end = offheap_counters::default();
    // SAFETY: `end` is a live offheap_counters, valid for the one write offheap_stats makes.
    assert_eq!(unsafe { offheap_stats(&mut end) }, offheap_status::Ok);
    assert_eq!(
        end.handles_by_kind, base.handles_by_kind,
        "live handles not back to baseline"
    );
    let mut rc = offheap_relay_counters::default();
    // SAFETY: `rc` is a live offheap_relay_counters, valid for the one write the call makes.
    assert_eq!(
        unsafe { offheap_relay_global_stats(&mut rc) },
        offheap_status::Ok
    );
    assert_eq!(
        (rc.pipes_live, rc.buffers_live, rc.bulk_buffers_live),
        (0, 0, 0),
        "relay pools not empty after trim"
    );
    assert_eq!(open_fds(), base_fds, "open fds not back to baseline");
    end.heap_live_bytes as i64 - base.heap_live_bytes as i64
}

/// The fuzz target body. The Rust heap must come back exactly to its baseline; a run that
/// leaves bytes behind is run again, and must then leave nothing: a one-time allocation of
/// lazily initialised process state (std or thread machinery reached for the first time by a
/// path the warm-up did not take) is not a leak, while a leak grows on every run.
pub fn run(data: &[u8]) {
    warm_up();
    let grown = run_once(data);
    if grown != 0 {
        let again = run_once(data);
        assert_eq!(
            again, 0,
            "Rust heap not back to baseline: {grown} bytes left by the first run, {again} by the second"
        );
    }
}
