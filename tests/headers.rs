//! Integration tests of the header parser: differential against httparse (spans equal on
//! valid input, verdicts consistent on mutated input), against the byte-at-a-time
//! reference scanner, framing, batches and limits.

use offheap::headers::{
    Body, Config, Error, Head, HeaderSpan, Known, diagnose, flags, parse_requests,
    parse_requests_at, parse_responses, parse_responses_at,
};

mod common;

use common::grammar::is_syntax;
use common::requests::{KITTYHELL, REQ_SHORT};

/// xorshift64*: a small deterministic PRNG (no extra crates).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn one_request(input: &[u8], cfg: &Config) -> (Head, Vec<HeaderSpan>) {
    let mut heads = [Head::default(); 1];
    let mut headers = vec![HeaderSpan::default(); 256];
    let batch = parse_requests(input, cfg, &mut heads, &mut headers).unwrap();
    assert_eq!(batch.heads, usize::from(!input.is_empty()));
    headers.truncate(batch.headers);
    (heads[0], headers)
}

fn one_response(input: &[u8], head_request: bool) -> (Head, Vec<HeaderSpan>) {
    let mut heads = [Head::default(); 1];
    let mut headers = vec![HeaderSpan::default(); 256];
    let cfg = Config::default();
    let batch = parse_responses(input, &cfg, head_request, &mut heads, &mut headers).unwrap();
    assert_eq!(batch.heads, 1);
    headers.truncate(batch.headers);
    (heads[0], headers)
}

fn off(input: &[u8], part: &[u8]) -> u32 {
    (part.as_ptr() as usize - input.as_ptr() as usize) as u32
}

/// Parses with httparse and asserts our spans equal its spans.
fn assert_same_spans_as_httparse(input: &[u8]) {
    let mut hh = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut hh);
    let n = match req.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!(
            "httparse: {other:?} on {:?}",
            String::from_utf8_lossy(input)
        ),
    };
    let (head, headers) = one_request(input, &Config::default());
    assert_eq!(
        head.result(),
        Ok(()),
        "{:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(head.len as usize, n);
    let method = req.method.unwrap().as_bytes();
    let target = req.path.unwrap().as_bytes();
    assert_eq!(
        (head.method.off, head.method.len),
        (off(input, method), method.len() as u32)
    );
    assert_eq!(
        (head.target.off, head.target.len),
        (off(input, target), target.len() as u32)
    );
    assert_eq!(head.version, req.version.unwrap());
    assert_eq!(headers.len(), req.headers.len());
    for (ours, theirs) in headers.iter().zip(req.headers.iter()) {
        assert_eq!(ours.name_off, off(input, theirs.name.as_bytes()));
        assert_eq!(ours.name_len as usize, theirs.name.len());
        assert_eq!(ours.value_off, off(input, theirs.value));
        assert_eq!(ours.value_len as usize, theirs.value.len());
    }
    // The well-known index points at the first line of each name.
    for k in Known::ALL {
        let first = headers
            .iter()
            .position(|h| h.name(input).eq_ignore_ascii_case(k.name().as_bytes()));
        assert_eq!(head.header(&headers, k), first.map(|i| headers[i]), "{k:?}");
    }
}

#[test]
fn kittyhell_and_req_short_match_httparse() {
    assert_same_spans_as_httparse(KITTYHELL);
    assert_same_spans_as_httparse(REQ_SHORT);
    let (head, headers) = one_request(KITTYHELL, &Config::default());
    assert_eq!(head.header_count, 9);
    assert_eq!(head.body(), Body::None);
    assert_eq!(head.flags & flags::KEEP_ALIVE, flags::KEEP_ALIVE);
    assert_eq!(
        head.header(&headers, Known::Host).unwrap().value(KITTYHELL),
        b"www.kittyhell.com"
    );
    let (head, _) = one_request(REQ_SHORT, &Config::default());
    assert_eq!(head.version, 0);
    assert_eq!(head.flags & flags::KEEP_ALIVE, 0);
}

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND", "M-SEARCH", "get",
];
const TCHARS: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn random_token(rng: &mut Rng, max: usize) -> Vec<u8> {
    (0..1 + rng.below(max)).map(|_| *rng.pick(TCHARS)).collect()
}

fn random_case(rng: &mut Rng, s: &str) -> Vec<u8> {
    s.bytes()
        .map(|b| {
            if rng.below(2) == 0 {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            }
        })
        .collect()
}

/// A random head that the strict parser must accept.
fn random_valid_request(rng: &mut Rng) -> Vec<u8> {
    let mut h = Vec::new();
    if rng.below(10) == 0 {
        h.extend_from_slice(b"\r\n");
    }
    h.extend_from_slice(rng.pick(METHODS).as_bytes());
    h.push(b' ');
    h.push(b'/');
    for _ in 0..rng.below(60) {
        h.push(0x21 + rng.below(0x7e - 0x21 + 1) as u8);
    }
    h.extend_from_slice(if rng.below(4) == 0 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    let mut host = false;
    for _ in 0..rng.below(20) {
        let name = match rng.below(4) {
            0 => {
                let k = *rng.pick(&Known::ALL);
                if matches!(
                    k,
                    Known::Host | Known::ContentLength | Known::TransferEncoding
                ) {
                    continue;
                }
                random_case(rng, k.name())
            }
            _ => {
                let t = random_token(rng, 24);
                if matches!(
                    Known::classify(&t),
                    Some(Known::Host | Known::ContentLength | Known::TransferEncoding)
                ) {
                    continue;
                }
                t
            }
        };
        if !host && rng.below(3) == 0 {
            h.extend_from_slice(b"Host: example.com:8080\r\n");
            host = true;
        }
        h.extend_from_slice(&name);
        h.push(b':');
        for _ in 0..rng.below(3) {
            h.push(*rng.pick(b" \t"));
        }
        for _ in 0..rng.below(80) {
            let b = match rng.below(20) {
                0 => b'\t',
                1 => 0x80 + rng.below(0x80) as u8,
                _ => 0x20 + rng.below(0x7f - 0x20) as u8,
            };
            h.push(b);
        }
        h.extend_from_slice(b"\r\n");
    }
    if !host {
        h.extend_from_slice(b"host: x\r\n");
    }
    h.extend_from_slice(b"\r\n");
    h
}

#[test]
fn random_valid_heads_have_httparse_spans() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let h = random_valid_request(&mut rng);
        assert_same_spans_as_httparse(&h);
        assert_eq!(diagnose(&h, true, &Config::default()), Ok(h.len()));
    }
}

fn mutate(rng: &mut Rng, h: &mut Vec<u8>) {
    const INTERESTING: &[u8] = b"\r\n\0 \t:,;\x7f\x80\xffaZ0-/\x0b";
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(h.len() + 1);
        match rng.below(4) {
            0 if i < h.len() => {
                h.remove(i);
            }
            1 if i < h.len() => h[i] = *rng.pick(INTERESTING),
            2 => h.insert(i, *rng.pick(INTERESTING)),
            _ => h.truncate(i),
        }
    }
}

#[test]
fn mutated_heads_agree_with_httparse_and_the_reference() {
    let mut rng = Rng(42);
    let cfg = Config::default();
    let mut seen = std::collections::HashMap::new();
    for round in 0..30000 {
        let mut h = match round % 3 {
            0 => KITTYHELL.to_vec(),
            1 => REQ_SHORT.to_vec(),
            _ => random_valid_request(&mut rng),
        };
        mutate(&mut rng, &mut h);
        if h.is_empty() {
            continue;
        }
        let (ours, _) = one_request(&h, &cfg);
        let mut hh = [httparse::EMPTY_HEADER; 100];
        let theirs = httparse::Request::new(&mut hh).parse(&h);
        let reference = diagnose(&h, true, &cfg);
        let verdict = ours.result();
        *seen.entry(format!("{verdict:?}")).or_insert(0) += 1;
        match theirs {
            Err(_) => assert!(
                verdict.is_err_and(is_syntax),
                "httparse rejects, we say {verdict:?}: {h:?}"
            ),
            // httparse accepts bare LF and non-ASCII targets; the strict tokenizer rejects
            // them as soon as it reads them, even before the head is complete. A rule of the
            // start-line or of the framing headers that a complete line breaks for good is
            // refused before the head is complete too: its offending byte is on such a line.
            Ok(httparse::Status::Partial) => assert!(
                matches!(
                    verdict,
                    Err(Error::Incomplete | Error::BareLf | Error::Target)
                ) || verdict.is_err_and(
                    |e| !is_syntax(e) && h[ours.error_offset as usize..].contains(&b'\n')
                ),
                "{verdict:?} {h:?}"
            ),
            Ok(httparse::Status::Complete(n)) => {
                if verdict.is_ok() {
                    assert_eq!(ours.len as usize, n);
                }
            }
        }
        match verdict {
            Ok(()) => assert_eq!(reference, Ok(ours.len as usize), "{h:?}"),
            Err(Error::Incomplete) => {
                // httparse looks at bare LF and the target's bytes only once the head is complete.
                assert!(
                    matches!(
                        reference,
                        Err((Error::Incomplete | Error::BareLf | Error::Target, _))
                    ),
                    "{h:?}"
                );
            }
            Err(e) if is_syntax(e) => {
                assert_eq!(reference, Err((e, ours.error_offset as usize)), "{h:?}")
            }
            // A framing error is found while its line is read; a bare LF ending that same line
            // is found at the next line. Either may be first: the reference sees only the LF.
            // On a head cut short the reference, which has no framing rules, sees it incomplete.
            Err(_) => assert!(
                reference.is_ok()
                    || matches!(reference, Err((Error::BareLf, at)) if at > ours.error_offset as usize)
                    || matches!(reference, Err((Error::Incomplete, _)))
                        && matches!(theirs, Ok(httparse::Status::Partial)),
                "framing error {verdict:?} but reference says {reference:?}: {h:?}"
            ),
        }
    }
    // The mutations reach a good spread of rules.
    assert!(seen.len() >= 12, "{seen:?}");
}

#[test]
fn framing_of_requests() {
    let cfg = Config::default();
    let cases: &[(&[u8], Body, u64, u32, u32)] = &[
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", Body::None, 0, flags::KEEP_ALIVE | flags::HAS_HOST, 0),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", Body::None, 0, flags::HAS_HOST | flags::CONNECTION_CLOSE, 0),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", Body::None, 0, flags::KEEP_ALIVE, 0),
        (b"GET / HTTP/1.0\r\n\r\n", Body::None, 0, 0, 0),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n", Body::Length, 42, flags::KEEP_ALIVE | flags::HAS_HOST, 0),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", Body::Chunked, 0, flags::KEEP_ALIVE | flags::HAS_HOST, 0),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            Body::Chunked,
            0,
            flags::KEEP_ALIVE | flags::HAS_HOST | flags::TE_OTHER,
            0,
        ),
        (
            b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
            Body::None,
            0,
            flags::KEEP_ALIVE | flags::HAS_HOST | flags::UPGRADE,
            0,
        ),
        // HTTP/1.0 ignores Upgrade (RFC 9110 §7.8) and Expect (RFC 9110 §10.1.1).
        (b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: h2c\r\nExpect: 100-continue\r\n\r\n", Body::None, 0, 0, 0),
        (
            b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
            Body::Length,
            1,
            flags::KEEP_ALIVE | flags::HAS_HOST | flags::EXPECT_CONTINUE,
            0,
        ),
        (b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", Body::None, 0, flags::KEEP_ALIVE | flags::HAS_HOST | flags::CONNECT, 0),
        (b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", Body::None, 0, flags::KEEP_ALIVE | flags::HAS_HOST | flags::HEAD_METHOD, 0),
        (b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", Body::None, 0, flags::KEEP_ALIVE | flags::HAS_HOST | flags::LEADING_EMPTY_LINES, 2),
    ];
    for &(input, body, len, fl, method_off) in cases {
        let (head, _) = one_request(input, &cfg);
        let name = String::from_utf8_lossy(input);
        assert_eq!(head.result(), Ok(()), "{name}");
        assert_eq!(head.body(), body, "{name}");
        assert_eq!(head.content_length, len, "{name}");
        assert_eq!(head.flags, fl, "{name}");
        assert_eq!(head.method.off, method_off, "{name}");
    }
}

#[test]
fn framing_of_responses() {
    let cases: &[(&[u8], bool, Body, u64, bool)] = &[
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            false,
            Body::Length,
            5,
            true,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            true,
            Body::None,
            0,
            true,
        ),
        (b"HTTP/1.1 200 OK\r\n\r\n", false, Body::Close, 0, false),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
            Body::Chunked,
            0,
            true,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            false,
            Body::Close,
            0,
            false,
        ),
        (
            b"HTTP/1.1 204 No Content\r\n\r\n",
            false,
            Body::None,
            0,
            true,
        ),
        (
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
            false,
            Body::None,
            0,
            true,
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\n", false, Body::None, 0, true),
        (
            b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
            false,
            Body::Length,
            1,
            false,
        ),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
            false,
            Body::Length,
            1,
            true,
        ),
    ];
    for &(input, head_request, body, len, keep_alive) in cases {
        let (head, _) = one_response(input, head_request);
        let name = String::from_utf8_lossy(input);
        assert_eq!(head.result(), Ok(()), "{name}");
        assert_eq!(head.body(), body, "{name}");
        assert_eq!(head.content_length, len, "{name}");
        assert_eq!(head.flags & flags::KEEP_ALIVE != 0, keep_alive, "{name}");
    }
}

#[test]
fn reason_phrases() {
    for (input, reason, code) in [
        (&b"HTTP/1.1 200 OK\r\n\r\n"[..], &b"OK"[..], 200),
        (b"HTTP/1.1 404 Not Found\r\nX: y\r\n\r\n", b"Not Found", 404),
        (b"HTTP/1.1 204\r\n\r\n", b"", 204),
        (b"HTTP/1.1 204 \r\n\r\n", b"", 204),
        (
            b"HTTP/1.1 200 D\xc3\xa9j\xc3\xa0\r\n\r\n",
            b"D\xc3\xa9j\xc3\xa0",
            200,
        ),
        (
            b"\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
            b"Switching Protocols",
            101,
        ),
    ] {
        let (head, _) = one_response(input, false);
        assert_eq!(head.result(), Ok(()));
        assert_eq!(head.reason.of(input), reason);
        assert_eq!(head.status_code, code);
    }
    let (head, _) = one_response(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n",
        false,
    );
    assert_eq!(head.flags & flags::UPGRADE, flags::UPGRADE);
}

#[test]
fn error_offsets_point_at_the_rule() {
    let cfg = Config::default();
    let cases: &[(&[u8], Error, &[u8])] = &[
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", Error::ContentLengthInvalid, b"x"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", Error::ContentLengthRepeated, b"Content-Length: 1\r\n\r\n"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", Error::ContentLengthWithTransferEncoding, b"Content-Length: 1\r\n\r\n"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, br\r\n\r\n", Error::ChunkedNotLast, b"chunked, br"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", Error::HostRepeated, b"Host: b"),
        (b"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", Error::HostInvalid, b"@b"),
        (b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", Error::BareLf, b"\nX: y"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: y\n\r\n", Error::BareLf, b"\n\r\n"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\n", Error::BareLf, b"\n"),
        (b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", Error::BareLf, b"\nGET"),
        (b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", Error::Target, b"\xff"),
        (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", Error::TargetForm, b"* HTTP"),
    ];
    for &(input, error, at) in cases {
        let (head, _) = one_request(input, &cfg);
        let name = String::from_utf8_lossy(input);
        assert_eq!(head.result(), Err(error), "{name}");
        let expected = input.windows(at.len()).rposition(|w| w == at).unwrap();
        assert_eq!(head.error_offset as usize, expected, "{name}");
    }
}

#[test]
fn limits() {
    let big = [
        &b"GET / HTTP/1.1\r\nHost: a\r\nX: "[..],
        &[b'a'; 2000],
        b"\r\n\r\n",
    ]
    .concat();
    let cfg = Config {
        max_head_len: 1000,
        ..Config::default()
    };
    let (head, _) = one_request(&big, &cfg);
    assert_eq!(head.result(), Err(Error::HeadTooLarge));
    assert_eq!(head.error_offset, 1000);
    // Exactly at the limit is fine; an incomplete head shorter than the limit is Incomplete.
    let cfg = Config {
        max_head_len: big.len() as u32,
        ..Config::default()
    };
    assert_eq!(one_request(&big, &cfg).0.result(), Ok(()));
    assert_eq!(
        one_request(&big[..big.len() - 1], &cfg).0.result(),
        Err(Error::Incomplete)
    );
    assert_eq!(
        one_request(&big[..big.len() - 1], &cfg).0.len as usize,
        big.len() - 1
    );

    let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..10 {
        many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let cfg = Config {
        max_headers: 11,
        ..Config::default()
    };
    assert_eq!(one_request(&many, &cfg).0.result(), Ok(()));
    let cfg = Config {
        max_headers: 10,
        ..Config::default()
    };
    let (head, _) = one_request(&many, &cfg);
    assert_eq!(head.result(), Err(Error::TooManyHeaders));
    assert_eq!(&many[head.error_offset as usize..][..5], b"X-9: ");
    // Limits above the hard ceilings are clamped, not trusted.
    let cfg = Config {
        max_headers: u16::MAX,
        max_head_len: u32::MAX,
        allow_bare_lf: false,
    };
    assert_eq!(one_request(&many, &cfg).0.result(), Ok(()));
}

#[test]
fn bare_lf_is_accepted_only_when_allowed() {
    let input = b"GET / HTTP/1.1\nHost: a\nX: b\r\n\n";
    assert_eq!(
        one_request(input, &Config::default()).0.result(),
        Err(Error::BareLf)
    );
    let cfg = Config {
        allow_bare_lf: true,
        ..Config::default()
    };
    let (head, headers) = one_request(input, &cfg);
    assert_eq!(head.result(), Ok(()));
    assert_eq!(head.len as usize, input.len());
    assert_eq!(headers[1].value(input), b"b");
}

#[test]
fn pipelined_batch() {
    let mut input = Vec::new();
    input.extend_from_slice(KITTYHELL);
    input.extend_from_slice(b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
    input.extend_from_slice(REQ_SHORT); // HTTP/1.0 without keep-alive: the batch ends after it
    input.extend_from_slice(KITTYHELL);
    let mut heads = [Head::default(); 8];
    let mut headers = [HeaderSpan::default(); 128];
    let b = parse_requests(&input, &Config::default(), &mut heads, &mut headers).unwrap();
    assert_eq!(b.heads, 3);
    assert_eq!(b.headers, 9 + 2 + 2);
    assert_eq!(b.consumed, input.len() - KITTYHELL.len());
    assert_eq!(heads[1].start as usize, KITTYHELL.len());
    assert_eq!(heads[1].first_header, 9);
    assert_eq!(heads[1].target.of(&input), b"/p");
    assert_eq!(heads[2].first_header, 11);
    assert_eq!(
        heads[2].headers(&headers)[1].value(&input),
        b"session=60; user_id=1"
    );

    // A body that is not all there ends the batch at the end of its head.
    let input = b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc";
    let b = parse_requests(input, &Config::default(), &mut heads, &mut headers).unwrap();
    assert_eq!((b.heads, b.consumed), (1, input.len() - 3));

    // An incomplete second head is recorded as such and not consumed.
    let mut input = KITTYHELL.to_vec();
    input.extend_from_slice(b"GET / HT");
    let b = parse_requests(&input, &Config::default(), &mut heads, &mut headers).unwrap();
    assert_eq!((b.heads, b.consumed), (2, KITTYHELL.len()));
    assert_eq!(heads[1].result(), Err(Error::Incomplete));
    assert_eq!(heads[1].len, 8);

    // Full head output: stops; full header output: stops before the head that does not fit.
    let input = KITTYHELL.repeat(4);
    let b = parse_requests(&input, &Config::default(), &mut heads[..2], &mut headers).unwrap();
    assert_eq!((b.heads, b.consumed), (2, 2 * KITTYHELL.len()));
    let b = parse_requests(&input, &Config::default(), &mut heads, &mut headers[..20]).unwrap();
    assert_eq!(
        (b.heads, b.headers, b.consumed),
        (2, 18, 2 * KITTYHELL.len())
    );
    assert_eq!(
        parse_requests(&input, &Config::default(), &mut heads, &mut headers[..5]),
        Err(offheap::headers::BatchError::HeadersFull)
    );
}

#[test]
fn offsets_batch() {
    let parts: [&[u8]; 4] = [
        KITTYHELL,
        b"GET /x HTTP/1.1\r\nHost: b\r\n\r\n",
        b"GET /y HTTP/1.1\r\nHo",
        REQ_SHORT,
    ];
    let input = parts.concat();
    let mut offsets = Vec::new();
    let mut at = 0u32;
    for p in parts {
        offsets.push(at);
        at += p.len() as u32;
    }
    let cfg = Config::default();
    let mut heads = [Head::default(); 8];
    let mut headers = [HeaderSpan::default(); 128];
    let b = parse_requests_at(&input, &offsets, &cfg, &mut heads, &mut headers).unwrap();
    assert_eq!(b.heads, 4);
    assert_eq!(b.headers, 9 + 1 + 2);
    assert_eq!(heads[1].target.of(&input), b"/x");
    assert_eq!(heads[2].result(), Err(Error::Incomplete));
    assert_eq!(heads[3].result(), Ok(()));
    assert_eq!(heads[3].first_header, 10);
    assert_eq!(
        parse_requests_at(&input, &[5, 2], &cfg, &mut heads, &mut headers),
        Err(offheap::headers::BatchError::BadOffsets)
    );
    let responses = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 404 Nope\r\n\r\n";
    let b = parse_responses_at(responses, &[0, 38], &cfg, false, &mut heads, &mut headers).unwrap();
    assert_eq!(b.heads, 2);
    assert_eq!(heads[1].reason.of(responses), b"Nope");
    assert_eq!(heads[1].body(), Body::Close);
}

#[test]
fn pipelined_responses_continue_after_1xx() {
    let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 204 No Content\r\n\r\n";
    let mut heads = [Head::default(); 8];
    let mut headers = [HeaderSpan::default(); 128];
    let b = parse_responses(input, &Config::default(), false, &mut heads, &mut headers).unwrap();
    assert_eq!(b.heads, 3);
    assert_eq!(b.consumed, input.len());
    assert_eq!(
        [
            heads[0].status_code,
            heads[1].status_code,
            heads[2].status_code
        ],
        [100, 200, 204]
    );
}

#[test]
fn find_by_any_name() {
    let input = b"GET / HTTP/1.1\r\nHost: a\r\nX-Trace: 1\r\nx-trace: 2\r\n\r\n";
    let (head, headers) = one_request(input, &Config::default());
    assert_eq!(
        head.find(input, &headers, b"X-TRACE").unwrap().value(input),
        b"1"
    );
    assert_eq!(
        head.find(input, &headers, b"HOST").unwrap().value(input),
        b"a"
    );
    assert!(head.find(input, &headers, b"Missing").is_none());
}

#[test]
fn never_panics_on_random_bytes() {
    let mut rng = Rng(7);
    let cfg = Config {
        allow_bare_lf: true,
        ..Config::default()
    };
    let mut heads = [Head::default(); 4];
    let mut headers = [HeaderSpan::default(); 300];
    for _ in 0..20000 {
        let n = rng.below(64);
        let alphabet = b"GET /HTP1.0\r\n :aHost,chunkedTransfer-EncodingContent-Length0123456789";
        let input: Vec<u8> = (0..n).map(|_| *rng.pick(alphabet)).collect();
        let _ = parse_requests(&input, &cfg, &mut heads, &mut headers);
        let _ = parse_responses(&input, &Config::default(), false, &mut heads, &mut headers);
        let _ = parse_requests_at(
            &input,
            &[0, (n / 2) as u32],
            &Config::default(),
            &mut heads,
            &mut headers,
        );
    }
}

/// The fused strict tokenizer and the general (httparse) path must produce identical
/// records on every input without a bare LF: the general path runs when
/// `allow_bare_lf` is set, the fused one otherwise.
#[test]
fn fused_and_general_paths_agree() {
    let strict = Config::default();
    let general = Config {
        allow_bare_lf: true,
        ..Config::default()
    };
    let mut rng = Rng(99);
    let mut compared = 0;
    for round in 0..30000 {
        let mut h = match round % 3 {
            0 => KITTYHELL.to_vec(),
            1 => b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            _ => random_valid_request(&mut rng),
        };
        if round % 2 == 0 {
            mutate(&mut rng, &mut h);
        }
        let bare_lf = h
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || h[i - 1] != b'\r'));
        if h.is_empty() || bare_lf {
            continue;
        }
        let (a, ha) = one_request(&h, &strict);
        let (b, hb) = one_request(&h, &general);
        if a.result() == Err(Error::Incomplete) || b.result() == Err(Error::Incomplete) {
            // The fused path rejects a non-ASCII target before the head is complete.
            assert!(
                a.result() == b.result() || a.result() == Err(Error::Target),
                "{:?} vs {:?}: {h:?}",
                a.result(),
                b.result()
            );
            continue;
        }
        // Only the status, offset and length of a rejected head are specified.
        assert_eq!(
            (a.status, a.error_offset, a.len),
            (b.status, b.error_offset, b.len),
            "{h:?}"
        );
        if a.is_complete() {
            assert_eq!(a, b, "{h:?}");
            assert_eq!(ha, hb, "{h:?}");
        }
        compared += 1;
    }
    assert!(compared > 10000);
}
