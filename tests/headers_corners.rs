//! The header parser's last corners: CONNECT has no content whatever its head says (RFC 9110
//! §9.3.6); parsing stops at the head length limit however much input follows; and a head cut
//! short is refused as soon as its complete lines break a rule no later byte can cure, with the
//! error and offset the whole head gets.

use std::time::{Duration, Instant};

use offheap::headers::{
    Body, Config, Error, Head, HeaderSpan, flags, parse_requests, parse_responses,
};

fn request(input: &[u8], cfg: &Config) -> Head {
    let mut heads = [Head::default(); 4];
    let mut headers = vec![HeaderSpan::default(); 256];
    let batch = parse_requests(input, cfg, &mut heads, &mut headers).unwrap();
    assert!(batch.heads >= 1);
    heads[0]
}

fn response(input: &[u8]) -> Head {
    let mut heads = [Head::default(); 1];
    let mut headers = vec![HeaderSpan::default(); 256];
    parse_responses(input, &Config::default(), false, &mut heads, &mut headers).unwrap();
    heads[0]
}

/// The bare-LF leniency sends every head through the general path (httparse), the default
/// the request-line fast path: both must agree.
fn configs() -> [Config; 2] {
    [
        Config::default(),
        Config {
            allow_bare_lf: true,
            ..Config::default()
        },
    ]
}

#[test]
fn connect_has_no_content_whatever_its_head_says() {
    for cfg in configs() {
        for head in [
            &b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 10\r\n\r\n"[..],
            b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 0\r\n\r\n",
        ] {
            // What follows the head is the tunnel's, not a body.
            let input = [head, b"\x16\x03\x01 tunnel bytes"].concat();
            let mut heads = [Head::default(); 4];
            let mut headers = vec![HeaderSpan::default(); 256];
            let batch = parse_requests(&input, &cfg, &mut heads, &mut headers).unwrap();
            let h = heads[0];
            let label = String::from_utf8_lossy(head);
            assert_eq!(h.result(), Ok(()), "{label}");
            assert!(h.flags & flags::CONNECT != 0, "{label}");
            assert_eq!((h.body(), h.content_length), (Body::None, 0), "{label}");
            assert_eq!(
                batch.consumed,
                head.len(),
                "{label}: the tunnel's bytes were skipped"
            );
        }
        // The framing headers of a CONNECT are still held to their rules.
        for (head, want) in [
            (
                &b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: x\r\n\r\n"[..],
                Error::ContentLengthInvalid,
            ),
            (
                b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Error::ContentLengthWithTransferEncoding,
            ),
        ] {
            assert_eq!(request(head, &cfg).result(), Err(want));
        }
    }
}

/// Best of `runs` timings of `f`.
fn fastest(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn parsing_stops_at_the_head_length_limit() {
    let cfg = Config::default(); // 64 KiB
    let limit = cfg.max_head_len as usize;
    let big = 16 << 20;
    let inputs: [(&str, Vec<u8>); 5] = [
        ("target", [&b"GET /"[..], &vec![b'a'; big]].concat()),
        (
            "value",
            [&b"GET / HTTP/1.1\r\nX: "[..], &vec![b'v'; big]].concat(),
        ),
        ("empty lines", b"\r\n".repeat(big / 2)),
        (
            "lines",
            [
                &b"GET / HTTP/1.1\r\n"[..],
                &b"X-Long-Header-Name: value\r\n".repeat(big / 27),
            ]
            .concat(),
        ),
        (
            "status line",
            [&b"HTTP/1.1 200 "[..], &vec![b'r'; big]].concat(),
        ),
    ];
    for (name, input) in &inputs {
        let is_response = *name == "status line";
        let parse = |input: &[u8]| {
            if is_response {
                response(input)
            } else {
                request(input, &cfg)
            }
        };
        let small = &input[..limit + 64];
        let h = parse(input);
        // The same verdict as for the first limit+64 bytes: nothing past the limit counts.
        let s = parse(small);
        assert_eq!(
            (h.status, h.error_offset),
            (s.status, s.error_offset),
            "{name}"
        );
        assert!(
            matches!(h.result(), Err(Error::HeadTooLarge | Error::TooManyHeaders)),
            "{name}: {:?}",
            h.result()
        );
        // And about the same time: scanning 16 MiB would take some 250 times as long.
        let t_big = fastest(5, || {
            parse(input);
        });
        let t_small = fastest(5, || {
            parse(small);
        });
        assert!(
            t_big < t_small * 20 + Duration::from_micros(200),
            "{name}: {t_big:?} for {} MiB, {t_small:?} for {} KiB",
            input.len() >> 20,
            small.len() >> 10
        );
    }
}

/// A head with one flaw in a complete line, cut anywhere after that line: refused at once with
/// the whole head's error and offset, not reported incomplete until its end arrives.
#[test]
fn a_head_is_refused_as_soon_as_no_byte_can_cure_it() {
    // Each head, its error, and the start of the line that breaks the rule.
    let cases: [(&[u8], Error, &[u8]); 10] = [
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\nX: y\r\n\r\n",
            Error::ContentLengthInvalid,
            b"Content-Length",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\nX: y\r\n\r\n",
            Error::ContentLengthRepeated,
            b"Content-Length: 5\r\nX",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nX: y\r\n\r\n",
            Error::ContentLengthRepeated,
            b"Content-Length",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nX: y\r\n\r\n",
            Error::HostRepeated,
            b"Host: b",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a@b\r\nX: y\r\n\r\n",
            Error::HostInvalid,
            b"Host",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\nX: y\r\n\r\n",
            Error::TransferEncodingInvalid,
            b"Transfer-Encoding",
        ),
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n",
            Error::TransferEncodingHttp10,
            b"Transfer-Encoding",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n",
            Error::ContentLengthWithTransferEncoding,
            b"Transfer-Encoding",
        ),
        (
            b"GET * HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n",
            Error::TargetForm,
            b"GET",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
            Error::BareLf,
            b"Host",
        ),
    ];
    for (whole, want, line) in cases {
        let label = String::from_utf8_lossy(whole);
        let line = whole.windows(line.len()).position(|w| w == line).unwrap();
        let line_end = line + whole[line..].iter().position(|&b| b == b'\n').unwrap() + 1;
        for cfg in configs() {
            if want == Error::BareLf && cfg.allow_bare_lf {
                continue;
            }
            let h = request(whole, &cfg);
            assert_eq!(h.result(), Err(want), "{label}");
            for cut in line_end..whole.len() {
                let c = request(&whole[..cut], &cfg);
                assert_eq!(
                    (c.result(), c.error_offset),
                    (h.result(), h.error_offset),
                    "{label} cut at {cut}, lenient={}",
                    cfg.allow_bare_lf
                );
            }
        }
    }
    // Cut before the line is complete, nothing is decided yet (a digit or a coding may
    // follow); and a valid head cut anywhere is incomplete.
    let valid =
        b"POST /p HTTP/1.1\r\nHost: a:80\r\nContent-Length: 12\r\nTransfer-Encoding-X: b\r\n\r\n";
    for cfg in configs() {
        for cut in 1..valid.len() {
            let h = request(&valid[..cut], &cfg);
            assert_eq!(h.result(), Err(Error::Incomplete), "cut at {cut}");
            assert_eq!(h.len as usize, cut);
        }
    }
    // A response's status code out of range is known once its line is complete.
    let h = response(b"HTTP/1.1 600 Odd\r\nX: y");
    assert_eq!((h.result(), h.error_offset), (Err(Error::Status), 9));
    let h = response(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\nX");
    assert_eq!(h.result(), Err(Error::ContentLengthRepeated));
}
