//! The engine as a reverse proxy, end to end over loopback: keep-alive on both sides with
//! the upstream connection back in its pool after each response (so an idle client holds
//! none), bodies of every framing both ways, interim responses, 100-continue, upgrades,
//! HTTP/1.0 upstreams that close after each response, long heads, the proxy's own answers
//! (400, 405, 408, 431, 502, 504), balancing and passive health, hook and error events,
//! graceful shutdown, and no fd left behind.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use offheap::engine::{
    Balance, Engine, EngineConfig, EventKind, ProxyConfig, ProxyCounters, ProxyTimeouts, Reply,
};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A request head read by the test upstream.
struct Req {
    head: String,
    path: String,
    body: Vec<u8>,
}

/// Reads one request (head, then a Content-Length or chunked body); `None` at end of file.
fn read_request(r: &mut impl BufRead) -> Option<Req> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let path = head.split(' ').nth(1)?.to_string();
    let lower = head.to_ascii_lowercase();
    let mut body = Vec::new();
    if lower.contains("transfer-encoding: chunked") {
        loop {
            let mut line = String::new();
            r.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                let mut end = String::new();
                r.read_line(&mut end).ok()?;
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(v) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
    {
        body.resize(v.trim().parse().ok()?, 0);
        r.read_exact(&mut body).ok()?;
    }
    Some(Req { head, path, body })
}

/// A test upstream on loopback: a thread per connection, keep-alive, answering by path.
struct Upstream {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
}

fn upstream() -> Upstream {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let counted = conns.clone();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            counted.fetch_add(1, Ordering::Relaxed);
            thread::spawn(move || serve(s));
        }
    });
    Upstream { addr, conns }
}

fn serve(s: TcpStream) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    while let Some(req) = read_request(&mut r) {
        let p = req.path.as_str();
        let n: usize = p
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let head_method = req.head.starts_with("HEAD ");
        let ok = |w: &mut TcpStream, body: &[u8]| {
            write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .unwrap();
            if !head_method {
                w.write_all(body).unwrap();
            }
        };
        if p.starts_with("/size/") {
            ok(&mut w, &pattern(n));
        } else if p == "/echo" {
            ok(&mut w, &req.body);
        } else if p == "/headers" {
            ok(&mut w, req.head.as_bytes());
        } else if p.starts_with("/chunked/") {
            w.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .unwrap();
            for piece in pattern(n).chunks(7000) {
                write!(w, "{:x}\r\n", piece.len()).unwrap();
                w.write_all(piece).unwrap();
                w.write_all(b"\r\n").unwrap();
            }
            w.write_all(b"0\r\nX-Trailer: t\r\n\r\n").unwrap();
        } else if p.starts_with("/close/") {
            w.write_all(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
            w.write_all(&pattern(n)).unwrap();
            return;
        } else if p == "/http10" {
            w.write_all(b"HTTP/1.0 200 OK\r\nServer: old\r\nContent-Length: 2\r\n\r\nOK")
                .unwrap();
            return;
        } else if p.starts_with("/sleep/") {
            thread::sleep(Duration::from_millis(n as u64));
            ok(&mut w, b"slept");
        } else if p == "/slow" {
            thread::sleep(Duration::from_millis(600));
            ok(&mut w, b"slow");
        } else if p == "/interim" {
            w.write_all(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
                .unwrap();
            ok(&mut w, b"after");
        } else if p == "/ws" {
            w.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
            )
            .unwrap();
            let mut buf = [0u8; 4096];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(k) => w.write_all(&buf[..k]).unwrap(),
                }
            }
        } else if p == "/reset" {
            w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial")
                .unwrap();
            return;
        } else {
            w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        }
    }
}

/// An engine serving as a proxy to `upstreams` on a fresh loopback listener.
struct Proxy {
    engine: Engine,
    addr: SocketAddr,
}

/// Most tests' setting: the tests' lock (bind it to a name: it is held to the test's end), one
/// upstream, and a proxy to it with `tweak` applied to its configuration.
fn proxy_to_one(
    tweak: impl FnOnce(&mut ProxyConfig),
) -> (std::sync::MutexGuard<'static, ()>, Upstream, Proxy) {
    proxy_to_one_on(2, tweak)
}

/// [`proxy_to_one`] with `workers` engine workers.
fn proxy_to_one_on(
    workers: usize,
    tweak: impl FnOnce(&mut ProxyConfig),
) -> (std::sync::MutexGuard<'static, ()>, Upstream, Proxy) {
    let lock = serial();
    let up = upstream();
    let p = proxy_on(workers, vec![up.addr], tweak);
    (lock, up, p)
}

fn proxy(upstreams: Vec<SocketAddr>, tweak: impl FnOnce(&mut ProxyConfig)) -> Proxy {
    proxy_on(2, upstreams, tweak)
}

/// [`proxy`] with `workers` engine workers.
fn proxy_on(
    workers: usize,
    upstreams: Vec<SocketAddr>,
    tweak: impl FnOnce(&mut ProxyConfig),
) -> Proxy {
    let engine = Engine::new(EngineConfig {
        workers,
        max_jobs: 1024,
    })
    .unwrap();
    let mut cfg = ProxyConfig {
        upstreams,
        ..ProxyConfig::default()
    };
    cfg.session.via = b"offheap".to_vec();
    tweak(&mut cfg);
    engine.start_proxy(cfg).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    engine.listen(OwnedFd::from(l), None).unwrap();
    Proxy { engine, addr }
}

impl Proxy {
    fn connect(&self) -> Client {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    fn counters(&self) -> ProxyCounters {
        self.engine.proxy_counters().unwrap()
    }

    /// Waits until `f` holds of the counters (the workers update them as they go).
    fn wait_for(&self, what: &str, f: impl Fn(&ProxyCounters) -> bool) -> ProxyCounters {
        let start = Instant::now();
        loop {
            let c = self.counters();
            if f(&c) {
                return c;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{what}: {c:?}");
            thread::sleep(Duration::from_millis(5));
        }
    }
}

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

/// A response as the client read it.
#[derive(Debug)]
struct Resp {
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn status(&self) -> u16 {
        self.head[9..12].parse().unwrap()
    }
}

impl Client {
    fn send(&mut self, raw: &[u8]) {
        self.w.write_all(raw).unwrap();
    }

    fn get(&mut self, path: &str) -> Resp {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        self.read().expect("a response")
    }

    /// Reads a response: its head, then its body by its framing (until EOF when it has
    /// none); interim responses are returned as they come.
    fn read(&mut self) -> Option<Resp> {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if self.r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let lower = head.to_ascii_lowercase();
        let status: u16 = head[9..12].parse().ok()?;
        let mut body = Vec::new();
        if (100..200).contains(&status) || status == 204 || status == 304 {
        } else if lower.contains("transfer-encoding: chunked") {
            loop {
                let mut line = String::new();
                self.r.read_line(&mut line).ok()?;
                let size = usize::from_str_radix(line.trim(), 16).ok()?;
                if size == 0 {
                    loop {
                        let mut t = String::new();
                        self.r.read_line(&mut t).ok()?;
                        if t == "\r\n" {
                            break;
                        }
                    }
                    break;
                }
                let mut chunk = vec![0; size + 2];
                self.r.read_exact(&mut chunk).ok()?;
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(v) = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
        {
            body.resize(v.trim().parse().ok()?, 0);
            self.r.read_exact(&mut body).ok()?;
        } else {
            self.r.read_to_end(&mut body).ok()?;
        }
        Some(Resp { head, body })
    }

    /// Whether the proxy closed the connection (reads end of file within a second).
    fn closed(&mut self) -> bool {
        self.w
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        matches!(self.r.read(&mut [0u8; 1]), Ok(0) | Err(_))
    }
}

#[test]
fn keep_alive_both_sides_and_idle_clients_hold_nothing() {
    let (_s, up, p) = proxy_to_one(|_| {});
    let mut c = p.connect();
    for n in [0, 2, 1000, 70_000, 1 << 20] {
        let r = c.get(&format!("/size/{n}"));
        assert_eq!((r.status(), r.body.len()), (200, n), "{}", r.head);
        assert!(r.head.contains("Via: 1.1 offheap"), "{}", r.head);
        assert_eq!(r.body, pattern(n));
    }
    let body = pattern(300_000);
    c.send(
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    c.send(&body);
    assert_eq!(c.read().unwrap().body, body);
    let idle = p.wait_for("idle", |c| c.conns_active == 0 && c.upstream_idle == 1);
    assert_eq!((idle.requests, idle.responses), (6, 6));
    assert_eq!(
        (idle.conns_open, idle.upstream_open, idle.upstream_dials),
        (1, 1, 1)
    );
    // Many idle clients: still one upstream connection, no session lent.
    let mut clients: Vec<Client> = (0..50).map(|_| p.connect()).collect();
    for c in clients.iter_mut() {
        assert_eq!(c.get("/size/3").body, b"abc");
    }
    let c = p.wait_for("50 idle", |c| c.conns_open == 51 && c.conns_active == 0);
    assert!(
        c.upstream_open <= 2,
        "idle clients hold no upstream connection: {c:?}"
    );
    assert_eq!(up.conns.load(Ordering::Relaxed) as u64, c.upstream_dials);
}

/// Full-size buffers alive (held or pooled): neither small nor bulk ones.
fn full_size_buffers_live() -> u64 {
    let s = offheap::relay::stats();
    s.buffers_live - s.small_buffers_live - s.bulk_buffers_live
}

/// With a SO_REUSEPORT listener per worker (`Engine::listen_reuseport`, what the Go
/// package's Config.ReusePort sets up), the kernel spreads new connections over the workers
/// by their addresses: 64 connections reach both workers, and every one is answered.
#[test]
fn reuseport_listeners_spread_connections_over_the_workers() {
    let _s = serial();
    let up = upstream();
    let engine = Engine::new(EngineConfig {
        workers: 2,
        max_jobs: 1024,
    })
    .unwrap();
    engine
        .start_proxy(ProxyConfig {
            upstreams: vec![up.addr],
            ..ProxyConfig::default()
        })
        .unwrap();
    let addr = engine
        .listen_reuseport("127.0.0.1:0".parse().unwrap())
        .unwrap();
    assert_ne!(addr.port(), 0);
    let p = Proxy { engine, addr };
    for _ in 0..64 {
        let r = p.connect().get("/size/1");
        assert_eq!((r.status(), r.body.len()), (200, 1), "{}", r.head);
    }
    let accepted: Vec<u64> = (0..2)
        .map(|w| p.engine.proxy_worker_counters(w).unwrap().conns_accepted)
        .collect();
    // Each connection lands on a worker at random (a hash of its address): the chance
    // that all 64 land on one is 2^-63.
    assert_eq!(accepted.iter().sum::<u64>(), 64, "{accepted:?}");
    assert!(
        accepted.iter().all(|&n| n > 0),
        "accepted per worker: {accepted:?}"
    );
    assert_eq!(
        p.engine.proxy_counters().unwrap().conns_accepted,
        64,
        "the sum over the workers"
    );
    assert!(p.engine.proxy_worker_counters(2).is_err());
}

#[test]
fn concurrent_small_exchanges_hold_small_buffers() {
    let (_s, _up, p) = proxy_to_one(|_| {});
    offheap::relay::trim();
    let (full, small) = (
        full_size_buffers_live(),
        offheap::relay::stats().small_buffers_live,
    );
    // 64 exchanges in flight at once, three rounds: every request goes out before any
    // response is read.
    let mut clients: Vec<Client> = (0..64).map(|_| p.connect()).collect();
    for _ in 0..3 {
        for c in clients.iter_mut() {
            c.send(b"GET /size/2 HTTP/1.1\r\nHost: t\r\n\r\n");
        }
        for c in clients.iter_mut() {
            assert_eq!(c.read().unwrap().body, b"ab");
        }
    }
    let idle = p.wait_for("idle", |c| c.conns_active == 0);
    assert_eq!(idle.responses, 192);
    let s = offheap::relay::stats();
    assert_eq!(
        full_size_buffers_live(),
        full,
        "small exchanges take no full-size buffer: {s:?}"
    );
    assert!(s.small_buffers_live > small, "{s:?}");
    // Responses around a small buffer's size and past it arrive intact.
    let c = &mut clients[0];
    for n in (4000..4200).step_by(13).chain([20_000, 70_000]) {
        assert_eq!(c.get(&format!("/size/{n}")).body, pattern(n));
    }
}

#[test]
fn every_framing_both_ways() {
    let (_s, _up, p) = proxy_to_one(|_| {});
    let mut c = p.connect();
    // A chunked request body, with its first chunks sent along with the head.
    let mut req = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let payload = pattern(200_000);
    for piece in payload.chunks(30_000) {
        req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    c.send(&req);
    assert_eq!(c.read().unwrap().body, payload);
    // Chunked responses, verbatim to HTTP/1.1 (trailers included).
    let r = c.get("/chunked/100000");
    assert!(
        r.head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
    );
    assert_eq!(r.body, pattern(100_000));
    // Interim responses are forwarded, then the final one.
    c.send(b"GET /interim HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read().unwrap().status(), 103);
    assert_eq!(c.read().unwrap().body, b"after");
    // Expect: 100-continue: the proxy answers 100 itself, then relays the body.
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(c.read().unwrap().status(), 100);
    c.send(b"hello");
    assert_eq!(c.read().unwrap().body, b"hello");
    // HEAD: no body.
    c.send(b"HEAD /size/5000 HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        let mut line = String::new();
        c.r.read_line(&mut line).unwrap();
        head.push_str(&line);
    }
    assert!(head.contains("Content-Length: 5000"));
    // The connection is still good; then a close-delimited body ends it.
    assert_eq!(c.get("/size/4").body, b"abcd");
    let r = c.get("/close/50000");
    assert!(r.head.contains("Connection: close"), "{}", r.head);
    assert_eq!(r.body, pattern(50_000));
    // An HTTP/1.0 client gets a chunked response de-chunked, ended by closing.
    let mut c = p.connect();
    c.send(b"GET /chunked/20000 HTTP/1.0\r\n\r\n");
    let r = c.read().unwrap();
    assert!(
        !r.head.to_ascii_lowercase().contains("transfer-encoding"),
        "{}",
        r.head
    );
    assert_eq!(r.body, pattern(20_000));
}

#[test]
fn an_http10_upstream_closing_after_each_response_keeps_the_client() {
    let (_s, _up, p) = proxy_to_one(|_| {});
    let mut c = p.connect();
    for _ in 0..5 {
        let r = c.get("/http10");
        assert!(r.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.head);
        assert!(!r.head.contains("Connection: close"), "{}", r.head);
        assert_eq!(r.body, b"OK");
    }
    let n = p.wait_for("5 dials", |c| c.responses == 5);
    assert_eq!(
        (n.conns_accepted, n.upstream_dials, n.upstream_idle),
        (1, 5, 0)
    );
}

#[test]
fn heads_up_to_the_limit_and_the_proxys_own_answers() {
    let (_s, _up, p) = proxy_to_one(|c| {
        c.timeouts.read_header_ms = 300;
        c.timeouts.response_header_ms = 300;
    });
    // A 100 KB head goes through (net/http's limit is 1 MB).
    let mut c = p.connect();
    let big = "x".repeat(100_000);
    c.send(format!("GET /headers HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n").as_bytes());
    let r = c.read().unwrap();
    assert_eq!(r.status(), 200);
    assert!(String::from_utf8_lossy(&r.body).contains(&big));
    assert_eq!(c.get("/size/1").body, b"a", "the connection goes on");
    for (raw, want) in [
        (
            format!(
                "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
                "y".repeat(1 << 20)
            ),
            431,
        ),
        ("GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n".to_string(), 400),
        (
            "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n".to_string(),
            405,
        ),
        // RFC 9112 §6.3: chunked not last is a 400; another coding before it, a 501.
        (
            "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n".to_string(),
            400,
        ),
        (
            "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_string(),
            501,
        ),
        ("GET / HTTP/1.1\r\nHost: t\r\nX: y\r\n".to_string(), 408),
    ] {
        let mut c = p.connect();
        let w = c.w.try_clone().unwrap();
        let sender = thread::spawn(move || {
            let mut w = w;
            let _ = w.write_all(raw.as_bytes());
        });
        let r = c.read().unwrap();
        assert_eq!(r.status(), want, "{}", r.head);
        assert!(c.closed());
        sender.join().unwrap();
    }
    // A slow upstream: 504, and the client may go on.
    let mut c = p.connect();
    assert_eq!(c.get("/slow").status(), 504);
    assert_eq!(c.get("/size/2").body, b"ab");
    let n = p.counters();
    assert_eq!((n.bad_requests, n.gateway_timeout), (6, 1), "{n:?}");
}

#[test]
fn upgrades_become_tunnels() {
    let (_s, _up, p) = proxy_to_one(|_| {});
    let mut c = p.connect();
    c.send(b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
    let r = c.read_head_only();
    assert!(r.starts_with("HTTP/1.1 101"), "{r}");
    let msg = pattern(300_000);
    let mut w = c.w.try_clone().unwrap();
    let sent = msg.clone();
    let writer = thread::spawn(move || {
        w.write_all(&sent).unwrap();
        w.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    c.r.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    assert_eq!(got.len(), msg.len());
    assert!(got == msg);
    assert_eq!(p.counters().upgrades, 1);
}

impl Client {
    fn read_head_only(&mut self) -> String {
        let mut head = String::new();
        while !head.ends_with("\r\n\r\n") {
            let mut line = String::new();
            if self.r.read_line(&mut line).unwrap() == 0 {
                break;
            }
            head.push_str(&line);
        }
        head
    }
}

#[test]
fn upstream_failures_balancing_and_passive_health() {
    let _s = serial();
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    // Only a dead upstream: 502, keep-alive.
    let p = proxy(vec![dead], |_| {});
    let mut c = p.connect();
    assert_eq!(c.get("/x").status(), 502);
    assert_eq!(c.get("/x").status(), 502);
    drop(p);
    // Two live upstreams and a dead one, round robin: every request succeeds, the dead one
    // fails once and is skipped after that.
    let (a, b) = (upstream(), upstream());
    let p = proxy(vec![a.addr, dead, b.addr], |_| {});
    let mut c = p.connect();
    for _ in 0..20 {
        assert_eq!(c.get("/size/3").body, b"abc");
        thread::sleep(Duration::from_millis(1));
    }
    let n = p.counters();
    assert_eq!(n.upstream_failures, 1, "{n:?}");
    assert!(a.conns.load(Ordering::Relaxed) >= 1 && b.conns.load(Ordering::Relaxed) >= 1);
    drop(p);
    // Least in flight with many clients at once: both upstreams carry some.
    let (a, b) = (upstream(), upstream());
    let p = proxy(vec![a.addr, b.addr], |c| c.balance = Balance::LeastInFlight);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let mut c = p.connect();
            thread::spawn(move || {
                for _ in 0..20 {
                    assert_eq!(c.get("/size/10").body.len(), 10);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(a.conns.load(Ordering::Relaxed) >= 1 && b.conns.load(Ordering::Relaxed) >= 1);
    // The upstream dies mid-body: the client sees the connection end, not a whole body.
    let mut c = p.connect();
    c.send(b"GET /reset HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(c.read().is_none(), "a cut body is not a response");
}

#[test]
fn pooled_connections_the_upstream_closed_are_replaced() {
    let _s = serial();
    // An upstream that closes each connection after one response, without saying so.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                if read_request(&mut r).is_some() {
                    let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
                }
                thread::sleep(Duration::from_millis(20));
            });
        }
    });
    let p = proxy(vec![addr], |_| {});
    let mut c = p.connect();
    for i in 0..6 {
        if i % 2 == 0 {
            assert_eq!(c.get("/").body, b"OK");
        } else {
            c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody");
            assert_eq!(c.read().unwrap().body, b"OK");
        }
        thread::sleep(Duration::from_millis(60)); // the pooled connection is closed by now
    }
}

#[test]
fn hook_and_error_events_go_to_the_caller() {
    let _s = serial();
    let up = upstream();
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = proxy(vec![up.addr], |c| c.session.hook = true);
    let mut c = p.connect();
    c.send(b"GET /headers HTTP/1.1\r\nHost: t\r\n\r\n");
    let ev = wait_event(&p.engine);
    assert_eq!(ev.1.kind, EventKind::Hook);
    let head = String::from_utf8(ev.1.head.clone()).unwrap();
    assert!(head.starts_with("GET /headers HTTP/1.1\r\n"), "{head}");
    let changed = head.replace("\r\n\r\n", "\r\nX-Hooked: yes\r\n\r\n");
    p.engine
        .proxy_reply(ev.0, ev.1.token, Reply::Head(Some(changed.into_bytes())))
        .unwrap();
    let r = c.read().unwrap();
    assert!(String::from_utf8_lossy(&r.body).contains("X-Hooked: yes"));
    drop(p);
    let p = proxy(vec![dead], |c| c.error_events = true);
    let mut c = p.connect();
    c.send(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
    let ev = wait_event(&p.engine);
    assert!(
        matches!(ev.1.kind, EventKind::Error { status: 502, .. }),
        "{:?}",
        ev.1.kind
    );
    let bytes = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown".to_vec();
    p.engine
        .proxy_reply(
            ev.0,
            ev.1.token,
            Reply::Respond {
                bytes,
                close: false,
            },
        )
        .unwrap();
    let r = c.read().unwrap();
    assert_eq!((r.status(), r.body.as_slice()), (503, &b"down"[..]));
}

/// Waits for the next event of any worker: (worker, event).
fn wait_event(e: &Engine) -> (usize, offheap::engine::ProxyEvent) {
    let start = Instant::now();
    loop {
        for w in 0..e.workers() {
            let mut out = Vec::new();
            if e.proxy_events(w, &mut out, 1, 1 << 20).unwrap().0 == 1 {
                return (w, out.pop().unwrap());
            }
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no event");
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn shutdown_closes_idle_clients_and_finishes_busy_ones() {
    let _s = serial();
    let up = upstream();
    let fds = common::Fds::now();
    {
        let p = proxy(vec![up.addr], |c| {
            c.timeouts = ProxyTimeouts {
                idle_ms: 200,
                ..ProxyTimeouts::default()
            }
        });
        let mut idle = p.connect();
        assert_eq!(idle.get("/size/1").body, b"a");
        assert!(idle.closed(), "the idle timeout closes it");
        let mut idle = p.connect();
        assert_eq!(idle.get("/size/1").body, b"a");
        let mut busy = p.connect();
        busy.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
        p.wait_for("busy", |c| c.requests == 3);
        p.engine.proxy_shutdown().unwrap();
        let r = busy.read().unwrap();
        assert_eq!(r.body, b"slow");
        assert!(r.head.contains("Connection: close"), "{}", r.head);
        assert!(idle.closed() && busy.closed());
        p.wait_for("all closed", |c| c.conns_open == 0 && c.upstream_open == 0);
        assert!(
            TcpStream::connect(p.addr).is_err(),
            "the listener is closed"
        );
    }
    // Earlier tests' upstream threads close their ends of the connections as the proxy's
    // close reaches them, possibly after `fds` was counted.
    fds.assert_back_within(Duration::from_secs(2));
}

#[test]
fn a_head_that_trickles_in_still_meets_its_deadline() {
    let (_s, _up, p) = proxy_to_one(|c| c.timeouts.read_header_ms = 300);
    let mut c = p.connect();
    let start = Instant::now();
    let w = c.w.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let mut w = w;
        for b in b"GET / HTTP/1.1\r\nHost: trickle\r\nX-Slow: sssssssssssssssssssss" {
            if w.write_all(&[*b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    let r = c.read().unwrap();
    assert_eq!(r.status(), 408);
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    writer.join().unwrap();
}

#[test]
fn a_connection_that_never_sends_is_closed_at_the_read_header_deadline() {
    let (_s, _up, p) = proxy_to_one(|c| {
        c.timeouts.read_header_ms = 200;
        c.timeouts.idle_ms = 60_000;
    });
    let mut silent = p.connect();
    assert!(silent.closed(), "closed within a second");
    let mut c = p.connect();
    assert_eq!(c.get("/size/1").body, b"a");
    thread::sleep(Duration::from_millis(400));
    assert_eq!(
        c.get("/size/1").body,
        b"a",
        "after a response, the idle deadline applies"
    );
}

#[test]
fn at_the_connection_limit_requests_wait_for_a_connection_in_turn() {
    // One worker, so every client waits in the one queue; the limit is per worker. A pool of
    // one: a connection given back while requests wait goes to them even when the pool is
    // full, rather than closed and dialled again.
    let (_s, up, p) = proxy_to_one_on(1, |c| {
        c.max_conns_per_upstream = 2;
        c.max_idle_per_upstream = 1;
    });
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let mut c = p.connect();
            thread::spawn(move || {
                for j in 0..4 {
                    let r = c.get(&format!("/sleep/{}", 20 + (i + j) % 3 * 10));
                    assert_eq!((r.status(), &r.body[..]), (200, &b"slept"[..]));
                }
                c
            })
        })
        .collect();
    let clients: Vec<Client> = clients.into_iter().map(|t| t.join().unwrap()).collect();
    let c = p.wait_for("every exchange ended", |c| {
        c.responses == 32 && c.conns_active == 0
    });
    // Without the limit, eight clients at once open eight upstream connections.
    assert_eq!(up.conns.load(Ordering::Relaxed), 2, "{c:?}");
    assert!(c.upstream_dials <= 2 && c.upstream_open <= 2, "{c:?}");
    assert!(c.upstream_idle <= 1, "{c:?}");
    assert!(c.upstream_queued >= 6, "{c:?}");
    assert_eq!((c.upstream_waiting, c.bad_gateway), (0, 0), "{c:?}");
    drop(clients);
    p.wait_for("the clients closed", |c| c.conns_open == 0);
}

#[test]
fn a_request_that_waits_past_the_dial_deadline_is_answered_502_and_its_place_is_freed() {
    let (_s, up, p) = proxy_to_one_on(1, |c| {
        c.max_conns_per_upstream = 1;
        c.timeouts.dial_ms = 300;
    });
    let mut a = p.connect();
    a.send(b"GET /sleep/1500 HTTP/1.1\r\nHost: test\r\n\r\n");
    p.wait_for("a's request went upstream", |c| c.requests == 1);
    // b waits behind a's exchange, past the dial deadline.
    let mut b = p.connect();
    let started = Instant::now();
    let r = b.get("/size/2");
    let waited = started.elapsed();
    assert_eq!(r.status(), 502, "{r:?}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_millis(1400),
        "{waited:?}"
    );
    // c closes while it waits: the proxy hears of it when c's wait ends, here at the dial
    // deadline (a 502 nobody reads), and c's place goes with it.
    let mut c = p.connect();
    c.send(b"GET /size/3 HTTP/1.1\r\nHost: test\r\n\r\n");
    p.wait_for("c waits", |k| k.upstream_waiting == 1);
    drop(c);
    let r = a.read().expect("a's response");
    assert_eq!((r.status(), &r.body[..]), (200, &b"slept"[..]));
    // b's connection stayed open after the 502, and the connection is free again.
    let r = b.get("/size/2");
    assert_eq!((r.status(), &r.body[..]), (200, &b"ab"[..]));
    let k = p.wait_for("nothing waits", |k| {
        k.upstream_waiting == 0 && k.conns_active == 0 && k.conns_open == 2
    });
    assert_eq!((k.upstream_queued, k.bad_gateway), (2, 2), "{k:?}");
    assert_eq!(up.conns.load(Ordering::Relaxed), 1, "{k:?}");
}

#[test]
fn a_connection_the_upstream_resets_lets_the_next_waiter_dial_in_its_place() {
    let (_s, up, p) = proxy_to_one_on(1, |c| c.max_conns_per_upstream = 1);
    let mut a = p.connect();
    a.send(b"GET /sleep/300 HTTP/1.1\r\nHost: test\r\n\r\n");
    p.wait_for("a's request went upstream", |c| c.requests == 1);
    // c, then b, wait behind a's exchange; c's ends with the upstream closing mid-body.
    let mut c = p.connect();
    c.send(b"GET /reset HTTP/1.1\r\nHost: test\r\n\r\n");
    p.wait_for("c waits", |k| k.upstream_waiting == 1);
    let mut b = p.connect();
    b.send(b"GET /size/4 HTTP/1.1\r\nHost: test\r\n\r\n");
    p.wait_for("b and c wait", |k| k.upstream_waiting == 2);
    let r = a.read().expect("a's response");
    assert_eq!((r.status(), &r.body[..]), (200, &b"slept"[..]));
    // c's upstream connection is reset mid-response: c's connection is cut, and the place
    // goes to b, which dials.
    assert!(c.read().is_none_or(|r| r.body.len() < 100_000));
    let r = b.read().expect("b's response");
    assert_eq!((r.status(), &r.body[..]), (200, &b"abcd"[..]));
    let k = p.wait_for("nothing waits", |k| {
        k.upstream_waiting == 0 && k.conns_active == 0
    });
    assert_eq!(k.upstream_queued, 2, "{k:?}");
    assert!(k.upstream_open <= 1, "{k:?}");
    assert_eq!(up.conns.load(Ordering::Relaxed), 2, "{k:?}");
}
