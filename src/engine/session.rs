//! [`Session`]: HTTP/1.1 keep-alive exchanges between one client connection and one
//! upstream connection, stepped on readiness like a [`Relay`], for the exchanges a reverse
//! proxy sees most: requests without a body or with `Content-Length`, responses with
//! `Content-Length` or without a body. Heads are parsed and rewritten in place
//! (`crate::headers`), bodies move with a [`Relay`] (copying, bulk buffers for large bodies).
//!
//! Everything else stops the session and is left to its caller, with the bytes where the
//! caller expects them: a request the session does not forward (Upgrade, Expect, CONNECT, a
//! chunked body, HTTP/1.0, an invalid or too large head) stops it before anything of that
//! request is sent ([`Stop::Request`]); a response it does not relay (interim 1xx, 101,
//! chunked or close-delimited, an invalid head, the upstream closing first) stops it after the
//! request was sent ([`Stop::Response`]). Timeouts are the caller's: a session never blocks.
//!
//! This file holds the session's types and its state machine ([`Session::step`]);
//! `session/heads.rs` reads, parses and rewrites the request and response heads, and
//! `session/body.rs` writes them out and relays the bodies behind them.

use std::os::fd::BorrowedFd;

use crate::headers::{Config, Head, HeaderSpan};
use crate::relay::{Buffer, Error, Framing, Options, Relay};

mod body;
mod heads;

/// How a [`Session`] rewrites heads (the owned form of
/// [`RewriteOptions`](crate::headers::RewriteOptions)).
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

impl Frame {
    /// A frame of a rewritten head of `head` bytes and a body of `length` bytes, of which the
    /// first `buffered` bytes (at most) were read along with the head.
    fn new(head: usize, buffered: usize, length: u64) -> Frame {
        let body = (buffered as u64).min(length) as usize;
        Frame {
            done: 0,
            head,
            body,
            rest: length - body as u64,
        }
    }
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

    /// The response to the request in progress started (or is the caller's now): the
    /// request's head leaves the client buffer.
    fn response_started(&mut self) {
        self.client
            .consume(std::mem::take(&mut self.pending_request));
    }
}
