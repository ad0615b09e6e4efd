//! The proxy's settings, its counters, and what it tells its caller (hook and error events)
//! and hears back.

use std::net::SocketAddr;

use crate::engine::session::SessionOptions;
use crate::headers::Config;

/// How the proxy picks an upstream for a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Balance {
    /// Each in turn.
    #[default]
    RoundRobin,
    /// The one with the fewest exchanges in progress (over all workers); ties in turn.
    LeastInFlight,
}

/// Deadlines of the proxy, in milliseconds; 0 means none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyTimeouts {
    /// Connecting to an upstream (then the next upstream, or 502).
    pub dial_ms: u32,
    /// Reading a request head once its first byte arrived (then 408).
    pub read_header_ms: u32,
    /// A client connection waiting for its next request (then it is closed).
    pub idle_ms: u32,
    /// Waiting for the upstream's response head after the request was sent (then 504).
    pub response_header_ms: u32,
    /// A head or body being written or relayed that moves no byte this long (then the
    /// connections are closed: the response, if it started, is cut).
    pub body_ms: u32,
}

impl Default for ProxyTimeouts {
    /// The defaults of net/http and httputil.ReverseProxy's usual settings: 5 s to dial, 10 s
    /// for a head, 90 s idle, 30 s for a response head, 5 min of stall.
    fn default() -> Self {
        ProxyTimeouts {
            dial_ms: 5_000,
            read_header_ms: 10_000,
            idle_ms: 90_000,
            response_header_ms: 30_000,
            body_ms: 300_000,
        }
    }
}

/// What the engine's proxy does; see [`Engine::start_proxy`](crate::engine::Engine::start_proxy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The upstreams (at least one, at most [`MAX_UPSTREAMS`]).
    pub upstreams: Vec<SocketAddr>,
    /// How a request's upstream is chosen.
    pub balance: Balance,
    /// Idle keep-alive connections kept per upstream, by each worker.
    pub max_idle_per_upstream: usize,
    /// Connections open to each upstream (connecting, carrying an exchange or idle), by each
    /// worker, at most; 0: no limit. At the limit a request waits, in the order requests
    /// came, for a connection another exchange gives back (or closes), at most the dial
    /// timeout (then 502). A limit keeps a burst of clients from opening (and then closing)
    /// as many upstream connections: the connections stay in use, and the upstream sees no
    /// more than the limit.
    pub max_conns_per_upstream: usize,
    /// How long an upstream that failed to connect is skipped (passive health), in
    /// milliseconds; 0: never skipped.
    pub unhealthy_ms: u32,
    /// Head rewriting (`client_ip` is each connection's own; `proxy` is always on) and the
    /// head limits ([`SessionOptions::head`]).
    pub session: SessionOptions,
    /// The deadlines.
    pub timeouts: ProxyTimeouts,
    /// Upstream failures (502, 504) become [`ProxyEvent`]s for the caller to answer, instead
    /// of the engine's own short responses.
    pub error_events: bool,
}

/// Most upstreams a proxy may have.
pub const MAX_UPSTREAMS: usize = 1024;

/// net/http's `DefaultMaxHeaderBytes`: the default longest request head.
pub const DEFAULT_MAX_HEAD: u32 = 1 << 20;

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            upstreams: Vec::new(),
            balance: Balance::RoundRobin,
            max_idle_per_upstream: 64,
            max_conns_per_upstream: 0,
            unhealthy_ms: 10_000,
            session: SessionOptions {
                proto: b"http".to_vec(),
                head: Config {
                    max_head_len: DEFAULT_MAX_HEAD,
                    ..Config::default()
                },
                proxy: true,
                ..SessionOptions::default()
            },
            timeouts: ProxyTimeouts::default(),
            error_events: false,
        }
    }
}

/// The proxy's cumulative counters, summed over its workers (`Engine::proxy_counters`; in C,
/// `offheap_engine_proxy_counters`).
// `repr(C)`: the C ABI's `offheap_proxy_counters` is this record (build.rs, cbindgen.toml), so
// its fields and their docs are written once.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyCounters {
    /// Client connections accepted.
    pub conns_accepted: u64,
    /// Client connections open now.
    pub conns_open: u64,
    /// Of those, connections with an exchange in progress (holding a session's buffers).
    pub conns_active: u64,
    /// Requests forwarded in full.
    pub requests: u64,
    /// Responses relayed in full.
    pub responses: u64,
    /// Requests answered 400, 405, 408, 431 or 501 by the proxy.
    pub bad_requests: u64,
    /// Requests answered 502.
    pub bad_gateway: u64,
    /// Requests answered 504.
    pub gateway_timeout: u64,
    /// Connections that became tunnels (101).
    pub upgrades: u64,
    /// Upstream connections dialled.
    pub upstream_dials: u64,
    /// Exchanges that took an idle pooled upstream connection.
    pub upstream_reused: u64,
    /// Requests sent again on another upstream connection.
    pub upstream_retries: u64,
    /// Upstream connections that failed to connect (or timed out).
    pub upstream_failures: u64,
    /// Upstream connections open now (idle in the pools, or carrying an exchange).
    pub upstream_open: u64,
    /// Idle upstream connections in the pools now.
    pub upstream_idle: u64,
    /// Hook and error events handed to the caller.
    pub events: u64,
    /// Requests that waited for an upstream connection ([`ProxyConfig::max_conns_per_upstream`]).
    pub upstream_queued: u64,
    /// Of those, requests waiting now.
    pub upstream_waiting: u64,
}

/// Why the proxy hands an exchange to its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// [`SessionOptions::hook`]: the rewritten request head, to change before it is sent
    /// (answer with [`Reply::Head`]).
    Hook,
    /// [`ProxyConfig::error_events`]: the upstream failed (`status` 502 or 504); the head is
    /// the request as it was sent, when the proxy still has it (answer with
    /// [`Reply::Respond`]).
    Error {
        /// The status the proxy would answer.
        status: u16,
        /// The upstream connection was refused, reset or closed (502), timed out
        /// connecting or answering (504)...
        cause: ErrorCause,
    },
}

/// What failed, for an [`EventKind::Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCause {
    /// No upstream could be connected to.
    Dial,
    /// The upstream closed, reset or failed before a valid response head.
    Upstream,
    /// The response head did not come in time.
    Timeout,
}

/// An exchange handed to the caller; see [`EventKind`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyEvent {
    /// The connection, for [`Engine::proxy_reply`](crate::engine::Engine::proxy_reply).
    pub token: u64,
    /// Why.
    pub kind: EventKind,
    /// The request head.
    pub head: Vec<u8>,
}

/// The caller's answer to a [`ProxyEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Send this head (or, `None`, the rewritten head as it was) and go on.
    Head(Option<Vec<u8>>),
    /// Answer the client with these bytes (a whole response); then close its connection when
    /// `close`, else read its next request.
    Respond {
        /// The response.
        bytes: Vec<u8>,
        /// Close the client connection after it.
        close: bool,
    },
}
