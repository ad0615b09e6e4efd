//! An incremental, strict decoder of HTTP/1.1 chunked framing (RFC 9112 §7.1).
//!
//! The decoder never buffers: it is fed slices and says, for the longest prefix it can,
//! whether those bytes are framing (sizes, extensions, CRLFs, trailers) or payload. A relay
//! forwards both (verbatim) or only the payload (de-chunked), and can splice long payload
//! runs directly since it knows how many payload bytes come next.

use super::error::Error;

/// Longest chunk-size line (size, extensions and CRLF) accepted, in bytes.
pub const MAX_CHUNK_LINE: u32 = 4096;
/// Longest trailer section (all trailer field lines and the final CRLF), in bytes.
pub const MAX_TRAILERS: u32 = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size; `digits` seen so far.
    Size { digits: u8 },
    /// After the size: optional whitespace, `;` extensions, up to CR.
    Ext,
    /// Expecting LF after the chunk line's CR.
    SizeLf,
    /// Payload bytes left in the current chunk.
    Data,
    /// Expecting CR after chunk data.
    DataCr,
    /// Expecting LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or of the final CRLF).
    TrailerStart,
    /// Inside a trailer field line, up to CR.
    TrailerLine,
    /// Expecting LF after a trailer line's CR.
    TrailerLf,
    /// Expecting the LF of the final CRLF.
    FinalLf,
    /// The whole chunked body has been seen.
    Done,
}

/// What a prefix of the input fed to [`ChunkedDecoder::feed`] was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// This many bytes of framing.
    Framing(usize),
    /// This many bytes of chunk payload.
    Data(usize),
}

impl Piece {
    /// The number of input bytes this piece covers.
    pub fn len(self) -> usize {
        match self {
            Piece::Framing(n) | Piece::Data(n) => n,
        }
    }

    /// Whether the piece covers no bytes (the input was empty or the body is done).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// The decoder state; `Copy`, so a caller can try a prefix on a copy first.
///
/// ```
/// use offheap::relay::{ChunkedDecoder, Piece};
/// let mut d = ChunkedDecoder::new();
/// let body = b"4\r\nWiki\r\n0\r\n\r\nNEXT";
/// assert_eq!(d.feed(body), Ok(Piece::Framing(3)));
/// assert_eq!(d.feed(&body[3..]), Ok(Piece::Data(4)));
/// assert_eq!(d.feed(&body[7..]), Ok(Piece::Framing(7)));
/// assert!(d.is_done());
/// assert_eq!(d.feed(&body[14..]), Ok(Piece::Framing(0))); // never reads past the body
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: State,
    /// Size being parsed, then payload bytes left in the chunk.
    remaining: u64,
    /// Bytes of the current chunk line, or of the trailer section so far.
    line: u32,
    /// Whether the chunk being read is the last (size 0).
    last: bool,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub const fn new() -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            remaining: 0,
            line: 0,
            last: false,
        }
    }

    /// Whether the final CRLF has been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Payload bytes left in the current chunk, when the decoder is inside chunk data.
    pub fn data_remaining(&self) -> Option<u64> {
        (self.state == State::Data).then_some(self.remaining)
    }

    /// The fewest bytes the rest of the body can have, whatever they turn out to be: a caller
    /// that cannot peek at its source (a TLS stream) reads at most this many next, and so never
    /// reads past the body. 0 once the body is done.
    pub fn min_remaining(&self) -> u64 {
        // After chunk data come its CRLF and, at the least, the last chunk "0\r\n\r\n".
        let after_data = |data: u64| data.saturating_add(2 + 5);
        match self.state {
            State::Size { digits: 0 } => 5,
            // A size of 0 so far ends with "\r\n\r\n" at the least; a larger one has its
            // CRLF and its data ahead.
            State::Size { .. } if self.remaining == 0 => 4,
            State::Size { .. } => after_data(self.remaining).saturating_add(2),
            State::Ext if self.last => 4,
            State::Ext => after_data(self.remaining).saturating_add(2),
            State::SizeLf if self.last => 3,
            State::SizeLf => after_data(self.remaining).saturating_add(1),
            State::Data => after_data(self.remaining),
            State::DataCr => 2 + 5,
            State::DataLf => 1 + 5,
            State::TrailerStart => 2,
            State::TrailerLine => 4,
            State::TrailerLf => 3,
            State::FinalLf => 1,
            State::Done => 0,
        }
    }

    /// Records that `n` payload bytes (at most [`Self::data_remaining`]) were moved
    /// without being fed (spliced).
    pub fn consume_data(&mut self, n: u64) {
        if self.state == State::Data {
            self.remaining = self.remaining.saturating_sub(n);
            if self.remaining == 0 {
                self.state = State::DataCr;
            }
        }
    }

    /// Consumes the longest prefix of `input` that is all framing or all payload and says
    /// which. Returns a zero-length piece only for empty input or when the body is done.
    pub fn feed(&mut self, input: &[u8]) -> Result<Piece, Error> {
        if self.state == State::Data {
            let n = (input.len() as u64).min(self.remaining) as usize;
            self.consume_data(n as u64);
            return Ok(Piece::Data(n));
        }
        let mut i = 0;
        while i < input.len() && !matches!(self.state, State::Data | State::Done) {
            self.framing_byte(input[i])?;
            i += 1;
        }
        Ok(Piece::Framing(i))
    }

    fn line_byte(&mut self, limit: u32, err: Error) -> Result<(), Error> {
        self.line += 1;
        if self.line > limit { Err(err) } else { Ok(()) }
    }

    /// A byte of a line's text (a chunk extension, a trailer field line), at most `limit` a
    /// line: CR goes on to `at_cr` (the state that wants its LF), a control other than HTAB
    /// is `err`.
    #[inline(always)]
    fn text_byte(&mut self, b: u8, limit: u32, err: Error, at_cr: State) -> Result<(), Error> {
        self.line_byte(limit, err)?;
        match b {
            b'\r' => self.state = at_cr,
            b'\n' => return Err(Error::ChunkMissingCrlf),
            b'\t' => {}
            0..=0x1f | 0x7f => return Err(err),
            _ => {}
        }
        Ok(())
    }

    fn framing_byte(&mut self, b: u8) -> Result<(), Error> {
        match self.state {
            State::Size { digits } => {
                self.line_byte(MAX_CHUNK_LINE, Error::ChunkExtensionInvalid)?;
                if let Some(v) = (b as char).to_digit(16) {
                    if digits >= 16 {
                        return Err(Error::ChunkSizeOverflow);
                    }
                    self.remaining = (self.remaining << 4) | u64::from(v);
                    self.state = State::Size { digits: digits + 1 };
                } else if digits == 0 {
                    return Err(Error::ChunkSizeInvalid);
                } else {
                    self.last = self.remaining == 0;
                    match b {
                        b'\r' => self.state = State::SizeLf,
                        b';' | b' ' | b'\t' => self.state = State::Ext,
                        b'\n' => return Err(Error::ChunkMissingCrlf),
                        _ => return Err(Error::ChunkSizeInvalid),
                    }
                }
            }
            State::Ext => {
                self.text_byte(
                    b,
                    MAX_CHUNK_LINE,
                    Error::ChunkExtensionInvalid,
                    State::SizeLf,
                )?;
            }
            State::SizeLf => {
                line_end(b, b'\n')?;
                self.line = 0;
                self.state = if self.last {
                    State::TrailerStart
                } else {
                    State::Data
                };
            }
            State::DataCr => {
                line_end(b, b'\r')?;
                self.state = State::DataLf;
            }
            State::DataLf => {
                line_end(b, b'\n')?;
                self.state = State::Size { digits: 0 };
                self.remaining = 0;
                self.line = 0;
            }
            State::TrailerStart => {
                self.line_byte(MAX_TRAILERS, Error::TrailersInvalid)?;
                match b {
                    b'\r' => self.state = State::FinalLf,
                    b'\n' => return Err(Error::ChunkMissingCrlf),
                    b' ' | b'\t' => return Err(Error::TrailersInvalid), // obsolete line folding
                    0..=0x1f | 0x7f => return Err(Error::TrailersInvalid),
                    _ => self.state = State::TrailerLine,
                }
            }
            State::TrailerLine => {
                self.text_byte(b, MAX_TRAILERS, Error::TrailersInvalid, State::TrailerLf)?;
            }
            State::TrailerLf => {
                self.line_byte(MAX_TRAILERS, Error::TrailersInvalid)?;
                line_end(b, b'\n')?;
                self.state = State::TrailerStart;
            }
            State::FinalLf => {
                line_end(b, b'\n')?;
                self.state = State::Done;
            }
            // `feed` handles payload itself and stops at the end of the body.
            State::Data | State::Done => {}
        }
        Ok(())
    }
}

/// `b` is the `want` (CR or LF) that a line end needs here.
#[inline(always)]
fn line_end(b: u8, want: u8) -> Result<(), Error> {
    if b == want {
        Ok(())
    } else {
        Err(Error::ChunkMissingCrlf)
    }
}
