//! The chunked decoder alone (the relay's framing runs through it): bodies fed in pieces of
//! every size, each malformed body with its specific error, `min_remaining` against the bytes
//! left, and random and mutated bodies against a naive whole-input reference parser.

mod common;

use common::{BAD_CHUNKED, Rng, chunk_encode_with};
use offheap::relay::{ChunkedDecoder, Error, Piece};

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
fn each_malformed_body_has_its_error() {
    for (input, want) in BAD_CHUNKED {
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

/// At every byte of valid bodies, min_remaining never exceeds what is left of the body, so
/// a caller reading that much never reads past it.
#[test]
fn min_remaining_never_passes_the_end() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..300 {
        let data: Vec<u8> = (0..(rng.next() % 3000) as usize)
            .map(|_| rng.next() as u8)
            .collect();
        let mut body = chunk_encode_with(&data, || 1 + (rng.next() % 700) as usize, b"");
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
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..200 {
        let len = (rng.next() % 3000) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let body = chunk_encode_with(&data, || (rng.next() % 300) as usize, b"");
        let step = 1 + (rng.next() % 64) as usize;
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
fn incremental(input: &[u8], rng: &mut Rng) -> Option<Result<(Vec<u8>, usize), ()>> {
    let mut d = ChunkedDecoder::new();
    let (mut i, mut data) = (0, Vec::new());
    while !d.is_done() {
        if i == input.len() {
            return None;
        }
        let end = (i + 1 + (rng.next() % 9) as usize).min(input.len());
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
    let mut rng = Rng(0x2545f4914f6cdd1d);
    let alphabet = b"0123456789abcdefABFgx;= \t\r\n\x01\x7fX:";
    let (mut ok, mut err, mut partial) = (0, 0, 0);
    for _ in 0..20_000 {
        let len = (rng.next() % 40) as usize;
        let data: Vec<u8> = (0..len).map(|_| b'a' + (rng.next() % 26) as u8).collect();
        let mut body = chunk_encode_with(&data, || (rng.next() % 12) as usize, b"");
        if rng.next().is_multiple_of(2) {
            body.splice(body.len() - 2..body.len() - 2, b"T: v\r\n".iter().copied());
        }
        for _ in 0..rng.next() % 4 {
            let at = (rng.next() as usize) % (body.len() + 1);
            let c = alphabet[(rng.next() as usize) % alphabet.len()];
            match rng.next() % 3 {
                0 if at < body.len() => body[at] = c,
                1 => body.insert(at, c),
                _ if at < body.len() => {
                    body.remove(at);
                }
                _ => {}
            }
        }
        if rng.next().is_multiple_of(5) {
            body.truncate((rng.next() as usize) % (body.len() + 1));
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
