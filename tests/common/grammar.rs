//! Which header-parser errors are line-grammar errors: the ones the byte-at-a-time reference
//! scanner (`diagnose`) reports, and httparse's rejections map to. The header tests use it;
//! the `headers` fuzz target can include this file by path (it cannot use `tests/common`).

use offheap::headers::Error;

/// Errors the reference scanner reports (the line grammar); the rest are framing rules.
pub fn is_syntax(e: Error) -> bool {
    matches!(
        e,
        Error::Method
            | Error::Target
            | Error::Version
            | Error::BareCr
            | Error::BareLf
            | Error::HeaderName
            | Error::WhitespaceBeforeColon
            | Error::ObsFold
            | Error::HeaderValue
            | Error::TooManyHeaders
    )
}
