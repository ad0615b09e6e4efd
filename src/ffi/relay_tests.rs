//! Tests of the relay's C ABI (`src/ffi/relay.rs`), calling the exports as C would.
use super::*;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

/// Injected panics fire in whichever call comes next: keep other exports out meanwhile.
pub(crate) fn lock() -> std::sync::MutexGuard<'static, ()> {
    crate::ffi::boundary::tests::INJECTION_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The four ends of a relay's two connections: the client writes what the relay reads from
/// src (non-blocking), the relay writes to dst (non-blocking) what the server reads.
pub(crate) fn relay_pairs() -> (UnixStream, UnixStream, UnixStream, UnixStream) {
    let (client, src) = UnixStream::pair().unwrap();
    let (dst, server) = UnixStream::pair().unwrap();
    src.set_nonblocking(true).unwrap();
    dst.set_nonblocking(true).unwrap();
    (client, src, dst, server)
}

#[test]
fn panics_are_caught_in_relay_exports() {
    let _l = lock();
    let mut h = 0u64;
    crate::ffi::boundary::offheap_debug_inject_panics(1);
    assert_eq!(
        // SAFETY: `h` is a live, aligned u64, valid for the one write offheap_relay_new's
        // `out` needs.
        unsafe { offheap_relay_new(0, 1, 0, &mut h) },
        offheap_status::Panic
    );
    assert_eq!(h, 0, "out-parameter untouched");
}

#[test]
fn every_relay_error_has_a_status_in_range() {
    let _l = lock();
    // Each relay status but RESOURCE_EXHAUSTED stands for one relay error (the message
    // table's `relay_error`), and that error is reported as the status again; the errors
    // that no status stands for are checked by name.
    let mut errors = 0;
    for &s in offheap_status::ALL {
        if let Some(e) = crate::ffi::messages::relay_error(s) {
            assert_eq!(relay_status(e), s, "{e:?}");
            assert!((200..300).contains(&(s as u32)), "{e:?} -> {s:?}");
            errors += 1;
        }
    }
    assert_eq!(errors, 13);
    assert_eq!(
        relay_status(Error::ResourceExhausted),
        offheap_status::RelayResourceExhausted
    );
    assert_eq!(
        relay_status(Error::InvalidArgument),
        offheap_status::InvalidArgument
    );
}

#[test]
fn relay_steps_through_the_abi() {
    let _l = lock();
    let (mut client, src, dst, mut server) = relay_pairs();
    let mut h = 0u64;
    assert_eq!(
        // SAFETY: `h` is a live, aligned u64, valid for the one write `out` needs.
        unsafe { offheap_relay_new(0, 5, 0, &mut h) },
        offheap_status::Ok
    );
    assert_eq!(
        // SAFETY: `h` is a live, aligned u64 for `out` (bad framing is refused before it is
        // written).
        unsafe { offheap_relay_new(9, 5, 0, &mut h) },
        offheap_status::InvalidArgument
    );
    assert_eq!(
        // SAFETY: `h` is a live, aligned u64 for `out` (bad flags are refused before it is
        // written).
        unsafe { offheap_relay_new(0, 5, 64, &mut h) },
        offheap_status::InvalidArgument
    );
    let mut p = offheap_relay_progress::default();
    // SAFETY: `src` and `dst` are open for the call (owned by this test), and `p` is a live,
    // aligned `offheap_relay_progress` for the one write `out` needs.
    let st = unsafe { offheap_relay_step(h, src.as_raw_fd(), dst.as_raw_fd(), &mut p) };
    assert_eq!(
        (st, p.state),
        (offheap_status::Ok, offheap_relay_state::WantRead as u32)
    );
    client.write_all(b"helloXYZ").unwrap();
    // SAFETY: `src` and `dst` are open for the call (owned by this test), and `p` is a live,
    // aligned `offheap_relay_progress` for the one write `out` needs.
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
    // SAFETY: `src` and `dst` are open for the call (owned by this test), and `p` is a live,
    // aligned `offheap_relay_progress` for the one write `out` needs.
    let st = unsafe { offheap_relay_step(h, src.as_raw_fd(), dst.as_raw_fd(), &mut p) };
    assert_eq!(st, offheap_status::RelayChunkSizeInvalid);
    // SAFETY: the negative fd is refused before any use; `dst` is open and `p` is a live,
    // aligned `offheap_relay_progress`.
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
            // SAFETY: `h` is a live, aligned u64, valid for the one write `out` needs.
            unsafe { offheap_relay_new(offheap_framing::UntilEof as u32, 0, flags, &mut h) },
            offheap_status::Ok
        );
        let mut p = offheap_relay_progress::default();
        for round in 1..=2u64 {
            // SAFETY: `src` and `dst` are open for the call (owned by this test), and `p` is a
            // live, aligned `offheap_relay_progress` for the one write `out` needs.
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
fn pending_bytes_and_a_fed_relay_through_the_abi() {
    let _l = lock();
    let (mut client, src, dst, mut server) = relay_pairs();
    let mut h = 0u64;
    let dechunked = offheap_framing::Dechunked as u32;
    assert_eq!(
        // SAFETY: `h` is a live, aligned u64, valid for the one write `out` needs.
        unsafe { offheap_relay_new(dechunked, 0, 0, &mut h) },
        offheap_status::Ok
    );
    // The head's read took "5\r\nhe": the body goes on inside the chunk.
    let pending = b"5\r\nhe";
    // SAFETY: `pending` is a live array of the length given.
    let st = unsafe { offheap_relay_pending(h, pending.as_ptr(), pending.len()) };
    assert_eq!(st, offheap_status::Ok);
    // SAFETY: NULL with a length is refused before any read.
    let st = unsafe { offheap_relay_pending(h, std::ptr::null(), 3) };
    assert_eq!(st, offheap_status::NullPointer);
    client.write_all(b"llo\r\n0\r\n\r\nNEXT").unwrap();
    let mut p = offheap_relay_progress::default();
    // SAFETY: `src` and `dst` are open for the call (owned by this test), and `p` is a live,
    // aligned `offheap_relay_progress` for the one write `out` needs.
    let st = unsafe { offheap_relay_step(h, src.as_raw_fd(), dst.as_raw_fd(), &mut p) };
    assert_eq!(
        (st, p.state, p.bytes_in, p.bytes_out),
        (offheap_status::Ok, offheap_relay_state::Done as u32, 15, 5)
    );
    let mut got = [0u8; 5];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");

    // The same body fed by a caller that reads the source itself.
    assert_eq!(offheap_relay_reset(h, dechunked, 0, 0), offheap_status::Ok);
    let mut fed = offheap_relay_fed::default();
    let mut data = *b"5\r\nhello\r\n0\r\n\r\n";
    let mut written = 0;
    for piece in [0..5, 5..15] {
        let last = piece.end == data.len();
        let chunk = &mut data[piece];
        // SAFETY: `chunk` is a live, exclusive byte slice of the length given, and `fed` a
        // live, aligned `offheap_relay_fed` for the one write `out` needs.
        let st =
            unsafe { offheap_relay_feed(h, written, chunk.as_mut_ptr(), chunk.len(), 0, &mut fed) };
        assert_eq!(st, offheap_status::Ok);
        assert_eq!(fed.taken as usize, chunk.len());
        assert_eq!(
            fed.read_bound == 0,
            last,
            "the body is over after its last byte only"
        );
        written = fed.kept;
    }
    assert_eq!(fed.progress.state, offheap_relay_state::WantWrite as u32);
    // SAFETY: NULL with length 0 is an empty slice; `fed` is a live, aligned
    // `offheap_relay_fed`.
    let st = unsafe { offheap_relay_feed(h, written, std::ptr::null_mut(), 0, 0, &mut fed) };
    assert_eq!(st, offheap_status::Ok);
    assert_eq!(
        (
            fed.progress.state,
            fed.read_bound,
            fed.progress.bytes_in,
            fed.progress.bytes_out
        ),
        (offheap_relay_state::Done as u32, 0, 15, 5)
    );
    // SAFETY: unknown flags are refused before `data` or `out` is used.
    let st = unsafe { offheap_relay_feed(h, 0, std::ptr::null_mut(), 0, 8, &mut fed) };
    assert_eq!(st, offheap_status::InvalidArgument);
    assert_eq!(offheap_relay_free(h), offheap_status::Ok);

    // Panics are caught in both exports.
    let mut h = 0u64;
    assert_eq!(
        // SAFETY: `h` is a live, aligned u64, valid for the one write `out` needs.
        unsafe { offheap_relay_new(0, 1, 0, &mut h) },
        offheap_status::Ok
    );
    crate::ffi::boundary::offheap_debug_inject_panics(1);
    // SAFETY: `pending` is a live array of the length given.
    let st = unsafe { offheap_relay_pending(h, pending.as_ptr(), pending.len()) };
    assert_eq!(st, offheap_status::Panic);
    assert_eq!(offheap_relay_free(h), offheap_status::Ok);
    assert_eq!(
        // SAFETY: `h` is a live, aligned u64, valid for the one write `out` needs.
        unsafe { offheap_relay_new(0, 1, 0, &mut h) },
        offheap_status::Ok
    );
    crate::ffi::boundary::offheap_debug_inject_panics(1);
    // SAFETY: `fed` is a live, aligned `offheap_relay_fed`.
    let st = unsafe { offheap_relay_feed(h, 0, std::ptr::null_mut(), 0, 0, &mut fed) };
    assert_eq!(st, offheap_status::Panic);
    assert_eq!(offheap_relay_free(h), offheap_status::Ok);
}
