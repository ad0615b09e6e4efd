//! Engine tests with relay jobs: concurrent tunnels with random sizes and resets (SHA-256 of
//! sent == received), bodies, cancellation, and shutdown, each returning to the fd baseline.
//! Session jobs are in `engine_session.rs`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use common::{Rng, Sha256, serial, sha256, tcp_pair};
use offheap::engine::{Completion, Engine, EngineConfig, Job};
use offheap::relay::{self, Error, Framing, Options, duplicate};

fn wait_for(engine: &Engine, n: usize, timeout: Duration) -> Vec<Completion> {
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < n && start.elapsed() < timeout {
        engine.wait(100);
        engine.poll(&mut out, 64);
    }
    out
}

/// A tunnel job over duplicates of `a` and `b` (the originals are closed by the caller).
fn tunnel_job(a: &TcpStream, b: &TcpStream) -> Job {
    Job::Tunnel {
        a: duplicate(a.as_fd()).unwrap(),
        b: duplicate(b.as_fd()).unwrap(),
    }
}

/// Echo server: sends back what it reads, half-closes at EOF.
fn echo(mut s: TcpStream) {
    let mut buf = vec![0u8; 32 << 10];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
}

#[test]
fn concurrent_tunnels_integrity_with_resets() {
    let _serial = serial();
    let fds = common::Fds::now();
    let heap = offheap::heap::stats().live_bytes;
    let engine = Engine::new(EngineConfig {
        workers: 2,
        max_jobs: 1024,
    })
    .unwrap();
    let n = 48;
    let mut rng = Rng(0xfeed);
    let mut conns = Vec::new();
    for id in 0..n as u64 {
        let (client, a) = tcp_pair();
        let (b, server) = tcp_pair();
        engine.submit(id, tunnel_job(&a, &b)).unwrap();
        drop((a, b));
        let size = match id % 4 {
            0 => rng.below(1000) as usize,
            1 => rng.below(100_000) as usize,
            _ => rng.below(1_500_000) as usize,
        };
        let reset = id % 8 == 7;
        let data = rng.bytes(size);
        thread::spawn(move || echo(server));
        let conn = thread::spawn(move || {
            let mut w = client.try_clone().unwrap();
            let sent = sha256(&data);
            let writer = thread::spawn(move || {
                let half = if reset { data.len() / 2 } else { data.len() };
                let _ = w.write_all(&data[..half]);
                if !reset {
                    let _ = w.shutdown(std::net::Shutdown::Write);
                }
            });
            let mut client = client;
            if reset {
                writer.join().unwrap();
                // Unread echoed bytes in the receive queue: closing now sends RST.
                thread::sleep(Duration::from_millis(20));
                drop(client);
                return (sent, None);
            }
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 64 << 10];
            let mut total = 0;
            loop {
                match client.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => {
                        h.update(&buf[..k]);
                        total += k;
                    }
                }
            }
            writer.join().unwrap();
            (sent, Some((h.finish(), total)))
        });
        conns.push((id, size, reset, conn));
    }
    let done = wait_for(&engine, n, Duration::from_secs(60));
    assert_eq!(done.len(), n, "every job completes");
    for (id, size, reset, conn) in conns {
        let (sent, got) = conn.join().unwrap();
        let c = done.iter().find(|c| c.id == id).unwrap();
        if reset {
            assert!(
                c.error.is_some() || c.forward.bytes_out <= size as u64,
                "id {id}: {c:?}"
            );
            continue;
        }
        let (h, total) = got.unwrap();
        assert_eq!(c.error, None, "id {id}");
        assert_eq!(total, size, "id {id}");
        assert!(h == sent, "id {id}: SHA-256 differs");
        assert_eq!(
            (c.forward.bytes_out, c.backward.bytes_out),
            (size as u64, size as u64)
        );
    }
    assert_eq!(engine.in_flight(), 0);
    drop(engine);
    thread::sleep(Duration::from_millis(50)); // echo threads close their sockets
    fds.assert_unchanged();
    let st = relay::stats();
    assert_eq!((st.pipes_live, st.buffers_live), (0, 0));
    // Test threads and their buffers are gone; what stays is below one relay buffer.
    let now = offheap::heap::stats().live_bytes;
    assert!(
        now <= heap + (32 << 10),
        "Rust heap {now} bytes, was {heap}"
    );
}

#[test]
fn body_jobs_and_framing_errors() {
    let _serial = serial();
    let fds = common::Fds::now();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    type Case = (Framing, Vec<u8>, Result<Vec<u8>, Error>);
    let cases: Vec<Case> = vec![
        (
            Framing::Exact(5),
            b"helloEXTRA".to_vec(),
            Ok(b"hello".to_vec()),
        ),
        (
            Framing::Chunked { dechunk: true },
            b"3\r\nabc\r\n0\r\n\r\n".to_vec(),
            Ok(b"abc".to_vec()),
        ),
        (
            Framing::Chunked { dechunk: false },
            b"3\r\nabcX".to_vec(),
            Err(Error::ChunkMissingCrlf),
        ),
        (
            Framing::Exact(100),
            b"short".to_vec(),
            Err(Error::UnexpectedEof),
        ),
    ];
    let mut peers = Vec::new();
    for (id, (framing, input, _)) in cases.iter().enumerate() {
        let (mut client, src) = tcp_pair();
        let (dst, server) = tcp_pair();
        let job = Job::Body {
            src: duplicate(src.as_fd()).unwrap(),
            dst: duplicate(dst.as_fd()).unwrap(),
            opts: Options::new(*framing),
        };
        drop((src, dst));
        engine.submit(id as u64, job).unwrap();
        client.write_all(input).unwrap();
        // The engine may already have failed the body and closed the source (with unread
        // bytes: RST), so the half-close can find the connection gone.
        let _ = client.shutdown(std::net::Shutdown::Write);
        peers.push((client, server));
    }
    let done = wait_for(&engine, cases.len(), Duration::from_secs(10));
    assert_eq!(done.len(), cases.len());
    for (id, (_, _, want)) in cases.iter().enumerate() {
        let c = done.iter().find(|c| c.id == id as u64).unwrap();
        let (_, server) = &mut peers[id];
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        match want {
            Ok(w) => {
                assert_eq!(c.error, None);
                assert_eq!(&got, w);
            }
            Err(e) => assert_eq!(c.error, Some(*e)),
        }
    }
    drop((engine, peers));
    fds.assert_unchanged();
}

#[test]
fn cancel_and_shutdown_close_everything() {
    let _serial = serial();
    let fds = common::Fds::now();
    let engine = Engine::new(EngineConfig {
        workers: 2,
        max_jobs: 4,
    })
    .unwrap();
    let mut peers = Vec::new();
    for id in 0..4u64 {
        let (client, a) = tcp_pair();
        let (b, server) = tcp_pair();
        engine.submit(id, tunnel_job(&a, &b)).unwrap();
        peers.push((client, server));
    }
    // The limit holds.
    let (x, y) = tcp_pair();
    assert_eq!(
        engine.submit(99, tunnel_job(&x, &y)),
        Err(Error::ResourceExhausted)
    );
    drop((x, y));
    engine.cancel(1);
    let done = wait_for(&engine, 1, Duration::from_secs(5));
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].id, done[0].error), (1, Some(Error::Canceled)));
    // The client of a cancelled tunnel sees EOF: the engine closed its duplicates, and the
    // originals are closed here.
    drop(engine); // jobs 0, 2, 3 are cancelled by shutdown; threads joined
    drop(peers);
    fds.assert_unchanged();
}

#[test]
fn unix_socket_tunnel() {
    use std::os::unix::net::UnixStream;
    let _serial = serial();
    let fds = common::Fds::now();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let (mut client, a) = UnixStream::pair().unwrap();
    let (b, mut server) = UnixStream::pair().unwrap();
    let job = Job::Tunnel {
        a: duplicate(a.as_fd()).unwrap(),
        b: duplicate(b.as_fd()).unwrap(),
    };
    drop((a, b));
    engine.submit(5, job).unwrap();
    let data = Rng(9).bytes(3 << 20);
    let sent = sha256(&data);
    let writer = thread::spawn(move || {
        client.write_all(&data).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).unwrap();
        back
    });
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    server.write_all(b"bye").unwrap();
    server.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(sha256(&got) == sent);
    assert_eq!(writer.join().unwrap(), b"bye");
    let done = wait_for(&engine, 1, Duration::from_secs(10));
    assert_eq!(done.len(), 1);
    let c = done[0];
    assert_eq!(
        (c.error, c.forward.bytes_out, c.backward.bytes_out),
        (None, 3 << 20, 3)
    );
    assert_eq!(
        (c.forward.spliced, c.forward.copied),
        (0, 3 << 20),
        "a tunnel copies (bulk buffers) rather than splicing"
    );
    drop((engine, server));
    fds.assert_unchanged();
}
