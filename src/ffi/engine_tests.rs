//! Tests of the engine's C ABI (`src/ffi/engine.rs`), calling the exports as C would.
use super::*;
use crate::ffi::buffer::tests::{fill, view};
use crate::ffi::buffer::{offheap_buffer_free, offheap_buffer_io, offheap_buffer_new};
use crate::ffi::headers::offheap_span;
use crate::ffi::relay::offheap_framing;
use crate::ffi::relay::tests::lock;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

/// A new engine with `workers` threads and room for `max_jobs` jobs, for the tests of the
/// engine and proxy exports.
pub(crate) fn new_engine(workers: u32, max_jobs: u32) -> u64 {
    let mut e = 0u64;
    // SAFETY: `e` is a live, aligned u64, valid for the one write `out` needs.
    let st = unsafe { offheap_engine_new(workers, max_jobs, &mut e) };
    assert_eq!(st, offheap_status::Ok);
    e
}

#[test]
fn panics_are_caught_in_engine_exports() {
    let _l = lock();
    crate::ffi::boundary::offheap_debug_inject_panics(1);
    assert_eq!(offheap_engine_cancel(1, 1), offheap_status::Panic);
}

#[test]
fn engine_through_the_abi() {
    let _l = lock();
    let (mut client, a) = UnixStream::pair().unwrap();
    let (b, mut server) = UnixStream::pair().unwrap();
    let mut e = 0u64;
    assert_eq!(
        // SAFETY: `e` is a live, aligned u64, valid for the one write `out` needs.
        unsafe { offheap_engine_new(0, 8, &mut e) },
        offheap_status::InvalidArgument
    );
    assert_eq!(
        // SAFETY: `e` is a live, aligned u64, valid for the one write `out` needs.
        unsafe { offheap_engine_new(1, 8, &mut e) },
        offheap_status::Ok
    );
    let mut fd = -1;
    assert_eq!(
        // SAFETY: `fd` is a live, aligned i32, valid for the one write `out_fd` needs.
        unsafe { offheap_engine_ready_fd(e, &mut fd) },
        offheap_status::Ok
    );
    // SAFETY: the fd was just created for us; owning it closes it at the end.
    let ready = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let st =
        // SAFETY: `a` and `b` are open for the call (owned by this test); nothing else is passed.
        unsafe { offheap_engine_submit(e, 42, a.as_raw_fd(), b.as_raw_fd(), OFFHEAP_ENGINE_TUNNEL, 0, 0) };
    assert_eq!(st, offheap_status::Ok);
    drop((a, b));
    client.write_all(b"ping").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    server.shutdown(std::net::Shutdown::Write).unwrap();
    let mut s = String::new();
    server.read_to_string(&mut s).unwrap();
    assert_eq!(s, "ping");
    let mut out = [offheap_engine_completion::default(); 4];
    let mut n = 0usize;
    for _ in 0..500 {
        assert_eq!(
            // SAFETY: `out` valid for 4 writes, `n` valid.
            unsafe { offheap_engine_poll(e, out.as_mut_ptr(), 4, &mut n) },
            offheap_status::Ok
        );
        if n > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(
        (n, out[0].id, out[0].bytes_forward, out[0].status),
        (1, 42, 4, 0)
    );
    drop(ready);
    assert_eq!(offheap_engine_free(e), offheap_status::Ok);
}

#[test]
fn engine_batch_through_the_abi() {
    let _l = lock();
    let e = new_engine(2, 3);
    let mut accepted = 99usize;
    let mut statuses = [u32::MAX; 5];
    // Call-level errors: NULL with a length, too many jobs, a stale handle; nothing written.
    assert_eq!(
        // SAFETY: NULL with a length is rejected before any access.
        unsafe {
            offheap_engine_submit_batch(
                e,
                std::ptr::null(),
                2,
                statuses.as_mut_ptr(),
                &mut accepted,
            )
        },
        offheap_status::NullPointer
    );
    let many = vec![offheap_engine_job::default(); OFFHEAP_ENGINE_MAX_BATCH + 1];
    let mut many_st = vec![0u32; many.len()];
    assert_eq!(
        // SAFETY: both arrays hold `many.len()` elements.
        unsafe {
            offheap_engine_submit_batch(
                e,
                many.as_ptr(),
                many.len(),
                many_st.as_mut_ptr(),
                &mut accepted,
            )
        },
        offheap_status::TooLarge
    );
    assert_eq!(accepted, 99, "out-parameter untouched");
    // Empty batch.
    assert_eq!(
        // SAFETY: NULL with length 0 is the empty slice.
        unsafe {
            offheap_engine_submit_batch(e, std::ptr::null(), 0, std::ptr::null_mut(), &mut accepted)
        },
        offheap_status::Ok
    );
    assert_eq!(accepted, 0);
    // Five jobs: two bodies, one tunnel, a bad fd, a bad framing; the cap (3) refuses none of
    // the valid three, which stay in flight (no byte is ever written to them).
    let pairs: Vec<_> = (0..6).map(|_| UnixStream::pair().unwrap()).collect();
    let fd = |k: usize, side: usize| {
        if side == 0 {
            pairs[k].1.as_raw_fd()
        } else {
            pairs[k].0.as_raw_fd()
        }
    };
    let exact = offheap_framing::Exact as u32;
    let jobs = [
        offheap_engine_job {
            id: 1,
            fd_a: fd(0, 0),
            fd_b: fd(1, 1),
            framing: exact,
            flags: 0,
            length: 3,
        },
        offheap_engine_job {
            id: 2,
            fd_a: -1,
            fd_b: fd(1, 1),
            framing: exact,
            flags: 0,
            length: 3,
        },
        offheap_engine_job {
            id: 3,
            fd_a: fd(2, 0),
            fd_b: fd(3, 1),
            framing: OFFHEAP_ENGINE_TUNNEL,
            flags: 0,
            length: 0,
        },
        offheap_engine_job {
            id: 4,
            fd_a: fd(4, 0),
            fd_b: fd(5, 1),
            framing: 77,
            flags: 0,
            length: 0,
        },
        offheap_engine_job {
            id: 5,
            fd_a: fd(4, 0),
            fd_b: fd(5, 1),
            framing: exact,
            flags: 0,
            length: 2,
        },
    ];
    assert_eq!(
        // SAFETY: five jobs with open (or negative) fds, five statuses.
        unsafe {
            offheap_engine_submit_batch(e, jobs.as_ptr(), 5, statuses.as_mut_ptr(), &mut accepted)
        },
        offheap_status::Ok
    );
    let ok = offheap_status::Ok as u32;
    let bad = offheap_status::InvalidArgument as u32;
    assert_eq!(statuses, [ok, bad, ok, bad, ok]);
    assert_eq!(accepted, 3);
    // Past the cap of 3 jobs in flight (the tunnel and the first body are still running).
    let mut st = [u32::MAX; 1];
    assert_eq!(
        // SAFETY: one job with open fds, one status.
        unsafe { offheap_engine_submit_batch(e, jobs.as_ptr(), 1, st.as_mut_ptr(), &mut accepted) },
        offheap_status::Ok
    );
    assert_eq!(
        (st[0], accepted),
        (offheap_status::RelayResourceExhausted as u32, 0)
    );
    assert_eq!(offheap_engine_free(e), offheap_status::Ok);
    // A freed engine: the call fails as a whole.
    assert_eq!(
        // SAFETY: one job, one status.
        unsafe { offheap_engine_submit_batch(e, jobs.as_ptr(), 1, st.as_mut_ptr(), &mut accepted) },
        offheap_status::InvalidHandle
    );
}

#[test]
fn session_jobs_through_the_abi() {
    let _l = lock();
    let (mut client, c) = UnixStream::pair().unwrap();
    let (u, mut up) = UnixStream::pair().unwrap();
    let e = new_engine(1, 16);
    let (mut cb, mut ub) = (0u64, 0u64);
    // SAFETY: `cb` and `ub` are live, aligned u64s, valid for the one write each `out` needs.
    unsafe {
        assert_eq!(offheap_buffer_new(&mut cb), offheap_status::Ok);
        assert_eq!(offheap_buffer_new(&mut ub), offheap_status::Ok);
    }
    // The caller already read the first request into the client buffer.
    client
        .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut io = offheap_buffer_io {
        consume: 0,
        n: 0,
        data: std::ptr::null(),
        len: 0,
        state: 0,
    };
    c.set_nonblocking(true).unwrap();
    assert_eq!(fill(cb, c.as_raw_fd(), &mut io), offheap_status::Ok);
    assert_eq!(io.len, 28);
    let strings = b"192.0.2.1up";
    let opts = offheap_session_options {
        rewrite: offheap_rewrite_options {
            client_ip: offheap_span { off: 0, len: 9 },
            host: offheap_span { off: 9, len: 2 },
            set_host: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let (sp, sl) = (strings.as_ptr(), strings.len());
    // SAFETY: `c` and `u` are open for the call; `opts` is a live `offheap_session_options`
    // and `sp` points to the `sl` bytes of `strings`.
    let st = unsafe {
        offheap_engine_submit_session(e, 9, c.as_raw_fd(), u.as_raw_fd(), cb, ub, &opts, sp, sl)
    };
    assert_eq!(st, offheap_status::Ok);
    // The same buffers twice, or the same id again, are refused.
    // SAFETY: `c` and `u` are open for the call; `opts` is a live `offheap_session_options`
    // and `sp` points to the `sl` bytes of `strings`.
    let twice = unsafe {
        offheap_engine_submit_session(e, 10, c.as_raw_fd(), u.as_raw_fd(), cb, cb, &opts, sp, sl)
    };
    assert_eq!(twice, offheap_status::InvalidArgument);
    // Spans past the end of the strings are refused.
    // SAFETY: `c` and `u` are open for the call; `opts` is a live `offheap_session_options`
    // and `sp` points to `strings`, of which 3 bytes are read at most.
    let short = unsafe {
        offheap_engine_submit_session(e, 11, c.as_raw_fd(), u.as_raw_fd(), cb, ub, &opts, sp, 3)
    };
    assert_eq!(short, offheap_status::InvalidArgument);
    let mut head = [0u8; 256];
    let n = up.read(&mut head).unwrap();
    let head = String::from_utf8_lossy(&head[..n]).to_string();
    assert!(
        head.starts_with("GET /a HTTP/1.1\r\n")
            && head.contains("Host: up\r\n")
            && head.contains("X-Forwarded-For: 192.0.2.1"),
        "{head}"
    );
    up.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
        .unwrap();
    let mut got = [0u8; 64];
    let n = client.read(&mut got).unwrap();
    assert!(got[..n].ends_with(b"\r\n\r\nOK"));
    // The next request is chunked: the session hands it back, bytes and all.
    client
        .write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        .unwrap();
    let mut comps = [offheap_engine_completion::default(); 4];
    let mut n = 0usize;
    for _ in 0..200 {
        // SAFETY: `comps` holds the 4 completions `out` must, and `n` is a live, aligned usize
        // for `out_n`.
        let st = unsafe { offheap_engine_poll(e, comps.as_mut_ptr(), 4, &mut n) };
        assert_eq!(st, offheap_status::Ok);
        if n > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(n, 1);
    let comp = comps[0];
    assert_eq!((comp.id, comp.status), (9, offheap_status::Ok as u32));
    assert_eq!(comp.session_stop, offheap_session_stop::Request as u32);
    assert_eq!(
        comp.session_flags & OFFHEAP_SESSION_UPSTREAM_REUSABLE,
        OFFHEAP_SESSION_UPSTREAM_REUSABLE
    );
    assert_eq!((comp.requests, comp.responses), (1, 1));
    // The engine's duplicates come back, the caller's to own.
    assert!(comp.client_fd >= 0 && comp.upstream_fd >= 0);
    // SAFETY: the completion hands these fds over; nothing else owns them.
    let back = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::os::fd::OwnedFd::from_raw_fd(comp.client_fd),
            std::os::fd::OwnedFd::from_raw_fd(comp.upstream_fd),
        )
    };
    drop(back);
    // The client buffer is back with the chunked request in it.
    assert_eq!(fill(cb, -1, &mut io), offheap_status::Ok);
    assert!(view(&io).starts_with(b"POST /b HTTP/1.1\r\n"));
    assert_eq!(offheap_buffer_free(cb), offheap_status::Ok);
    assert_eq!(offheap_buffer_free(ub), offheap_status::Ok);
    assert_eq!(offheap_engine_free(e), offheap_status::Ok);
}
