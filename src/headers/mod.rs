//! Batched, zero-copy, strict HTTP/1.x head parsing with RFC 9112 §6 message framing.
//!
//! One call parses many request (or response) heads into flat, caller-owned arrays: a
//! fixed-size [`Head`] record per head and a [`HeaderSpan`] per header line, both plain
//! `u32`/`u64` data holding offsets into the caller's own input. Nothing is copied and
//! nothing is allocated. The input is either one connection's pipelined bytes
//! ([`parse_requests`]) or the heads of many connections concatenated, with an offsets array
//! ([`parse_requests_at`]).
//!
//! ```
//! use offheap::headers::{parse_requests, Body, Config, Head, HeaderSpan, Known, flags};
//!
//! let input = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
//! let mut heads = [Head::default(); 16];
//! let mut headers = [HeaderSpan::default(); 256];
//! let batch = parse_requests(input, &Config::default(), &mut heads, &mut headers).unwrap();
//! assert_eq!(batch.heads, 2);
//! assert_eq!(batch.consumed, input.len()); // the second body was skipped too
//! let post = &heads[1];
//! assert!(post.is_complete());
//! assert_eq!(post.method.of(input), b"POST");
//! assert_eq!(post.body(), Body::Length);
//! assert_eq!(post.content_length, 2);
//! assert!(post.flags & flags::KEEP_ALIVE != 0);
//! let host = post.header(&headers, Known::Host).unwrap();
//! assert_eq!(host.value(input), b"x");
//! ```
//!
//! # How it works
//!
//! A strict request head (the common case) goes through one fused pass (`fast.rs`): it
//! tokenizes, validates every byte, writes the span records, matches well-known names
//! ([`Known`], a perfect hash on length and first and last byte, then one exact compare of
//! overlapping words) and feeds the framing pass ([`Body`], [`flags`]) line by line. Long
//! runs (targets, values) are tested 16 bytes per step in plain code the compiler
//! vectorizes, and the hit is located with word (SWAR) arithmetic; nothing is stored twice
//! and no byte is re-read. Responses, heads with leading empty lines, and the bare-LF
//! leniency go through the general path: [httparse] tokenizes (SIMD where the CPU has it),
//! then one walk over its header list does the same work. Both paths are held to
//! httparse's spans and to each other by the differential tests.
//!
//! Only when a head is rejected does a third, byte-at-a-time scanner ([`diagnose()`]) run over
//! it to name the exact rule and byte offset, so the happy path never scans a byte twice.
//! The rules themselves, each with its RFC section, are the variants of [`Error`].

mod batch;
mod diagnose;
mod error;
mod fast;
mod framing;
mod known;
mod parse;
mod record;
mod rewrite;
mod state;

pub use batch::{Batch, parse_requests, parse_requests_at, parse_responses, parse_responses_at};
pub use diagnose::diagnose;
pub use error::{BatchError, Error};
pub use framing::MAX_CONTENT_LENGTH;
pub use known::{KNOWN_COUNT, Known, NOT_PRESENT};
pub use rewrite::{RewriteError, RewriteOptions, rewrite_request, rewrite_response};

/// Hard ceiling of [`Config::max_headers`] (the well-known index stores `u8` positions).
pub const MAX_HEADERS_LIMIT: usize = 254;

/// Hard ceiling of [`Config::max_head_len`].
pub const MAX_HEAD_LEN_LIMIT: u32 = 1 << 24;

/// Limits and leniency. The defaults are strict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Longest accepted head in bytes, from its first byte to the end of the empty line
    /// (default 64 KiB, at most [`MAX_HEAD_LEN_LIMIT`]). A longer head is
    /// [`Error::HeadTooLarge`].
    pub max_head_len: u32,
    /// Most header lines in one head (default 100, at most [`MAX_HEADERS_LIMIT`]). More is
    /// [`Error::TooManyHeaders`].
    pub max_headers: u16,
    /// Accept a line ended by LF alone (RFC 9112 §2.2 "MAY"); off by default. Real clients
    /// that need it: hand-typed requests (netcat, telnet) and some embedded stacks.
    pub allow_bare_lf: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_head_len: 64 * 1024,
            max_headers: 100,
            allow_bare_lf: false,
        }
    }
}

impl Config {
    /// The config with both limits clamped to their hard ceilings.
    #[inline]
    pub fn clamped(mut self) -> Config {
        self.max_head_len = self.max_head_len.min(MAX_HEAD_LEN_LIMIT);
        self.max_headers = self.max_headers.min(MAX_HEADERS_LIMIT as u16);
        self
    }
}

/// A byte range of the input: `input[off .. off + len]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Span {
    /// Offset from the start of the whole input passed to the batch call.
    pub off: u32,
    /// Length in bytes.
    pub len: u32,
}

impl Span {
    /// The bytes of this span in `input` (empty if out of range).
    #[inline]
    pub fn of<'a>(&self, input: &'a [u8]) -> &'a [u8] {
        let start = self.off as usize;
        input.get(start..start + self.len as usize).unwrap_or(&[])
    }
}

/// One header line: name and value as offsets into the input. The value excludes the
/// whitespace around it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct HeaderSpan {
    /// Offset of the name.
    pub name_off: u32,
    /// Length of the name.
    pub name_len: u32,
    /// Offset of the value (trimmed of leading and trailing whitespace).
    pub value_off: u32,
    /// Length of the value.
    pub value_len: u32,
}

impl HeaderSpan {
    /// The name bytes in `input`.
    #[inline]
    pub fn name<'a>(&self, input: &'a [u8]) -> &'a [u8] {
        Span {
            off: self.name_off,
            len: self.name_len,
        }
        .of(input)
    }

    /// The value bytes in `input`.
    #[inline]
    pub fn value<'a>(&self, input: &'a [u8]) -> &'a [u8] {
        Span {
            off: self.value_off,
            len: self.value_len,
        }
        .of(input)
    }
}

/// How the message body that follows a head is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Body {
    /// No body: a request without Content-Length and Transfer-Encoding, a response to HEAD,
    /// a 1xx, 204 or 304 response (rules 1, 7).
    None = 0,
    /// Exactly [`Head::content_length`] bytes (rule 6). Zero is reported as `Length` too.
    Length = 1,
    /// Chunked transfer coding (rule 4).
    Chunked = 2,
    /// A response body that ends when the connection closes (rules 4 and 8).
    Close = 3,
}

/// Bits of [`Head::flags`].
pub mod flags {
    /// The connection stays open after this message (RFC 9112 §9.3: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`; never after a
    /// close-delimited body).
    pub const KEEP_ALIVE: u32 = 1 << 0;
    /// An HTTP/1.1 request with `Connection: upgrade` and an Upgrade header, or a 101
    /// response (RFC 9110 §7.8).
    pub const UPGRADE: u32 = 1 << 1;
    /// An HTTP/1.1 request with `Expect: 100-continue` (RFC 9110 §10.1.1).
    pub const EXPECT_CONTINUE: u32 = 1 << 2;
    /// The method is CONNECT: after a 2xx response the connection is a tunnel.
    pub const CONNECT: u32 = 1 << 3;
    /// The method is HEAD: the response has no body.
    pub const HEAD_METHOD: u32 = 1 << 4;
    /// A Host header is present.
    pub const HAS_HOST: u32 = 1 << 5;
    /// Transfer-Encoding names a coding other than chunked (gzip, ...).
    pub const TE_OTHER: u32 = 1 << 6;
    /// `Connection: close` was sent.
    pub const CONNECTION_CLOSE: u32 = 1 << 7;
    /// The start-line was preceded by empty lines (RFC 9112 §2.2 allows ignoring them).
    pub const LEADING_EMPTY_LINES: u32 = 1 << 8;
}

/// The record of one parsed head: 128 bytes of plain data, `repr(C)` so that the C ABI
/// and Go share the layout.
///
/// `status` is 0 for a complete head, [`Error::Incomplete`]'s code when more bytes are
/// needed (then `len` is the number of bytes seen), or another [`Error`] code with
/// `error_offset` the absolute offset of the offending byte. The other fields are
/// meaningful only when `status` is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Head {
    /// 0 (complete) or an [`Error`] code.
    pub status: u32,
    /// Offset of the head's first byte in the input.
    pub start: u32,
    /// Length of the head, including the final empty line (complete), or bytes seen.
    pub len: u32,
    /// Absolute offset of the byte that made the head invalid (errors only).
    pub error_offset: u32,
    /// The method (requests).
    pub method: Span,
    /// The request-target (requests).
    pub target: Span,
    /// The reason phrase (responses; may be empty).
    pub reason: Span,
    /// Index of this head's first [`HeaderSpan`] in the header output array.
    pub first_header: u32,
    /// Number of header lines.
    pub header_count: u32,
    /// The body length when [`Head::body`] is [`Body::Length`], else 0.
    pub content_length: u64,
    /// [`flags`] bits.
    pub flags: u32,
    /// The status code (responses).
    pub status_code: u16,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// The [`Body`] discriminant.
    pub body_kind: u8,
    /// For each [`Known`] name, the position (relative to `first_header`) of its first
    /// line, or [`NOT_PRESENT`].
    pub known: [u8; KNOWN_COUNT],
    /// Reserved (zero); pads the record to 128 bytes.
    pub reserved: [u32; 8],
}

impl Default for Head {
    fn default() -> Self {
        Head {
            status: 0,
            start: 0,
            len: 0,
            error_offset: 0,
            method: Span::default(),
            target: Span::default(),
            reason: Span::default(),
            first_header: 0,
            header_count: 0,
            content_length: 0,
            flags: 0,
            status_code: 0,
            version: 0,
            body_kind: 0,
            known: [NOT_PRESENT; KNOWN_COUNT],
            reserved: [0; 8],
        }
    }
}

const _: () = assert!(core::mem::size_of::<Head>() == 128);
const _: () = assert!(core::mem::size_of::<HeaderSpan>() == 16);

impl Head {
    /// Is the head complete and valid?
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.status == 0
    }

    /// `Ok(())` for a complete head, else its [`Error`].
    pub fn result(&self) -> Result<(), Error> {
        match self.status {
            0 => Ok(()),
            code => Err(Error::from_code(code).unwrap_or(Error::Incomplete)),
        }
    }

    /// How the body is delimited.
    #[inline]
    pub fn body(&self) -> Body {
        match self.body_kind {
            1 => Body::Length,
            2 => Body::Chunked,
            3 => Body::Close,
            _ => Body::None,
        }
    }

    /// This head's header records within the batch's header output.
    #[inline]
    pub fn headers<'a>(&self, all: &'a [HeaderSpan]) -> &'a [HeaderSpan] {
        let first = self.first_header as usize;
        all.get(first..first + self.header_count as usize)
            .unwrap_or(&[])
    }

    /// The first line of a well-known header, in O(1).
    #[inline]
    pub fn header(&self, all: &[HeaderSpan], name: Known) -> Option<HeaderSpan> {
        match self.known[name as usize] {
            NOT_PRESENT => None,
            i => self.headers(all).get(i as usize).copied(),
        }
    }

    /// The first line whose name equals `name` in any ASCII case (O(1) for [`Known`]
    /// names, a scan otherwise).
    pub fn find(&self, input: &[u8], all: &[HeaderSpan], name: &[u8]) -> Option<HeaderSpan> {
        if let Some(k) = Known::classify(name) {
            return self.header(all, k);
        }
        self.headers(all)
            .iter()
            .copied()
            .find(|h| h.name(input).eq_ignore_ascii_case(name))
    }
}
