//! Tests of the relay's C ABI (`src/ffi/relay.rs`), calling the exports as C would.
use super::*;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

/// Injected panics fire in whichever call comes next: keep other exports out meanwhile.
fn lock() -> std::sync::MutexGuard<'static, ()> {
    crate::ffi::boundary::tests::INJECTION_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

#[test]
fn panics_are_caught_in_relay_exports() {
    let _l = lock();
    let mut h = 0u64;
    crate::ffi::boundary::offheap_debug_inject_panics(1);
    assert_eq!(
        // SAFETY: `h` is a valid u64.
        unsafe { offheap_relay_new(0, 1, 0, &mut h) },
        offheap_status::Panic
    );
    assert_eq!(h, 0, "out-parameter untouched");
    crate::ffi::boundary::offheap_debug_inject_panics(1);
    assert_eq!(offheap_engine_cancel(1, 1), offheap_status::Panic);
}

#[test]
fn constants_match_the_core() {
    let _l = lock();
    assert_eq!(OFFHEAP_BUFFER_SIZE, relay::BUFFER_SIZE);
    assert_eq!(OFFHEAP_WRITEV_MAX, 16);
}

#[test]
fn every_relay_error_has_a_status_in_range() {
    let _l = lock();
    use Error::*;
    for e in [
        UnexpectedEof,
        ConnectionReset,
        BrokenPipe,
        BadFd,
        Io,
        ChunkSizeOverflow,
        ChunkSizeInvalid,
        ChunkMissingCrlf,
        ChunkExtensionInvalid,
        TrailersInvalid,
        Unsupported,
        Canceled,
        ResourceExhausted,
        TimedOut,
    ] {
        let s = relay_status(e) as u32;
        assert!((200..300).contains(&s), "{e:?} -> {s}");
    }
}

#[test]
fn relay_steps_through_the_abi() {
    let _l = lock();
    let (mut client, src) = UnixStream::pair().unwrap();
    let (dst, mut server) = UnixStream::pair().unwrap();
    src.set_nonblocking(true).unwrap();
    dst.set_nonblocking(true).unwrap();
    let mut h = 0u64;
    assert_eq!(
        // SAFETY: `h` is a valid u64.
        unsafe { offheap_relay_new(0, 5, 0, &mut h) },
        offheap_status::Ok
    );
    assert_eq!(
        // SAFETY: `h` is a valid u64; bad framing and flags are rejected.
        unsafe { offheap_relay_new(9, 5, 0, &mut h) },
        offheap_status::InvalidArgument
    );
    assert_eq!(
        // SAFETY: as above.
        unsafe { offheap_relay_new(0, 5, 64, &mut h) },
        offheap_status::InvalidArgument
    );
    let mut p = offheap_relay_progress::default();
    // SAFETY: fds open for the call, `p` valid.
    let st = unsafe { offheap_relay_step(h, src.as_raw_fd(), dst.as_raw_fd(), &mut p) };
    assert_eq!(
        (st, p.state),
        (offheap_status::Ok, offheap_relay_state::WantRead as u32)
    );
    client.write_all(b"helloXYZ").unwrap();
    // SAFETY: as above.
    let st = unsafe { offheap_relay_step(h, src.as_raw_fd(), dst.as_raw_fd(), &mut p) };
    assert_eq!(
        (st, p.state, p.bytes_out),
        (offheap_status::Ok, offheap_relay_state::Done as u32, 5)
    );
    let mut got = [0u8; 5];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    assert_eq!(offheap_relay_reset(h, 1, 0, 0), offheap_status::Ok);
    // "XYZ" is not a chunk size.
    // SAFETY: as above.
    let st = unsafe { offheap_relay_step(h, src.as_raw_fd(), dst.as_raw_fd(), &mut p) };
    assert_eq!(st, offheap_status::RelayChunkSizeInvalid);
    // SAFETY: a negative fd is rejected before use.
    let st = unsafe { offheap_relay_step(h, -1, dst.as_raw_fd(), &mut p) };
    assert_eq!(st, offheap_status::InvalidArgument);
    assert_eq!(offheap_relay_free(h), offheap_status::Ok);
    assert_eq!(offheap_relay_free(h), offheap_status::InvalidHandle);
}

#[test]
fn a_step_returns_when_bytes_flow_in_a_circle() {
    let _l = lock();
    // The destination is the source's own peer: every byte written comes back to be read. A
    // step stops at its limit and says to step again (found by the ffi fuzz target, where an
    // unbounded step never returned).
    let (src, mut dst) = UnixStream::pair().unwrap();
    src.set_nonblocking(true).unwrap();
    dst.set_nonblocking(true).unwrap();
    dst.write_all(&[b'x'; 4096]).unwrap();
    for flags in [OFFHEAP_RELAY_SPLICE, 0] {
        let mut h = 0u64;
        assert_eq!(
            // SAFETY: `h` is a valid u64.
            unsafe { offheap_relay_new(offheap_framing::UntilEof as u32, 0, flags, &mut h) },
            offheap_status::Ok
        );
        let mut p = offheap_relay_progress::default();
        for round in 1..=2u64 {
            // SAFETY: fds open for the call, `p` valid.
            let st = unsafe { offheap_relay_step(h, src.as_raw_fd(), dst.as_raw_fd(), &mut p) };
            assert_eq!(
                (st, p.state),
                (offheap_status::Ok, offheap_relay_state::Again as u32),
                "flags {flags}, round {round}"
            );
            assert!(p.bytes_out >= round * OFFHEAP_RELAY_STEP_LIMIT);
            assert!(p.bytes_out < round * (OFFHEAP_RELAY_STEP_LIMIT + (2 << 20)));
        }
        assert_eq!(offheap_relay_free(h), offheap_status::Ok);
    }
}

#[test]
fn buffer_bytes_for_other_subsystems() {
    let _l = lock();
    let mut a = 0u64;
    // SAFETY: valid out-parameter.
    unsafe { offheap_buffer_new(&mut a) };
    assert_eq!(with_buffer_bytes(a, |b| b.len()), Ok(0));
    offheap_buffer_free(a);
    assert_eq!(
        with_buffer_bytes(a, |b| b.len()),
        Err(offheap_status::InvalidHandle)
    );
}

#[test]
fn buffer_read_view_writev() {
    let _l = lock();
    let (mut client, src) = UnixStream::pair().unwrap();
    let (dst, mut server) = UnixStream::pair().unwrap();
    src.set_nonblocking(true).unwrap();
    dst.set_nonblocking(true).unwrap();
    let (mut a, mut b) = (0u64, 0u64);
    // SAFETY: valid out-parameters.
    unsafe {
        assert_eq!(offheap_buffer_new(&mut a), offheap_status::Ok);
        assert_eq!(offheap_buffer_new(&mut b), offheap_status::Ok);
    }
    let (mut n, mut state) = (0usize, 0u32);
    // SAFETY: fd open, out-parameters valid.
    let st = unsafe { offheap_buffer_read(a, src.as_raw_fd(), &mut n, &mut state) };
    assert_eq!(
        (st, n, state),
        (offheap_status::Ok, 0, offheap_relay_state::WantRead as u32)
    );
    client.write_all(b"HEAD\r\n\r\n").unwrap();
    // SAFETY: as above.
    let st = unsafe { offheap_buffer_read(a, src.as_raw_fd(), &mut n, &mut state) };
    assert_eq!(
        (st, n, state),
        (offheap_status::Ok, 8, offheap_relay_state::Done as u32)
    );
    client.write_all(b"body").unwrap();
    // SAFETY: as above.
    unsafe { offheap_buffer_read(b, src.as_raw_fd(), &mut n, &mut state) };
    let (mut p, mut len) = (std::ptr::null::<u8>(), 0usize);
    assert_eq!(
        // SAFETY: valid out-parameters.
        unsafe { offheap_buffer_view(a, &mut p, &mut len) },
        offheap_status::Ok
    );
    assert_eq!(
        // SAFETY: the view is valid until the buffer is consumed or freed.
        unsafe { std::slice::from_raw_parts(p, len) },
        b"HEAD\r\n\r\n"
    );
    let ids = [a, b];
    let st =
        // SAFETY: `ids` valid for 2 reads; fd open; out-parameters valid.
        unsafe { offheap_buffer_writev(dst.as_raw_fd(), ids.as_ptr(), 2, &mut n, &mut state) };
    assert_eq!((st, n), (offheap_status::Ok, 12));
    let mut got = [0u8; 12];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"HEAD\r\n\r\nbody");
    assert_eq!(
        // SAFETY: valid out-parameters; both buffers were fully consumed.
        unsafe { offheap_buffer_view(a, &mut p, &mut len) },
        offheap_status::Ok
    );
    assert_eq!((p, len), (std::ptr::null(), 0));
    let twice = [a, a];
    // SAFETY: as above.
    let st =
        unsafe { offheap_buffer_writev(dst.as_raw_fd(), twice.as_ptr(), 2, &mut n, &mut state) };
    assert_eq!(st, offheap_status::InvalidArgument);
    assert_eq!(offheap_buffer_free(a), offheap_status::Ok);
    assert_eq!(offheap_buffer_free(b), offheap_status::Ok);
}

fn fill(buffer: u64, fd: i32, io: &mut offheap_buffer_io) -> offheap_status {
    // SAFETY: `io` is a valid, aligned struct; `fd` is -1 or open for the call.
    unsafe { offheap_buffer_fill(buffer, fd, io) }
}

fn view(io: &offheap_buffer_io) -> &[u8] {
    if io.data.is_null() {
        assert_eq!(io.len, 0, "NULL only with length 0");
        return &[];
    }
    // SAFETY: the view is valid until the next call naming the buffer.
    unsafe { std::slice::from_raw_parts(io.data, io.len) }
}

#[test]
fn buffer_fill_consumes_reads_and_reports_the_view() {
    let _l = lock();
    let (mut client, src) = UnixStream::pair().unwrap();
    src.set_nonblocking(true).unwrap();
    let mut a = 0u64;
    // SAFETY: valid out-parameter.
    assert_eq!(unsafe { offheap_buffer_new(&mut a) }, offheap_status::Ok);
    let mut io = offheap_buffer_io {
        consume: 0,
        n: 7,
        data: std::ptr::null(),
        len: 7,
        state: 9,
    };
    // No fd: only the (empty) view.
    assert_eq!(fill(a, -1, &mut io), offheap_status::Ok);
    assert_eq!(
        (io.n, io.len, io.state),
        (0, 0, offheap_relay_state::Done as u32)
    );
    assert!(io.data.is_null());
    // Nothing to read yet.
    assert_eq!(fill(a, src.as_raw_fd(), &mut io), offheap_status::Ok);
    assert_eq!(
        (io.n, io.len, io.state),
        (0, 0, offheap_relay_state::WantRead as u32)
    );
    client.write_all(b"HEAD\r\n\r\nbody").unwrap();
    assert_eq!(fill(a, src.as_raw_fd(), &mut io), offheap_status::Ok);
    assert_eq!((io.n, io.state), (12, offheap_relay_state::Done as u32));
    assert_eq!(view(&io), b"HEAD\r\n\r\nbody");
    let first = io.data;
    // Consume the head and read more in one call: the view starts after the head.
    client.write_all(b"!").unwrap();
    io.consume = 8;
    assert_eq!(fill(a, src.as_raw_fd(), &mut io), offheap_status::Ok);
    assert_eq!((io.consume, io.n), (0, 1));
    assert_eq!(view(&io), b"body!");
    assert_eq!(io.data, first.wrapping_add(8), "consuming moves no bytes");
    // The view agrees with offheap_buffer_view.
    let (mut p, mut len) = (std::ptr::null::<u8>(), 0usize);
    // SAFETY: valid out-parameters.
    let st = unsafe { offheap_buffer_view(a, &mut p, &mut len) };
    assert_eq!(st, offheap_status::Ok);
    assert_eq!((p, len), (io.data, io.len));
    // Consuming more than is filled empties the buffer: (NULL, 0).
    io.consume = 1000;
    assert_eq!(fill(a, -1, &mut io), offheap_status::Ok);
    assert_eq!((io.consume, io.len), (0, 0));
    assert!(io.data.is_null());
    // End of file: DONE with 0 bytes.
    drop(client);
    assert_eq!(fill(a, src.as_raw_fd(), &mut io), offheap_status::Ok);
    assert_eq!((io.n, io.state), (0, offheap_relay_state::Done as u32));

    // A failing read still consumes, and says so by zeroing `consume`.
    let (mut c2, s2) = UnixStream::pair().unwrap();
    s2.set_nonblocking(true).unwrap();
    c2.write_all(b"abcdef").unwrap();
    assert_eq!(fill(a, s2.as_raw_fd(), &mut io), offheap_status::Ok);
    assert_eq!(view(&io), b"abcdef");
    let (_r, w) = std::io::pipe().unwrap();
    io.consume = 2;
    let st = fill(a, w.as_raw_fd(), &mut io); // reading a pipe's write end: EBADF
    assert_ne!(st, offheap_status::Ok);
    assert_eq!(io.consume, 0);
    assert_eq!(fill(a, -1, &mut io), offheap_status::Ok);
    assert_eq!(view(&io), b"cdef");

    // Bad arguments: NULL io, a negative fd other than -1, a freed handle.
    // SAFETY: NULL is refused before any access.
    let st = unsafe { offheap_buffer_fill(a, -1, std::ptr::null_mut()) };
    assert_eq!(st, offheap_status::NullPointer);
    assert_eq!(fill(a, -2, &mut io), offheap_status::InvalidArgument);
    assert_eq!(offheap_buffer_free(a), offheap_status::Ok);
    let st = fill(a, -1, &mut io);
    assert_ne!(st, offheap_status::Ok);
    // A panic inside is caught.
    crate::ffi::boundary::offheap_debug_inject_panics(1);
    assert_eq!(fill(a, -1, &mut io), offheap_status::Panic);
}

#[test]
fn engine_through_the_abi() {
    let _l = lock();
    let (mut client, a) = UnixStream::pair().unwrap();
    let (b, mut server) = UnixStream::pair().unwrap();
    let mut e = 0u64;
    assert_eq!(
        // SAFETY: valid out-parameter.
        unsafe { offheap_engine_new(0, 8, &mut e) },
        offheap_status::InvalidArgument
    );
    assert_eq!(
        // SAFETY: valid out-parameter.
        unsafe { offheap_engine_new(1, 8, &mut e) },
        offheap_status::Ok
    );
    let mut fd = -1;
    assert_eq!(
        // SAFETY: valid out-parameter.
        unsafe { offheap_engine_ready_fd(e, &mut fd) },
        offheap_status::Ok
    );
    // SAFETY: the fd was just created for us; owning it closes it at the end.
    let ready = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let st =
        // SAFETY: fds open for the call.
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
    let mut e = 0u64;
    assert_eq!(
        // SAFETY: valid out-parameter.
        unsafe { offheap_engine_new(2, 3, &mut e) },
        offheap_status::Ok
    );
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
    let mut e = 0u64;
    // SAFETY: valid out-parameter.
    let st = unsafe { offheap_engine_new(1, 16, &mut e) };
    assert_eq!(st, offheap_status::Ok);
    let (mut cb, mut ub) = (0u64, 0u64);
    // SAFETY: valid out-parameters.
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
        client_ip_len: 9,
        host_len: 2,
        flags: OFFHEAP_SESSION_SET_HOST,
        ..Default::default()
    };
    let (sp, sl) = (strings.as_ptr(), strings.len());
    // SAFETY: fds open; `opts` and `strings` valid.
    let st = unsafe {
        offheap_engine_submit_session(e, 9, c.as_raw_fd(), u.as_raw_fd(), cb, ub, &opts, sp, sl)
    };
    assert_eq!(st, offheap_status::Ok);
    // The same buffers twice, or the same id again, are refused.
    // SAFETY: as above.
    let twice = unsafe {
        offheap_engine_submit_session(e, 10, c.as_raw_fd(), u.as_raw_fd(), cb, cb, &opts, sp, sl)
    };
    assert_eq!(twice, offheap_status::InvalidArgument);
    // Lengths that do not add up to the strings are refused.
    // SAFETY: as above.
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
        // SAFETY: valid array and out-parameter.
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
