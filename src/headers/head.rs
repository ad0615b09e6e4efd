//! The records a parse writes: a [`Head`] per head, a [`HeaderSpan`] per header line, and the
//! [`Span`]s in them, with the [`Body`] kinds and [`flags`] a head carries. They are the C
//! ABI's too (`offheap_head`, `offheap_header`, `offheap_span`, `offheap_body`,
//! `OFFHEAP_HEAD_*`: build.rs and cbindgen.toml export them under those names), so the parser
//! writes straight into a C or Go caller's arrays and each is declared once.

use super::error::Error;
use super::known::{KNOWN_COUNT, Known, NOT_PRESENT};

/// A byte range of the input: `input[off .. off + len]` (`offheap_span` in C).
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

/// One header line (`offheap_header` in C): name and value as offsets into the input. The
/// value excludes the whitespace around it.
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

/// The record of one parsed head (`offheap_head` in C): 128 bytes of plain data, `repr(C)` so
/// that the C ABI and Go share the layout. Offsets are from the start of the whole input.
///
/// `status` is 0 (`OFFHEAP_STATUS_OK`) for a complete head, the code of
/// [`Error::Incomplete`] (`OFFHEAP_STATUS_HEADERS_INCOMPLETE`) when more bytes are needed
/// (then `len` is the number of bytes seen), or the code of another [`Error`] (an
/// `OFFHEAP_STATUS_HEADERS_*` value) with `error_offset` the offending byte. The other fields
/// are meaningful only when `status` is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Head {
    /// 0 (complete) or an [`Error`] code (`OFFHEAP_STATUS_HEADERS_*`).
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
    /// Index of this head's first [`HeaderSpan`] (`offheap_header`) in the header array.
    pub first_header: u32,
    /// Number of header lines.
    pub header_count: u32,
    /// The body length when `body_kind` is [`Body::Length`] (`OFFHEAP_BODY_LENGTH`), else 0.
    pub content_length: u64,
    /// Flag bits (`headers::flags`, `OFFHEAP_HEAD_*` in C).
    pub flags: u32,
    /// The status code (responses).
    pub status_code: u16,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// The [`Body`] discriminant (an `OFFHEAP_BODY_*` value).
    pub body_kind: u8,
    /// For each [`Known`] name (`OFFHEAP_KNOWN_*` order), the position (relative to
    /// `first_header`) of its first line, or [`NOT_PRESENT`] (`OFFHEAP_KNOWN_ABSENT`).
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

/// How the message body that follows a head is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Body {
    /// No body: a request without Content-Length and Transfer-Encoding, a CONNECT request
    /// (RFC 9110 §9.3.6, whatever its head says), a response to HEAD, a 1xx, 204 or 304
    /// response (rules 1, 7).
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
