//! Proxy head rewrite with the semantics of Go's `httputil.ReverseProxy`, into a caller
//! buffer.

use core::fmt;

use super::framing::for_each_element;
use super::known::Known;
use super::{Head, HeaderSpan, flags};

/// What [`rewrite_request`] adds and replaces.
#[derive(Clone, Copy, Debug, Default)]
pub struct RewriteOptions<'a> {
    /// The client address appended to X-Forwarded-For (empty: none).
    pub client_ip: &'a [u8],
    /// The X-Forwarded-Proto value, `http` or `https` (empty: none).
    pub proto: &'a [u8],
    /// The new Host value (the upstream's); `None` keeps the client's Host.
    pub host: Option<&'a [u8]>,
    /// This proxy's pseudonym for Via (RFC 9110 §7.6.3), written as `1.x <via>` and
    /// appended to the incoming Via (empty: none).
    pub via: &'a [u8],
    /// `true`: trust the client's forwarding headers and append to X-Forwarded-For
    /// (ReverseProxy with a Director). `false` (default): drop every incoming
    /// X-Forwarded-For/-Host/-Proto first (ReverseProxy with Rewrite and SetXForwarded).
    pub append_forwarded: bool,
}

/// Why a rewrite wrote nothing usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteError {
    /// The head record is not a complete head.
    NotComplete,
    /// `out` is too small; the rewrite needs `needed` bytes.
    OutputTooSmall {
        /// Bytes the rewritten head needs.
        needed: usize,
    },
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewriteError::NotComplete => f.write_str("head is not complete"),
            RewriteError::OutputTooSmall { needed } => {
                write!(f, "output too small: {needed} bytes needed")
            }
        }
    }
}

impl std::error::Error for RewriteError {}

/// Writes into `out`, counting what does not fit so the caller learns the size needed.
struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl Writer<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(dst) = self.out.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
        }
        self.len = end;
    }

    fn line(&mut self, name: &[u8], value: &[u8]) {
        self.put(name);
        self.put(b": ");
        self.put(value);
        self.put(b"\r\n");
    }

    /// Writes a list header that appends this hop to what earlier hops wrote: `name`, then
    /// (with `prior`) the value of each line of `lines` that is a `k`, each followed by ", ",
    /// then the parts of `hop`.
    fn appended(
        &mut self,
        name: &[u8],
        k: Known,
        prior: Option<(&[u8], &[HeaderSpan])>,
        hop: &[&[u8]],
    ) {
        self.put(name);
        self.put(b": ");
        if let Some((input, lines)) = prior {
            for h in lines
                .iter()
                .filter(|h| Known::classify(h.name(input)) == Some(k))
            {
                self.put(h.value(input));
                self.put(b", ");
            }
        }
        for part in hop {
            self.put(part);
        }
        self.put(b"\r\n");
    }

    fn finish(self) -> Result<usize, RewriteError> {
        if self.len <= self.out.len() {
            Ok(self.len)
        } else {
            Err(RewriteError::OutputTooSmall { needed: self.len })
        }
    }
}

/// Is `name` listed as a connection option in any Connection line (RFC 9110 §7.6.1)?
fn named_by_connection(
    input: &[u8],
    lines: &[HeaderSpan],
    connection: &[usize],
    name: &[u8],
) -> bool {
    connection.iter().any(|&i| {
        let mut hit = false;
        if let Some(h) = lines.get(i) {
            for_each_element(h.value(input), |_, option| {
                hit |= option.eq_ignore_ascii_case(name)
            });
        }
        hit
    })
}

/// What both rewrites start from: a complete head's lines, the indices of its Connection
/// lines (at most 8: the options they list name more hop-by-hop headers), and whether it
/// upgrades.
struct Hops<'h> {
    lines: &'h [HeaderSpan],
    connection: [usize; 8],
    nconn: usize,
    upgrade: bool,
}

impl<'h> Hops<'h> {
    fn of(input: &[u8], head: &Head, headers: &'h [HeaderSpan]) -> Result<Self, RewriteError> {
        if !head.is_complete() {
            return Err(RewriteError::NotComplete);
        }
        let lines = head.headers(headers);
        let (connection, nconn) = lines_named::<8>(input, lines, Known::Connection);
        Ok(Hops {
            lines,
            connection,
            nconn,
            upgrade: head.flags & flags::UPGRADE != 0,
        })
    }

    /// Is `name` listed as a connection option in any Connection line?
    fn named(&self, input: &[u8], name: &[u8]) -> bool {
        named_by_connection(input, self.lines, &self.connection[..self.nconn], name)
    }
}

/// The protocol version as Via writes it, with the separator before the pseudonym.
fn via_version(head: &Head) -> &'static [u8] {
    if head.version == 0 { b"1.0 " } else { b"1.1 " }
}

/// Indices of the lines named `k`, at most `N` (the rest are ignored).
fn lines_named<const N: usize>(
    input: &[u8],
    lines: &[HeaderSpan],
    k: Known,
) -> ([usize; N], usize) {
    let mut found = [0usize; N];
    let mut n = 0;
    for (i, h) in lines.iter().enumerate() {
        if n < N && Known::classify(h.name(input)) == Some(k) {
            found[n] = i;
            n += 1;
        }
    }
    (found, n)
}

/// Rewrites a parsed request head for forwarding to an upstream, into `out`; returns the
/// length written.
///
/// Like `httputil.ReverseProxy`: drops the hop-by-hop headers (Connection and every header
/// it names, Proxy-Connection, Keep-Alive, Proxy-Authenticate, Proxy-Authorization, TE,
/// Trailer, Upgrade), keeps `Connection: Upgrade` and Upgrade for an upgrade request and
/// `TE: trailers` when the client sent it, sets X-Forwarded-For/-Host/-Proto and Via, and
/// replaces Host when [`RewriteOptions::host`] is set. Unlike ReverseProxy, which re-frames
/// the body in its Transport, it keeps Transfer-Encoding and Content-Length as they are,
/// because the body is relayed unchanged after the rewritten head.
///
/// ```
/// use offheap::headers::{parse_requests, rewrite_request, Config, Head, HeaderSpan, RewriteOptions};
/// let input = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n\r\n";
/// let (mut heads, mut hs) = ([Head::default(); 1], [HeaderSpan::default(); 8]);
/// parse_requests(input, &Config::default(), &mut heads, &mut hs).unwrap();
/// let opts = RewriteOptions { client_ip: b"10.0.0.1", proto: b"http", ..Default::default() };
/// let mut out = [0u8; 256];
/// let n = rewrite_request(input, &heads[0], &hs, &opts, &mut out).unwrap();
/// assert_eq!(&out[..n], &b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\n\
///     X-Forwarded-Host: a\r\nX-Forwarded-Proto: http\r\n\r\n"[..]);
/// ```
pub fn rewrite_request(
    input: &[u8],
    head: &Head,
    headers: &[HeaderSpan],
    opts: &RewriteOptions<'_>,
    out: &mut [u8],
) -> Result<usize, RewriteError> {
    let hops = Hops::of(input, head, headers)?;
    let (lines, upgrade) = (hops.lines, hops.upgrade);
    let version: &[u8] = if head.version == 0 {
        b"HTTP/1.0"
    } else {
        b"HTTP/1.1"
    };
    let original_host = head.header(headers, Known::Host).map(|h| h.value(input));

    let mut w = Writer { out, len: 0 };
    w.put(head.method.of(input));
    w.put(b" ");
    w.put(head.target.of(input));
    w.put(b" ");
    w.put(version);
    w.put(b"\r\n");
    if let Some(host) = opts.host {
        w.line(b"Host", host);
    }

    let mut te_trailers = false;
    let mut upgrade_value: &[u8] = b"";
    let mut prior_xff = 0usize;
    let mut prior_via = 0usize;
    for h in lines {
        let name = h.name(input);
        let value = h.value(input);
        match Known::classify(name) {
            Some(Known::Host) if opts.host.is_some() => continue,
            Some(Known::Te) => {
                for_each_element(value, |_, t| {
                    let coding = t.split(|&b| b == b';').next().unwrap_or(t);
                    te_trailers |= coding.eq_ignore_ascii_case(b"trailers");
                });
                continue;
            }
            Some(Known::Upgrade) => {
                if upgrade_value.is_empty() {
                    upgrade_value = value;
                }
                continue;
            }
            // Framing headers stay, even when Connection names them ("Connection:
            // Content-Length" is a known trick to make proxies desynchronise the body).
            Some(Known::TransferEncoding | Known::ContentLength) => {
                w.line(name, value);
                continue;
            }
            Some(k) if k.is_hop_by_hop() => continue,
            Some(Known::XForwardedFor) => {
                prior_xff += 1;
                continue;
            }
            Some(Known::XForwardedHost | Known::XForwardedProto) => continue,
            Some(Known::Via) => {
                prior_via += 1;
                continue;
            }
            _ => {}
        }
        if hops.named(input, name) {
            continue;
        }
        w.line(name, value);
    }

    // X-Forwarded-For: the prior values joined by ", ", then the client (ReverseProxy).
    if !opts.client_ip.is_empty() {
        let prior = (opts.append_forwarded && prior_xff > 0).then_some((input, lines));
        w.appended(
            b"X-Forwarded-For",
            Known::XForwardedFor,
            prior,
            &[opts.client_ip],
        );
    }
    if let Some(host) = original_host {
        w.line(b"X-Forwarded-Host", host);
    }
    if !opts.proto.is_empty() {
        w.line(b"X-Forwarded-Proto", opts.proto);
    }
    if !opts.via.is_empty() {
        let prior = (prior_via > 0).then_some((input, lines));
        w.appended(b"Via", Known::Via, prior, &[via_version(head), opts.via]);
    }
    if upgrade && !upgrade_value.is_empty() {
        w.line(b"Connection", b"Upgrade");
        w.line(b"Upgrade", upgrade_value);
    }
    if te_trailers {
        w.line(b"Te", b"trailers");
    }
    w.put(b"\r\n");
    w.finish()
}

/// Rewrites a parsed response head for forwarding to the client: drops the hop-by-hop
/// headers (keeping `Connection: Upgrade` and Upgrade on a 101, and the framing headers),
/// and appends this proxy to Via when `via` is not empty.
///
/// ```
/// use offheap::headers::{parse_responses, rewrite_response, Config, Head, HeaderSpan};
/// let input = b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n";
/// let (mut heads, mut hs) = ([Head::default(); 1], [HeaderSpan::default(); 8]);
/// parse_responses(input, &Config::default(), false, &mut heads, &mut hs).unwrap();
/// let mut out = [0u8; 128];
/// let n = rewrite_response(input, &heads[0], &hs, b"edge", &mut out).unwrap();
/// assert_eq!(&out[..n], &b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.1 edge\r\n\r\n"[..]);
/// ```
pub fn rewrite_response(
    input: &[u8],
    head: &Head,
    headers: &[HeaderSpan],
    via: &[u8],
    out: &mut [u8],
) -> Result<usize, RewriteError> {
    let hops = Hops::of(input, head, headers)?;
    let (lines, upgrade) = (hops.lines, hops.upgrade);
    let mut w = Writer { out, len: 0 };
    w.put(if head.version == 0 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    });
    let code = head.status_code;
    w.put(&[
        b'0' + (code / 100 % 10) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
    ]);
    w.put(b" ");
    w.put(head.reason.of(input));
    w.put(b"\r\n");
    let mut prior_via = false;
    for h in lines {
        let name = h.name(input);
        match Known::classify(name) {
            Some(Known::TransferEncoding | Known::ContentLength) => {
                w.line(name, h.value(input));
                continue;
            }
            Some(Known::Upgrade) if upgrade => {
                w.line(name, h.value(input));
                continue;
            }
            Some(Known::Connection) if upgrade => {
                w.line(b"Connection", b"Upgrade");
                continue;
            }
            Some(k) if k.is_hop_by_hop() => continue,
            Some(Known::Via) if !via.is_empty() => {
                prior_via = true;
                continue;
            }
            _ => {}
        }
        if hops.named(input, name) {
            continue;
        }
        w.line(name, h.value(input));
    }
    if !via.is_empty() {
        let prior = prior_via.then_some((input, lines));
        w.appended(b"Via", Known::Via, prior, &[via_version(head), via]);
    }
    w.put(b"\r\n");
    w.finish()
}
