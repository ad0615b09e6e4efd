//! [`Session`]: HTTP/1.1 keep-alive exchanges between one client connection and one upstream
//! connection, stepped on readiness like [`Relay`], for the exchanges a reverse proxy sees most:
//! requests without a body or with `Content-Length`, responses with `Content-Length` or without
//! a body. Heads are parsed and rewritten in place (the `headers` module), bodies move with a
//! [`Relay`] (copying, bulk buffers for large bodies).
//!
//! Everything else stops the session and is left to its caller, with the bytes where the
//! caller expects them: a request the session does not forward (Upgrade, Expect, CONNECT, a
//! chunked body, HTTP/1.0, an invalid or too large head) stops it before anything of that
//! request is sent ([`Stop::Request`]); a response it does not relay (interim 1xx, 101,
//! chunked or close-delimited, an invalid head, the upstream closing first) stops it after the
//! request was sent ([`Stop::Response`]). Timeouts are the caller's: a session never blocks.

use std::os::fd::BorrowedFd;

use super::error::Error;
use super::flow::{Framing, Options, Progress, Relay, write_vectored};
use super::pool::Buffer;
use crate::headers::{
    self, Body, Config, Head, HeaderSpan, RewriteOptions, flags, parse_requests, parse_responses,
    rewrite_request, rewrite_response,
};

/// How a [`Session`] rewrites heads (the owned form of [`RewriteOptions`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionOptions {
    /// The client address appended to X-Forwarded-For (empty: none).
    pub client_ip: Vec<u8>,
    /// The X-Forwarded-Proto value (empty: none).
    pub proto: Vec<u8>,
    /// The new Host value; `None` keeps the client's.
    pub host: Option<Vec<u8>>,
    /// This proxy's pseudonym for Via (empty: none).
    pub via: Vec<u8>,
    /// Trust and append to the client's forwarding headers (see [`RewriteOptions`]).
    pub append_forwarded: bool,
    /// Head limits.
    pub head: Config,
}

/// Which connection a session waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client connection.
    Client,
    /// The upstream connection.
    Upstream,
}

/// Why a session stopped. The fds stay open: they are the caller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The client closed (or failed) between requests, with no request bytes pending.
    ClientClosed {
        /// The upstream is idle and may carry another request.
        upstream_reusable: bool,
    },
    /// The next request is not for the session; its bytes (maybe incomplete or invalid) start
    /// the client buffer and nothing of it was sent.
    Request {
        /// The upstream is idle and may carry it.
        upstream_reusable: bool,
    },
    /// The request was sent in full; its response is not for the session and its bytes so far
    /// start the upstream buffer (none when the upstream closed or failed first).
    Response,
    /// An exchange completed and the client connection cannot carry another: the client asked
    /// to close (the response said `Connection: close` to it).
    Done {
        /// The upstream is idle and may carry another request.
        upstream_reusable: bool,
    },
    /// An I/O error or a broken body in the middle of an exchange: close both connections.
    Failed(Error),
}

/// What a session waits for (see [`Session::waiting`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// The next request, with none of it read (a keep-alive connection at rest).
    Idle,
    /// The rest of a request head.
    RequestHead,
    /// The response head (the request was sent).
    ResponseHead,
    /// A head or body being written or relayed.
    Body,
    /// Nothing: the session stopped.
    Stopped,
}

/// What a step came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionProgress {
    /// Wait until `side` is readable (`write` false) or writable (`write` true), then step.
    Wait {
        /// The connection to wait on.
        side: Side,
        /// Wait for writability rather than readability.
        write: bool,
    },
    /// A body relay moved its byte limit: step again without waiting.
    Again,
    /// The session stopped (it stays stopped until [`Session::resume`]).
    Stopped(Stop),
}

/// A head, or a head plus the body bytes read with it, being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Frame {
    /// Bytes of the frame written so far.
    done: usize,
    /// Length of the rewritten head (in `out`).
    head: usize,
    /// Body bytes taken from the front of the source buffer after the head.
    body: usize,
    /// Body bytes still to relay after these.
    rest: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    ReadRequest,
    SendRequest(Frame),
    RequestBody,
    ReadResponse,
    SendResponse(Frame),
    ResponseBody,
    Stopped(Stop),
}

/// Exchange-level counters of a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Requests forwarded in full (head and body).
    pub requests: u64,
    /// Responses relayed in full.
    pub responses: u64,
    /// Body bytes relayed (both directions), beside the bytes read with the heads.
    pub body_bytes: u64,
}

/// HTTP/1.1 keep-alive exchanges between a client and an upstream connection; see the module
/// documentation. The session owns its two buffers ([`Session::client_buffer`],
/// [`Session::upstream_buffer`]); it keeps no fd between steps.
#[derive(Debug)]
pub struct Session {
    opts: SessionOptions,
    client: Buffer,
    upstream: Buffer,
    out: Vec<u8>,
    heads: [Head; 1],
    headers: Vec<HeaderSpan>,
    relay: Relay,
    phase: Phase,
    /// Facts of the request in progress: the response to it has no body (HEAD), the client
    /// connection closes after it.
    head_method: bool,
    close_client: bool,
    /// The upstream keeps its connection open after the response in progress.
    upstream_reusable: bool,
    stats: SessionStats,
    /// Bumped whenever a step reads or writes bytes (for stall deadlines).
    activity: u64,
    /// Stop at the next request boundary ([`Session::drain`]).
    draining: bool,
    /// Length of a bodiless request's head still at the front of the client buffer: dropped
    /// once its response starts, so a connection the upstream closed before answering hands
    /// the request back whole (to be sent again on another connection).
    pending_request: usize,
}

/// What parsing the first head in a buffer found.
enum Parsed {
    Complete,
    /// More bytes are needed.
    Incomplete,
    Invalid,
}

fn first_head(parsed: Result<headers::Batch, headers::BatchError>, h: &Head) -> Parsed {
    match (parsed, h.result()) {
        (Ok(b), Ok(())) if b.heads > 0 => Parsed::Complete,
        (Ok(b), Err(headers::Error::Incomplete)) if b.heads > 0 => Parsed::Incomplete,
        _ => Parsed::Invalid,
    }
}

/// Whether an idle connection is still open: nothing to read yet (a closed one reads end of
/// file, one with stray bytes is no clean HTTP connection either).
fn upstream_open(fd: BorrowedFd<'_>) -> bool {
    matches!(crate::sys::peek(fd, &mut [0u8; 1]), Err(e) if e.would_block())
}

/// Room for a rewritten head: the longest accepted head plus the headers a rewrite adds.
fn out_capacity(cfg: &Config) -> usize {
    cfg.max_head_len as usize + 4096
}

impl Session {
    /// A session with two empty buffers from the pool, waiting for a request.
    pub fn new(opts: SessionOptions) -> Session {
        Session::with_buffers(opts, Buffer::take(), Buffer::take())
    }

    /// A session over buffers that may already hold bytes (a request read by the caller, a
    /// response the caller started to read), waiting for a request. A buffer without storage
    /// takes some from the pool.
    pub fn with_buffers(opts: SessionOptions, mut client: Buffer, mut upstream: Buffer) -> Session {
        client.ensure();
        upstream.ensure();
        let headers = vec![HeaderSpan::default(); usize::from(opts.head.max_headers).max(1)];
        let out = vec![0; out_capacity(&opts.head)];
        Session {
            opts,
            client,
            upstream,
            out,
            heads: [Head::default()],
            headers,
            relay: Relay::new(Options::new(Framing::Exact(0))),
            phase: Phase::ReadRequest,
            head_method: false,
            close_client: false,
            upstream_reusable: true,
            stats: SessionStats::default(),
            activity: 0,
            draining: false,
            pending_request: 0,
        }
    }

    /// The client buffer (the bytes of a request the session stopped at).
    pub fn client_buffer(&mut self) -> &mut Buffer {
        &mut self.client
    }

    /// The upstream buffer (the bytes of a response the session stopped at).
    pub fn upstream_buffer(&mut self) -> &mut Buffer {
        &mut self.upstream
    }

    /// Takes the two buffers (client, upstream), leaving buffers without storage.
    pub fn into_buffers(self) -> (Buffer, Buffer) {
        (self.client, self.upstream)
    }

    /// A counter that changes whenever a step reads or writes bytes: equal values across a
    /// stretch of time mean the session made no progress in it.
    pub fn activity(&self) -> u64 {
        self.activity
    }

    /// Counters since the session started.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// Whether the request of the exchange in progress was HEAD (its response has no body).
    pub fn head_method(&self) -> bool {
        self.head_method
    }

    /// Whether the client connection closes after the exchange in progress.
    pub fn close_client(&self) -> bool {
        self.close_client
    }

    /// Waits for a request again after a stop at a request boundary (the caller served the
    /// request it was handed, or gave the session a new upstream connection).
    pub fn resume(&mut self) {
        self.phase = Phase::ReadRequest;
    }

    /// The stop of a stopped session.
    pub fn stopped(&self) -> Option<Stop> {
        match self.phase {
            Phase::Stopped(s) => Some(s),
            _ => None,
        }
    }

    /// Asks the session to stop at the next request boundary ([`Stop::Request`]): right away
    /// when it waits for a request, else once the exchange in progress completes (a graceful
    /// shutdown that cuts no body).
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// What the session waits for now, for its caller's deadlines.
    pub fn waiting(&self) -> Waiting {
        match self.phase {
            Phase::ReadRequest if self.client.is_empty() => Waiting::Idle,
            Phase::ReadRequest => Waiting::RequestHead,
            Phase::ReadResponse => Waiting::ResponseHead,
            Phase::Stopped(_) => Waiting::Stopped,
            _ => Waiting::Body,
        }
    }

    /// Stops a session that waits at a boundary, leaving what comes next to the caller: a
    /// request (idle, or part of its head read) as [`Stop::Request`], a response that has not
    /// come (or not all of its head) as [`Stop::Response`]. In the middle of a head or body
    /// being written or relayed it cannot stop cleanly: it fails with `e`. A stopped session
    /// stays as it is. Returns the stop.
    pub fn hand_back(&mut self, e: Error) -> Stop {
        let s = match self.phase {
            Phase::Stopped(s) => return s,
            Phase::ReadRequest => Stop::Request {
                upstream_reusable: true,
            },
            Phase::ReadResponse => {
                self.response_started();
                Stop::Response
            }
            _ => {
                self.relay.abort(e);
                Stop::Failed(e)
            }
        };
        self.phase = Phase::Stopped(s);
        s
    }

    fn stop(&mut self, s: Stop) -> SessionProgress {
        self.phase = Phase::Stopped(s);
        SessionProgress::Stopped(s)
    }

    /// Moves the exchanges on as far as the two connections allow without blocking.
    pub fn step(&mut self, client: BorrowedFd<'_>, upstream: BorrowedFd<'_>) -> SessionProgress {
        loop {
            let next = match self.phase {
                Phase::Stopped(s) => return SessionProgress::Stopped(s),
                Phase::ReadRequest => self.read_request(client, upstream),
                Phase::SendRequest(f) => self.send(f, Side::Upstream, upstream),
                Phase::RequestBody => self.relay_body(client, upstream, Side::Client),
                Phase::ReadResponse => self.read_response(upstream),
                Phase::SendResponse(f) => self.send(f, Side::Client, client),
                Phase::ResponseBody => self.relay_body(upstream, client, Side::Upstream),
            };
            if let Some(p) = next {
                return p;
            }
        }
    }

    /// Parses the client buffer; forwards a request the session takes, reads when the head is
    /// not all there. `None`: the phase moved on, step again.
    fn read_request(
        &mut self,
        client: BorrowedFd<'_>,
        upstream: BorrowedFd<'_>,
    ) -> Option<SessionProgress> {
        if self.draining {
            return Some(self.stop(Stop::Request {
                upstream_reusable: true,
            }));
        }
        loop {
            if !self.client.is_empty() {
                let input = self.client.filled();
                let parsed =
                    parse_requests(input, &self.opts.head, &mut self.heads, &mut self.headers);
                let h = self.heads[0];
                match first_head(parsed, &h) {
                    Parsed::Complete => return self.forward_request(&h, upstream),
                    Parsed::Incomplete => {}
                    Parsed::Invalid => {
                        return Some(self.stop(Stop::Request {
                            upstream_reusable: true,
                        }));
                    }
                }
            }
            match self.client.read_from(client) {
                Ok(None) => {
                    return Some(SessionProgress::Wait {
                        side: Side::Client,
                        write: false,
                    });
                }
                Ok(Some(0)) | Err(_) if self.client.is_empty() => {
                    return Some(self.stop(Stop::ClientClosed {
                        upstream_reusable: true,
                    }));
                }
                // End of file inside a head, a full buffer, or an error: the caller answers.
                Ok(Some(0)) | Err(_) => {
                    return Some(self.stop(Stop::Request {
                        upstream_reusable: true,
                    }));
                }
                Ok(Some(_)) => self.activity += 1,
            }
        }
    }

    /// Rewrites a complete request head into `out` and starts sending it, or stops when the
    /// request is not the session's.
    fn forward_request(&mut self, h: &Head, upstream: BorrowedFd<'_>) -> Option<SessionProgress> {
        let f = h.flags;
        let theirs =
            f & (flags::UPGRADE | flags::EXPECT_CONTINUE | flags::CONNECT | flags::TE_OTHER) != 0
                || h.version == 0
                || !matches!(h.body(), Body::None | Body::Length);
        let opts = RewriteOptions {
            client_ip: &self.opts.client_ip,
            proto: &self.opts.proto,
            host: self.opts.host.as_deref(),
            via: &self.opts.via,
            append_forwarded: self.opts.append_forwarded,
        };
        let input = self.client.filled();
        let head_len = if theirs {
            None
        } else {
            rewrite_request(input, h, &self.headers, &opts, &mut self.out).ok()
        };
        let Some(head_len) = head_len else {
            return Some(self.stop(Stop::Request {
                upstream_reusable: true,
            }));
        };
        let length = if h.body() == Body::Length {
            h.content_length
        } else {
            0
        };
        if length > 0 && !upstream_open(upstream) {
            // A body cannot be sent twice: a connection the upstream closed is the caller's
            // to replace before anything is sent.
            return Some(self.stop(Stop::Request {
                upstream_reusable: false,
            }));
        }
        self.head_method = f & flags::HEAD_METHOD != 0;
        self.close_client = f & flags::KEEP_ALIVE == 0;
        let end = (h.start + h.len) as usize;
        if length == 0 {
            self.pending_request = end; // dropped when the response starts
        } else {
            self.client.consume(end);
        }
        let body = (self.client.filled().len() as u64).min(length) as usize;
        self.phase = Phase::SendRequest(Frame {
            done: 0,
            head: head_len,
            body,
            rest: length - body as u64,
        });
        None
    }

    /// Writes a frame (head in `out`, then body bytes from the source buffer) to `fd`.
    fn send(&mut self, mut f: Frame, to: Side, fd: BorrowedFd<'_>) -> Option<SessionProgress> {
        let src = if to == Side::Upstream {
            &mut self.client
        } else {
            &mut self.upstream
        };
        let mut failed = None;
        let mut moved = false;
        while f.done < f.head + f.body {
            let head = &self.out[f.done.min(f.head)..f.head];
            let body = &src.filled()[f.done.saturating_sub(f.head)..f.body];
            match write_vectored(fd, &[head, body]) {
                Ok(Some(n)) => {
                    f.done += n;
                    moved = true;
                }
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if moved {
            self.activity += 1;
        }
        if let Some(e) = failed {
            if to == Side::Upstream && self.pending_request > 0 {
                // A bodiless request on a connection the upstream closed: hand it back whole.
                self.pending_request = 0;
                return Some(self.stop(Stop::Request {
                    upstream_reusable: false,
                }));
            }
            return Some(self.stop(Stop::Failed(e)));
        }
        if f.done < f.head + f.body {
            self.phase = match to {
                Side::Upstream => Phase::SendRequest(f),
                Side::Client => Phase::SendResponse(f),
            };
            return Some(SessionProgress::Wait {
                side: to,
                write: true,
            });
        }
        src.consume(f.body);
        if f.rest > 0 {
            self.relay.reset(Options::new(Framing::Exact(f.rest)));
            self.phase = match to {
                Side::Upstream => Phase::RequestBody,
                Side::Client => Phase::ResponseBody,
            };
            return None;
        }
        self.sent(to)
    }

    /// A request or response went out in full.
    fn sent(&mut self, to: Side) -> Option<SessionProgress> {
        match to {
            Side::Upstream => {
                self.stats.requests += 1;
                self.phase = Phase::ReadResponse;
                None
            }
            Side::Client => {
                self.stats.responses += 1;
                let reusable = self.upstream_reusable;
                if self.close_client {
                    return Some(self.stop(Stop::Done {
                        upstream_reusable: reusable,
                    }));
                }
                if !reusable {
                    return Some(self.stop(Stop::Request {
                        upstream_reusable: false,
                    }));
                }
                self.phase = Phase::ReadRequest;
                None
            }
        }
    }

    fn relay_body(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        from: Side,
    ) -> Option<SessionProgress> {
        let other = if from == Side::Client {
            Side::Upstream
        } else {
            Side::Client
        };
        let (out0, in0) = (self.relay.stats().bytes_out, self.relay.stats().bytes_in);
        let r = self.relay.step(src, dst);
        let (out1, in1) = (self.relay.stats().bytes_out, self.relay.stats().bytes_in);
        self.stats.body_bytes += out1 - out0;
        if out1 != out0 || in1 != in0 {
            self.activity += 1;
        }
        match r {
            Ok(Progress::Done) => self.sent(other),
            Ok(Progress::WantRead) => Some(SessionProgress::Wait {
                side: from,
                write: false,
            }),
            Ok(Progress::WantWrite) => Some(SessionProgress::Wait {
                side: other,
                write: true,
            }),
            Ok(Progress::Again) => Some(SessionProgress::Again),
            Err(e) => Some(self.stop(Stop::Failed(e))),
        }
    }

    /// The response to the request in progress started (or is the caller's now): the
    /// request's head leaves the client buffer.
    fn response_started(&mut self) {
        self.client
            .consume(std::mem::take(&mut self.pending_request));
    }

    fn read_response(&mut self, upstream: BorrowedFd<'_>) -> Option<SessionProgress> {
        loop {
            if !self.upstream.is_empty() {
                self.response_started();
                let input = self.upstream.filled();
                let parsed = parse_responses(
                    input,
                    &self.opts.head,
                    self.head_method,
                    &mut self.heads,
                    &mut self.headers,
                );
                let h = self.heads[0];
                match first_head(parsed, &h) {
                    Parsed::Complete => return self.relay_response(&h),
                    Parsed::Incomplete => {}
                    Parsed::Invalid => return Some(self.stop(Stop::Response)),
                }
            }
            match self.upstream.read_from(upstream) {
                Ok(None) => {
                    return Some(SessionProgress::Wait {
                        side: Side::Upstream,
                        write: false,
                    });
                }
                Ok(Some(0)) | Err(_) if self.upstream.is_empty() && self.pending_request > 0 => {
                    // Closed before answering a bodiless request: hand the request back
                    // whole, to be sent again on another connection.
                    self.pending_request = 0;
                    self.stats.requests -= 1;
                    return Some(self.stop(Stop::Request {
                        upstream_reusable: false,
                    }));
                }
                Ok(Some(0)) | Err(_) => {
                    self.response_started();
                    return Some(self.stop(Stop::Response));
                }
                Ok(Some(_)) => self.activity += 1,
            }
        }
    }

    fn relay_response(&mut self, h: &Head) -> Option<SessionProgress> {
        let status = h.status_code;
        let no_body = self.head_method || status == 204 || status == 304;
        let kind = if no_body { Body::None } else { h.body() };
        if (100..200).contains(&status) || !matches!(kind, Body::None | Body::Length) {
            return Some(self.stop(Stop::Response));
        }
        let input = self.upstream.filled();
        let Ok(mut head_len) =
            rewrite_response(input, h, &self.headers, &self.opts.via, &mut self.out)
        else {
            return Some(self.stop(Stop::Response));
        };
        self.upstream_reusable = h.flags & flags::KEEP_ALIVE != 0;
        if self.close_client {
            // Tell the client this connection ends: Connection: close before the final CRLF.
            const CLOSE: &[u8] = b"Connection: close\r\n\r\n";
            if head_len >= 2 && head_len - 2 + CLOSE.len() <= self.out.len() {
                self.out[head_len - 2..head_len - 2 + CLOSE.len()].copy_from_slice(CLOSE);
                head_len += CLOSE.len() - 2;
            }
        }
        let end = (h.start + h.len) as usize;
        self.upstream.consume(end);
        let length = if kind == Body::Length {
            h.content_length
        } else {
            0
        };
        let body = (self.upstream.filled().len() as u64).min(length) as usize;
        self.phase = Phase::SendResponse(Frame {
            done: 0,
            head: head_len,
            body,
            rest: length - body as u64,
        });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::thread;

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
                    let mut p = [libc::pollfd {
                        fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
                        events: if write { libc::POLLOUT } else { libc::POLLIN },
                        revents: 0,
                    }];
                    let n = crate::sys::poll(&mut p, 5000).unwrap();
                    assert_eq!(n, 1, "waited 5 s on {side:?} (write {write})");
                }
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
                    .write_all(
                        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
                    )
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
            let ((c, mut client), (u, mut up)) = pairs();
            client.write_all(req).unwrap();
            let mut s = Session::new(opts());
            let stop = drive(&mut s, &c, &u);
            assert_eq!(stop, Stop::Request { upstream_reusable: true }, "{:?}", String::from_utf8_lossy(req));
            assert_eq!(s.client_buffer().filled(), req, "the request is left whole");
            up.set_nonblocking(true).unwrap();
            assert!(up.read(&mut [0u8; 16]).is_err(), "nothing went upstream");
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
            let ((c, mut client), (u, mut up)) = pairs();
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            up.write_all(resp).unwrap();
            let mut s = Session::new(opts());
            assert_eq!(
                drive(&mut s, &c, &u),
                Stop::Response,
                "{:?}",
                String::from_utf8_lossy(resp)
            );
            assert_eq!(s.upstream_buffer().filled(), resp);
            assert!(
                read_message(&mut up)
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
            let ((c, mut client), (u, up)) = pairs();
            client.write_all(req).unwrap();
            drop(up);
            let mut s = Session::new(opts());
            let stop = drive(&mut s, &c, &u);
            assert_eq!(
                stop,
                Stop::Request {
                    upstream_reusable: false
                }
            );
            assert_eq!(s.client_buffer().filled(), req);
            assert_eq!(s.stats().requests, 0);
        }
    }

    #[test]
    fn connection_close_on_either_side_ends_the_loop() {
        // The client asks to close: the response says so and the session is done.
        let ((c, mut client), (u, mut up)) = pairs();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        up.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
            .unwrap();
        let mut s = Session::new(opts());
        assert_eq!(
            drive(&mut s, &c, &u),
            Stop::Done {
                upstream_reusable: true
            }
        );
        let (head, body) = read_message(&mut client).unwrap();
        assert!(head.contains("Connection: close\r\n"), "{head}");
        assert_eq!(body, b"OK");
        // The upstream closes after its response: the client goes on without it.
        let ((c, mut client), (u, mut up)) = pairs();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        up.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")
            .unwrap();
        let mut s = Session::new(opts());
        assert_eq!(
            drive(&mut s, &c, &u),
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

    fn engine_session(
        e: &super::super::Engine,
        id: u64,
        c: &UnixStream,
        u: &UnixStream,
        timeouts: super::super::SessionTimeouts,
    ) {
        use super::super::{Job, duplicate};
        let job = Job::Session {
            client: duplicate(c.as_fd()).unwrap(),
            upstream: duplicate(u.as_fd()).unwrap(),
            session: Box::new(Session::new(opts())),
            timeouts,
        };
        e.submit(id, job).unwrap();
    }

    fn completion(e: &super::super::Engine) -> super::super::Completion {
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
        use super::super::{Engine, EngineConfig, SessionTimeouts};
        let e = Engine::new(EngineConfig::default()).unwrap();
        let fds = super::super::open_fd_count();
        // Two exchanges, then the client closes.
        {
            let ((c, mut client), (u, mut up)) = pairs();
            engine_session(&e, 1, &c, &u, SessionTimeouts::default());
            drop((c, u)); // the engine holds its own duplicates
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
            let ((c, _client), (u, _up)) = pairs();
            let t = SessionTimeouts {
                request_ms: 50,
                response_ms: 0,
                stall_ms: 0,
            };
            let start = std::time::Instant::now();
            engine_session(&e, 2, &c, &u, t);
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
            let ((c, mut client), (u, mut up)) = pairs();
            let t = SessionTimeouts {
                request_ms: 0,
                response_ms: 50,
                stall_ms: 0,
            };
            engine_session(&e, 3, &c, &u, t);
            client
                .write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            up.write_all(b"HTTP/1.1 200 OK\r\nContent-").unwrap();
            let c = completion(&e);
            let end = c.session.unwrap();
            assert_eq!((end.stop, end.head_method), (Stop::Response, true));
            assert!(read_message(&mut up).unwrap().0.starts_with("HEAD / "));
            let r = e.take_session(3).unwrap();
            assert_eq!(r.upstream_buffer.filled(), b"HTTP/1.1 200 OK\r\nContent-");
        }
        // A body that stalls fails after stall_ms; cancel stops a session at a boundary.
        {
            let ((c, mut client), (u, mut up)) = pairs();
            let t = SessionTimeouts {
                request_ms: 0,
                response_ms: 0,
                stall_ms: 50,
            };
            engine_session(&e, 4, &c, &u, t);
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            up.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
                .unwrap();
            let c = completion(&e);
            assert_eq!(c.error, Some(Error::TimedOut));
            assert_eq!(c.session.unwrap().stop, Stop::Failed(Error::TimedOut));
            let ((c2, _client2), (u2, _up2)) = pairs();
            engine_session(&e, 5, &c2, &u2, SessionTimeouts::default());
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
            drop((c2, u2));
        }
        assert_eq!(e.in_flight(), 0);
        assert!(
            super::super::open_fd_count() <= fds + 8,
            "the engine's duplicates are closed"
        );
    }
}
