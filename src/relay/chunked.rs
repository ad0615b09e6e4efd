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

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of at most `step` bytes; returns (framing, payload) or error.
    fn decode(input: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>, usize), Error> {
        let mut d = ChunkedDecoder::new();
        let (mut framing, mut data) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < input.len() && !d.is_done() {
            let end = (i + step).min(input.len());
            let piece = d.feed(&input[i..end])?;
            match piece {
                Piece::Framing(n) => framing.extend_from_slice(&input[i..i + n]),
                Piece::Data(n) => data.extend_from_slice(&input[i..i + n]),
            }
            assert!(!piece.is_empty() || d.is_done(), "no progress");
            i += piece.len();
        }
        if !d.is_done() {
            return Err(Error::UnexpectedEof);
        }
        Ok((framing, data, i))
    }

    #[test]
    fn simple_and_trailers() {
        let body =
            b"4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nrest";
        for step in [1, 2, 3, 7, 1000] {
            let (_, data, used) = decode(body, step).unwrap();
            assert_eq!(data, b"Wikipedia in \r\n\r\nchunks.");
            assert_eq!(&body[used..], b"rest");
        }
    }

    #[test]
    fn errors() {
        let cases: &[(&[u8], Error)] = &[
            (b"x\r\n", Error::ChunkSizeInvalid),
            (b"\r\n", Error::ChunkSizeInvalid),
            (b"1g\r\n", Error::ChunkSizeInvalid),
            (b"11111111111111111\r\n", Error::ChunkSizeOverflow),
            (b"1\nA\r\n0\r\n\r\n", Error::ChunkMissingCrlf),
            (b"1\r\nAB\r\n", Error::ChunkMissingCrlf),
            (b"1\r\nA\n0\r\n\r\n", Error::ChunkMissingCrlf),
            (b"1;\x01\r\n", Error::ChunkExtensionInvalid),
            (b"0\r\n\n", Error::ChunkMissingCrlf),
            (b"0\r\nX: y\r\n folded\r\n\r\n", Error::TrailersInvalid),
        ];
        for (input, want) in cases {
            assert_eq!(
                decode(input, 1000).map(|_| ()),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let long_ext = [b"1;".as_slice(), &[b'a'; 5000]].concat();
        assert_eq!(
            decode(&long_ext, 100).map(|_| ()),
            Err(Error::ChunkExtensionInvalid)
        );
        let long_trailer = [b"0\r\nX: ".as_slice(), &[b'a'; 20000]].concat();
        assert_eq!(
            decode(&long_trailer, 100).map(|_| ()),
            Err(Error::TrailersInvalid)
        );
        // Max size parses (16 digits) without overflow.
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"ffffffffffffffff\r\n"), Ok(Piece::Framing(18)));
        assert_eq!(d.data_remaining(), Some(u64::MAX));
    }

    /// Encodes `data` in chunks of the given sizes (a naive reference encoder).
    fn encode(data: &[u8], sizes: &mut impl Iterator<Item = usize>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let n = sizes.next().unwrap_or(1).clamp(1, data.len() - i);
            out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            out.extend_from_slice(&data[i..i + n]);
            out.extend_from_slice(b"\r\n");
            i += n;
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    /// A xorshift64 generator from `seed`: the random bodies and splits of these tests.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// At every byte of valid bodies, min_remaining never exceeds what is left of the body, so
    /// a caller reading that much never reads past it.
    #[test]
    fn min_remaining_never_passes_the_end() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let data: Vec<u8> = (0..(next() % 3000) as usize)
                .map(|_| next() as u8)
                .collect();
            let mut sizes = std::iter::from_fn(|| Some(1 + (next() % 700) as usize));
            let mut body = encode(&data, &mut sizes);
            if round % 3 == 0 {
                // With an extension and a trailer.
                body = [
                    b"1;ext=v\r\nx\r\n".as_slice(),
                    &body[..body.len() - 2],
                    b"T: v\r\n\r\n",
                ]
                .concat();
            }
            let mut d = ChunkedDecoder::new();
            for (i, &b) in body.iter().enumerate() {
                let left = (body.len() - i) as u64;
                assert!(
                    d.min_remaining() <= left,
                    "round {round}, byte {i}: {} > {left}",
                    d.min_remaining()
                );
                assert!(d.min_remaining() > 0);
                assert_eq!(d.feed(&[b]).unwrap().len(), 1);
            }
            assert!(d.is_done());
            assert_eq!(d.min_remaining(), 0);
        }
    }

    #[test]
    fn round_trip_random() {
        let mut rng = xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200 {
            let len = (rng() % 3000) as usize;
            let data: Vec<u8> = (0..len).map(|_| rng() as u8).collect();
            let mut sizes = std::iter::repeat_with(|| (rng() % 300) as usize);
            let body = encode(&data, &mut sizes);
            let step = 1 + (rng() % 64) as usize;
            let (_, got, used) = decode(&body, step).unwrap();
            assert_eq!(got, data);
            assert_eq!(used, body.len());
        }
    }

    /// A naive, whole-input reference parser of chunked bodies (no size limits): `None` when
    /// the input ends before the body does, else the payload and the bytes the body spans.
    fn naive(input: &[u8]) -> Option<Result<(Vec<u8>, usize), ()>> {
        let ctl = |c: u8| c < 0x20 || c == 0x7f;
        let hex = |c: u8| (c as char).to_digit(16);
        let (mut i, mut data) = (0usize, Vec::new());
        loop {
            let (mut size, mut digits) = (0u64, 0);
            while i < input.len() {
                let Some(v) = hex(input[i]) else { break };
                if digits == 16 {
                    return Some(Err(()));
                }
                size = (size << 4) | u64::from(v);
                digits += 1;
                i += 1;
            }
            let c = *input.get(i)?;
            if digits == 0 {
                return Some(Err(()));
            }
            match c {
                b'\r' => i += 1,
                b';' | b' ' | b'\t' => {
                    i += 1;
                    while *input.get(i)? != b'\r' {
                        if input[i] == b'\n' || (ctl(input[i]) && input[i] != b'\t') {
                            return Some(Err(()));
                        }
                        i += 1;
                    }
                    i += 1;
                }
                _ => return Some(Err(())),
            }
            if *input.get(i)? != b'\n' {
                return Some(Err(()));
            }
            i += 1;
            if size == 0 {
                loop {
                    let c = *input.get(i)?;
                    if c == b'\r' {
                        return if *input.get(i + 1)? == b'\n' {
                            Some(Ok((data, i + 2)))
                        } else {
                            Some(Err(()))
                        };
                    }
                    if c == b' ' || c == b'\t' || ctl(c) {
                        return Some(Err(()));
                    }
                    while *input.get(i)? != b'\r' {
                        if input[i] == b'\n' || (ctl(input[i]) && input[i] != b'\t') {
                            return Some(Err(()));
                        }
                        i += 1;
                    }
                    if *input.get(i + 1)? != b'\n' {
                        return Some(Err(()));
                    }
                    i += 2;
                }
            }
            let end = i.checked_add(usize::try_from(size).ok()?)?;
            data.extend_from_slice(input.get(i..end)?);
            i = end;
            if *input.get(i)? != b'\r' {
                return Some(Err(()));
            }
            if *input.get(i + 1)? != b'\n' {
                return Some(Err(()));
            }
            i += 2;
        }
    }

    /// The incremental decoder fed in pieces of random size, in the naive parser's terms.
    fn incremental(
        input: &[u8],
        rng: &mut impl FnMut() -> u64,
    ) -> Option<Result<(Vec<u8>, usize), ()>> {
        let mut d = ChunkedDecoder::new();
        let (mut i, mut data) = (0, Vec::new());
        while !d.is_done() {
            if i == input.len() {
                return None;
            }
            let end = (i + 1 + (rng() % 9) as usize).min(input.len());
            match d.feed(&input[i..end]) {
                Ok(Piece::Data(n)) => {
                    data.extend_from_slice(&input[i..i + n]);
                    i += n;
                }
                Ok(Piece::Framing(n)) => i += n,
                Err(_) => return Some(Err(())),
            }
        }
        Some(Ok((data, i)))
    }

    #[test]
    fn mutated_bodies_agree_with_naive_reference() {
        let mut s = 0x2545f4914f6cdd1du64;
        let mut rng = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let alphabet = b"0123456789abcdefABFgx;= \t\r\n\x01\x7fX:";
        let (mut ok, mut err, mut partial) = (0, 0, 0);
        for _ in 0..20_000 {
            let len = (rng() % 40) as usize;
            let data: Vec<u8> = (0..len).map(|_| b'a' + (rng() % 26) as u8).collect();
            let mut sizes = std::iter::repeat_with(|| (rng() % 12) as usize);
            let mut body = encode(&data, &mut sizes);
            if rng() % 2 == 0 {
                body.splice(body.len() - 2..body.len() - 2, b"T: v\r\n".iter().copied());
            }
            for _ in 0..rng() % 4 {
                let at = (rng() as usize) % (body.len() + 1);
                let c = alphabet[(rng() as usize) % alphabet.len()];
                match rng() % 3 {
                    0 if at < body.len() => body[at] = c,
                    1 => body.insert(at, c),
                    _ if at < body.len() => {
                        body.remove(at);
                    }
                    _ => {}
                }
            }
            if rng() % 5 == 0 {
                body.truncate((rng() as usize) % (body.len() + 1));
            }
            body.extend_from_slice(b"NEXT");
            let want = naive(&body);
            let got = incremental(&body, &mut rng);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&body));
            match want {
                Some(Ok(_)) => ok += 1,
                Some(Err(())) => err += 1,
                None => partial += 1,
            }
        }
        assert!(
            ok > 1000 && err > 1000 && partial > 100,
            "{ok} {err} {partial}"
        );
    }
}
