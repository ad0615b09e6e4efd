//! The engine's public types: its settings, the jobs it takes, and what it gives back when
//! a job completes.

use std::os::fd::OwnedFd;

use super::session::{Session, SessionStats, Stop};
use crate::relay::{Buffer, Error, Options, RelayStats};

/// Most worker threads an engine may have.
pub const MAX_WORKERS: usize = 64;

/// Engine settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Worker threads (1..=[`MAX_WORKERS`]).
    pub workers: usize,
    /// Most jobs in flight at once, over all workers; more are refused.
    pub max_jobs: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: 1,
            max_jobs: 65536,
        }
    }
}

/// Work for the engine. The engine owns (and finally closes) the fds: give it duplicates
/// ([`duplicate`](crate::relay::duplicate)) of the caller's.
#[derive(Debug)]
pub enum Job {
    /// One body from `src` to `dst`.
    Body {
        /// Read side.
        src: OwnedFd,
        /// Write side.
        dst: OwnedFd,
        /// Framing and splice options.
        opts: Options,
    },
    /// A bidirectional tunnel with half-close.
    Tunnel {
        /// One side.
        a: OwnedFd,
        /// The other side.
        b: OwnedFd,
    },
    /// HTTP/1.1 keep-alive exchanges between a client and an upstream connection (a
    /// [`Session`]), until the session stops; the connections and buffers come back through
    /// [`Engine::take_session`](super::Engine::take_session). The caller should close its own
    /// descriptors of the two connections meanwhile: a poller still watching them wakes on
    /// every exchange.
    Session {
        /// The client connection.
        client: OwnedFd,
        /// The upstream connection.
        upstream: OwnedFd,
        /// The session, with whatever its buffers already hold.
        session: Box<Session>,
        /// When the engine gives up waiting.
        timeouts: SessionTimeouts,
    },
}

/// Deadlines of a session job, in milliseconds; 0 means none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionTimeouts {
    /// A session waiting for a request this long (idle, or part of a head read) stops with
    /// [`Stop::Request`], so an idle connection waits with its owner, not in the engine.
    pub request_ms: u32,
    /// A session waiting this long for a response head stops with [`Stop::Response`].
    pub response_ms: u32,
    /// A session writing or relaying a head or body that moves no byte this long fails with
    /// [`Error::TimedOut`].
    pub stall_ms: u32,
}

/// What a finished session job gives back
/// ([`Engine::take_session`](super::Engine::take_session)).
#[derive(Debug)]
pub struct SessionReturn {
    /// The client connection (the duplicate submitted).
    pub client: OwnedFd,
    /// The upstream connection (the duplicate submitted).
    pub upstream: OwnedFd,
    /// The client buffer: the bytes of a request a [`Stop::Request`] left to the caller.
    pub client_buffer: Buffer,
    /// The upstream buffer: the bytes of a response a [`Stop::Response`] left to the caller.
    pub upstream_buffer: Buffer,
}

/// How a session job ended (in its [`Completion`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionEnd {
    /// Why the session stopped.
    pub stop: Stop,
    /// Its counters.
    pub stats: SessionStats,
    /// The exchange in progress (for [`Stop::Response`]) was for a HEAD request.
    pub head_method: bool,
    /// The client connection closes after the exchange in progress.
    pub close_client: bool,
}

/// The outcome of one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The id given at submission.
    pub id: u64,
    /// Bytes `src` → `dst` (or `a` → `b`).
    pub forward: RelayStats,
    /// Bytes `b` → `a` (tunnels only).
    pub backward: RelayStats,
    /// `None` on success.
    pub error: Option<Error>,
    /// The OS error behind [`Error::Io`], or 0.
    pub errno: i32,
    /// Session jobs only: how the session ended.
    pub session: Option<SessionEnd>,
}
