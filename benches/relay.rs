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

criterion_group!(benches, relay_bodies, chunked_decoder);
criterion_main!(benches);
