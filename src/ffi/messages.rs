//! `offheap_status_str`: the message of every status, each written once in Rust.
//!
//! A status that stands for a core error takes that error's own text (`as_str` of
//! `headers::Error`, `relay::Error` or `window::Error`) behind its subsystem's prefix, so the
//! words C and Go callers read are the ones the core error's `Display` prints. Only the
//! general statuses, and those no core error stands for (`WindowInvalidMode`,
//! `WindowInvalidType`, `WindowInvalidKeyFormat` and `WindowInvalidFormat`, checked here in the
//! C ABI, and `RelayResourceExhausted`, whose status also covers engine slots), have
//! their text in this file. The NUL-terminated messages are laid out at compile time in one
//! static table.

use super::boundary::guard_or;
use super::status::offheap_status;
use crate::{headers, relay, window};
use std::ffi::{CStr, c_char};

/// Prefix of the general, relay and window messages (relay and window texts name their
/// subsystem themselves).
const OFFHEAP: &str = "offheap: ";
/// Prefix of the header parser's messages (the rule follows).
const HEADERS: &str = "offheap headers: ";

/// The message of a value that is no status.
const UNKNOWN: &CStr = c"offheap: unknown status";

/// The prefix and text of a status's message.
const fn source(status: offheap_status) -> (&'static str, &'static str) {
    if let Some(e) = headers::Error::from_code(status as u32) {
        return (HEADERS, e.as_str());
    }
    if let Some(e) = relay_error(status) {
        return (OFFHEAP, e.as_str());
    }
    if let Some(e) = window_error(status) {
        return (OFFHEAP, e.as_str());
    }
    use offheap_status as S;
    let text = match status {
        S::Ok => return ("", "ok"),
        S::Panic => {
            "internal panic caught at the C ABI boundary (the call had no effect; free the \
             object it used)"
        }
        S::InvalidHandle => "invalid handle (zero, forged, of another kind, or already freed)",
        S::NullPointer => "NULL pointer with a non-zero length or for a required value",
        S::InvalidArgument => "invalid argument",
        S::MisalignedPointer => "misaligned pointer",
        S::TooLarge => "input exceeds a size limit",
        S::Poisoned => "object poisoned by an earlier panic; it can only be freed",
        S::HandleTableFull => "handle table full",
        S::BufferTooSmall => "output buffer too small",
        S::OutOfMemory => "out of memory",
        S::RelayResourceExhausted => "relay: out of pipes, buffers, fds or engine slots",
        S::WindowInvalidMode => {
            "window: the window mode must be 0 (sliding), 1 (tumbling) or 2 (cumulative)"
        }
        S::WindowInvalidType => {
            "window: a metric type (the aggregator's or a family's) must be 0 (summary), 1 \
             (histogram), 2 (counter) or 3 (gauge)"
        }
        S::WindowInvalidKeyFormat => {
            "window: the key format must be 0 (value), 1 (labels) or 2 (series)"
        }
        S::WindowInvalidFormat => {
            "window: exposition format must be 0 (text 0.0.4), 1 (OpenMetrics 1.0) or 2 \
             (protobuf)"
        }
        // Every other status stands for a core error (above); `tests` checks each has text.
        _ => "",
    };
    (OFFHEAP, text)
}

/// The relay error a relay status stands for (`RelayResourceExhausted` has its own text).
pub(super) const fn relay_error(status: offheap_status) -> Option<relay::Error> {
    use offheap_status as S;
    use relay::Error as E;
    Some(match status {
        S::RelayUnexpectedEof => E::UnexpectedEof,
        S::RelayConnectionReset => E::ConnectionReset,
        S::RelayBrokenPipe => E::BrokenPipe,
        S::RelayBadFd => E::BadFd,
        S::RelayIo => E::Io,
        S::RelayChunkSizeOverflow => E::ChunkSizeOverflow,
        S::RelayChunkSizeInvalid => E::ChunkSizeInvalid,
        S::RelayChunkMissingCrlf => E::ChunkMissingCrlf,
        S::RelayChunkExtensionInvalid => E::ChunkExtensionInvalid,
        S::RelayTrailersInvalid => E::TrailersInvalid,
        S::RelayUnsupported => E::Unsupported,
        S::RelayCanceled => E::Canceled,
        S::RelayTimedOut => E::TimedOut,
        _ => return None,
    })
}

/// The window error a window status stands for; of the errors reported as one status (see
/// `window::status`), the one whose text describes the status (`Corrupt` for `BadMagic` too).
const fn window_error(status: offheap_status) -> Option<window::Error> {
    use offheap_status as S;
    use window::Error as E;
    Some(match status {
        S::WindowInvalidWidth => E::InvalidWidth,
        S::WindowInvalidSlices => E::InvalidSlices,
        S::WindowInvalidAlpha => E::InvalidAlpha,
        S::WindowInvalidBuckets => E::InvalidBuckets,
        S::WindowInvalidSeriesCap => E::InvalidSeriesCap,
        S::WindowInvalidShards => E::InvalidShards,
        S::WindowInvalidFutureSkew => E::InvalidFutureSkew,
        S::WindowInvalidKeyLimit => E::InvalidKeyLimit,
        S::WindowInvalidName => E::InvalidName,
        S::WindowInvalidHelp => E::InvalidHelp,
        S::WindowInvalidKeyLabel => E::InvalidKeyLabel,
        S::WindowTooManyFamilies => E::TooManyFamilies,
        S::WindowNotBegun => E::NotBegun,
        S::WindowLengthMismatch => E::LengthMismatch,
        S::WindowBadOffsets => E::BadOffsets,
        S::WindowInvalidQuantile => E::InvalidQuantile,
        S::WindowUnknownSeries => E::StaleId,
        S::WindowBadState => E::Corrupt,
        S::WindowUnsupportedVersion => E::UnsupportedVersion,
        S::WindowIncompatibleState => E::AlphaMismatch,
        _ => return None,
    })
}

const COUNT: usize = offheap_status::ALL.len();

/// Bytes of all messages, NUL included.
const TEXT_LEN: usize = {
    let mut len = 0;
    let mut i = 0;
    while i < COUNT {
        let (prefix, text) = source(offheap_status::ALL[i]);
        len += prefix.len() + text.len() + 1;
        i += 1;
    }
    len
};

/// The messages, NUL-terminated, in the order of `offheap_status::ALL`, and where each starts.
const fn layout() -> ([u8; TEXT_LEN], [usize; COUNT]) {
    let mut text = [0u8; TEXT_LEN];
    let mut starts = [0usize; COUNT];
    let mut at = 0;
    let mut i = 0;
    while i < COUNT {
        starts[i] = at;
        let (prefix, body) = source(offheap_status::ALL[i]);
        assert!(!body.is_empty(), "a status has no message");
        let (prefix, body) = (prefix.as_bytes(), body.as_bytes());
        let mut j = 0;
        while j < prefix.len() + body.len() {
            let b = if j < prefix.len() {
                prefix[j]
            } else {
                body[j - prefix.len()]
            };
            assert!(b != 0, "a status message holds a NUL byte");
            text[at] = b;
            at += 1;
            j += 1;
        }
        // The NUL terminator: `text` is zeroed.
        at += 1;
        i += 1;
    }
    (text, starts)
}

static TEXT: [u8; TEXT_LEN] = layout().0;
static STARTS: [usize; COUNT] = layout().1;

/// The message of `status`.
pub(crate) fn message(status: offheap_status) -> &'static CStr {
    let i = offheap_status::ALL.iter().position(|&s| s == status);
    i.and_then(|i| TEXT.get(STARTS[i]..))
        .and_then(|t| CStr::from_bytes_until_nul(t).ok())
        .unwrap_or(UNKNOWN)
}

/// Returns a static, NUL-terminated English message for `status`; never NULL, never to be freed.
/// An unknown value gives "offheap: unknown status".
#[unsafe(no_mangle)]
pub extern "C" fn offheap_status_str(status: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        offheap_status::from_u32(status)
            .map_or(UNKNOWN, message)
            .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: offheap_status) -> &'static str {
        message(s).to_str().unwrap()
    }

    #[test]
    fn every_status_has_its_own_message() {
        let mut seen = std::collections::HashSet::new();
        for &s in offheap_status::ALL {
            let m = text(s);
            assert!(m == "ok" || m.starts_with("offheap"), "{s:?}: {m}");
            assert!(seen.insert(m), "{s:?} repeats {m}");
        }
    }

    #[test]
    fn core_errors_give_their_own_text() {
        for e in headers::Error::ALL {
            let s = offheap_status::from_u32(e.code()).expect("a status for every headers::Error");
            assert_eq!(text(s), format!("offheap headers: {e}"));
        }
        for s in offheap_status::ALL.iter().copied() {
            if let Some(e) = relay_error(s) {
                assert_eq!(text(s), format!("offheap: {e}"));
            }
            if let Some(e) = window_error(s) {
                assert_eq!(text(s), format!("offheap: {e}"));
                assert_eq!(super::super::window::status(e), s, "{e:?}");
            }
        }
        assert_eq!(
            text(offheap_status::HeadersContentLengthWithTransferEncoding),
            "offheap headers: Content-Length together with Transfer-Encoding (RFC 9112 §6.1)"
        );
        assert!(text(offheap_status::WindowInvalidFutureSkew).contains("maximum future skew"));
    }

    #[test]
    fn unknown_status_has_a_message() {
        // SAFETY: offheap_status_str returns a pointer to a static NUL-terminated string
        // (never NULL), which CStr::from_ptr reads up to its NUL.
        let s = unsafe { CStr::from_ptr(offheap_status_str(99_999)) };
        assert_eq!(s.to_str().unwrap(), "offheap: unknown status");
        // SAFETY: offheap_status_str returns a static NUL-terminated string for every input.
        let ok = unsafe { CStr::from_ptr(offheap_status_str(0)) };
        assert_eq!(ok.to_str().unwrap(), "ok");
    }
}
