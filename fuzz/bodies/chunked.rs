// Body of the `chunked` fuzz target, shared by fuzz/fuzz_targets/chunked.rs (libFuzzer) and
// tests/fuzz_smoke.rs (`make test`, no cargo-fuzz): the relay's chunked decoder fed arbitrary
// input in arbitrary splits (with payload runs sometimes "spliced" through `consume_data`)
// must never panic, must always make progress, and must agree exactly (payload, end of body,
// error kind) with a whole-input reference parser written independently below.
//
// Input layout: byte 0 picks the mode and seeds the splits; in mode "valid" the rest is
// turned into a well-formed chunked body (payload, chunk sizes, extensions, trailers), then
// lightly mutated, so the fuzzer reaches deep states; otherwise the rest is decoded as is.

use offheap::relay::{ChunkedDecoder, Error as ChunkError, MAX_CHUNK_LINE, MAX_TRAILERS, Piece};

/// What a whole chunked body decodes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// The input ends before the body does.
    Incomplete,
    /// The body is malformed.
    Invalid(ChunkError),
    /// The payload and the number of input bytes the body spans.
    Complete(Vec<u8>, usize),
}

/// A cursor over the whole input for the reference parser.
struct Cursor<'a> {
    input: &'a [u8],
    i: usize,
}

/// `Err(None)`: the input ended; `Err(Some(e))`: the body is invalid.
type Step<T> = Result<T, Option<ChunkError>>;

impl Cursor<'_> {
    /// The next byte, counted against a line (or section) that started at `start` and may
    /// hold at most `limit` counted bytes.
    fn counted(&mut self, start: usize, limit: u32, err: ChunkError) -> Step<u8> {
        let b = *self.input.get(self.i).ok_or(None)?;
        if self.i - start + 1 > limit as usize {
            return Err(Some(err));
        }
        self.i += 1;
        Ok(b)
    }

    fn plain(&mut self) -> Step<u8> {
        let b = *self.input.get(self.i).ok_or(None)?;
        self.i += 1;
        Ok(b)
    }

    /// Skips the rest of a line (a chunk extension, or a trailer field after its first byte)
    /// through its CR: a bare LF or a control byte other than HTAB is `err`.
    fn rest_of_line(&mut self, start: usize, limit: u32, err: ChunkError) -> Step<()> {
        loop {
            match self.counted(start, limit, err)? {
                b'\r' => return Ok(()),
                b'\n' => return Err(Some(ChunkError::ChunkMissingCrlf)),
                b'\t' => {}
                b if is_ctl(b) => return Err(Some(err)),
                _ => {}
            }
        }
    }

    fn expect(&mut self, want: u8) -> Step<()> {
        if self.plain()? == want {
            Ok(())
        } else {
            Err(Some(ChunkError::ChunkMissingCrlf))
        }
    }
}

fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

fn hex(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    }
}

/// The reference: RFC 9112 §7.1 over the whole input, with the decoder's documented limits
/// (a chunk line of at most MAX_CHUNK_LINE bytes up to its CR; a trailer section of at most
/// MAX_TRAILERS bytes up to its final CR).
pub fn reference(input: &[u8]) -> Decoded {
    let mut c = Cursor { input, i: 0 };
    let mut data = Vec::new();
    let r: Step<usize> = (|| loop {
        let line = c.i;
        let ext_err = ChunkError::ChunkExtensionInvalid;
        let (mut size, mut digits) = (0u64, 0u32);
        let stop = loop {
            let b = c.counted(line, MAX_CHUNK_LINE, ext_err)?;
            match hex(b) {
                Some(_) if digits == 16 => return Err(Some(ChunkError::ChunkSizeOverflow)),
                Some(v) => {
                    size = size << 4 | v;
                    digits += 1;
                }
                None => break b,
            }
        };
        if digits == 0 {
            return Err(Some(ChunkError::ChunkSizeInvalid));
        }
        match stop {
            b'\r' => {}
            b';' | b' ' | b'\t' => c.rest_of_line(line, MAX_CHUNK_LINE, ext_err)?,
            b'\n' => return Err(Some(ChunkError::ChunkMissingCrlf)),
            _ => return Err(Some(ChunkError::ChunkSizeInvalid)),
        }
        c.expect(b'\n')?;
        if size == 0 {
            let section = c.i;
            let t_err = ChunkError::TrailersInvalid;
            loop {
                match c.counted(section, MAX_TRAILERS, t_err)? {
                    b'\r' => {
                        c.expect(b'\n')?;
                        return Ok(c.i);
                    }
                    b'\n' => return Err(Some(ChunkError::ChunkMissingCrlf)),
                    b' ' | b'\t' => return Err(Some(t_err)),
                    b if is_ctl(b) => return Err(Some(t_err)),
                    _ => {}
                }
                c.rest_of_line(section, MAX_TRAILERS, t_err)?;
                if c.counted(section, MAX_TRAILERS, t_err)? != b'\n' {
                    return Err(Some(ChunkError::ChunkMissingCrlf));
                }
            }
        }
        let left = (c.input.len() - c.i) as u64;
        if left < size {
            return Err(None);
        }
        let end = c.i + size as usize;
        data.extend_from_slice(&c.input[c.i..end]);
        c.i = end;
        c.expect(b'\r')?;
        c.expect(b'\n')?;
    })();
    match r {
        Ok(end) => Decoded::Complete(data, end),
        Err(None) => Decoded::Incomplete,
        Err(Some(e)) => Decoded::Invalid(e),
    }
}

/// xorshift64*, seeded from the input: decides the splits.
pub struct SplitRng(u64);

impl SplitRng {
    pub fn new(seed: u64) -> Self {
        SplitRng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// The incremental decoder over `input`, fed in random splits; payload runs are sometimes
/// skipped with `consume_data` as a splicing relay does. Checks the decoder's own contract on
/// the way (progress, piece bounds, nothing read past the end of the body).
pub fn incremental(input: &[u8], rng: &mut SplitRng) -> Decoded {
    let mut d = ChunkedDecoder::new();
    let (mut i, mut data) = (0usize, Vec::new());
    while !d.is_done() {
        if i == input.len() {
            return Decoded::Incomplete;
        }
        if let Some(left) = d.data_remaining() {
            assert!(left > 0, "data state with nothing left");
            if rng.below(4) == 0 {
                let avail = (input.len() - i) as u64;
                let n = 1 + rng.below(left.min(avail));
                data.extend_from_slice(&input[i..i + n as usize]);
                d.consume_data(n);
                i += n as usize;
                assert!(d.data_remaining().is_none_or(|l| l == left - n));
                continue;
            }
        }
        let max = match rng.below(8) {
            0 => input.len() - i,
            1..=3 => 1,
            _ => 1 + rng.below(16) as usize,
        };
        let end = (i + max.max(1)).min(input.len());
        let before = d.data_remaining();
        let mut copy = d;
        match d.feed(&input[i..end]) {
            Ok(piece) => {
                assert!(piece.len() <= end - i, "piece longer than its input");
                assert!(
                    !piece.is_empty() || d.is_done(),
                    "no progress on non-empty input"
                );
                if let Piece::Data(n) = piece {
                    let before = before.expect("payload outside a chunk");
                    assert!(n as u64 <= before);
                    data.extend_from_slice(&input[i..i + n]);
                }
                // The decoder is Copy: a copy fed the same bytes ends in the same state.
                assert_eq!(copy.feed(&input[i..end]), Ok(piece));
                assert_eq!(copy, d);
                i += piece.len();
            }
            Err(e) => return Decoded::Invalid(e),
        }
    }
    // Done: the decoder never takes a byte past the body.
    assert_eq!(d.feed(&input[i..]), Ok(Piece::Framing(0)));
    Decoded::Complete(data, i)
}

/// Builds a valid chunked body from fuzz bytes: payload, chunk sizes, extensions, trailers.
pub fn valid_body(bytes: &[u8], rng: &mut SplitRng) -> (Vec<u8>, Vec<u8>) {
    let mut body = Vec::new();
    let mut payload = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let n = (1 + rng.below(40) as usize).min(bytes.len() - i);
        let digits = match rng.below(4) {
            0 => format!("{n:X}"),
            1 => format!("000{n:x}"),
            _ => format!("{n:x}"),
        };
        body.extend_from_slice(digits.as_bytes());
        match rng.below(5) {
            0 => body.extend_from_slice(b";name=value"),
            1 => body.extend_from_slice(b" ;a\t=\"q\""),
            _ => {}
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&bytes[i..i + n]);
        payload.extend_from_slice(&bytes[i..i + n]);
        body.extend_from_slice(b"\r\n");
        i += n;
    }
    body.extend_from_slice(b"0\r\n");
    for _ in 0..rng.below(3) {
        body.extend_from_slice(b"X-Trailer: v\r\n");
    }
    body.extend_from_slice(b"\r\n");
    (body, payload)
}

/// The fuzz target body.
pub fn run(data: &[u8]) {
    let Some((&head, rest)) = data.split_first() else {
        assert_eq!(reference(data), Decoded::Incomplete);
        return;
    };
    let mut rng = SplitRng::new(u64::from(head) << 32 | rest.len() as u64);
    let mut input;
    let mut valid = None;
    if head & 1 == 1 {
        let (body, payload) = valid_body(rest, &mut rng);
        input = body;
        // Mode "valid, mutated": flip a few bytes picked by the seed.
        let mutations = (head >> 1) & 3;
        if mutations == 0 {
            valid = Some((payload, input.len()));
        }
        for _ in 0..mutations {
            if input.is_empty() {
                break;
            }
            let at = rng.below(input.len() as u64) as usize;
            input[at] = rest.get(at % rest.len().max(1)).copied().unwrap_or(b'\n');
        }
        input.extend_from_slice(b"GET / HTTP/1.1\r\n");
    } else {
        input = rest.to_vec();
    }
    let want = reference(&input);
    if let Some((payload, end)) = valid {
        assert_eq!(
            want,
            Decoded::Complete(payload, end),
            "reference rejects a valid body"
        );
    }
    let got = incremental(&input, &mut rng);
    assert_eq!(
        got,
        want,
        "decoder and reference disagree on {:?}",
        String::from_utf8_lossy(&input)
    );
}
