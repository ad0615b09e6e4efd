//! Relay integration tests: every framing over TCP and Unix sockets, with and without
//! splice, against a naive reference; then faults, each ending with a clear error and no
//! leaked fds.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::thread;

use common::{BAD_CHUNKED, Rng, Sock, chunk_encode, relay_ends, serial, sha256};
use offheap::relay::{self, Error, Framing, Options, Progress, Relay, Tunnel};

struct Outcome {
    result: Result<(), Error>,
    received: Vec<u8>,
    /// What stayed in the source after the relay (bytes past the body).
    left: Vec<u8>,
    stats: relay::RelayStats,
}

/// Sends `input` into a relay with `opts` (pieces of random size), collects what comes out.
fn run(tcp: bool, opts: Options, input: Vec<u8>, seed: u64) -> Outcome {
    run_pending(tcp, opts, input, 0, seed)
}

/// [`run`], with the first `pending` bytes of `input` given to the relay as pending bytes
/// ([`Relay::set_pending`]) rather than through the source.
fn run_pending(tcp: bool, opts: Options, input: Vec<u8>, pending: usize, seed: u64) -> Outcome {
    let (mut client, src, dst, mut server) = relay_ends(tcp);
    let given = input[..pending].to_vec();
    let writer = thread::spawn(move || {
        let mut rng = Rng(seed | 1);
        let mut i = pending;
        while i < input.len() {
            let n = (1 + rng.below(70_000) as usize).min(input.len() - i);
            if client.write_all(&input[i..i + n]).is_err() {
                break;
            }
            i += n;
        }
        client.shutdown_write();
        client
    });
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        let _ = server.read_to_end(&mut got);
        got
    });
    let mut relay = Relay::new(opts);
    relay.set_pending(&given);
    let result = relay.drive(src.as_fd(), dst.as_fd(), 10_000);
    drop(dst);
    let received = reader.join().unwrap();
    let _client = writer.join().unwrap();
    let mut left = Vec::new();
    if let Sock::Tcp(s) = &src {
        s.set_nonblocking(false).unwrap();
    }
    if let Sock::Unix(s) = &src {
        s.set_nonblocking(false).unwrap();
    }
    let mut src = src;
    let _ = src.read_to_end(&mut left);
    Outcome {
        result,
        received,
        left,
        stats: relay.stats(),
    }
}

fn opts(framing: Framing, splice: bool) -> Options {
    Options {
        framing,
        splice,
        shutdown_on_done: false,
    }
}

#[test]
fn every_framing_matches_reference() {
    let _serial = serial();
    let fds = common::Fds::now();
    let mut rng = Rng(0x5eed);
    for case in 0..48u64 {
        let tcp = case % 2 == 0;
        let splice = case % 4 < 2;
        let len = match case % 3 {
            0 => rng.below(100) as usize,
            1 => rng.below(70_000) as usize,
            _ => 100_000 + rng.below(3_000_000) as usize,
        };
        let body = rng.bytes(len);
        let extra = b"GET /next HTTP/1.1\r\n\r\n".to_vec();
        let kind = (case / 6) % 4;
        let max_chunk = 1 + rng.below(200_000);
        let (framing, wire, want) = match kind {
            0 => (Framing::Exact(len as u64), body.clone(), body.clone()),
            1 => (Framing::UntilEof, body.clone(), body.clone()),
            2 => {
                let w = chunk_encode(&body, &mut rng, max_chunk);
                (Framing::Chunked { dechunk: false }, w.clone(), w)
            }
            _ => (
                Framing::Chunked { dechunk: true },
                chunk_encode(&body, &mut rng, max_chunk),
                body.clone(),
            ),
        };
        let mut input = wire.clone();
        if kind != 1 {
            input.extend_from_slice(&extra);
        }
        let out = run(tcp, opts(framing, splice), input, rng.next());
        let label = format!("case {case} tcp={tcp} splice={splice} len={len} {framing:?}");
        assert_eq!(out.result, Ok(()), "{label}");
        assert_eq!(out.received.len(), want.len(), "{label}");
        assert!(sha256(&out.received) == sha256(&want), "{label}");
        if kind != 1 {
            assert_eq!(
                out.left, extra,
                "{label}: bytes after the body must stay unread"
            );
        }
        assert_eq!(out.stats.bytes_out, want.len() as u64, "{label}");
        assert_eq!(out.stats.bytes_in, wire.len() as u64, "{label}");
        assert_eq!(
            out.stats.spliced + out.stats.copied,
            out.stats.bytes_out,
            "{label}"
        );
        if !splice {
            assert_eq!(out.stats.spliced, 0, "{label}");
        } else if kind < 2 && len > 0 {
            assert!(out.stats.spliced > 0, "{label}: splice should be used");
        }
    }
    fds.assert_unchanged();
}

#[test]
fn sha256_known_vector() {
    let _serial = serial();
    let h = sha256(b"abc");
    assert_eq!(h[..4], [0xba, 0x78, 0x16, 0xbf]);
    assert_eq!(h[28..], [0xf2, 0x00, 0x15, 0xad]);
}

#[test]
fn short_body_is_unexpected_eof() {
    let _serial = serial();
    for tcp in [false, true] {
        let out = run(tcp, opts(Framing::Exact(1000), true), vec![7; 600], 3);
        assert_eq!(out.result, Err(Error::UnexpectedEof));
        assert_eq!(out.received, vec![7; 600], "what arrived is forwarded");
        let out = run(
            tcp,
            opts(Framing::Chunked { dechunk: false }, true),
            b"10\r\nabc".to_vec(),
            3,
        );
        assert_eq!(out.result, Err(Error::UnexpectedEof));
    }
}

#[test]
fn long_body_leaves_the_excess_unread() {
    let _serial = serial();
    let out = run(
        true,
        opts(Framing::Exact(5), true),
        b"hello, and more".to_vec(),
        4,
    );
    assert_eq!(out.result, Ok(()));
    assert_eq!(out.received, b"hello");
    assert_eq!(out.left, b", and more");
}

#[test]
fn bad_chunks_have_specific_errors() {
    let _serial = serial();
    for (input, want) in BAD_CHUNKED {
        for dechunk in [false, true] {
            let out = run(
                false,
                opts(Framing::Chunked { dechunk }, true),
                input.to_vec(),
                5,
            );
            assert_eq!(
                out.result,
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

#[test]
fn peer_reset_mid_body() {
    let _serial = serial();
    let fds = common::Fds::now();
    // A TCP socket closed with unread data in its receive queue sends RST.
    let (mut client, src) = common::tcp_pair();
    let (dst, mut server) = common::tcp_pair();
    (&src).write_all(b"unread").unwrap();
    client.write_all(&[1; 10_000]).unwrap();
    thread::sleep(std::time::Duration::from_millis(50));
    drop(client);
    src.set_nonblocking(true).unwrap();
    dst.set_nonblocking(true).unwrap();
    let mut relay = Relay::new(opts(Framing::Exact(1 << 20), true));
    let r = relay.drive(src.as_fd(), dst.as_fd(), 5000);
    assert!(
        matches!(r, Err(Error::ConnectionReset) | Err(Error::UnexpectedEof)),
        "{r:?}"
    );
    assert_eq!(
        relay.step(src.as_fd(), dst.as_fd()),
        r.map(|_| Progress::Done),
        "outcome is sticky"
    );
    drop((src, dst));
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert!(got.len() <= 10_000);
    drop(server);
    fds.assert_unchanged();
}

#[test]
fn destination_closed_is_broken_pipe() {
    let _serial = serial();
    let (mut client, src, dst, server) = relay_ends(true);
    drop(server);
    client.write_all(&[1; 300_000]).unwrap_or(());
    let mut relay = Relay::new(opts(Framing::Exact(300_000), true));
    let r = relay.drive(src.as_fd(), dst.as_fd(), 5000);
    assert!(
        matches!(r, Err(Error::BrokenPipe) | Err(Error::ConnectionReset)),
        "{r:?}"
    );
}

/// SIGPIPEs the process received while [`a_splicing_relay_never_raises_sigpipe`] ran.
static SIGPIPES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn count_sigpipe(_: libc::c_int) {
    SIGPIPES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// splice(2) into a socket whose peer is gone raises SIGPIPE (it has no MSG_NOSIGNAL), which
/// killed the ffi fuzz target's process (a C main, SIGPIPE at its default) without an
/// artifact. A splicing relay fails with a broken pipe and the thread never sees the signal.
/// (This binary, like every Rust program, ignores SIGPIPE: the test counts it instead.)
#[test]
fn a_splicing_relay_never_raises_sigpipe() {
    let _serial = serial();
    // SAFETY: the handler is an `extern "C" fn(c_int)` that only increments an atomic, which
    // is async-signal-safe; every test of this binary holds `serial()`, so none runs meanwhile.
    let previous = unsafe {
        libc::signal(
            libc::SIGPIPE,
            count_sigpipe as extern "C" fn(libc::c_int) as libc::sighandler_t,
        )
    };
    for tcp in [false, true] {
        let (mut client, src) = Sock::pair(tcp);
        let (dst, server) = Sock::pair(tcp);
        let (src, dst) = (src.nonblocking(), dst.nonblocking());
        drop(server);
        // Over a Unix socket the first splice into the closed peer fails, over TCP a later one
        // (after the peer's reset): a larger body, written from a thread. Only over TCP: std
        // sends on a TcpStream with MSG_NOSIGNAL, on a UnixStream it does not, and every
        // SIGPIPE counts here.
        let n = if tcp { 4 << 20 } else { 100_000 };
        let writer = if tcp {
            Some(thread::spawn(move || {
                client.write_all(&vec![1; n]).unwrap_or(())
            }))
        } else {
            client.write_all(&vec![1; n]).unwrap();
            None
        };
        let mut relay = Relay::new(opts(Framing::Exact(n as u64), true));
        let r = relay.drive(src.as_fd(), dst.as_fd(), 5000);
        assert!(
            matches!(r, Err(Error::BrokenPipe) | Err(Error::ConnectionReset)),
            "tcp {tcp}: {r:?}"
        );
        drop(src);
        if let Some(w) = writer {
            w.join().unwrap();
        }
    }
    // SAFETY: restores the disposition `signal` returned above (SIG_IGN, as Rust sets it).
    unsafe { libc::signal(libc::SIGPIPE, previous) };
    assert_eq!(SIGPIPES.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[test]
fn slow_reader_is_bounded() {
    let _serial = serial();
    // The destination never reads: the relay stops with WantWrite, having taken at most
    // one pipe (1 MiB) and one buffer (64 KiB) beyond what the kernel socket buffers hold.
    let (mut client, src, dst, _server) = relay_ends(false);
    let writer = thread::spawn(move || {
        let chunk = vec![9u8; 1 << 16];
        let mut sent = 0usize;
        // Stops once everything is full: 200 ms without being able to write.
        client.set_write_timeout_nb();
        let mut stalled = 0;
        while stalled < 200 && sent < 64 << 20 {
            match client.write(&chunk) {
                Ok(n) => {
                    sent += n;
                    stalled = 0;
                }
                Err(_) => {
                    stalled += 1;
                    thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
        (client, sent)
    });
    let mut relay = Relay::new(opts(Framing::UntilEof, true));
    let mut progress = relay.step(src.as_fd(), dst.as_fd()).unwrap();
    while !writer.is_finished() {
        progress = relay.step(src.as_fd(), dst.as_fd()).unwrap();
        thread::sleep(std::time::Duration::from_millis(1));
    }
    let (_client, sent) = writer.join().unwrap();
    assert_eq!(progress, Progress::WantWrite);
    let held = relay.stats().bytes_in - relay.stats().bytes_out;
    assert!(
        held <= (relay::PIPE_SIZE + relay::BUFFER_SIZE) as u64,
        "held {held}"
    );
    assert!(sent < 64 << 20, "the writer was blocked by backpressure");
    relay.abort(Error::Canceled);
    assert_eq!(relay.step(src.as_fd(), dst.as_fd()), Err(Error::Canceled));
}

trait NonBlockingWrite {
    fn set_write_timeout_nb(&self);
}

impl NonBlockingWrite for Sock {
    fn set_write_timeout_nb(&self) {
        match self {
            Sock::Tcp(s) => s.set_nonblocking(true).unwrap(),
            Sock::Unix(s) => s.set_nonblocking(true).unwrap(),
        }
    }
}

#[test]
fn fd_closed_during_relay_is_bad_fd() {
    let _serial = serial();
    let (mut client, src, dst, mut server) = relay_ends(false);
    client.write_all(b"part").unwrap();
    let mut relay = Relay::new(opts(Framing::Exact(100), false));
    assert_eq!(relay.step(src.as_fd(), dst.as_fd()), Ok(Progress::WantRead));
    let mut got = [0u8; 4];
    server.read_exact(&mut got).unwrap();
    // The owner closed its fd: the number the caller passes no longer names an open file.
    // (A number far above any open fd, so that no other test's fd can take its place.)
    drop(src);
    // SAFETY: `borrow_raw` asks for an fd that stays open while borrowed, so that the borrow
    // cannot act on a file someone else owns. The kernel hands out the lowest free fd number
    // and this process holds nowhere near a million fds, so 999,999 names no file at all: each
    // syscall on it fails with EBADF, the condition under test, and none touches memory.
    let closed = unsafe { std::os::fd::BorrowedFd::borrow_raw(999_999) };
    assert_eq!(relay.step(closed, dst.as_fd()), Err(Error::BadFd));
}

#[test]
fn tunnel_half_close_both_ways() {
    let _serial = serial();
    for tcp in [false, true] {
        let fds = common::Fds::now();
        let (mut client, a, b, mut server) = relay_ends(tcp);
        let mut rng = Rng(77);
        let up = rng.bytes(500_000);
        let down = rng.bytes(300_000);
        let (up2, down2) = (up.clone(), down.clone());
        // Client sends everything then half-closes, and only then reads the reply.
        let c = thread::spawn(move || {
            client.write_all(&up2).unwrap();
            client.shutdown_write();
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got
        });
        // Server reads to EOF first (sees the client's half-close), then replies.
        let s = thread::spawn(move || {
            let mut got = Vec::new();
            server.read_to_end(&mut got).unwrap();
            server.write_all(&down2).unwrap();
            server.shutdown_write();
            got
        });
        let mut t = Tunnel::new();
        loop {
            let p = t.step(a.as_fd(), b.as_fd()).unwrap();
            if p.is_done() {
                break;
            }
            thread::sleep(std::time::Duration::from_micros(200));
        }
        assert!(c.join().unwrap() == down);
        assert!(s.join().unwrap() == up);
        let (ab, ba) = t.stats();
        assert_eq!(
            (ab.bytes_out, ba.bytes_out),
            (up.len() as u64, down.len() as u64)
        );
        drop((a, b, t));
        fds.assert_unchanged();
    }
}

#[test]
fn buffer_and_writev() {
    let _serial = serial();
    let (mut client, src, dst, mut server) = relay_ends(false);
    client
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")
        .unwrap();
    let mut head = relay::Buffer::take();
    let n = head.read_from(src.as_fd()).unwrap().unwrap();
    assert_eq!(n, 42);
    let end = head
        .filled()
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap()
        + 4;
    let (h, body) = head.filled().split_at(end);
    let w = relay::write_vectored(dst.as_fd(), &[h, b"X-Via: offheap\r\n", body])
        .unwrap()
        .unwrap();
    assert_eq!(w, 42 + 16);
    let mut got = vec![0u8; w];
    server.read_exact(&mut got).unwrap();
    assert!(got.ends_with(b"\r\n\r\nX-Via: offheap\r\nbody"));
}

#[test]
fn step_budget_yields_before_blocking() {
    let _serial = serial();
    let (mut client, src, dst, mut server) = relay_ends(false);
    client.write_all(&[3u8; 100_000]).unwrap();
    let reader = thread::spawn(move || {
        let mut got = vec![0u8; 100_000];
        server.read_exact(&mut got).unwrap();
        got
    });
    let mut relay = Relay::new(opts(Framing::UntilEof, true));
    let mut yields = 0;
    loop {
        match relay
            .step_budget(src.as_fd(), dst.as_fd(), 16 << 10)
            .unwrap()
        {
            Progress::Again => yields += 1,
            Progress::WantRead if relay.stats().bytes_out == 100_000 => break,
            p => {
                relay::wait_ready(src.as_fd(), dst.as_fd(), p, 1000).unwrap();
            }
        }
    }
    assert!(yields >= 1, "a step that moved more than its budget yields");
    assert_eq!(reader.join().unwrap(), vec![3u8; 100_000]);
}

/// The shape of a fuzz input (fuzz/corpus/ffi/relay-step-trickle) whose one step ran 11-28 s:
/// a 4 MiB body whose destination is the source's own peer, with 10 bytes in flight, so every
/// read returns 10 bytes and the byte limit alone took 400,000 read/write rounds to reach. A
/// step now stops after [`relay::STEP_READS`] reads, whatever the socket, splice or not.
#[test]
fn a_step_is_bounded_by_reads_when_every_read_returns_a_few_bytes() {
    let _serial = serial();
    const IN_FLIGHT: u64 = 10;
    let per_step = u64::from(relay::STEP_READS) * IN_FLIGHT;
    for tcp in [false, true] {
        for splice in [false, true] {
            let (src, mut peer) = Sock::pair(tcp);
            peer.write_all(&[b'x'; IN_FLIGHT as usize]).unwrap();
            let (src, peer) = (src.nonblocking(), peer.nonblocking());
            let mut relay = Relay::new(opts(Framing::Exact(4 << 20), splice));
            for round in 1..=3u64 {
                let started = std::time::Instant::now();
                let p = relay.step(src.as_fd(), peer.as_fd()).unwrap();
                let took = started.elapsed();
                let moved = relay.stats().bytes_out;
                let case =
                    format!("tcp {tcp}, splice {splice}, step {round}: {moved} bytes in {took:?}");
                assert_eq!(p, Progress::Again, "{case}");
                // Each read takes what is in flight: exactly the 10 bytes over a Unix socket,
                // possibly fewer (never more) over TCP, which may not have them all back yet.
                assert!(moved <= round * per_step, "{case}");
                assert!(moved >= round, "{case}");
                // About 2,000 syscalls, where the unbounded step made about 800,000 (3 s in a
                // debug build). The checks above are the exact ones; this bound leaves room
                // for a loaded machine (a TCP step took 0.5 s under make test's load).
                assert!(took < std::time::Duration::from_secs(2), "{case}");
            }
        }
    }
}

/// The body's framing, the bytes on the wire and what the destination must get, for a random
/// body of `len` bytes (kind 0: exact, 1: until EOF, 2: chunked, 3: de-chunked).
fn body_case(rng: &mut Rng, kind: u64, len: usize) -> (Framing, Vec<u8>, Vec<u8>) {
    let body = rng.bytes(len);
    let max_chunk = 1 + rng.below(5_000);
    match kind {
        0 => (Framing::Exact(len as u64), body.clone(), body),
        1 => (Framing::UntilEof, body.clone(), body),
        2 => {
            let w = chunk_encode(&body, rng, max_chunk);
            (Framing::Chunked { dechunk: false }, w.clone(), w)
        }
        _ => (
            Framing::Chunked { dechunk: true },
            chunk_encode(&body, rng, max_chunk),
            body,
        ),
    }
}

/// Bytes read with a head can start the body (`set_pending`): cut anywhere (inside a chunk
/// size, inside chunk data, past the body into the next message), the relay frames them as
/// the rest, sends the same bytes, counts them in bytes_in, and leaves the bytes past the body
/// both in the pending bytes (not taken) and in the source (not read).
#[test]
fn pending_bytes_start_the_body_at_any_cut() {
    let _serial = serial();
    let fds = common::Fds::now();
    let mut rng = Rng(0x9e4d);
    let next = b"GET /next HTTP/1.1\r\n\r\n".to_vec();
    for case in 0..160u64 {
        let kind = case % 4;
        let splice = case % 8 < 4;
        let len = match case % 5 {
            0 => 0,
            1 | 2 => rng.below(300) as usize,
            3 => rng.below(20_000) as usize,
            _ => 70_000 + rng.below(200_000) as usize,
        };
        let (framing, wire, want) = body_case(&mut rng, kind, len);
        let mut input = wire.clone();
        if kind != 1 {
            input.extend_from_slice(&next);
        }
        let cut = rng.below(input.len() as u64 + 1) as usize;
        let out = run_pending(true, opts(framing, splice), input.clone(), cut, rng.next());
        let label = format!("case {case} splice={splice} len={len} cut={cut} {framing:?}");
        assert_eq!(out.result, Ok(()), "{label}");
        assert!(
            sha256(&out.received) == sha256(&want),
            "{label}: received {} bytes, want {}",
            out.received.len(),
            want.len()
        );
        let st = out.stats;
        assert_eq!(st.bytes_in, wire.len() as u64, "{label}");
        assert_eq!(st.bytes_out, want.len() as u64, "{label}");
        assert_eq!(st.spliced + st.copied, st.bytes_out, "{label}");
        if kind != 1 {
            assert_eq!(
                out.left,
                input[cut.max(wire.len())..],
                "{label}: the source read past the body"
            );
        }
    }
    fds.assert_unchanged();
}

/// A caller that reads the source itself (no fd, as with TLS) and feeds the relay gets the
/// bytes a stepped relay sends, with the same counters, and never reads past the body when it
/// reads at most read_bound at a time, whatever the sizes of its reads.
#[test]
fn fed_relay_matches_a_stepped_one_and_never_reads_past_the_body() {
    let _serial = serial();
    let mut rng = Rng(0xfeed);
    let next = b"GET /next HTTP/1.1\r\n\r\n".to_vec();
    for case in 0..400u64 {
        let kind = case % 4;
        let len = match case % 3 {
            0 => rng.below(50) as usize,
            1 => rng.below(3_000) as usize,
            _ => rng.below(100_000) as usize,
        };
        let (framing, wire, want) = body_case(&mut rng, kind, len);
        let mut input = wire.clone();
        if kind != 1 {
            input.extend_from_slice(&next);
        }
        let label = format!("case {case} len={len} {framing:?}");
        let mut relay = Relay::new(opts(framing, false));
        let (mut at, mut written, mut out) = (0usize, 0u64, Vec::new());
        let mut scratch = vec![0u8; 1 + rng.below(70_000) as usize];
        let mut fed = relay.feed(0, &mut [], false).unwrap();
        while !fed.done {
            let eof = at == input.len();
            let n = (input.len() - at)
                .min(scratch.len())
                .min(1 + rng.below(9_000) as usize)
                .min(fed.read_bound.min(usize::MAX as u64) as usize);
            scratch[..n].copy_from_slice(&input[at..at + n]);
            at += n;
            fed = relay
                .feed(written, &mut scratch[..n], eof && n == 0)
                .unwrap();
            assert_eq!(
                fed.taken, n,
                "{label}: read_bound let the caller read past the body"
            );
            out.extend_from_slice(&scratch[..fed.kept]);
            written = fed.kept as u64;
            if fed.kept > 0 && !fed.done {
                continue;
            }
            if fed.read_bound == 0 && !fed.done {
                fed = relay.feed(written, &mut [], false).unwrap();
                written = 0;
            }
        }
        assert_eq!(out, want, "{label}");
        if kind != 1 {
            assert_eq!(at, wire.len(), "{label}: read past the body");
        }
        let st = relay.stats();
        assert_eq!(
            (st.bytes_in, st.bytes_out, st.copied, st.spliced),
            (wire.len() as u64, want.len() as u64, want.len() as u64, 0),
            "{label}"
        );
        assert_eq!(relay.result(), Some(Ok(())), "{label}");
    }
    // Faults end the body with the error a stepped relay reports.
    for (framing, input, want) in [
        (
            Framing::Chunked { dechunk: false },
            b"zz\r\n".as_slice(),
            Error::ChunkSizeInvalid,
        ),
        (
            Framing::Chunked { dechunk: true },
            b"3\r\nabcX",
            Error::ChunkMissingCrlf,
        ),
        (
            Framing::Exact(10),
            b"short".as_slice(),
            Error::UnexpectedEof,
        ),
    ] {
        let mut relay = Relay::new(opts(framing, false));
        let mut data = input.to_vec();
        let r = relay
            .feed(0, &mut data, false)
            .and_then(|f| relay.feed(f.kept as u64, &mut [], true));
        assert_eq!(r, Err(want), "{framing:?}");
        assert_eq!(
            relay.feed(0, &mut [], false),
            Err(want),
            "later feeds repeat the outcome"
        );
    }
    // Reporting more written than was handed back is a caller error.
    let mut relay = Relay::new(opts(Framing::Exact(4), false));
    assert_eq!(relay.feed(5, &mut [], false), Err(Error::InvalidArgument));
}
