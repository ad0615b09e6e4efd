//! A ceiling measurement for `make bench-proxy`, not a proxy to use: what one thread of native
//! code with its own epoll loop costs per proxied request on this machine, doing the same
//! syscalls as examples/proxy and nginx (one read and one write per side and request) and the
//! same head work (offheap's parser and rewrite), with nothing of Go's runtime. It answers
//! "how far can a proxy on this machine get below nginx's CPU per request", which bounds what
//! moving the whole keep-alive exchange into Rust could win.
//!
//! Scope, on purpose: GET-style requests without a body, responses with Content-Length, one
//! upstream connection per client connection (opened when the client connects), writes that
//! wait in poll(2) when a socket is full. Anything else closes the connection.
//!
//! ```text
//! cargo build --release --example proxy_ceiling
//! taskset -c 0 target/release/examples/proxy_ceiling 127.0.0.1:8080 127.0.0.1:8081
//! ```

use offheap::headers::{
    Body, Config, Head, HeaderSpan, RewriteOptions, parse_requests, parse_responses,
    rewrite_request, rewrite_response,
};
use std::io::{ErrorKind, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

const BUF: usize = 64 << 10;

struct Pair {
    client: TcpStream,
    up: TcpStream,
    cbuf: Vec<u8>,
    clen: usize,
    ubuf: Vec<u8>,
    ulen: usize,
    /// Response body bytes still to relay from up to client (0: waiting for a request).
    body_left: u64,
    waiting_response: bool,
}

/// Writes all of `parts` to `s`, waiting in poll(2) while the socket is full.
fn write_all(s: &mut TcpStream, parts: &[&[u8]]) -> std::io::Result<()> {
    let mut bufs: Vec<&[u8]> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    while !bufs.is_empty() {
        let iov: Vec<IoSlice> = bufs.iter().map(|b| IoSlice::new(b)).collect();
        match s.write_vectored(&iov) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(mut n) => {
                while n > 0 {
                    let k = n.min(bufs[0].len());
                    bufs[0] = &bufs[0][k..];
                    n -= k;
                    if bufs[0].is_empty() {
                        bufs.remove(0);
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let mut p = libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: `p` is one initialised `pollfd` on this stack frame, alive across the
                // call, and nfds is 1, so the kernel reads and writes that one struct and no
                // other memory. Its fd is `s`'s, open while `s` is borrowed here. A failure
                // (EINTR) needs no handling: the loop writes again and comes back if still full.
                unsafe { libc::poll(&mut p, 1, -1) };
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads once into `buf[*len..]`; `Ok(false)`: nothing now; Err: closed or failed.
fn read_some(s: &mut TcpStream, buf: &mut [u8], len: &mut usize) -> std::io::Result<bool> {
    match s.read(&mut buf[*len..]) {
        Ok(0) => Err(ErrorKind::UnexpectedEof.into()),
        Ok(n) => {
            *len += n;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

struct Proxy {
    heads: [Head; 1],
    headers: Vec<HeaderSpan>,
    out: Vec<u8>,
    cfg: Config,
    upstream: String,
}

impl Proxy {
    /// Handles readiness of one side; Err closes the pair.
    fn ready(&mut self, p: &mut Pair, client_side: bool) -> std::io::Result<()> {
        if client_side {
            if !read_some(&mut p.client, &mut p.cbuf, &mut p.clen)? {
                return Ok(());
            }
        } else if p.body_left > 0 {
            // Relay the body: read what is there (up to what is left) and pass it on.
            let cap = (p.body_left.min(BUF as u64)) as usize;
            let n = match p.up.read(&mut p.ubuf[..cap]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            write_all(&mut p.client, &[&p.ubuf[..n]])?;
            p.body_left -= n as u64;
            if p.body_left == 0 {
                p.waiting_response = false;
            }
        } else if !read_some(&mut p.up, &mut p.ubuf, &mut p.ulen)? {
            return Ok(());
        }
        self.advance(p)
    }

    /// Moves the exchange on as far as the buffered bytes allow.
    fn advance(&mut self, p: &mut Pair) -> std::io::Result<()> {
        let bad = || std::io::Error::from(ErrorKind::InvalidData);
        loop {
            if p.waiting_response {
                if p.body_left > 0 || p.ulen == 0 {
                    return Ok(());
                }
                let input = &p.ubuf[..p.ulen];
                let b =
                    parse_responses(input, &self.cfg, false, &mut self.heads, &mut self.headers)
                        .map_err(|_| bad())?;
                let h = &self.heads[0];
                if b.heads == 0 || !h.is_complete() {
                    if b.heads > 0 && h.status != offheap::headers::Error::Incomplete.code() {
                        return Err(bad()); // invalid, not merely incomplete
                    }
                    return Ok(());
                }
                if h.body() != Body::Length {
                    return Err(bad());
                }
                let n = rewrite_response(input, h, &self.headers, b"", &mut self.out)
                    .map_err(|_| bad())?;
                let head_end = (h.start + h.len) as usize;
                let in_buf = ((p.ulen - head_end) as u64).min(h.content_length) as usize;
                write_all(
                    &mut p.client,
                    &[&self.out[..n], &input[head_end..head_end + in_buf]],
                )?;
                p.body_left = h.content_length - in_buf as u64;
                let used = head_end + in_buf;
                p.ubuf.copy_within(used..p.ulen, 0);
                p.ulen -= used;
                if p.body_left > 0 {
                    return Ok(());
                }
                p.waiting_response = false;
            }
            if p.clen == 0 {
                return Ok(());
            }
            let input = &p.cbuf[..p.clen];
            let b = parse_requests(input, &self.cfg, &mut self.heads, &mut self.headers)
                .map_err(|_| bad())?;
            let h = &self.heads[0];
            if b.heads == 0 || !h.is_complete() {
                if b.heads > 0 && h.status != offheap::headers::Error::Incomplete.code() {
                    return Err(bad());
                }
                return Ok(());
            }
            if h.body() != Body::None {
                return Err(bad());
            }
            let opts = RewriteOptions {
                client_ip: b"127.0.0.1",
                proto: b"http",
                host: Some(self.upstream.as_bytes()),
                via: b"",
                append_forwarded: false,
            };
            let n = rewrite_request(input, h, &self.headers, &opts, &mut self.out)
                .map_err(|_| bad())?;
            write_all(&mut p.up, &[&self.out[..n]])?;
            let used = (h.start + h.len) as usize;
            p.cbuf.copy_within(used..p.clen, 0);
            p.clen -= used;
            p.waiting_response = true;
        }
    }
}

fn epoll_add(ep: i32, fd: i32, token: u64) -> std::io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token,
    };
    // SAFETY: `ev` is an initialised `epoll_event` on this stack frame, alive across the call;
    // EPOLL_CTL_ADD only reads it (the kernel keeps a copy, not the pointer). `ep` and `fd` are
    // plain numbers the kernel checks: a closed or wrong one fails with EBADF or EINVAL and
    // touches no memory.
    if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listen = args.get(1).map_or("127.0.0.1:8080", String::as_str);
    let upstream = args
        .get(2)
        .map_or("127.0.0.1:8081", String::as_str)
        .to_string();
    let listener = TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    eprintln!("proxy_ceiling: serving on {listen}, upstream {upstream}");
    // SAFETY: epoll_create1 takes no pointer, only a flag: it returns a new fd or -1 and reads
    // or writes no memory of this process. The fd lives until the process exits.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(std::io::Error::last_os_error());
    }
    const LISTENER: u64 = u64::MAX;
    epoll_add(ep, listener.as_raw_fd(), LISTENER)?;
    let mut pairs: Vec<Option<Pair>> = Vec::new();
    let mut proxy = Proxy {
        heads: [Head::default()],
        headers: vec![HeaderSpan::default(); 128],
        out: vec![0; 16 << 10],
        cfg: Config::default(),
        upstream: upstream.clone(),
    };
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    loop {
        // SAFETY: `events` is a Vec of `events.len()` initialised `epoll_event`s (256, which
        // fits an i32), not borrowed elsewhere and not resized during the call, and maxevents
        // is that length, so the kernel writes at most that many structs into its buffer.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != ErrorKind::Interrupted {
                return Err(e);
            }
        }
        for ev in events.iter().take(n.max(0) as usize) {
            let token = ev.u64;
            if token == LISTENER {
                while let Ok((c, _)) = listener.accept() {
                    let Ok(u) = TcpStream::connect(&upstream) else {
                        continue;
                    };
                    let _ = (c.set_nodelay(true), u.set_nodelay(true));
                    let _ = (c.set_nonblocking(true), u.set_nonblocking(true));
                    let slot = pairs.iter().position(Option::is_none).unwrap_or_else(|| {
                        pairs.push(None);
                        pairs.len() - 1
                    });
                    epoll_add(ep, c.as_raw_fd(), (slot as u64) << 1)?;
                    epoll_add(ep, u.as_raw_fd(), (slot as u64) << 1 | 1)?;
                    pairs[slot] = Some(Pair {
                        client: c,
                        up: u,
                        cbuf: vec![0; BUF],
                        clen: 0,
                        ubuf: vec![0; BUF],
                        ulen: 0,
                        body_left: 0,
                        waiting_response: false,
                    });
                }
                continue;
            }
            let slot = (token >> 1) as usize;
            let Some(p) = pairs.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            if proxy.ready(p, token & 1 == 0).is_err() {
                pairs[slot] = None; // closing both fds removes them from the epoll set
            }
        }
    }
}
