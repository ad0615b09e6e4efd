//! [`Tunnel`]: two relays, one per direction, with half-close (CONNECT, WebSocket).

use std::os::fd::BorrowedFd;

use super::error::Error;
use super::flow::{Options, Progress, Relay};
use super::framer::Framing;
use super::stats::RelayStats;

/// What each direction of a tunnel waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelProgress {
    /// The `a` → `b` direction.
    pub a_to_b: Progress,
    /// The `b` → `a` direction.
    pub b_to_a: Progress,
}

impl TunnelProgress {
    /// Both directions reached end of file and were flushed.
    pub fn is_done(self) -> bool {
        self.a_to_b == Progress::Done && self.b_to_a == Progress::Done
    }

    /// A direction stopped at its step limit ([`Progress::Again`]): step again without
    /// waiting.
    pub fn again(self) -> bool {
        self.a_to_b == Progress::Again || self.b_to_a == Progress::Again
    }
}

/// A bidirectional relay between `a` and `b`.
///
/// Each direction runs until its source reaches end of file, then shuts the other side
/// down for writing (`shutdown(SHUT_WR)`), so a half-closed peer still receives the rest of
/// the other direction. An error in either direction ends both.
///
/// ```
/// use offheap::relay::Tunnel;
/// use std::io::{Read, Write};
/// use std::net::Shutdown;
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// let (mut client, a) = UnixStream::pair().unwrap();
/// let (b, mut server) = UnixStream::pair().unwrap();
/// a.set_nonblocking(true).unwrap();
/// b.set_nonblocking(true).unwrap();
/// client.write_all(b"ping").unwrap();
/// client.shutdown(Shutdown::Write).unwrap();
/// server.write_all(b"pong").unwrap();
/// server.shutdown(Shutdown::Write).unwrap();
///
/// let mut t = Tunnel::new();
/// assert!(t.step(a.as_fd(), b.as_fd()).unwrap().is_done());
/// let (mut x, mut y) = (String::new(), String::new());
/// server.read_to_string(&mut x).unwrap();
/// client.read_to_string(&mut y).unwrap();
/// assert_eq!((x.as_str(), y.as_str()), ("ping", "pong"));
/// ```
#[derive(Debug)]
pub struct Tunnel {
    a_to_b: Relay,
    b_to_a: Relay,
}

impl Default for Tunnel {
    fn default() -> Self {
        Self::new()
    }
}

impl Tunnel {
    /// A tunnel that has moved nothing yet.
    pub fn new() -> Tunnel {
        // A tunnel copies, as every relay does unless asked to splice: `make bench` measures
        // copying faster than splice(2) between loopback sockets (BENCHMARKS.md: the Relay's
        // copy and splice rows, and the native copy and splice loops).
        let opts = Options {
            shutdown_on_done: true,
            ..Options::new(Framing::UntilEof)
        };
        Tunnel {
            a_to_b: Relay::new(opts),
            b_to_a: Relay::new(opts),
        }
    }

    /// Moves what it can in both directions (fds non-blocking) and says what each waits for.
    pub fn step(&mut self, a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> Result<TunnelProgress, Error> {
        let r = self
            .a_to_b
            .step(a, b)
            .and_then(|x| Ok((x, self.b_to_a.step(b, a)?)));
        match r {
            Ok((a_to_b, b_to_a)) => Ok(TunnelProgress { a_to_b, b_to_a }),
            Err(e) => {
                self.abort(e);
                Err(e)
            }
        }
    }

    /// Ends both directions with `e`.
    pub fn abort(&mut self, e: Error) {
        self.a_to_b.abort(e);
        self.b_to_a.abort(e);
    }

    /// Bytes moved `a` → `b` and `b` → `a`.
    pub fn stats(&self) -> (RelayStats, RelayStats) {
        (self.a_to_b.stats(), self.b_to_a.stats())
    }

    /// The OS error number behind an I/O error of either direction, or 0.
    pub fn last_errno(&self) -> i32 {
        match self.a_to_b.last_errno() {
            0 => self.b_to_a.last_errno(),
            e => e,
        }
    }
}
