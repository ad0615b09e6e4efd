//! Field-value grammars the framing pass needs: Content-Length, Transfer-Encoding,
//! Connection, Expect and Host (RFC 9110 §5.6.1 lists, RFC 9112 §6).

use super::Error;
use super::known::{const_words, eq_lower_words};

/// A lower-case token, pre-split into words for [`eq_lower_words`].
struct Token([u64; 3], usize);

impl Token {
    const fn new(s: &[u8]) -> Token {
        Token(const_words(s), s.len())
    }

    #[inline(always)]
    fn eq(&self, value: &[u8]) -> bool {
        eq_lower_words(value, &self.0, self.1)
    }
}

const CHUNKED: Token = Token::new(b"chunked");
const KEEP_ALIVE: Token = Token::new(b"keep-alive");
const CLOSE: Token = Token::new(b"close");
const UPGRADE: Token = Token::new(b"upgrade");
const CONTINUE: Token = Token::new(b"100-continue");

/// Largest accepted Content-Length: `i64::MAX`, so that Go can hold it in an `int64`.
pub const MAX_CONTENT_LENGTH: u64 = i64::MAX as u64;

/// Parses a Content-Length value (already stripped of surrounding OWS by the tokenizer).
///
/// `Err((error, index))` names the offending byte's index in `value`.
#[inline]
pub(crate) fn content_length(value: &[u8]) -> Result<u64, (Error, usize)> {
    if value.is_empty() {
        return Err((Error::ContentLengthInvalid, 0));
    }
    let mut n: u64 = 0;
    for (i, &b) in value.iter().enumerate() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            // "5, 5" is a list of two lengths: repeated, not malformed.
            let e = if b == b',' {
                Error::ContentLengthRepeated
            } else {
                Error::ContentLengthInvalid
            };
            return Err((e, i));
        }
        n = match n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d))) {
            Some(n) if n <= MAX_CONTENT_LENGTH => n,
            _ => return Err((Error::ContentLengthInvalid, i)),
        };
    }
    Ok(n)
}

/// Calls `f(start, element)` for each non-empty element of a comma-separated list, with
/// OWS trimmed; `start` is the element's index in `value`.
#[inline]
pub(crate) fn for_each_element(value: &[u8], mut f: impl FnMut(usize, &[u8])) {
    let mut start = 0;
    while start <= value.len() {
        let end = memchr::memchr(b',', &value[start..]).map_or(value.len(), |i| start + i);
        let (s, e) = trim_ows(value, start, end);
        if s < e {
            f(s, &value[s..e]);
        }
        start = end + 1;
    }
}

#[inline]
fn trim_ows(value: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && matches!(value[s], b' ' | b'\t') {
        s += 1;
    }
    while e > s && matches!(value[e - 1], b' ' | b'\t') {
        e -= 1;
    }
    (s, e)
}

/// Running state of the Transfer-Encoding lists of one head (all lines, in order).
#[derive(Default, Clone, Copy)]
pub(crate) struct TransferCodings {
    /// Any Transfer-Encoding line was seen.
    pub present: bool,
    /// The last coding seen so far is `chunked`.
    pub chunked_last: bool,
    /// A coding other than `chunked` was seen.
    pub other: bool,
}

impl TransferCodings {
    /// Adds one Transfer-Encoding value; `Err(index)` names the offending byte.
    pub(crate) fn add(&mut self, value: &[u8]) -> Result<(), usize> {
        self.present = true;
        // Fast path: the common single "chunked".
        if CHUNKED.eq(value) {
            if self.chunked_last {
                return Err(0);
            }
            self.chunked_last = true;
            return Ok(());
        }
        let mut bad = None;
        let mut codings = 0;
        for_each_element(value, |at, element| {
            codings += 1;
            if bad.is_some() {
                return;
            }
            // transfer-coding = token *( OWS ";" OWS transfer-parameter )
            let name_end = element
                .iter()
                .position(|&b| b == b';')
                .unwrap_or(element.len());
            let (s, e) = trim_ows(element, 0, name_end);
            let name = &element[s..e];
            if let Some(i) = name.iter().position(|&b| !is_tchar(b)) {
                bad = Some(at + s + i);
            } else if name.is_empty() {
                bad = Some(at);
            } else if CHUNKED.eq(name) {
                // chunked twice, or chunked with parameters (it defines none).
                if self.chunked_last || name_end != element.len() {
                    bad = Some(at);
                }
                self.chunked_last = true;
            } else {
                if self.chunked_last {
                    // A coding after chunked: the decision (error for requests, read until
                    // close for responses) is the caller's.
                    self.chunked_last = false;
                }
                self.other = true;
            }
        });
        // A Transfer-Encoding line without any coding is ambiguous (present or absent?)
        // between implementations: reject it.
        match bad {
            Some(i) => Err(i),
            None if codings == 0 => Err(0),
            None => Ok(()),
        }
    }
}

/// Connection options that change framing (RFC 9112 §9.3, §9.6; RFC 9110 §7.6.1, §7.8).
#[derive(Default, Clone, Copy)]
pub(crate) struct ConnectionOptions {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
}

impl ConnectionOptions {
    pub(crate) fn add(&mut self, value: &[u8]) {
        // Fast paths for the two values nearly every head carries.
        if KEEP_ALIVE.eq(value) {
            self.keep_alive = true;
            return;
        }
        if CLOSE.eq(value) {
            self.close = true;
            return;
        }
        for_each_element(value, |_, option| {
            if CLOSE.eq(option) {
                self.close = true;
            } else if KEEP_ALIVE.eq(option) {
                self.keep_alive = true;
            } else if UPGRADE.eq(option) {
                self.upgrade = true;
            }
        });
    }
}

/// `Expect: 100-continue`, in any case (RFC 9110 §10.1.1).
#[inline]
pub(crate) fn is_100_continue(value: &[u8]) -> bool {
    CONTINUE.eq(value)
}

/// Index of the first byte that may not appear in `uri-host [ ":" port ]`, if any
/// (RFC 3986 §3.2.2: reg-name / IPv4address / IP-literal; userinfo is not allowed).
#[inline]
pub(crate) fn invalid_host_byte(value: &[u8]) -> Option<usize> {
    // A valid host (the common case) in one pass with no branch per byte; the offending
    // byte's position only when there is one.
    if value.iter().fold(true, |ok, &b| ok & HOST_MAP[b as usize]) {
        return None;
    }
    value.iter().position(|&b| !HOST_MAP[b as usize])
}

/// Checks a CONNECT target against RFC 9112 §3.2.3 `authority-form = uri-host ":" port` (RFC
/// 3986 §3.2.2: `uri-host` is an IP-literal in brackets, an IPv4 address or a reg-name; the port
/// is 1 to 5 digits). The IP-literal must be an IPv6 address (RFC 4291 §2.2 text, no zone);
/// IPvFuture literals, which no client sends and net/http refuses too, are refused. Returns the
/// offset of the first byte that breaks the form.
pub(crate) fn authority_form_error(target: &[u8]) -> Option<usize> {
    let host_char = |b: u8| HOST_MAP[b as usize] && !matches!(b, b'[' | b']' | b':');
    let port_at = if target.first() == Some(&b'[') {
        // IP-literal: "[" IPv6address "]"
        let close = match target.iter().position(|&b| b == b']') {
            Some(c) => c,
            None => return Some(target.len()),
        };
        let literal = &target[1..close];
        if let Some(j) = literal
            .iter()
            .position(|&b| !(b.is_ascii_hexdigit() || b == b':' || b == b'.'))
        {
            return Some(1 + j);
        }
        // Only hex digits, ':' and '.' remain: ASCII, so the str conversion cannot fail.
        let ipv6 = std::str::from_utf8(literal)
            .ok()
            .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok());
        if ipv6.is_none() {
            return Some(1);
        }
        close + 1
    } else {
        match target.iter().position(|&b| !host_char(b)) {
            Some(0) => return Some(0),
            Some(j) => j,
            None => target.len(),
        }
    };
    if target.get(port_at) != Some(&b':') {
        return Some(port_at);
    }
    let port = &target[port_at + 1..];
    if port.is_empty() || port.len() > 5 {
        return Some(port_at + 1);
    }
    port.iter()
        .position(|b| !b.is_ascii_digit())
        .map(|j| port_at + 1 + j)
}

/// `HOST_MAP[b]`: `b` may stand in a Host value (RFC 3986 §3.2.2 reg-name, IP literal and
/// port: unreserved, pct-encoded, sub-delims, ':', '[' and ']').
static HOST_MAP: [bool; 256] = alnum_and(b"-._~%!$&'()*+,;=:[]");

/// RFC 9110 §5.6.2 `tchar`.
#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR_MAP[b as usize]
}

/// `TCHAR_MAP[b]`: `b` is a `tchar`.
pub(crate) static TCHAR_MAP: [bool; 256] = alnum_and(b"!#$%&'*+-.^_`|~");

/// A byte map that holds the ASCII letters and digits and the bytes of `extra`.
const fn alnum_and(extra: &[u8]) -> [bool; 256] {
    let mut map = [false; 256];
    let mut i = 0;
    while i < 256 {
        map[i] = (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        map[extra[j] as usize] = true;
        j += 1;
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_form() {
        // Each target with the offset of its first offending byte (`None`: valid).
        for (target, want) in [
            (&b"a:443"[..], None),
            (b"example.com:8080", None),
            (b"10.0.0.1:1", None),
            (b"[::1]:443", None),
            (b"[2001:db8::7]:8443", None),
            (b"[::ffff:10.0.0.1]:80", None),
            (b"a", Some(1)),
            (b"a:", Some(2)),
            (b"a:123456", Some(2)),
            (b"a:8o", Some(3)),
            (b":80", Some(0)),
            (b"[::1]", Some(5)),
            (b"[]:80", Some(1)),
            (b"[*:1]:443", Some(1)),
            (b"[1:2]:443", Some(1)),
            (b"[:::1]:443", Some(1)),
            (b"[v1.x]:80", Some(1)),
            (b"[fe80::1%25eth0]:80", Some(8)),
            (b"[::1:80", Some(7)),
            (b"atttttU[[[3", Some(7)),
            (b"a[b]:80", Some(1)),
            (b"a/b:80", Some(1)),
        ] {
            let got = authority_form_error(target);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(target));
        }
    }

    #[test]
    fn content_length_grammar() {
        assert_eq!(content_length(b"0"), Ok(0));
        assert_eq!(content_length(b"007"), Ok(7));
        assert_eq!(
            content_length(b"9223372036854775807"),
            Ok(MAX_CONTENT_LENGTH)
        );
        // Values that are not one length, with the offset of the offending byte.
        for (value, at) in [
            (&b"9223372036854775808"[..], 18),
            (b"99999999999999999999999", 18),
            (b"", 0),
            (b"+5", 0),
            (b"-1", 0),
            (b"0x10", 1),
            (b"5 5", 1),
        ] {
            let got = content_length(value);
            let shown = String::from_utf8_lossy(value);
            assert_eq!(got, Err((Error::ContentLengthInvalid, at)), "{shown:?}");
        }
        for list in [&b"5,5"[..], b"5, 6"] {
            assert_eq!(content_length(list), Err((Error::ContentLengthRepeated, 1)));
        }
    }

    #[test]
    fn list_elements() {
        let mut seen = Vec::new();
        for_each_element(b" a ,, b\t,c;x=1 ,", |at, e| seen.push((at, e.to_vec())));
        assert_eq!(
            seen,
            vec![
                (1, b"a".to_vec()),
                (6, b"b".to_vec()),
                (9, b"c;x=1".to_vec())
            ]
        );
    }

    #[test]
    fn transfer_codings() {
        let mut t = TransferCodings::default();
        assert_eq!(t.add(b"gzip, chunked"), Ok(()));
        assert!(t.chunked_last && t.other);
        let mut t = TransferCodings::default();
        assert_eq!(t.add(b"chunked"), Ok(()));
        assert_eq!(t.add(b"gzip"), Ok(()));
        assert!(!t.chunked_last);
        let mut t = TransferCodings::default();
        assert_eq!(t.add(b"chunked"), Ok(()));
        assert_eq!(t.add(b"Chunked"), Err(0));
        let mut t = TransferCodings::default();
        assert_eq!(t.add(b"chunked, chunked"), Err(9));
        let mut t = TransferCodings::default();
        assert_eq!(t.add(b"chunked;ext=1"), Err(0));
        let mut t = TransferCodings::default();
        assert_eq!(t.add(b"gzip, chu\"nked"), Err(9));
        let mut t = TransferCodings::default();
        assert_eq!(t.add(b"x, ;q=1"), Err(3));
        let mut t = TransferCodings::default();
        assert_eq!(t.add(b""), Err(0));
        assert_eq!(t.add(b" , "), Err(0));
    }

    #[test]
    fn connection_options() {
        let mut c = ConnectionOptions::default();
        c.add(b"Keep-Alive, Upgrade");
        assert!(c.keep_alive && c.upgrade && !c.close);
        c.add(b"CLOSE");
        assert!(c.close);
    }

    #[test]
    fn hosts() {
        assert_eq!(invalid_host_byte(b"example.com:8080"), None);
        assert_eq!(invalid_host_byte(b"[::1]:80"), None);
        assert_eq!(invalid_host_byte(b""), None);
        assert_eq!(invalid_host_byte(b"user@example.com"), Some(4));
        assert_eq!(invalid_host_byte(b"a b"), Some(1));
        assert_eq!(invalid_host_byte(b"a/b"), Some(1));
    }
}
