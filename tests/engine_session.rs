//! Session tests: keep-alive exchanges driven step by step as a caller would (bodies both
//! ways, requests and responses the session leaves to its caller, Connection: close,
//! backpressure), then sessions run by the engine with their deadlines, cancellation and the
//! connections and buffers they give back.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::thread;

use offheap::engine::{
    Completion, Engine, EngineConfig, Job, Session, SessionOptions, SessionProgress,
    SessionTimeouts, Side, Stop,
};
use offheap::relay::{
    BUFFER_SIZE, Buffer, Error, Progress, SMALL_BUFFER_SIZE, duplicate, wait_ready,
};

/// Steps until the session stops, waiting in poll(2) as its caller would.
fn drive(s: &mut Session, c: &UnixStream, u: &UnixStream) -> Stop {
    loop {
        match s.step(c.as_fd(), u.as_fd()) {
            SessionProgress::Stopped(st) => return st,
            SessionProgress::Again => {}
            SessionProgress::Wait { side, write } => {
                let fd = match side {
                    Side::Client => c.as_fd(),
                    Side::Upstream => u.as_fd(),
                };
                let want = if write {
                    Progress::WantWrite
                } else {
                    Progress::WantRead
                };
                let ready = wait_ready(fd, fd, want, 5000).unwrap();
                assert!(ready, "waited 5 s on {side:?} (write {write})");
            }
            other => panic!("a pair-mode session stepped to {other:?}"),
        }
    }
}

/// Reads one HTTP message (head, then a Content-Length body) from a blocking stream.
fn read_message(r: &mut impl Read) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if r.read(&mut b).ok()? == 0 {
            return None;
        }
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn opts() -> SessionOptions {
    SessionOptions {
        client_ip: b"192.0.2.7".to_vec(),
        proto: b"http".to_vec(),
        host: Some(b"upstream:8081".to_vec()),
        via: b"offheap".to_vec(),
        ..SessionOptions::default()
    }
}

/// A client connection and an upstream connection, each as (session side, test side).
fn pairs() -> ((UnixStream, UnixStream), (UnixStream, UnixStream)) {
    let (c_sess, c_test) = UnixStream::pair().unwrap();
    let (u_sess, u_test) = UnixStream::pair().unwrap();
    c_sess.set_nonblocking(true).unwrap();
    u_sess.set_nonblocking(true).unwrap();
    ((c_sess, c_test), (u_sess, u_test))
}

/// What the upstream did before its session started.
enum Upstream<'a> {
    /// Nothing.
    Silent,
    /// Wrote these bytes.
    Sent(&'a [u8]),
    /// Closed its connection (shut down both ways).
    Closed,
}

/// A session driven to its first stop over fresh socket pairs, after the client sent
/// `request` and the upstream did `upstream`; every end stays open for the checks that
/// follow.
struct Driven {
    s: Session,
    stop: Stop,
    /// The session's end of the client connection, and the test's.
    c: UnixStream,
    client: UnixStream,
    /// The session's end of the upstream connection, and the test's.
    u: UnixStream,
    up: UnixStream,
}

fn driven(request: &[u8], upstream: Upstream<'_>) -> Driven {
    let ((c, mut client), (u, mut up)) = pairs();
    client.write_all(request).unwrap();
    match upstream {
        Upstream::Silent => {}
        Upstream::Sent(response) => up.write_all(response).unwrap(),
        Upstream::Closed => up.shutdown(std::net::Shutdown::Both).unwrap(),
    }
    let mut s = Session::new(opts());
    let stop = drive(&mut s, &c, &u);
    Driven {
        s,
        stop,
        c,
        client,
        u,
        up,
    }
}

#[test]
fn keep_alive_exchanges_with_bodies_both_ways() {
    let ((c, mut client), (u, mut up)) = pairs();
    let post_body = pattern(100_000, 3);
    let big = pattern(300_000, 9);
    // The upstream answers three requests: 2 bytes, 300,000 bytes, then the POST's echo size.
    let upstream = {
        let big = big.clone();
        thread::spawn(move || {
            let mut seen = Vec::new();
            for i in 0..3 {
                let (head, body) = read_message(&mut up).unwrap();
                let resp_body: Vec<u8> = match i {
                    0 => b"OK".to_vec(),
                    1 => big.clone(),
                    _ => body.len().to_string().into_bytes(),
                };
                write!(
                    up,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
                    resp_body.len()
                )
                .unwrap();
                up.write_all(&resp_body).unwrap();
                seen.push((head, body));
            }
            seen
        })
    };
    let client_side = {
        let post_body = post_body.clone();
        thread::spawn(move || {
            // Two pipelined GETs, then a POST with a body.
            client
                .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut got = vec![
                read_message(&mut client).unwrap(),
                read_message(&mut client).unwrap(),
            ];
            write!(
                client,
                "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                post_body.len()
            )
            .unwrap();
            client.write_all(&post_body).unwrap();
            got.push(read_message(&mut client).unwrap());
            drop(client);
            got
        })
    };
    let mut s = Session::new(opts());
    let stop = drive(&mut s, &c, &u);
    assert_eq!(
        stop,
        Stop::ClientClosed {
            upstream_reusable: true
        }
    );
    let got = client_side.join().unwrap();
    let seen = upstream.join().unwrap();
    assert_eq!(got[0].1, b"OK");
    assert_eq!(got[1].1, big, "the 300,000-byte body arrives intact");
    assert_eq!(got[2].1, post_body.len().to_string().into_bytes());
    assert!(
        got[0].0.contains("Via: 1.1 offheap"),
        "response head rewritten: {}",
        got[0].0
    );
    assert!(
        !got[0].0.contains("Connection: keep-alive"),
        "hop-by-hop header dropped"
    );
    assert_eq!(seen[2].1, post_body, "the request body arrives intact");
    for (head, _) in &seen {
        assert!(
            head.contains("X-Forwarded-For: 192.0.2.7"),
            "request head rewritten: {head}"
        );
        assert!(head.contains("Host: upstream:8081"));
    }
    assert_eq!(s.stats().requests, 3);
    assert_eq!(s.stats().responses, 3);
    assert!(
        s.stats().body_bytes > 0,
        "the large bodies were relayed, not only buffered"
    );
}

#[test]
fn requests_that_are_not_the_sessions_stop_it_before_anything_is_sent() {
    for req in [
        &b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    ] {
        let mut d = driven(req, Upstream::Silent);
        assert_eq!(
            d.stop,
            Stop::Request {
                upstream_reusable: true
            },
            "{:?}",
            String::from_utf8_lossy(req)
        );
        assert_eq!(
            d.s.client_buffer().filled(),
            req,
            "the request is left whole"
        );
        d.up.set_nonblocking(true).unwrap();
        assert!(d.up.read(&mut [0u8; 16]).is_err(), "nothing went upstream");
    }
}

#[test]
fn responses_that_are_not_the_sessions_stop_it_with_their_bytes() {
    for resp in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"[..],
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nuntil the end",
        b"HTTP/1.1 2xx Bad\r\n\r\n",
    ] {
        let mut d = driven(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", Upstream::Sent(resp));
        assert_eq!(
            d.stop,
            Stop::Response,
            "{:?}",
            String::from_utf8_lossy(resp)
        );
        assert_eq!(d.s.upstream_buffer().filled(), resp);
        assert!(
            read_message(&mut d.up)
                .unwrap()
                .0
                .starts_with("GET / HTTP/1.1\r\n"),
            "the request went out"
        );
    }
    // The upstream closed first: a bodiless request comes back whole (to be sent again on
    // another connection), and a request with a body is not sent at all.
    for req in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
    ] {
        let mut d = driven(req, Upstream::Closed);
        assert_eq!(
            d.stop,
            Stop::Request {
                upstream_reusable: false
            }
        );
        assert_eq!(d.s.client_buffer().filled(), req);
        assert_eq!(d.s.stats().requests, 0);
    }
}

#[test]
fn connection_close_on_either_side_ends_the_loop() {
    // The client asks to close: the response says so and the session is done.
    let mut d = driven(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Upstream::Sent(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"),
    );
    assert_eq!(
        d.stop,
        Stop::Done {
            upstream_reusable: true
        }
    );
    let (head, body) = read_message(&mut d.client).unwrap();
    assert!(head.contains("Connection: close\r\n"), "{head}");
    assert_eq!(body, b"OK");
    // The upstream closes after its response: the client goes on without it.
    let Driven {
        mut s,
        stop,
        c,
        mut client,
        u: _u,
        up,
    } = driven(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n",
        Upstream::Sent(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"),
    );
    assert_eq!(
        stop,
        Stop::Request {
            upstream_reusable: false
        }
    );
    let (head, body) = read_message(&mut client).unwrap();
    assert!(
        !head.contains("Connection: close"),
        "the client keeps its connection: {head}"
    );
    assert_eq!(body, b"OK");
    assert!(
        s.client_buffer().filled().starts_with(b"GET /next "),
        "the next request waits"
    );
    // A resumed session carries on with a new upstream.
    let (u2, mut up2) = UnixStream::pair().unwrap();
    u2.set_nonblocking(true).unwrap();
    up2.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!")
        .unwrap();
    s.resume();
    drop(up);
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(
        drive(&mut s, &c, &u2),
        Stop::ClientClosed {
            upstream_reusable: true
        }
    );
    assert_eq!(read_message(&mut client).unwrap().1, b"!");
}

#[test]
fn a_slow_client_gets_a_large_body_through_backpressure() {
    let ((c, mut client), (u, mut up)) = pairs();
    let big = pattern(4 << 20, 1);
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let writer = {
        let big = big.clone();
        thread::spawn(move || {
            write!(
                up,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                big.len()
            )
            .unwrap();
            up.write_all(&big).unwrap();
            up
        })
    };
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            thread::sleep(std::time::Duration::from_micros(200));
            match client.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
            if got.len() >= big.len() + 20 && got.ends_with(&big[big.len() - 16..]) {
                break;
            }
        }
        (got, big)
    });
    let mut s = Session::new(opts());
    assert_eq!(
        drive(&mut s, &c, &u),
        Stop::Done {
            upstream_reusable: true
        }
    );
    drop(c);
    let _up = writer.join().unwrap();
    let (got, big) = reader.join().unwrap();
    let start = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(&got[start..], &big[..]);
}

/// Runs one pair-mode session without storage (as the engine proxy lends them) over a
/// request head of `head_pad` more header bytes and a response body of `body` bytes; checks
/// both arrive intact and returns the session's buffer capacities (client, upstream).
fn exchange_capacities(head_pad: usize, body: usize) -> (usize, usize) {
    let ((c, mut client), (u, mut up)) = pairs();
    let resp = pattern(body, 5);
    let upstream = {
        let resp = resp.clone();
        thread::spawn(move || {
            let (head, _) = read_message(&mut up).unwrap();
            // Head and body in one write: a head written alone could be read alone, and the
            // body then relayed without the head's buffer ever filling (the capacities below
            // would depend on the timing).
            let mut out =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", resp.len()).into_bytes();
            out.extend_from_slice(&resp);
            up.write_all(&out).unwrap();
            head
        })
    };
    let client_side = thread::spawn(move || {
        let pad = "p".repeat(head_pad);
        write!(client, "GET /a HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n").unwrap();
        let got = read_message(&mut client).unwrap();
        drop(client);
        got
    });
    let mut o = opts();
    o.head.max_head_len = 1 << 20;
    let mut s = Session::with_buffers(o, Buffer::none(), Buffer::none());
    assert_eq!(
        drive(&mut s, &c, &u),
        Stop::ClientClosed {
            upstream_reusable: true
        }
    );
    assert_eq!(client_side.join().unwrap().1, resp);
    let head = upstream.join().unwrap();
    assert!(head.contains(&format!("X-Pad: {}\r\n", "p".repeat(head_pad))));
    (s.client_buffer().capacity(), s.upstream_buffer().capacity())
}

#[test]
fn heads_are_read_into_small_buffers_and_a_filled_one_moves_to_a_full_size_one() {
    // A small exchange holds a page per side, not BUFFER_SIZE bytes.
    assert_eq!(
        exchange_capacities(10, 2),
        (SMALL_BUFFER_SIZE, SMALL_BUFFER_SIZE)
    );
    // A head longer than a small buffer, a body larger than one: full-size buffers, bytes
    // intact.
    assert_eq!(
        exchange_capacities(6000, 20_000),
        (BUFFER_SIZE, BUFFER_SIZE)
    );
    // Around the small buffer's size, and a head longer than a full-size buffer (the limit
    // raised to 1 MiB).
    for body in (SMALL_BUFFER_SIZE - 60..SMALL_BUFFER_SIZE + 10).step_by(7) {
        exchange_capacities(0, body);
    }
    let (client, _) = exchange_capacities(BUFFER_SIZE + 100, 0);
    assert!(client > BUFFER_SIZE);
}

/// Submits to `e`, as job `id`, a session over fresh socket pairs after the client sent
/// `request` and the upstream `response` (nothing when empty); returns the test's ends of
/// the client and the upstream connection (the engine holds duplicates of the session's).
fn submitted(
    e: &Engine,
    id: u64,
    timeouts: SessionTimeouts,
    request: &[u8],
    response: &[u8],
) -> (UnixStream, UnixStream) {
    let ((c, mut client), (u, mut up)) = pairs();
    let job = Job::Session {
        client: duplicate(c.as_fd()).unwrap(),
        upstream: duplicate(u.as_fd()).unwrap(),
        session: Box::new(Session::new(opts())),
        timeouts,
    };
    e.submit(id, job).unwrap();
    client.write_all(request).unwrap();
    up.write_all(response).unwrap();
    (client, up)
}

fn completion(e: &Engine) -> Completion {
    let mut done = Vec::new();
    for _ in 0..100 {
        e.wait(100);
        e.poll(&mut done, 1);
        if let Some(c) = done.pop() {
            return c;
        }
    }
    panic!("no completion in 10 s");
}

#[test]
fn the_engine_runs_sessions_and_returns_their_buffers() {
    let e = Engine::new(EngineConfig::default()).unwrap();
    let fds = common::open_fd_count();
    // Two exchanges, then the client closes.
    {
        let (mut client, mut up) = submitted(&e, 1, SessionTimeouts::default(), b"", b"");
        for i in 0..2u8 {
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            read_message(&mut up).unwrap();
            up.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n")
                .unwrap();
            up.write_all(&[b'0' + i]).unwrap();
            assert_eq!(read_message(&mut client).unwrap().1, [b'0' + i]);
        }
        drop(client);
        let c = completion(&e);
        let end = c.session.unwrap();
        assert_eq!((c.id, c.error), (1, None));
        assert_eq!(
            end.stop,
            Stop::ClientClosed {
                upstream_reusable: true
            }
        );
        assert_eq!((end.stats.requests, end.stats.responses), (2, 2));
        assert!(e.take_session(1).is_some());
        assert!(e.take_session(1).is_none(), "taken once");
    }
    // An idle client is handed back after request_ms, with the upstream reusable.
    {
        let t = SessionTimeouts {
            request_ms: 50,
            ..SessionTimeouts::default()
        };
        let start = std::time::Instant::now();
        let _ends = submitted(&e, 2, t, b"", b"");
        let c = completion(&e);
        assert!(start.elapsed() >= std::time::Duration::from_millis(50));
        assert_eq!(
            c.session.unwrap().stop,
            Stop::Request {
                upstream_reusable: true
            }
        );
        assert_eq!(c.error, None);
        let r = e.take_session(2).unwrap();
        assert!(r.client_buffer.is_empty());
    }
    // A response that does not start within response_ms is handed back (request sent).
    {
        let t = SessionTimeouts {
            response_ms: 50,
            ..SessionTimeouts::default()
        };
        let request = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";
        let (_client, mut up) = submitted(&e, 3, t, request, b"HTTP/1.1 200 OK\r\nContent-");
        let c = completion(&e);
        let end = c.session.unwrap();
        assert_eq!((end.stop, end.head_method), (Stop::Response, true));
        assert!(read_message(&mut up).unwrap().0.starts_with("HEAD / "));
        let r = e.take_session(3).unwrap();
        assert_eq!(r.upstream_buffer.filled(), b"HTTP/1.1 200 OK\r\nContent-");
    }
    // A body that stalls fails after stall_ms; cancel stops a session at a boundary.
    {
        let t = SessionTimeouts {
            stall_ms: 50,
            ..SessionTimeouts::default()
        };
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part";
        let _ends = submitted(&e, 4, t, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", response);
        let c = completion(&e);
        assert_eq!(c.error, Some(Error::TimedOut));
        assert_eq!(c.session.unwrap().stop, Stop::Failed(Error::TimedOut));
        let _ends = submitted(&e, 5, SessionTimeouts::default(), b"", b"");
        e.cancel(5);
        let c = completion(&e);
        assert_eq!(c.error, Some(Error::Canceled));
        assert_eq!(
            c.session.unwrap().stop,
            Stop::Request {
                upstream_reusable: true
            }
        );
        let _ = (e.take_session(4), e.take_session(5));
    }
    assert_eq!(e.in_flight(), 0);
    assert!(
        common::open_fd_count() <= fds + 8,
        "the engine's duplicates are closed"
    );
}
