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
    /// Every status. A new variant must be added here too (the message table of
    /// `messages.rs` is checked by the compiler).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips() {
        for &s in offheap_status::ALL {
            assert_eq!(offheap_status::from_u32(s as u32), Some(s));
        }
        assert_eq!(offheap_status::from_u32(99_999), None);
    }
}
