//! `offheap_status`: the result of every fallible export.
//!
//! Values are explicit and grouped by subsystem; a value is never reused for another meaning
//! (a retired value stays listed as reserved). Ranges:
//!
//! | range   | subsystem                    |
//! |---------|------------------------------|
//! | 0-99    | general (boundary, handles, pointers) |
//! | 100-199 | headers                      |
//! | 200-299 | relay                        |
//! | 300-399 | window                       |

use std::ffi::c_char;

/// The result of a fallible offheap call. `OFFHEAP_STATUS_OK` is 0; every other value is an
/// error whose message `offheap_status_str()` returns.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum offheap_status {
    /// Success.
    Ok = 0,
    /// A panic was caught at the boundary. The call had no effect visible through its
    /// out-parameters; an object it used is poisoned and should be freed.
    Panic = 1,
    /// The handle is zero, forged, of another kind, already freed, or from an older generation.
    InvalidHandle = 2,
    /// A NULL pointer was passed with a non-zero length or where a value is required.
    NullPointer = 3,
    /// An argument is out of its documented range.
    InvalidArgument = 4,
    /// A pointer is not aligned for the type it points to.
    MisalignedPointer = 5,
    /// An input exceeds a documented size limit.
    TooLarge = 6,
    /// A previous call on this object panicked; the object only accepts being freed.
    Poisoned = 7,
    /// The handle table has no free slot left.
    HandleTableFull = 8,
    /// A caller-provided output buffer is too small for the result.
    BufferTooSmall = 9,
    /// Rust could not allocate the memory the call needed.
    OutOfMemory = 10,
    /// Headers: the head is incomplete: more bytes are needed.
    HeadersIncomplete = 100,
    /// Headers: head larger than the configured limit (RFC 9112 §2.3).
    HeadersHeadTooLarge = 101,
    /// Headers: more header lines than the configured limit (RFC 6585 §5).
    HeadersTooManyHeaders = 102,
    /// Headers: invalid method token (RFC 9112 §3.1).
    HeadersMethod = 103,
    /// Headers: invalid request-target byte (RFC 9112 §3.2).
    HeadersTarget = 104,
    /// Headers: request-target form does not fit the method (RFC 9112 §3.2).
    HeadersTargetForm = 105,
    /// Headers: invalid HTTP version (RFC 9112 §2.3).
    HeadersVersion = 106,
    /// Headers: bare CR or malformed line end (RFC 9112 §2.2).
    HeadersBareCr = 107,
    /// Headers: line ended by a bare LF (RFC 9112 §2.2).
    HeadersBareLf = 108,
    /// Headers: invalid header name (RFC 9110 §5.1).
    HeadersHeaderName = 109,
    /// Headers: whitespace between header name and colon (RFC 9112 §5.1).
    HeadersWhitespaceBeforeColon = 110,
    /// Headers: obsolete line folding (RFC 9112 §5.2).
    HeadersObsFold = 111,
    /// Headers: control character in a header value (RFC 9110 §5.5).
    HeadersHeaderValue = 112,
    /// Headers: invalid status line or status code (RFC 9112 §4).
    HeadersStatus = 113,
    /// Headers: invalid Content-Length (RFC 9110 §8.6).
    HeadersContentLengthInvalid = 114,
    /// Headers: repeated Content-Length (RFC 9112 §6.3).
    HeadersContentLengthRepeated = 115,
    /// Headers: Content-Length together with Transfer-Encoding (RFC 9112 §6.1).
    HeadersContentLengthWithTransferEncoding = 116,
    /// Headers: chunked is not the final transfer coding of a request (RFC 9112 §6.3).
    HeadersChunkedNotLast = 117,
    /// Headers: invalid Transfer-Encoding (RFC 9112 §6.1).
    HeadersTransferEncodingInvalid = 118,
    /// Headers: Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1).
    HeadersTransferEncodingHttp10 = 119,
    /// Headers: HTTP/1.1 request without Host (RFC 9112 §3.2).
    HeadersHostMissing = 120,
    /// Headers: repeated Host (RFC 9112 §3.2).
    HeadersHostRepeated = 121,
    /// Headers: invalid Host value (RFC 9112 §3.2).
    HeadersHostInvalid = 122,
    /// The relay's source ended before the end of the body (shorter than declared, or no last chunk).
    RelayUnexpectedEof = 200,
    /// A peer reset the connection during the relay (ECONNRESET).
    RelayConnectionReset = 201,
    /// The relay's destination no longer accepts data (EPIPE: closed or shut down).
    RelayBrokenPipe = 202,
    /// A file descriptor was not open (closed by its owner during the relay).
    RelayBadFd = 203,
    /// Another OS error during the relay; its errno is reported beside the status.
    RelayIo = 204,
    /// A chunk size has more hex digits than fit in 64 bits.
    RelayChunkSizeOverflow = 205,
    /// A chunk size is empty or not hexadecimal.
    RelayChunkSizeInvalid = 206,
    /// A chunk line or chunk data is not followed by CRLF.
    RelayChunkMissingCrlf = 207,
    /// A chunk extension is too long (4 KiB line limit) or has control bytes.
    RelayChunkExtensionInvalid = 208,
    /// The trailer section is too long (16 KiB) or has control bytes or folded lines.
    RelayTrailersInvalid = 209,
    /// Chunked framing needs a socket source (the relay peeks so as never to read past the body).
    RelayUnsupported = 210,
    /// The relay was cancelled (abort, engine cancel or shutdown).
    RelayCanceled = 211,
    /// No pipe, buffer, fd or engine slot was available.
    RelayResourceExhausted = 212,
    /// The relay was ended by a deadline.
    RelayTimedOut = 213,
    /// The window width is zero (sliding and tumbling windows need one) or too large.
    WindowInvalidWidth = 300,
    /// The slice count is 0, over 64, or does not divide the width.
    WindowInvalidSlices = 301,
    /// The quantile relative accuracy is not in [0.0001, 0.5].
    WindowInvalidAlpha = 302,
    /// The sketch bucket cap is not in [16, 65536].
    WindowInvalidBuckets = 303,
    /// The series cap is zero or larger than the shards can address.
    WindowInvalidSeriesCap = 304,
    /// The shard count is not a power of two in [1, 256].
    WindowInvalidShards = 305,
    /// The maximum future skew spans more than 64 slices.
    WindowInvalidFutureSkew = 306,
    /// The maximum key length is not in [1, 4096].
    WindowInvalidKeyLimit = 307,
    /// The metric name, help text or key label is not valid Prometheus syntax.
    WindowInvalidName = 308,
    /// The window mode is not 0 (sliding), 1 (tumbling) or 2 (cumulative).
    WindowInvalidMode = 309,
    /// The batch columns have different lengths.
    WindowLengthMismatch = 310,
    /// Key end offsets decrease or point past the key bytes.
    WindowBadOffsets = 311,
    /// A quantile is outside [0, 1], or more than 16 were requested.
    WindowInvalidQuantile = 312,
    /// No live series has this key or id (never made, deleted or evicted).
    WindowUnknownSeries = 313,
    /// Serialized window state is truncated, corrupt, or not window state at all.
    WindowBadState = 314,
    /// Serialized window state has a format version this library does not read.
    WindowUnsupportedVersion = 315,
    /// Serialized window state was written with a different relative accuracy or sketch setting.
    WindowIncompatibleState = 316,
}

impl offheap_status {
    /// The static, NUL-terminated message for this status.
    pub(crate) fn message(self) -> &'static [u8] {
        use offheap_status::*;
        match self {
            Ok => b"ok\0",
            Panic => b"offheap: internal panic caught at the C ABI boundary (the call had no effect; free the object it used)\0",
            InvalidHandle => b"offheap: invalid handle (zero, forged, of another kind, or already freed)\0",
            NullPointer => b"offheap: NULL pointer with a non-zero length or for a required value\0",
            InvalidArgument => b"offheap: invalid argument\0",
            MisalignedPointer => b"offheap: misaligned pointer\0",
            TooLarge => b"offheap: input exceeds a size limit\0",
            Poisoned => b"offheap: object poisoned by an earlier panic; it can only be freed\0",
            HandleTableFull => b"offheap: handle table full\0",
            BufferTooSmall => b"offheap: output buffer too small\0",
            OutOfMemory => b"offheap: out of memory\0",
            HeadersIncomplete => b"offheap headers: the head is incomplete: more bytes are needed\0",
            HeadersHeadTooLarge => b"offheap headers: head larger than the configured limit (RFC 9112 \xc2\xa72.3)\0",
            HeadersTooManyHeaders => b"offheap headers: more header lines than the configured limit (RFC 6585 \xc2\xa75)\0",
            HeadersMethod => b"offheap headers: invalid method token (RFC 9112 \xc2\xa73.1)\0",
            HeadersTarget => b"offheap headers: invalid request-target byte (RFC 9112 \xc2\xa73.2)\0",
            HeadersTargetForm => b"offheap headers: request-target form does not fit the method (RFC 9112 \xc2\xa73.2)\0",
            HeadersVersion => b"offheap headers: invalid HTTP version (RFC 9112 \xc2\xa72.3)\0",
            HeadersBareCr => b"offheap headers: bare CR or malformed line end (RFC 9112 \xc2\xa72.2)\0",
            HeadersBareLf => b"offheap headers: line ended by a bare LF (RFC 9112 \xc2\xa72.2)\0",
            HeadersHeaderName => b"offheap headers: invalid header name (RFC 9110 \xc2\xa75.1)\0",
            HeadersWhitespaceBeforeColon => b"offheap headers: whitespace between header name and colon (RFC 9112 \xc2\xa75.1)\0",
            HeadersObsFold => b"offheap headers: obsolete line folding (RFC 9112 \xc2\xa75.2)\0",
            HeadersHeaderValue => b"offheap headers: control character in a header value (RFC 9110 \xc2\xa75.5)\0",
            HeadersStatus => b"offheap headers: invalid status line or status code (RFC 9112 \xc2\xa74)\0",
            HeadersContentLengthInvalid => b"offheap headers: invalid Content-Length (RFC 9110 \xc2\xa78.6)\0",
            HeadersContentLengthRepeated => b"offheap headers: repeated Content-Length (RFC 9112 \xc2\xa76.3)\0",
            HeadersContentLengthWithTransferEncoding => b"offheap headers: Content-Length together with Transfer-Encoding (RFC 9112 \xc2\xa76.1)\0",
            HeadersChunkedNotLast => b"offheap headers: chunked is not the final transfer coding of a request (RFC 9112 \xc2\xa76.3)\0",
            HeadersTransferEncodingInvalid => b"offheap headers: invalid Transfer-Encoding (RFC 9112 \xc2\xa76.1)\0",
            HeadersTransferEncodingHttp10 => b"offheap headers: Transfer-Encoding in an HTTP/1.0 message (RFC 9112 \xc2\xa76.1)\0",
            HeadersHostMissing => b"offheap headers: HTTP/1.1 request without Host (RFC 9112 \xc2\xa73.2)\0",
            HeadersHostRepeated => b"offheap headers: repeated Host (RFC 9112 \xc2\xa73.2)\0",
            HeadersHostInvalid => b"offheap headers: invalid Host value (RFC 9112 \xc2\xa73.2)\0",
            RelayUnexpectedEof => b"offheap: relay: source ended before the end of the body\0",
            RelayConnectionReset => b"offheap: relay: connection reset by peer\0",
            RelayBrokenPipe => b"offheap: relay: destination closed\0",
            RelayBadFd => b"offheap: relay: file descriptor closed during the relay\0",
            RelayIo => b"offheap: relay: I/O error\0",
            RelayChunkSizeOverflow => b"offheap: relay: chunk size overflows 64 bits\0",
            RelayChunkSizeInvalid => b"offheap: relay: chunk size is not hexadecimal\0",
            RelayChunkMissingCrlf => b"offheap: relay: chunk framing is missing CRLF\0",
            RelayChunkExtensionInvalid => b"offheap: relay: chunk extension too long or invalid\0",
            RelayTrailersInvalid => b"offheap: relay: trailer section too long or invalid\0",
            RelayUnsupported => b"offheap: relay: chunked framing needs a socket source\0",
            RelayCanceled => b"offheap: relay: canceled\0",
            RelayResourceExhausted => b"offheap: relay: out of pipes, buffers, fds or engine slots\0",
            RelayTimedOut => b"offheap: relay: timed out\0",
            WindowInvalidWidth => b"offheap: window: width must be positive\0",
            WindowInvalidSlices => b"offheap: window: slices must be 1..=64 and divide the width\0",
            WindowInvalidAlpha => b"offheap: window: relative accuracy must be in [0.0001, 0.5]\0",
            WindowInvalidBuckets => b"offheap: window: sketch bucket cap must be in [16, 65536]\0",
            WindowInvalidSeriesCap => b"offheap: window: series cap must be positive and addressable\0",
            WindowInvalidShards => b"offheap: window: shards must be a power of two in [1, 256]\0",
            WindowInvalidFutureSkew => b"offheap: window: maximum future skew spans more than 64 slices\0",
            WindowInvalidKeyLimit => b"offheap: window: maximum key length must be in [1, 4096]\0",
            WindowInvalidName => b"offheap: window: invalid metric name, help or key label\0",
            WindowInvalidMode => b"offheap: window: unknown window mode\0",
            WindowLengthMismatch => b"offheap: window: batch columns have different lengths\0",
            WindowBadOffsets => b"offheap: window: key offsets decrease or exceed the key bytes\0",
            WindowInvalidQuantile => b"offheap: window: quantiles must be in [0, 1], at most 16\0",
            WindowUnknownSeries => b"offheap: window: no live series for this key or id\0",
            WindowBadState => b"offheap: window: truncated or corrupt serialized state\0",
            WindowUnsupportedVersion => b"offheap: window: unsupported serialized state version\0",
            WindowIncompatibleState => b"offheap: window: serialized state has a different accuracy or sketch setting\0",
        }
    }

    /// Every status. A new variant must be added here too (`message` is checked by the compiler).
    pub(crate) const ALL: &'static [offheap_status] = {
        use offheap_status::*;
        &[
            Ok,
            Panic,
            InvalidHandle,
            NullPointer,
            InvalidArgument,
            MisalignedPointer,
            TooLarge,
            Poisoned,
            HandleTableFull,
            BufferTooSmall,
            OutOfMemory,
            HeadersIncomplete,
            HeadersHeadTooLarge,
            HeadersTooManyHeaders,
            HeadersMethod,
            HeadersTarget,
            HeadersTargetForm,
            HeadersVersion,
            HeadersBareCr,
            HeadersBareLf,
            HeadersHeaderName,
            HeadersWhitespaceBeforeColon,
            HeadersObsFold,
            HeadersHeaderValue,
            HeadersStatus,
            HeadersContentLengthInvalid,
            HeadersContentLengthRepeated,
            HeadersContentLengthWithTransferEncoding,
            HeadersChunkedNotLast,
            HeadersTransferEncodingInvalid,
            HeadersTransferEncodingHttp10,
            HeadersHostMissing,
            HeadersHostRepeated,
            HeadersHostInvalid,
            RelayUnexpectedEof,
            RelayConnectionReset,
            RelayBrokenPipe,
            RelayBadFd,
            RelayIo,
            RelayChunkSizeOverflow,
            RelayChunkSizeInvalid,
            RelayChunkMissingCrlf,
            RelayChunkExtensionInvalid,
            RelayTrailersInvalid,
            RelayUnsupported,
            RelayCanceled,
            RelayResourceExhausted,
            RelayTimedOut,
            WindowInvalidWidth,
            WindowInvalidSlices,
            WindowInvalidAlpha,
            WindowInvalidBuckets,
            WindowInvalidSeriesCap,
            WindowInvalidShards,
            WindowInvalidFutureSkew,
            WindowInvalidKeyLimit,
            WindowInvalidName,
            WindowInvalidMode,
            WindowLengthMismatch,
            WindowBadOffsets,
            WindowInvalidQuantile,
            WindowUnknownSeries,
            WindowBadState,
            WindowUnsupportedVersion,
            WindowIncompatibleState,
        ]
    };

    /// The status whose value is `v`, if there is one.
    pub(crate) fn from_u32(v: u32) -> Option<offheap_status> {
        Self::ALL.iter().copied().find(|s| *s as u32 == v)
    }
}

pub(crate) const UNKNOWN_STATUS: &[u8] = b"offheap: unknown status\0";

/// Returns a static, NUL-terminated English message for `status`; never NULL, never to be freed.
/// An unknown value gives "offheap: unknown status".
#[unsafe(no_mangle)]
pub extern "C" fn offheap_status_str(status: u32) -> *const c_char {
    super::boundary::guard_or(UNKNOWN_STATUS.as_ptr().cast(), || {
        offheap_status::from_u32(status)
            .map_or(UNKNOWN_STATUS, offheap_status::message)
            .as_ptr()
            .cast()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_status_round_trips_and_has_a_message() {
        for &s in offheap_status::ALL {
            assert_eq!(offheap_status::from_u32(s as u32), Some(s));
            let m = s.message();
            assert_eq!(*m.last().unwrap(), 0);
            assert!(!m[..m.len() - 1].contains(&0));
        }
    }

    #[test]
    fn unknown_status_has_a_message() {
        // SAFETY: offheap_status_str always returns a static NUL-terminated string.
        let s = unsafe { CStr::from_ptr(offheap_status_str(99_999)) };
        assert_eq!(s.to_str().unwrap(), "offheap: unknown status");
    }
}
