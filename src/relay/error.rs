//! The relay's error type: one flat `Copy` enum, mapped one to one to C status codes.

use std::fmt;

use crate::sys::Errno;

/// Why a relay stopped before its framing was complete.
///
/// Flat and `Copy` so that it crosses the C ABI as a status code; the OS error number of
/// [`Error::Io`] is kept by the relay that failed ([`crate::relay::Relay::last_errno`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The source ended before the declared length (`Exact`) or the last chunk (`Chunked`).
    UnexpectedEof,
    /// A peer reset the connection (`ECONNRESET`).
    ConnectionReset,
    /// The destination no longer accepts data (`EPIPE`: closed or shut down for writing).
    BrokenPipe,
    /// An fd was not open (`EBADF`): typically closed by its owner during the relay.
    BadFd,
    /// Another OS error; see [`crate::relay::Relay::last_errno`].
    Io,
    /// A chunk size has more hex digits than fit in 64 bits.
    ChunkSizeOverflow,
    /// A chunk size is empty or has a character that is not a hex digit.
    ChunkSizeInvalid,
    /// A chunk line or chunk data is not followed by CRLF (bare LF, or other bytes).
    ChunkMissingCrlf,
    /// A chunk extension is longer than [`crate::relay::MAX_CHUNK_LINE`] or has control bytes.
    ChunkExtensionInvalid,
    /// The trailer section is longer than [`crate::relay::MAX_TRAILERS`] or has control bytes.
    TrailersInvalid,
    /// Chunked framing needs a socket source (it peeks so as never to read past the body).
    Unsupported,
    /// An argument is out of range (a length over the limit, an empty buffer).
    InvalidArgument,
    /// The relay was cancelled (engine shutdown or an explicit cancel).
    Canceled,
    /// No pipe or buffer could be had from the pools (fd or memory limit).
    ResourceExhausted,
    /// A blocking drive ([`crate::relay::Relay::drive`]) waited longer than its timeout.
    TimedOut,
}

impl Error {
    /// A short, static, human-readable description.
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::UnexpectedEof => "relay: source ended before the end of the body",
            Error::ConnectionReset => "relay: connection reset by peer",
            Error::BrokenPipe => "relay: destination closed",
            Error::BadFd => "relay: file descriptor closed during the relay",
            Error::Io => "relay: I/O error",
            Error::ChunkSizeOverflow => "relay: chunk size overflows 64 bits",
            Error::ChunkSizeInvalid => "relay: chunk size is not hexadecimal",
            Error::ChunkMissingCrlf => "relay: chunk framing is missing CRLF",
            Error::ChunkExtensionInvalid => "relay: chunk extension too long or invalid",
            Error::TrailersInvalid => "relay: trailer section too long or invalid",
            Error::Unsupported => "relay: chunked framing needs a socket source",
            Error::InvalidArgument => "relay: invalid argument",
            Error::Canceled => "relay: canceled",
            Error::ResourceExhausted => "relay: no pipe or buffer available",
            Error::TimedOut => "relay: timed out",
        }
    }

    /// Maps an OS error to the relay error that names it.
    pub(crate) fn from_errno(e: Errno) -> Error {
        match e.0 {
            libc::ECONNRESET => Error::ConnectionReset,
            libc::EPIPE | libc::ENOTCONN | libc::ESHUTDOWN => Error::BrokenPipe,
            libc::EBADF => Error::BadFd,
            libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS => Error::ResourceExhausted,
            _ => Error::Io,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}
