//! Relay benches: bodies of 16 KiB and 1 MiB relayed between loopback TCP sockets with
//! splice and with the buffer copy path, and the chunked decoder in memory. Every bench
//! checks its output: the reader counts the bytes that arrived.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use offheap::relay::{ChunkedDecoder, Framing, Options, Piece, Relay};

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

fn relay_bodies(c: &mut Criterion) {
    let mut g = c.benchmark_group("relay_body_tcp");
    for size in [16usize << 10, 1 << 20] {
        for splice in [true, false] {
            let (mut client, src) = tcp_pair();
            let (dst, mut server) = tcp_pair();
            src.set_nonblocking(true).unwrap();
            dst.set_nonblocking(true).unwrap();
            let (tx, rx) = mpsc::channel::<usize>();
            let writer = thread::spawn(move || {
                let block = vec![0x5au8; 1 << 20];
                while let Ok(n) = rx.recv() {
                    client.write_all(&block[..n]).unwrap();
                }
            });
            let received = Arc::new(AtomicU64::new(0));
            let r = received.clone();
            let reader = thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    match server.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            r.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    }
                }
            });
            let mut relay = Relay::new(Options::new(Framing::Exact(0)));
            let mut sent = 0u64;
            let name = format!(
                "{}KiB_{}",
                size >> 10,
                if splice { "splice" } else { "copy" }
            );
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_function(name, |b| {
                b.iter(|| {
                    tx.send(size).unwrap();
                    relay.reset(Options {
                        framing: Framing::Exact(size as u64),
                        splice,
                        shutdown_on_done: false,
                    });
                    relay.drive(src.as_fd(), dst.as_fd(), 5000).unwrap();
                    sent += size as u64;
                })
            });
            drop((tx, dst));
            writer.join().unwrap();
            reader.join().unwrap();
            assert_eq!(
                received.load(Ordering::Relaxed),
                sent,
                "every relayed byte arrived"
            );
            let st = relay.stats();
            assert_eq!(st.spliced > 0, splice && sent > 0);
        }
    }
    g.finish();
}

/// Moves exactly `len` bytes from `src` to `dst` through `pipe` with blocking splice(2): the
/// shortest native loop, the "limit on this machine" the Go relay is compared with.
fn native_splice(src: &TcpStream, dst: &TcpStream, pipe: &[i32; 2], len: usize) {
    use std::os::fd::AsRawFd;
    let mut left = len;
    while left > 0 {
        let n = splice_some(src.as_raw_fd(), pipe[1], left.min(1 << 20), "splice in");
        let mut inflight = n;
        while inflight > 0 {
            inflight -= splice_some(pipe[0], dst.as_raw_fd(), inflight, "splice out");
        }
        left -= n;
    }
}

/// One blocking splice(2) of up to `len` bytes from `from` to `to`; panics (naming `what`) on
/// an error or end of file.
fn splice_some(from: i32, to: i32, len: usize, what: &str) -> usize {
    // SAFETY: splice(2) reads or writes no memory of ours except the two offset pointers,
    // which are null ("use the file positions"); the fds belong to sockets and a pipe that the
    // bench keeps open for as long as it splices, so a failure is only an errno.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE,
        )
    };
    assert!(n > 0, "{what}: {}", std::io::Error::last_os_error());
    n as usize
}

/// Moves exactly `len` bytes from `src` to `dst` with blocking read/write through `buf`: the
/// plain copy loop, which on loopback sockets moves more than the splice loop.
fn native_copy(mut src: &TcpStream, mut dst: &TcpStream, buf: &mut [u8], len: usize) {
    let mut left = len;
    while left > 0 {
        let want = left.min(buf.len());
        let n = src.read(&mut buf[..want]).unwrap();
        assert!(n > 0, "the source ended early");
        dst.write_all(&buf[..n]).unwrap();
        left -= n;
    }
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// The native loops between the same kind of sockets: a writer thread feeds `src`, a reader
/// thread drains `dst` and counts, and the bench thread relays 1 MiB per iteration with
/// splice (a 1 MiB pipe) or with a copy loop (a buffer of offheap's bulk size). Last, the
/// bound of any relay: the same writer and reader with no relay between them.
fn native_loops(c: &mut Criterion) {
    let mut g = c.benchmark_group("relay_native");
    let mut buf = vec![0u8; offheap::relay::BULK_BUFFER_SIZE];
    native_rig(&mut g, "copy_loop_1MiB", |src, dst, len| {
        native_copy(src, dst, &mut buf, len)
    });
    native_no_relay(&mut g);
    let mut pipe = [-1i32; 2];
    // SAFETY: pipe2(2) writes exactly two ints at its pointer, and `pipe` is a local array of
    // two i32.
    assert_eq!(
        unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) },
        0
    );
    // SAFETY: fcntl(F_SETPIPE_SZ) takes an int by value and touches no memory of ours;
    // `pipe[1]` is the pipe's write end, just created (a failure only leaves the default size).
    unsafe { libc::fcntl(pipe[1], libc::F_SETPIPE_SZ, 1 << 20) };
    native_rig(&mut g, "splice_loop_1MiB", |src, dst, len| {
        native_splice(src, dst, &pipe, len)
    });
    // SAFETY: close(2) touches no memory; the two fds came from pipe2 above, nothing else owns
    // them, and nothing uses them after this (native_rig returned and joined its threads).
    unsafe {
        libc::close(pipe[0]);
        libc::close(pipe[1]);
    }
    g.finish();
}

/// Benches `relay` (1 MiB from `src` to `dst` per iteration) between a writer thread that
/// feeds `src` endlessly and a reader thread that drains `dst`, then checks that every byte
/// relayed arrived.
fn native_rig(g: &mut Group<'_>, name: &str, mut relay: impl FnMut(&TcpStream, &TcpStream, usize)) {
    const SIZE: usize = 1 << 20;
    let (mut client, src) = tcp_pair();
    let (dst, mut server) = tcp_pair();
    let writer = thread::spawn(move || {
        let block = vec![0x5au8; 1 << 20];
        while client.write_all(&block).is_ok() {}
    });
    let received = Arc::new(AtomicU64::new(0));
    let r = received.clone();
    let reader = thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        while let Ok(n @ 1..) = server.read(&mut buf) {
            r.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    let mut sent = 0u64;
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            relay(&src, &dst, SIZE);
            sent += SIZE as u64;
        })
    });
    drop(dst);
    reader.join().unwrap();
    assert_eq!(
        received.load(Ordering::Relaxed),
        sent,
        "{name}: every relayed byte arrived"
    );
    drop(src);
    writer.join().unwrap();
}

fn native_no_relay(g: &mut Group<'_>) {
    const SIZE: usize = 1 << 20;
    let (mut client, mut server) = tcp_pair();
    let writer = thread::spawn(move || {
        let block = vec![0x5au8; 1 << 20];
        while client.write_all(&block).is_ok() {}
    });
    let mut buf = vec![0u8; SIZE];
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.bench_function("no_relay_1MiB", |b| {
        b.iter(|| {
            buf[0] = 0;
            buf[SIZE - 1] = 0;
            server.read_exact(&mut buf).unwrap();
            assert!(
                buf[0] == 0x5a && buf[SIZE - 1] == 0x5a,
                "the bytes written arrived"
            );
        })
    });
    drop(server);
    writer.join().unwrap();
}

fn chunked_decoder(c: &mut Criterion) {
    let mut body = Vec::new();
    let payload = vec![b'x'; 4096];
    for _ in 0..256 {
        body.extend_from_slice(b"1000\r\n");
        body.extend_from_slice(&payload);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let mut g = c.benchmark_group("chunked_decoder");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("1MiB_4KiB_chunks", |b| {
        b.iter(|| {
            let mut d = ChunkedDecoder::new();
            let (mut i, mut data) = (0, 0);
            while !d.is_done() {
                let p = d.feed(&body[i..]).unwrap();
                if let Piece::Data(n) = p {
                    data += n;
                }
                i += p.len();
            }
            assert_eq!(data, 1 << 20);
            black_box(i)
        })
    });
    g.finish();
}

criterion_group!(benches, relay_bodies, native_loops, chunked_decoder);
criterion_main!(benches);
