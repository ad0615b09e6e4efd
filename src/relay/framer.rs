//! [`Framing`] and [`Framer`]: where a body ends, followed over the bytes that pass, whether
//! the relay reads them from its source, takes them from bytes read before the body started,
//! or is handed them by a caller that reads the source itself.

use super::chunked::{ChunkedDecoder, Piece};
use super::error::Error;

/// How the relay knows where the body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes (`Content-Length`); bytes after them stay unread in the source.
    Exact(u64),
    /// `Transfer-Encoding: chunked`, validated while relaying; with `dechunk` only the
    /// payload is written, otherwise the framing (and trailers) is forwarded verbatim.
    /// Bytes after the final CRLF stay unread in the source.
    Chunked {
        /// Write only the payload, not the chunk framing and trailers.
        dechunk: bool,
    },
    /// Until the source reaches end of file (a response without length, one tunnel direction).
    UntilEof,
}

/// The state of one body's framing: how much of it is left.
#[derive(Clone, Copy, Debug)]
pub(super) struct Framer {
    framing: Framing,
    /// Bytes of an `Exact` body not yet taken.
    remaining: u64,
    chunked: ChunkedDecoder,
    /// The source reached end of file (for `UntilEof`).
    eof: bool,
}

impl Framer {
    /// A body of `framing` of which nothing was taken yet.
    pub(super) fn new(framing: Framing) -> Framer {
        Framer {
            framing,
            remaining: match framing {
                Framing::Exact(n) => n,
                _ => 0,
            },
            chunked: ChunkedDecoder::new(),
            eof: false,
        }
    }

    /// Whether the whole body was taken.
    pub(super) fn complete(&self) -> bool {
        match self.framing {
            Framing::Exact(_) => self.remaining == 0,
            Framing::Chunked { .. } => self.chunked.is_done(),
            Framing::UntilEof => self.eof,
        }
    }

    /// How many bytes the next read may take as they come (read or spliced, then counted with
    /// [`Framer::moved`]); `None` inside chunk framing, which must be looked at first
    /// ([`Framer::body_len`], then [`Framer::frame`]).
    pub(super) fn want(&self) -> Option<u64> {
        match self.framing {
            Framing::Exact(_) => Some(self.remaining),
            Framing::UntilEof => Some(u64::MAX),
            Framing::Chunked { .. } => self.chunked.data_remaining(),
        }
    }

    /// Counts `n` bytes taken as [`Framer::want`] allowed; `n == 0` is the source's end of file,
    /// which ends an `UntilEof` body and cuts any other short.
    pub(super) fn moved(&mut self, n: u64) -> Result<(), Error> {
        if n == 0 {
            return match self.framing {
                Framing::UntilEof => {
                    self.eof = true;
                    Ok(())
                }
                _ => Err(Error::UnexpectedEof),
            };
        }
        match self.framing {
            Framing::Exact(_) => self.remaining -= n.min(self.remaining),
            Framing::Chunked { .. } => self.chunked.consume_data(n),
            Framing::UntilEof => {}
        }
        Ok(())
    }

    /// How many bytes at the front of `data` belong to the body, without taking them.
    pub(super) fn body_len(&self, data: &[u8]) -> Result<usize, Error> {
        match self.framing {
            Framing::Exact(_) => Ok((data.len() as u64).min(self.remaining) as usize),
            Framing::UntilEof => Ok(data.len()),
            Framing::Chunked { .. } => {
                let mut probe = self.chunked;
                let mut taken = 0;
                while taken < data.len() && !probe.is_done() {
                    let piece = probe.feed(&data[taken..])?;
                    if piece.is_empty() {
                        break;
                    }
                    taken += piece.len();
                }
                Ok(taken)
            }
        }
    }

    /// Takes the body's bytes at the front of `data` and frames them in place: returns how many
    /// it took (the bytes after them are not the body's) and how many of them, now at the front
    /// of `data`, go to the destination (fewer than taken when de-chunking drops the framing).
    pub(super) fn frame(&mut self, data: &mut [u8]) -> Result<(usize, usize), Error> {
        let n = data.len();
        match self.framing {
            Framing::Exact(_) => {
                let take = (n as u64).min(self.remaining) as usize;
                self.remaining -= take as u64;
                Ok((take, take))
            }
            Framing::UntilEof => Ok((n, n)),
            Framing::Chunked { dechunk } => {
                let (mut at, mut kept) = (0, 0);
                while at < n && !self.chunked.is_done() {
                    let piece = self.chunked.feed(&data[at..])?;
                    if piece.is_empty() {
                        break;
                    }
                    if matches!(piece, Piece::Data(_)) || !dechunk {
                        data.copy_within(at..at + piece.len(), kept);
                        kept += piece.len();
                    }
                    at += piece.len();
                }
                Ok((at, kept))
            }
        }
    }

    /// The most bytes a caller that cannot peek at its source may read next without reading
    /// past the body (`u64::MAX` until end of file for `UntilEof`, 0 once complete).
    pub(super) fn read_bound(&self) -> u64 {
        match self.framing {
            Framing::Exact(_) => self.remaining,
            Framing::UntilEof if self.eof => 0,
            Framing::UntilEof => u64::MAX,
            Framing::Chunked { .. } => self.chunked.min_remaining(),
        }
    }
}
