//! Proxy head rewrite: ReverseProxy semantics, and no way for a client to make the proxy
//! drop the framing headers.

use offheap::headers::{
    Config, Head, HeaderSpan, RewriteError, RewriteOptions, parse_requests, parse_responses,
    rewrite_request, rewrite_response,
};

fn request(input: &[u8]) -> (Head, Vec<HeaderSpan>) {
    let mut heads = [Head::default(); 1];
    let mut hs = vec![HeaderSpan::default(); 128];
    parse_requests(input, &Config::default(), &mut heads, &mut hs).unwrap();
    assert_eq!(
        heads[0].result(),
        Ok(()),
        "{}",
        String::from_utf8_lossy(input)
    );
    (heads[0], hs)
}

fn rewrite(input: &[u8], opts: &RewriteOptions<'_>) -> String {
    let (head, hs) = request(input);
    let mut out = vec![0u8; 1024];
    let n = rewrite_request(input, &head, &hs, opts, &mut out).unwrap();
    // The rewritten head is itself a valid strict head.
    let (again, _) = request(&out[..n]);
    assert_eq!(again.len as usize, n);
    String::from_utf8(out[..n].to_vec()).unwrap()
}

#[test]
fn connection_cannot_strip_framing_headers() {
    let input = b"POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Transfer-Encoding, X-A\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n";
    let out = rewrite(input, &RewriteOptions::default());
    assert!(out.contains("Content-Length: 5\r\n"), "{out}");
    assert!(!out.contains("X-A"), "{out}");
    assert!(!out.contains("Connection"), "{out}");
}

#[test]
fn hop_by_hop_headers_are_dropped() {
    let input = b"GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: 5\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: x\r\n\
Proxy-Authenticate: y\r\nTrailer: z\r\nTE: gzip\r\nUpgrade: h2c\r\nX-Keep: 1\r\n\r\n";
    let out = rewrite(input, &RewriteOptions::default());
    assert_eq!(
        out,
        "GET / HTTP/1.1\r\nHost: a\r\nX-Keep: 1\r\nX-Forwarded-Host: a\r\n\r\n"
    );
}

#[test]
fn upgrade_requests_keep_connection_and_upgrade() {
    let input = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n";
    let out = rewrite(input, &RewriteOptions::default());
    assert!(
        out.ends_with("Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
        "{out}"
    );
    assert!(out.contains("Sec-WebSocket-Key: k\r\n"), "{out}");
}

#[test]
fn forwarded_headers_replace_or_append() {
    let input = b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\n\r\n";
    let fresh = RewriteOptions {
        client_ip: b"10.0.0.1",
        proto: b"http",
        ..Default::default()
    };
    let out = rewrite(input, &fresh);
    assert!(!out.contains("6.6.6.6") && !out.contains("evil"), "{out}");
    assert!(
        out.contains(
            "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: a\r\nX-Forwarded-Proto: http\r\n"
        ),
        "{out}"
    );
    let trusting = RewriteOptions {
        append_forwarded: true,
        ..fresh
    };
    let out = rewrite(input, &trusting);
    assert!(
        out.contains("X-Forwarded-For: 6.6.6.6, 10.0.0.1\r\n"),
        "{out}"
    );
    let host = RewriteOptions {
        host: Some(b"up:81"),
        ..fresh
    };
    let out = rewrite(input, &host);
    assert!(
        out.starts_with("GET / HTTP/1.1\r\nHost: up:81\r\n"),
        "{out}"
    );
    assert_eq!(out.matches("\r\nHost:").count(), 1, "{out}");
}

#[test]
fn small_output_reports_the_size_needed() {
    let input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let (head, hs) = request(input);
    let mut small = [0u8; 10];
    let opts = RewriteOptions::default();
    let Err(RewriteError::OutputTooSmall { needed }) =
        rewrite_request(input, &head, &hs, &opts, &mut small)
    else {
        panic!("expected OutputTooSmall");
    };
    let mut exact = vec![0u8; needed];
    assert_eq!(
        rewrite_request(input, &head, &hs, &opts, &mut exact),
        Ok(needed)
    );
    let incomplete = Head {
        status: 100,
        ..head
    };
    assert_eq!(
        rewrite_request(input, &incomplete, &hs, &opts, &mut exact),
        Err(RewriteError::NotComplete)
    );
}

#[test]
fn responses_drop_hop_by_hop_but_keep_upgrade_on_101() {
    let input = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\nKeep-Alive: 1\r\n\r\n";
    let mut heads = [Head::default(); 1];
    let mut hs = [HeaderSpan::default(); 16];
    parse_responses(input, &Config::default(), false, &mut heads, &mut hs).unwrap();
    let mut out = [0u8; 256];
    let n = rewrite_response(input, &heads[0], &hs, b"", &mut out).unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    );
}
