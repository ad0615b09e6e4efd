//! Bulk buffers: a copying relay moves a bulk flow through a [`BULK_BUFFER_SIZE`] buffer,
//! gives it back while it waits with nothing held, and never has more than
//! [`MAX_BULK_BUFFERS`] alive. One test function: the pool is process-wide, and parallel
//! tests in this binary would see each other's buffers.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::thread;

use common::{Rng, Sock, sha256};
use offheap::relay::{
    self, BULK_BUFFER_SIZE, Buffer, Framing, MAX_BULK_BUFFERS, Options, Progress, Relay,
};

#[test]
fn bulk_flows_borrow_bounded_bulk_buffers() {
    relay::trim();
    assert_eq!(relay::bulk_buffers_live(), 0);

    // 1. A 6 MiB body, copied: once the destination is full the relay holds its bytes in a
    //    bulk buffer; every byte arrives intact.
    const LEN: usize = 6 << 20;
    let data = Rng(7).bytes(LEN);
    let want = sha256(&data);
    let (mut client, src) = Sock::pair(false);
    let (dst, server) = Sock::pair(false);
    let (src, dst) = (src.nonblocking(), dst.nonblocking());
    let writer = thread::spawn(move || client.write_all(&data).unwrap());
    let mut relay = Relay::new(Options {
        framing: Framing::Exact(LEN as u64),
        splice: false,
        shutdown_on_done: false,
    });
    let mut held_bulk = false;
    let mut reader = None;
    let mut server = Some(server);
    loop {
        match relay.step(src.as_fd(), dst.as_fd()).unwrap() {
            Progress::Done => break,
            Progress::WantWrite if reader.is_none() => {
                // Nothing reads the destination yet: what the relay holds is in a bulk
                // buffer, and trimming the idle pool does not take it away.
                relay::trim();
                held_bulk = relay::bulk_buffers_live() == 1;
                let mut server = server.take().unwrap();
                reader = Some(thread::spawn(move || {
                    let mut got = vec![0u8; LEN];
                    server.read_exact(&mut got).unwrap();
                    got
                }));
            }
            p => {
                relay::wait_ready(src.as_fd(), dst.as_fd(), p, 5000).unwrap();
            }
        }
    }
    writer.join().unwrap();
    let got = reader.expect("the destination filled up").join().unwrap();
    assert!(sha256(&got) == want, "every byte arrived intact");
    assert!(held_bulk, "a bulk flow copies through a bulk buffer");
    assert_eq!(relay.stats().copied, LEN as u64);

    // 2. A relay waiting for its source with nothing held keeps no bulk buffer.
    let mut tunnel = Relay::new(Options {
        framing: Framing::UntilEof,
        splice: false,
        shutdown_on_done: true,
    });
    let (mut client, src) = Sock::pair(false);
    let (dst, mut server) = Sock::pair(false);
    let (src, dst) = (src.nonblocking(), dst.nonblocking());
    let burst = Rng(9).bytes(3 << 20);
    let want = sha256(&burst);
    let writer = thread::spawn(move || {
        for piece in burst.chunks(1 << 20) {
            client.write_all(piece).unwrap();
            thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        got
    });
    let mut waits = 0;
    loop {
        match tunnel.step(src.as_fd(), dst.as_fd()).unwrap() {
            Progress::Done => break,
            Progress::Again => {}
            p => {
                if p == Progress::WantRead {
                    waits += 1;
                    relay::trim();
                    assert_eq!(relay::bulk_buffers_live(), 0, "a waiting relay holds none");
                }
                relay::wait_ready(src.as_fd(), dst.as_fd(), p, 5000).unwrap();
            }
        }
    }
    writer.join().unwrap();
    assert!(sha256(&reader.join().unwrap()) == want);
    assert!(waits > 0, "the relay waited for its source");
    drop((tunnel, relay));

    // 3. The bound: at most MAX_BULK_BUFFERS alive, then relays copy through small ones.
    relay::trim();
    let held: Vec<Buffer> = (0..MAX_BULK_BUFFERS)
        .map(|_| Buffer::take_bulk().expect("below the bound"))
        .collect();
    assert!(held.iter().all(|b| b.capacity() == BULK_BUFFER_SIZE));
    assert!(Buffer::take_bulk().is_none(), "the bound holds");
    assert_eq!(relay::bulk_buffers_live(), MAX_BULK_BUFFERS);
    drop(held);
    relay::trim();
    assert_eq!(relay::bulk_buffers_live(), 0, "every bulk buffer freed");
}
