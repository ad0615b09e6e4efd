//! The flat error enum of the header parser, one variant per strictness rule.

use core::fmt;

/// Why a head was not parsed, or that it is not complete yet.
///
/// The discriminants are stable and equal the `offheap_status` codes of the C ABI (the
/// header parser owns the range 100-199), so a [`Head`](super::Head) record carries them
/// unchanged in its `status` field. Every rule names the section of RFC 9112 (HTTP/1.1) or
/// RFC 9110 (HTTP semantics) it enforces; together they close the request-smuggling
/// classics (CL.TE, TE.CL, TE.TE, CL.CL, obs-fold and whitespace tricks, bare CR/LF).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum Error {
    /// The head is not complete yet: more bytes are needed. Not a protocol error.
    Incomplete = 100,
    /// The head is longer than [`Config::max_head_len`](super::Config::max_head_len)
    /// (RFC 9112 §2.3 lets a server answer 431 or 414).
    HeadTooLarge = 101,
    /// More header lines than [`Config::max_headers`](super::Config::max_headers)
    /// (RFC 6585 §5, 431).
    TooManyHeaders = 102,
    /// A byte that is not a `tchar` in the method, or an empty method (RFC 9112 §3.1,
    /// RFC 9110 §9.1, §5.6.2).
    Method = 103,
    /// A byte that may not appear in a request-target (controls, space runs, DEL, non-ASCII),
    /// or an empty target (RFC 9112 §3.2, RFC 3986 §2).
    Target = 104,
    /// The request-target form does not fit the method: `*` other than with OPTIONS,
    /// CONNECT without authority-form, or a target that is neither origin- nor
    /// absolute-form (RFC 9112 §3.2.1-§3.2.4).
    TargetForm = 105,
    /// Not `HTTP/1.0` or `HTTP/1.1` (RFC 9112 §2.3; HTTP/2 and later do not use this syntax).
    Version = 106,
    /// A CR not followed by LF, or a malformed line end (RFC 9112 §2.2: a bare CR must be
    /// rejected or replaced; we reject).
    BareCr = 107,
    /// A line ended by LF alone (RFC 9112 §2.2 allows recognising it; strict mode does not,
    /// because front and back ends that disagree on it can be made to split heads
    /// differently). Accepted with [`Config::allow_bare_lf`](super::Config::allow_bare_lf).
    BareLf = 108,
    /// A byte that is not a `tchar` in a field name, or an empty field name (RFC 9110
    /// §5.1, §5.6.2).
    HeaderName = 109,
    /// Whitespace between a field name and the colon (RFC 9112 §5.1: "MUST reject").
    WhitespaceBeforeColon = 110,
    /// A header line that starts with whitespace: obsolete line folding, or whitespace
    /// between the start-line and the first field (RFC 9112 §5.2, §2.2).
    ObsFold = 111,
    /// NUL, DEL or another control character (other than HTAB) in a field value
    /// (RFC 9110 §5.5).
    HeaderValue = 112,
    /// A malformed status line, or a status code outside 100-599 (RFC 9112 §4,
    /// RFC 9110 §15).
    Status = 113,
    /// A Content-Length that is not `1*DIGIT`, or does not fit in 63 bits (RFC 9110 §8.6,
    /// RFC 9112 §6.3 rule 5).
    ContentLengthInvalid = 114,
    /// More than one Content-Length, as lines or as a list, even with equal values
    /// (RFC 9112 §6.3 rule 5 allows rejecting them; a proxy must not forward them).
    ContentLengthRepeated = 115,
    /// Both Content-Length and Transfer-Encoding (RFC 9112 §6.1, §6.3 rule 3: "ought to be
    /// handled as an error"; the CL.TE / TE.CL smuggling classics).
    ContentLengthWithTransferEncoding = 116,
    /// In a request, a Transfer-Encoding whose final coding is not `chunked` (RFC 9112
    /// §6.3 rule 4: the length cannot be determined, respond 400 and close).
    ChunkedNotLast = 117,
    /// A Transfer-Encoding that is empty or not a list of tokens, or applies `chunked` twice
    /// (RFC 9112 §6.1, §7; RFC 9110 §5.6.1).
    TransferEncodingInvalid = 118,
    /// Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1: the framing is faulty).
    TransferEncodingHttp10 = 119,
    /// An HTTP/1.1 request without Host (RFC 9112 §3.2: "MUST respond with 400").
    HostMissing = 120,
    /// More than one Host line (RFC 9112 §3.2).
    HostRepeated = 121,
    /// A Host value that is not `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2).
    HostInvalid = 122,
}

impl Error {
    /// The stable numeric code (the `offheap_status` value of the C ABI).
    #[inline]
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The error with this code, if any.
    pub const fn from_code(code: u32) -> Option<Error> {
        Some(match code {
            100 => Error::Incomplete,
            101 => Error::HeadTooLarge,
            102 => Error::TooManyHeaders,
            103 => Error::Method,
            104 => Error::Target,
            105 => Error::TargetForm,
            106 => Error::Version,
            107 => Error::BareCr,
            108 => Error::BareLf,
            109 => Error::HeaderName,
            110 => Error::WhitespaceBeforeColon,
            111 => Error::ObsFold,
            112 => Error::HeaderValue,
            113 => Error::Status,
            114 => Error::ContentLengthInvalid,
            115 => Error::ContentLengthRepeated,
            116 => Error::ContentLengthWithTransferEncoding,
            117 => Error::ChunkedNotLast,
            118 => Error::TransferEncodingInvalid,
            119 => Error::TransferEncodingHttp10,
            120 => Error::HostMissing,
            121 => Error::HostRepeated,
            122 => Error::HostInvalid,
            _ => return None,
        })
    }

    /// Every variant, in code order (for tests and for generating documentation).
    pub const ALL: [Error; 23] = [
        Error::Incomplete,
        Error::HeadTooLarge,
        Error::TooManyHeaders,
        Error::Method,
        Error::Target,
        Error::TargetForm,
        Error::Version,
        Error::BareCr,
        Error::BareLf,
        Error::HeaderName,
        Error::WhitespaceBeforeColon,
        Error::ObsFold,
        Error::HeaderValue,
        Error::Status,
        Error::ContentLengthInvalid,
        Error::ContentLengthRepeated,
        Error::ContentLengthWithTransferEncoding,
        Error::ChunkedNotLast,
        Error::TransferEncodingInvalid,
        Error::TransferEncodingHttp10,
        Error::HostMissing,
        Error::HostRepeated,
        Error::HostInvalid,
    ];

    /// The message: the rule broken, with the RFC section it enforces. It is the only text
    /// of each error: `Display` writes it, and the C ABI's `offheap_status_str` returns it
    /// behind the `offheap headers: ` prefix.
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::Incomplete => "the head is incomplete: more bytes are needed",
            Error::HeadTooLarge => "head larger than the configured limit (RFC 9112 §2.3)",
            Error::TooManyHeaders => "more header lines than the configured limit (RFC 6585 §5)",
            Error::Method => "invalid method token (RFC 9112 §3.1)",
            Error::Target => "invalid request-target byte (RFC 9112 §3.2)",
            Error::TargetForm => "request-target form does not fit the method (RFC 9112 §3.2)",
            Error::Version => "invalid HTTP version (RFC 9112 §2.3)",
            Error::BareCr => "bare CR or malformed line end (RFC 9112 §2.2)",
            Error::BareLf => "line ended by a bare LF (RFC 9112 §2.2)",
            Error::HeaderName => "invalid header name (RFC 9110 §5.1)",
            Error::WhitespaceBeforeColon => {
                "whitespace between header name and colon (RFC 9112 §5.1)"
            }
            Error::ObsFold => "obsolete line folding (RFC 9112 §5.2)",
            Error::HeaderValue => "control character in a header value (RFC 9110 §5.5)",
            Error::Status => "invalid status line or status code (RFC 9112 §4)",
            Error::ContentLengthInvalid => "invalid Content-Length (RFC 9110 §8.6)",
            Error::ContentLengthRepeated => "repeated Content-Length (RFC 9112 §6.3)",
            Error::ContentLengthWithTransferEncoding => {
                "Content-Length together with Transfer-Encoding (RFC 9112 §6.1)"
            }
            Error::ChunkedNotLast => {
                "chunked is not the final transfer coding of a request (RFC 9112 §6.3)"
            }
            Error::TransferEncodingInvalid => "invalid Transfer-Encoding (RFC 9112 §6.1)",
            Error::TransferEncodingHttp10 => {
                "Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1)"
            }
            Error::HostMissing => "HTTP/1.1 request without Host (RFC 9112 §3.2)",
            Error::HostRepeated => "repeated Host (RFC 9112 §3.2)",
            Error::HostInvalid => "invalid Host value (RFC 9112 §3.2)",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}

/// Why a batch call could not record even one head.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BatchError {
    /// The input is longer than `u32::MAX` bytes (offsets in the records are `u32`).
    InputTooLarge,
    /// An entry of the offsets array is out of order or past the end of the input.
    BadOffsets,
    /// The header output array is too small for the first head (give it at least
    /// [`Config::max_headers`](super::Config::max_headers) entries).
    HeadersFull,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BatchError::InputTooLarge => "input longer than u32::MAX bytes",
            BatchError::BadOffsets => "offsets out of order or out of range",
            BatchError::HeadersFull => "header output too small for one head",
        })
    }
}

impl std::error::Error for BatchError {}
