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
