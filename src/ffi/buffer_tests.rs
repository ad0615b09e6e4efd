//! Tests of the buffers' C ABI (`src/ffi/buffer.rs`), calling the exports as C would.
use super::*;
use crate::ffi::relay::tests::lock;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

#[test]
fn constants_match_the_core() {
    let _l = lock();
    assert_eq!(OFFHEAP_BUFFER_SIZE, relay::BUFFER_SIZE);
    assert_eq!(OFFHEAP_WRITEV_MAX, 16);
}

#[test]
fn a_buffer_handle_gives_its_bytes_until_freed() {
    let _l = lock();
    let mut a = 0u64;
    // SAFETY: `a` is a live, aligned u64, valid for the one write `out` needs.
    assert_eq!(unsafe { offheap_buffer_new(&mut a) }, offheap_status::Ok);
    let (mut p, mut len) = (b"x".as_ptr(), 7usize); // overwritten: (NULL, 0) when empty
    // SAFETY: `p` and `len` are live, aligned locals, valid for the one write each needs.
    let st = unsafe { offheap_buffer_view(a, &mut p, &mut len) };
    assert_eq!((st, p, len), (offheap_status::Ok, std::ptr::null(), 0));
    assert_eq!(offheap_buffer_free(a), offheap_status::Ok);
    // SAFETY: `p` and `len` are live, aligned locals (a freed handle is refused before either
    // is written).
    let st = unsafe { offheap_buffer_view(a, &mut p, &mut len) };
    assert_eq!(st, offheap_status::InvalidHandle);
}

#[test]
fn buffer_read_view_writev() {
    let _l = lock();
    let (mut client, src, dst, mut server) = crate::ffi::relay::tests::relay_pairs();
    let (mut a, mut b) = (0u64, 0u64);
    // SAFETY: `a` and `b` are live, aligned u64s, valid for the one write each `out` needs.
    unsafe {
        assert_eq!(offheap_buffer_new(&mut a), offheap_status::Ok);
        assert_eq!(offheap_buffer_new(&mut b), offheap_status::Ok);
    }
    let (mut n, mut state) = (0usize, 0u32);
    // SAFETY: `src` is open for the call (owned by this test); `n` and `state` are live,
    // aligned locals for the one write each out-parameter needs.
    let st = unsafe { offheap_buffer_read(a, src.as_raw_fd(), &mut n, &mut state) };
    assert_eq!(
        (st, n, state),
        (offheap_status::Ok, 0, offheap_relay_state::WantRead as u32)
    );
    client.write_all(b"HEAD\r\n\r\n").unwrap();
    // SAFETY: `src` is open for the call (owned by this test); `n` and `state` are live,
    // aligned locals for the one write each out-parameter needs.
    let st = unsafe { offheap_buffer_read(a, src.as_raw_fd(), &mut n, &mut state) };
    assert_eq!(
        (st, n, state),
        (offheap_status::Ok, 8, offheap_relay_state::Done as u32)
    );
    client.write_all(b"body").unwrap();
    // SAFETY: `src` is open for the call (owned by this test); `n` and `state` are live,
    // aligned locals for the one write each out-parameter needs.
    unsafe { offheap_buffer_read(b, src.as_raw_fd(), &mut n, &mut state) };
    let (mut p, mut len) = (std::ptr::null::<u8>(), 0usize);
    assert_eq!(
        // SAFETY: `p` and `len` are live, aligned locals for the one write each needs.
        unsafe { offheap_buffer_view(a, &mut p, &mut len) },
        offheap_status::Ok
    );
    assert_eq!(
        // SAFETY: `offheap_buffer_view` returned `len` initialised bytes at `p` (non-NULL, as
        // `len` > 0), valid until the next consume, clear, writev naming `a`, or free: none
        // comes before this slice is last used.
        unsafe { std::slice::from_raw_parts(p, len) },
        b"HEAD\r\n\r\n"
    );
    let ids = [a, b];
    let st =
        // SAFETY: `ids` holds the 2 handles `buffers` must, `dst` is open for the call, and `n`
        // and `state` are live, aligned locals for the out-parameters.
        unsafe { offheap_buffer_writev(dst.as_raw_fd(), ids.as_ptr(), 2, &mut n, &mut state) };
    assert_eq!((st, n), (offheap_status::Ok, 12));
    let mut got = [0u8; 12];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"HEAD\r\n\r\nbody");
    assert_eq!(
        // SAFETY: `p` and `len` are live, aligned locals for the one write each needs.
        unsafe { offheap_buffer_view(a, &mut p, &mut len) },
        offheap_status::Ok
    );
    assert_eq!((p, len), (std::ptr::null(), 0));
    let twice = [a, a];
    // SAFETY: `twice` holds the 2 handles `buffers` must, `dst` is open for the call, and `n`
    // and `state` are live, aligned locals for the out-parameters.
    let st =
        unsafe { offheap_buffer_writev(dst.as_raw_fd(), twice.as_ptr(), 2, &mut n, &mut state) };
    assert_eq!(st, offheap_status::InvalidArgument);
    assert_eq!(offheap_buffer_free(a), offheap_status::Ok);
    assert_eq!(offheap_buffer_free(b), offheap_status::Ok);
}

pub(crate) fn fill(buffer: u64, fd: i32, io: &mut offheap_buffer_io) -> offheap_status {
    // SAFETY: `io` is an exclusive borrow of a live, aligned `offheap_buffer_io`, which is what
    // `io` must point to; every caller passes -1 or an fd it keeps open for the call.
    unsafe { offheap_buffer_fill(buffer, fd, io) }
}

pub(crate) fn view(io: &offheap_buffer_io) -> &[u8] {
    if io.data.is_null() {
        assert_eq!(io.len, 0, "NULL only with length 0");
        return &[];
    }
    // SAFETY: a successful `offheap_buffer_fill` left `io.len` initialised bytes at the
    // non-NULL `io.data`, valid until the next call naming the buffer, which callers make only
    // after they are done with the slice (it borrows `io`, which such a call needs mutably).
    unsafe { std::slice::from_raw_parts(io.data, io.len) }
}

#[test]
fn buffer_fill_consumes_reads_and_reports_the_view() {
    let _l = lock();
    let (mut client, src) = UnixStream::pair().unwrap();
    src.set_nonblocking(true).unwrap();
    let mut a = 0u64;
    // SAFETY: `a` is a live, aligned u64, valid for the one write `out` needs.
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
    // SAFETY: `p` and `len` are live, aligned locals for the one write each needs.
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
fn a_buffer_gives_a_relay_its_pending_bytes() {
    let _l = lock();
    use crate::ffi::relay::{
        offheap_framing, offheap_relay_free, offheap_relay_new, offheap_relay_progress,
        offheap_relay_step,
    };
    let (mut client, src, dst, mut server) = crate::ffi::relay::tests::relay_pairs();
    // The head's read brought the start of the body and the next request.
    client.write_all(b"3\r\nabc\r\n0\r\n\r\nGET /").unwrap();
    let (mut b, mut r) = (0u64, 0u64);
    // SAFETY: `b` and `r` are live, aligned u64s, valid for the one write each `out` needs.
    unsafe {
        assert_eq!(offheap_buffer_new(&mut b), offheap_status::Ok);
        let chunked = offheap_framing::Chunked as u32;
        assert_eq!(offheap_relay_new(chunked, 0, 0, &mut r), offheap_status::Ok);
    }
    let (mut n, mut state) = (0usize, 0u32);
    // SAFETY: `src` is open for the call; `n` and `state` are live, aligned locals.
    let st = unsafe { offheap_buffer_read(b, src.as_raw_fd(), &mut n, &mut state) };
    assert_eq!((st, n), (offheap_status::Ok, 18));
    assert_eq!(offheap_relay_pending_buffer(r, b), offheap_status::Ok);
    assert_eq!(
        offheap_relay_pending_buffer(b, r),
        offheap_status::InvalidHandle
    );
    let mut p = offheap_relay_progress::default();
    // SAFETY: `src` and `dst` are open for the call (owned by this test), and `p` is a live,
    // aligned `offheap_relay_progress` for the one write `out` needs.
    let st = unsafe { offheap_relay_step(r, src.as_raw_fd(), dst.as_raw_fd(), &mut p) };
    assert_eq!((st, p.bytes_in, p.bytes_out), (offheap_status::Ok, 13, 13));
    let mut got = [0u8; 13];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"3\r\nabc\r\n0\r\n\r\n");
    // The buffer keeps every byte: the caller drops what the body took.
    let (mut v, mut len) = (std::ptr::null(), 0usize);
    assert_eq!(
        // SAFETY: `v` and `len` are live, aligned locals, valid for the one write each needs.
        unsafe { offheap_buffer_view(b, &mut v, &mut len) },
        offheap_status::Ok
    );
    assert_eq!(len, 18);
    assert_eq!(offheap_relay_free(r), offheap_status::Ok);
    assert_eq!(offheap_buffer_free(b), offheap_status::Ok);
}
