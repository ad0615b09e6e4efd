//! [`Session`]: HTTP/1.1 keep-alive exchanges between one client connection and an upstream
//! connection, stepped on readiness like a [`Relay`]. Heads are parsed and rewritten in place
//! (`crate::headers`), bodies move with a [`Relay`] (copying, bulk buffers for large bodies).
//!
//! A session runs in one of two modes ([`SessionOptions::proxy`]):
//!
//! - **Pair mode** (the default) holds one upstream connection for its whole life and takes
//!   the exchanges a reverse proxy sees most: requests without a body or with
//!   `Content-Length`, responses with `Content-Length` or without a body. Everything else
//!   stops it and is left to its caller, with the bytes where the caller expects them: a
//!   request the session does not forward (Upgrade, Expect, CONNECT, a chunked body,
//!   HTTP/1.0, an invalid or too large head) stops it before anything of that request is sent
//!   ([`Stop::Request`]); a response it does not relay (interim 1xx, 101, chunked or
//!   close-delimited, an invalid head, the upstream closing first) stops it after the request
//!   was sent ([`Stop::Response`]).
//! - **Proxy mode** serves a proxy that owns a pool of upstream connections: the session
//!   waits for a request with no upstream connection, asks for one when a request is ready
//!   ([`SessionProgress::NeedUpstream`]) and gives it back after each response
//!   ([`SessionProgress::Exchanged`]). It takes every exchange HTTP/1.1 allows: chunked bodies
//!   both ways, close-delimited responses, interim responses, `Expect: 100-continue` (it
//!   answers `100 Continue` itself, as nginx does), HTTP/1.0 on either side (the client is
//!   answered in HTTP/1.1, so an HTTP/1.0 upstream closing its connection does not close the
//!   client's), and upgrades up to the `101` ([`Stop::Upgraded`]). It stops only for what a
//!   proxy must answer itself (an invalid request, a failed upstream) or end.
//!
//! Timeouts are the caller's: a session never blocks.
//!
//! This file holds the session's types and its state machine ([`Session::step`]);
//! `session/heads.rs` reads, parses and rewrites the request and response heads,
//! `session/proxy.rs` the response heads of proxy mode, and `session/body.rs` writes them out
//! and relays the bodies behind them.

use std::os::fd::BorrowedFd;

use crate::headers::{Config, Head, HeaderSpan, RewriteError};
use crate::relay::{Buffer, Error, Framing, Options, Relay};

mod body;
mod heads;
mod proxy;

/// How a [`Session`] rewrites heads (the owned form of
/// [`RewriteOptions`](crate::headers::RewriteOptions)), and its mode.
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
    /// Trust and append to the client's forwarding headers (see
    /// [`RewriteOptions`](crate::headers::RewriteOptions)).
    pub append_forwarded: bool,
    /// Head limits. A head longer than the client or upstream buffer (a small buffer first,
    /// then 64 KiB) grows that buffer up to this limit.
    pub head: Config,
    /// Proxy mode (see the module documentation): no upstream connection between exchanges,
    /// and every exchange HTTP/1.1 allows.
    pub proxy: bool,
    /// Proxy mode: stop at every rewritten request head ([`SessionProgress::Hook`]) so the
    /// caller can change it before it is sent.
    pub hook: bool,
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
    /// the client buffer and nothing of it was sent. [`Session::refusal`] says why.
    Request {
        /// The upstream is idle and may carry it.
        upstream_reusable: bool,
    },
    /// Pair mode: the request was sent in full; its response is not for the session and its
    /// bytes so far start the upstream buffer (none when the upstream closed or failed
    /// first). Proxy mode: the upstream failed before a valid response head came (closed,
    /// reset, an invalid head, or the caller's deadline): the caller answers the client (502,
    /// 504), and closes it when [`Session::close_client`] says so (a request body was not
    /// sent in full).
    Response,
    /// An exchange completed and the client connection cannot carry another: the client asked
    /// to close (the response said `Connection: close` to it), or the response body ended
    /// with the upstream's connection.
    Done {
        /// The upstream is idle and may carry another request.
        upstream_reusable: bool,
    },
    /// An I/O error or a broken body in the middle of an exchange: close both connections.
    Failed(Error),
    /// Proxy mode: the upstream switched protocols (`101`), which went out to the client with
    /// every byte either side sent after its head: the two connections are a tunnel now.
    Upgraded,
}

/// Why the session did not take a request ([`Stop::Request`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The head is malformed (400), or its framing (a chunked body's first bytes).
    Malformed,
    /// The head is longer than [`Config::max_head_len`] or has more lines than
    /// [`Config::max_headers`] (431).
    TooLarge,
    /// The connection ended, or failed, in the middle of a head.
    Truncated,
    /// CONNECT, which a reverse proxy does not forward (405).
    Connect,
    /// A transfer coding other than chunked (501).
    Coding,
    /// Pair mode: a request the session leaves to its caller (Upgrade, Expect, a chunked body,
    /// HTTP/1.0), or the upstream connection cannot carry it.
    NotTaken,
    /// The session was asked to stop ([`Session::drain`], [`Session::hand_back`]).
    Stopped,
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
    /// A head or body being written or relayed (or, in proxy mode, the caller: an upstream
    /// connection, a hook).
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
    /// Proxy mode: a request is ready to go: step again with an upstream connection.
    NeedUpstream,
    /// Proxy mode: the upstream connection failed before anything of the request in progress
    /// reached it, or closed before answering a request without a body: close it and step
    /// again with another (the request goes again from its start), or give up with
    /// [`Session::abandon`].
    UpstreamLost,
    /// Proxy mode: a response went out in full. The upstream connection is the caller's
    /// again (idle, to pool when `upstream_reusable`); step again without it.
    Exchanged {
        /// The upstream keeps its connection open and may carry another request.
        upstream_reusable: bool,
    },
    /// Proxy mode with [`SessionOptions::hook`]: the rewritten head of the request in
    /// progress is [`Session::request_head`]; replace it or not ([`Session::hooked`]), then
    /// step again.
    Hook,
}

/// A head, or a head plus the body bytes read with it, being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Frame {
    /// Bytes of the frame written so far.
    done: usize,
    /// Length of the head (in `out`).
    head: usize,
    /// Body bytes written from the front of the source buffer after the head.
    body: usize,
    /// Bytes dropped from the front of the source buffer once the frame is written (the
    /// body bytes read with the head; more than `body` when de-chunking).
    taken: usize,
    /// The body goes on after these bytes (the relay reads the rest).
    more: bool,
}

impl Frame {
    /// A frame of `head` bytes alone.
    fn head(head: usize) -> Frame {
        Frame {
            done: 0,
            head,
            body: 0,
            taken: 0,
            more: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    ReadRequest,
    /// Proxy mode: the caller looks at the request head (then `SendRequest`).
    Hook(Frame),
    /// Proxy mode: `100 Continue` to the client, `done` bytes of it written (then
    /// `SendRequest`).
    SendContinue {
        done: usize,
        frame: Frame,
    },
    SendRequest(Frame),
    RequestBody,
    ReadResponse,
    SendResponse(Frame),
    ResponseBody,
    Stopped(Stop),
}

/// Facts of the exchange in progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Exchange {
    /// The request is HEAD: its response has no body.
    head_method: bool,
    /// The client connection closes after this exchange.
    close_client: bool,
    /// The upstream keeps its connection open after the response in progress.
    upstream_reusable: bool,
    /// The client speaks HTTP/1.0.
    http10: bool,
    /// Proxy mode: the request asked for `100 Continue` and got it from the session.
    continued: bool,
    /// The request asked to upgrade the connection.
    upgrade: bool,
    /// Proxy mode: the response head being written is a 1xx (not the final one).
    interim: bool,
    /// Proxy mode: a 101 is being written; the connections become a tunnel.
    upgraded: bool,
    /// Proxy mode: the request has a body (it cannot be sent twice).
    request_body: bool,
    /// Proxy mode: length of the rewritten request head in `out`, to send it again on another
    /// connection.
    request_head: usize,
    /// `out` still holds the request head (no response head was rewritten over it).
    out_request: bool,
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
    /// Rewritten heads; grows for a long one.
    out: Vec<u8>,
    heads: [Head; 1],
    headers: Vec<HeaderSpan>,
    relay: Relay,
    phase: Phase,
    x: Exchange,
    refusal: Option<Refusal>,
    stats: SessionStats,
    /// Bumped whenever a step reads or writes bytes (for stall deadlines).
    activity: u64,
    /// Stop at the next request boundary ([`Session::drain`]).
    draining: bool,
    /// Pair mode: length of a bodiless request's head still at the front of the client
    /// buffer: dropped once its response starts, so a connection the upstream closed before
    /// answering hands the request back whole (to be sent again on another connection).
    pending_request: usize,
    /// Proxy mode: whether a read of the client (0) or upstream (1) connection may find
    /// something ([`Session::set_ready`]); a head is not read while it is false.
    ready: [bool; 2],
}

/// Whether an idle connection is still open: nothing to read yet (a closed one reads end of
/// file, one with stray bytes is no clean HTTP connection either).
pub(crate) fn upstream_open(fd: BorrowedFd<'_>) -> bool {
    matches!(crate::sys::peek(fd, &mut [0u8; 1]), Err(e) if e.would_block())
}

/// What `out` starts with: room for most rewritten heads.
const OUT_START: usize = 8 * 1024;

/// Rewrites into `out` with `f`, growing `out` once to the size a longer head needs.
fn rewrite_grow(
    out: &mut Vec<u8>,
    mut f: impl FnMut(&mut [u8]) -> Result<usize, RewriteError>,
) -> Result<usize, RewriteError> {
    match f(out) {
        Err(RewriteError::OutputTooSmall { needed }) => {
            out.resize(needed, 0);
            f(out)
        }
        r => r,
    }
}

impl Session {
    /// A session with two empty buffers from the pool, waiting for a request.
    pub fn new(opts: SessionOptions) -> Session {
        Session::with_buffers(opts, Buffer::take(), Buffer::take())
    }

    /// A session over buffers that may already hold bytes (a request read by the caller, a
    /// response the caller started to read), waiting for a request. A buffer without storage
    /// takes a small one from the pool when the session first reads a head into it (see
    /// [`SMALL_BUFFER_SIZE`](crate::relay::SMALL_BUFFER_SIZE)).
    pub fn with_buffers(opts: SessionOptions, client: Buffer, upstream: Buffer) -> Session {
        let headers = vec![HeaderSpan::default(); usize::from(opts.head.max_headers).max(1)];
        Session {
            opts,
            client,
            upstream,
            out: vec![0; OUT_START],
            heads: [Head::default()],
            headers,
            relay: Relay::new(Options::new(Framing::Exact(0))),
            phase: Phase::ReadRequest,
            x: Exchange {
                upstream_reusable: true,
                ..Exchange::default()
            },
            refusal: None,
            stats: SessionStats::default(),
            activity: 0,
            draining: false,
            pending_request: 0,
            ready: [true; 2],
        }
    }

    /// The options the session was made with.
    pub fn options(&self) -> &SessionOptions {
        &self.opts
    }

    /// Sets the client address for X-Forwarded-For (a session reused for another client
    /// connection); allocates nothing once the session has held an address this long.
    pub fn set_client_ip(&mut self, ip: &[u8]) {
        self.opts.client_ip.clear();
        self.opts.client_ip.extend_from_slice(ip);
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

    /// Whether the session holds no byte of a request or response and can be put aside
    /// between requests ([`Session::reset`]).
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::ReadRequest && self.client.is_empty() && self.upstream.is_empty()
    }

    /// Makes the session as new for another client connection, waiting for a request: its
    /// buffers are emptied and its counters start over. Its buffers keep their storage (but
    /// one grown for a long head, which is freed), and so do its rewrite buffer and header
    /// array, so reusing a session allocates nothing; release the buffers
    /// ([`Buffer::release`]) to give their storage back to the pool.
    pub fn reset(&mut self) {
        for b in [&mut self.client, &mut self.upstream] {
            b.clear();
            if b.capacity() > crate::relay::BUFFER_SIZE {
                b.release();
            }
        }
        self.relay.reset(Options::new(Framing::Exact(0)));
        self.phase = Phase::ReadRequest;
        self.x = Exchange {
            upstream_reusable: true,
            ..Exchange::default()
        };
        self.refusal = None;
        self.stats = SessionStats::default();
        self.draining = false;
        self.pending_request = 0;
        self.ready = [true; 2];
        if self.out.len() > OUT_START {
            self.out = vec![0; OUT_START];
        }
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
        self.x.head_method
    }

    /// Whether the request of the exchange in progress has a body.
    pub fn request_body(&self) -> bool {
        self.x.request_body
    }

    /// Whether the client connection closes after the exchange in progress.
    pub fn close_client(&self) -> bool {
        self.x.close_client
    }

    /// Why the session did not take the request it stopped at ([`Stop::Request`]).
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal
    }

    /// Waits for a request again after a stop at a request boundary (the caller served the
    /// request it was handed, or gave the session a new upstream connection). In proxy mode
    /// it also follows an answered [`Stop::Response`]: what the upstream sent is dropped.
    pub fn resume(&mut self) {
        if self.opts.proxy {
            self.upstream.clear();
            self.relay.reset(Options::new(Framing::Exact(0)));
        }
        self.refusal = None;
        self.phase = Phase::ReadRequest;
    }

    /// Proxy mode: gives up the request in progress after [`SessionProgress::UpstreamLost`]
    /// (no upstream connection could carry it), as [`Stop::Response`] for the caller to
    /// answer.
    pub fn abandon(&mut self) -> Stop {
        if self.x.request_body {
            self.x.close_client = true; // its body is still coming from the client
        }
        self.stop_at(Stop::Response)
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
    /// shutdown that cuts no body). In proxy mode the response in progress tells the client
    /// that the connection closes.
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

    /// Proxy mode: the request head of the exchange in progress as it was (or is to be) sent,
    /// while no response head has been read (else empty): for the caller's answer to a
    /// failed upstream ([`Stop::Response`]).
    pub fn sent_request_head(&self) -> &[u8] {
        if self.x.out_request {
            &self.out[..self.x.request_head]
        } else {
            &[]
        }
    }

    /// Proxy mode: what the caller's edge-triggered poller says of the two connections:
    /// whether a read may find something (an event said readable since a read last drained
    /// the connection; or the peer closed, which stays so). The session reads a head only
    /// from a connection that may have bytes, and clears the flag when a read drains it (it
    /// found nothing, or less than it had room for): a response is not read for right after
    /// its request left, nor the next request right after a response, where the read would
    /// nearly always come back empty.
    pub fn set_ready(&mut self, client: bool, upstream: bool) {
        self.ready = [client, upstream];
    }

    /// The readiness flags after a step (see [`Session::set_ready`]): (client, upstream).
    pub fn ready(&self) -> (bool, bool) {
        (self.ready[0], self.ready[1])
    }

    /// Proxy mode with [`SessionOptions::hook`]: the rewritten head of the request in
    /// progress, at [`SessionProgress::Hook`] (else empty).
    pub fn request_head(&self) -> &[u8] {
        match self.phase {
            Phase::Hook(f) => &self.out[..f.head],
            _ => &[],
        }
    }

    /// Proxy mode: goes on after [`SessionProgress::Hook`], sending `head` instead of the
    /// rewritten head when given (the caller keeps its framing headers as they are). No-op
    /// in any other phase.
    pub fn hooked(&mut self, head: Option<&[u8]>) {
        let Phase::Hook(mut f) = self.phase else {
            return;
        };
        if let Some(h) = head {
            if self.out.len() < h.len() {
                self.out.resize(h.len(), 0);
            }
            self.out[..h.len()].copy_from_slice(h);
            f.head = h.len();
            self.x.request_head = h.len();
        }
        self.phase = if self.x.continued {
            Phase::SendContinue { done: 0, frame: f }
        } else {
            Phase::SendRequest(f)
        };
    }

    /// Stops a session that waits at a boundary, leaving what comes next to the caller: a
    /// request (idle, or part of its head read) as [`Stop::Request`], a response that has not
    /// come (or not all of its head) as [`Stop::Response`]. In the middle of a head or body
    /// being written or relayed it cannot stop cleanly: it fails with `e`. A stopped session
    /// stays as it is. Returns the stop.
    pub fn hand_back(&mut self, e: Error) -> Stop {
        let s = match self.phase {
            Phase::Stopped(s) => return s,
            Phase::ReadRequest => {
                self.refusal = Some(Refusal::Stopped);
                Stop::Request {
                    upstream_reusable: true,
                }
            }
            Phase::ReadResponse => {
                self.response_started();
                if self.x.request_body && !self.relay.is_complete() {
                    self.x.close_client = true;
                }
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

    fn stop(&mut self, s: Stop) -> Option<SessionProgress> {
        Some(SessionProgress::Stopped(self.stop_at(s)))
    }

    fn stop_at(&mut self, s: Stop) -> Stop {
        self.phase = Phase::Stopped(s);
        s
    }

    /// Stops at a request the session does not take, for `why`.
    fn refuse(&mut self, why: Refusal, upstream_reusable: bool) -> Option<SessionProgress> {
        self.refusal = Some(why);
        self.stop(Stop::Request { upstream_reusable })
    }

    /// Moves the exchanges on as far as the two connections allow without blocking.
    pub fn step(&mut self, client: BorrowedFd<'_>, upstream: BorrowedFd<'_>) -> SessionProgress {
        self.step_proxy(client, Some(upstream))
    }

    /// [`Session::step`] for proxy mode, where an upstream connection is attached only from
    /// [`SessionProgress::NeedUpstream`] to [`SessionProgress::Exchanged`].
    pub fn step_proxy(
        &mut self,
        client: BorrowedFd<'_>,
        upstream: Option<BorrowedFd<'_>>,
    ) -> SessionProgress {
        loop {
            let next = match (self.phase, upstream) {
                (Phase::Stopped(s), _) => return SessionProgress::Stopped(s),
                (Phase::ReadRequest, _) => self.read_request(client, upstream),
                (Phase::Hook(_), _) => return SessionProgress::Hook,
                (Phase::SendContinue { done, frame }, _) => self.send_continue(done, frame, client),
                (Phase::SendRequest(_), None) => return SessionProgress::NeedUpstream,
                (Phase::SendRequest(f), Some(u)) => self.send(f, Side::Upstream, u),
                (Phase::SendResponse(f), _) => self.send(f, Side::Client, client),
                (_, None) => self.stop(Stop::Failed(Error::InvalidArgument)),
                (Phase::RequestBody, Some(u)) => self.relay_body(client, u, Side::Client),
                (Phase::ReadResponse, Some(u)) => self.read_response(u),
                (Phase::ResponseBody, Some(u)) => self.relay_body(u, client, Side::Upstream),
            };
            if let Some(p) = next {
                return p;
            }
        }
    }

    /// The response to the request in progress started (or is the caller's now): in pair
    /// mode, the request's head leaves the client buffer.
    fn response_started(&mut self) {
        self.client
            .consume(std::mem::take(&mut self.pending_request));
    }
}
