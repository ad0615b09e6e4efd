//! The HTTP engine: Rust worker threads that own connection pairs and run relays, tunnels
//! and HTTP/1.1 keep-alive sessions on them, so the bytes and the per-exchange work never
//! reach the caller's runtime.
//!
//! This is the one module that joins two cores: it moves bytes with the buffer relay
//! ([`crate::relay`]) and parses and rewrites heads with [`crate::headers`]. Neither core
//! knows about it.
//!
//! ```
//! use offheap::engine::{
//!     Engine, EngineConfig, Job, Session, SessionOptions, SessionTimeouts, Stop,
//! };
//! use offheap::relay::duplicate;
//! use std::io::{Read, Write};
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//!
//! let engine = Engine::new(EngineConfig::default()).unwrap();
//! let (mut client, c) = UnixStream::pair().unwrap();
//! let (u, mut upstream) = UnixStream::pair().unwrap();
//! let job = Job::Session {
//!     client: duplicate(c.as_fd()).unwrap(),
//!     upstream: duplicate(u.as_fd()).unwrap(),
//!     session: Box::new(Session::new(SessionOptions {
//!         via: b"edge".to_vec(),
//!         ..SessionOptions::default()
//!     })),
//!     timeouts: SessionTimeouts::default(),
//! };
//! drop((c, u)); // the engine holds its own duplicates
//! engine.submit(1, job).unwrap();
//!
//! client.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
//! let mut head = [0u8; 256];
//! let n = upstream.read(&mut head).unwrap();
//! assert!(head[..n].ends_with(b"Via: 1.1 edge\r\n\r\n"), "the request head is rewritten");
//! upstream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK").unwrap();
//! let mut resp = [0u8; 256];
//! let n = client.read(&mut resp).unwrap();
//! assert!(resp[..n].ends_with(b"\r\n\r\nOK"));
//! drop(client); // the client closes between requests: the session stops
//!
//! let mut done = Vec::new();
//! while done.is_empty() {
//!     engine.wait(1000);
//!     engine.poll(&mut done, 16);
//! }
//! let end = done[0].session.unwrap();
//! assert_eq!(end.stop, Stop::ClientClosed { upstream_reusable: true });
//! assert_eq!((end.stats.requests, end.stats.responses), (1, 1));
//! assert!(engine.take_session(1).is_some(), "the connections and buffers come back");
//! ```
//!
//! # Overview
//!
//! - [`Engine`] starts worker threads (at most [`MAX_WORKERS`]), each with its own epoll,
//!   and takes [`Job`]s: one body, a tunnel, or a [`Session`]. It works on fds it owns
//!   (duplicates of the caller's, see [`crate::relay::duplicate`]) and reports each job's
//!   [`Completion`] in batches: [`Engine::ready_fd`] is readable while some are queued, for
//!   Go's netpoller or any poller, and [`Engine::poll`] takes them.
//! - [`Session`] runs keep-alive exchanges between a client and an upstream connection for
//!   requests without a body or with `Content-Length` and the responses with
//!   `Content-Length` or no body: heads parsed and rewritten in place, bodies through a
//!   [`Relay`](crate::relay::Relay). It stops at a request or response boundary for
//!   anything else ([`Stop`]), with the bytes in its buffers, and a session job hands its
//!   connections and buffers back ([`Engine::take_session`]). [`SessionTimeouts`] bound how
//!   long the engine waits for a request, a response, or a stalled body.
//! - [`Engine::start_proxy`] makes the engine a reverse proxy ([`ProxyConfig`]): the workers
//!   accept on the listeners given to [`Engine::listen`] and keep each client connection as
//!   a small record in their epoll; a session in proxy mode is lent to a connection when
//!   bytes arrive, with an upstream connection from the worker's pool for one exchange, and
//!   both go back when the response is out. An idle client connection holds no buffer and
//!   no upstream connection. The caller hears of an exchange only when it asks to (a head
//!   hook, upstream failures: [`ProxyEvent`]) and reads [`ProxyCounters`].
//! - Errors are the relay's [`Error`](crate::relay::Error) (`Canceled` when a job is
//!   cancelled or the engine is dropped, `TimedOut` for a stalled session).
//!
//! Files: `job.rs` (the public types of jobs and completions), `threads.rs` ([`Engine`]),
//! `worker.rs` (each worker's loop), `session.rs` with `session/heads.rs`,
//! `session/proxy.rs` and `session/body.rs` (the session's state machine, its heads, its
//! bodies), and `proxy/` (the reverse proxy: its configuration, a worker's connections and
//! upstream pools).

mod job;
mod proxy;
mod session;
mod threads;
mod worker;

pub use job::{
    Completion, EngineConfig, Job, MAX_WORKERS, SessionEnd, SessionReturn, SessionTimeouts,
};
pub use proxy::{
    Balance, DEFAULT_MAX_HEAD, ErrorCause, EventKind, MAX_UPSTREAMS, ProxyConfig, ProxyCounters,
    ProxyEvent, ProxyTimeouts, Reply,
};
pub use session::{
    Refusal, Session, SessionOptions, SessionProgress, SessionStats, Side, Stop, Waiting,
};
pub use threads::Engine;
