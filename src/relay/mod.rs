//! Buffer relay: moves bytes socket to socket through Rust-owned buffers or in the kernel
//! (splice), so neither the bytes nor the buffers ever live on the Go heap.
//!
//! ```
//! use offheap::relay::{Framing, Options, Progress, Relay};
//! use std::io::{Read, Write};
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//!
//! let (mut client, src) = UnixStream::pair().unwrap();
//! let (dst, mut server) = UnixStream::pair().unwrap();
//! src.set_nonblocking(true).unwrap();
//! dst.set_nonblocking(true).unwrap();
//! client.write_all(b"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1").unwrap();
//!
//! let mut relay = Relay::new(Options::new(Framing::Chunked { dechunk: true }));
//! assert_eq!(relay.step(src.as_fd(), dst.as_fd()), Ok(Progress::Done));
//! let mut got = [0u8; 5];
//! server.read_exact(&mut got).unwrap();
//! assert_eq!(&got, b"hello");
//! ```
//!
//! # Overview
//!
//! - [`Relay`] is a non-blocking state machine for one body or one tunnel direction. Its
//!   caller waits for readiness (Go's netpoller through `syscall.RawConn`, or an epoll) and
//!   calls [`Relay::step`] with the two fds; it keeps no fd between steps.
//! - [`Framing`] says where a body ends: exactly N bytes, chunked (validated, forwarded
//!   verbatim or de-chunked), or until end of file.
//! - A copying relay reads into a [`BUFFER_SIZE`] buffer; once a read fills it and the body
//!   wants more, it reads into a [`BULK_BUFFER_SIZE`] buffer instead (at most
//!   [`MAX_BULK_BUFFERS`] alive process-wide), which it gives back whenever it waits with
//!   nothing held.
//! - Relays copy unless [`Options::splice`] asks for splice(2) through a pooled pipe:
//!   between loopback sockets copying measured faster and cheaper per GiB (BENCHMARKS.md).
//! - [`Relay::set_pending`] takes bytes read before the body started (with its head) as the
//!   start of the body, a chunked one picked up wherever they end; [`Relay::feed`] relays for
//!   a caller that reads and writes the connections itself (a TLS stream has no fd to step
//!   with), telling it how much it may read so that it never reads past the body.
//! - [`Tunnel`] joins two directions with half-close (CONNECT, WebSocket).
//! - [`Buffer`] is a pooled Rust-owned buffer; [`write_vectored`] writes several with one
//!   `writev`.
//! - [`stats`] gives process-wide counters; [`trim`] empties the pools.
//! - [`wait_ready`] blocks on the fd a step waits for (for callers without a poller);
//!   [`duplicate`] gives a non-blocking duplicate of an fd for an owner that outlives the
//!   caller's, such as the engine.
//!
//! The HTTP engine ([`crate::engine`]) runs relays and tunnels on its own worker threads and
//! builds its keep-alive sessions on [`Relay`] and [`Buffer`]; this module knows nothing of it
//! (nor of the header parser). Its syscalls go through the crate's private `sys` module, which
//! holds all of their unsafe code: this module has none.

mod chunked;
mod counters;
mod error;
mod flow;
mod framer;
mod pool;
mod stats;
mod tunnel;

pub use chunked::{ChunkedDecoder, MAX_CHUNK_LINE, MAX_TRAILERS, Piece};
pub use error::Error;
pub use flow::{
    Fed, Options, Progress, Relay, STEP_LIMIT, STEP_READS, duplicate, wait_ready, write_vectored,
};
pub use framer::Framing;
pub use pool::{
    BUFFER_SIZE, BULK_BUFFER_SIZE, Buffer, MAX_BULK_BUFFERS, MAX_IDLE_BUFFERS,
    MAX_IDLE_BULK_BUFFERS, MAX_IDLE_PIPES, MAX_IDLE_SMALL_BUFFERS, PIPE_SIZE, SMALL_BUFFER_SIZE,
    bulk_buffers_live, small_buffers_live, trim,
};
pub use stats::{GlobalStats, RelayStats, stats};
pub use tunnel::{Tunnel, TunnelProgress};
