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
