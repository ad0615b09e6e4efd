//! C ABI of the header parser: `offheap_headers_*`.
//!
//! Parsing is stateless, so there are no handles: the caller owns every array. The records
//! are the core's own `Head` and `HeaderSpan`, so the core writes straight into the caller's
//! arrays.

use super::boundary::{FfiResult, guard};
use super::ptr;
use super::status::offheap_status;
use crate::headers::{
    self, BatchError, Config, Head, HeaderSpan, RewriteError, RewriteOptions, Span,
};

/// The records a parse writes, one per head and one per header line, and the spans in them:
/// the parser's own `repr(C)` records, which cbindgen exports under these names
/// (`cbindgen.toml`), so the parser writes straight into the caller's arrays and each record
/// is declared once.
pub use crate::headers::{
    Head as offheap_head, HeaderSpan as offheap_header, Span as offheap_span,
};

/// How the body after a head is delimited (`offheap_head.body_kind`) and the bits of
/// `offheap_head.flags`: the parser's own `Body` and `flags`, which cbindgen exports as
/// `offheap_body` (`OFFHEAP_BODY_*`) and `OFFHEAP_HEAD_*` (`cbindgen.toml`).
pub use crate::headers::{
    Body as offheap_body,
    flags::{
        CONNECT as OFFHEAP_HEAD_CONNECT, CONNECTION_CLOSE as OFFHEAP_HEAD_CONNECTION_CLOSE,
        EXPECT_CONTINUE as OFFHEAP_HEAD_EXPECT_CONTINUE, HAS_HOST as OFFHEAP_HEAD_HAS_HOST,
        HEAD_METHOD as OFFHEAP_HEAD_HEAD_METHOD, KEEP_ALIVE as OFFHEAP_HEAD_KEEP_ALIVE,
        LEADING_EMPTY_LINES as OFFHEAP_HEAD_LEADING_EMPTY_LINES, TE_OTHER as OFFHEAP_HEAD_TE_OTHER,
        UPGRADE as OFFHEAP_HEAD_UPGRADE,
    },
};

/// The well-known header names (`offheap_head.known` slots), their count and the value of an
/// absent one: the parser's own `Known`, `KNOWN_COUNT` and `NOT_PRESENT`, which cbindgen exports
/// under these names (`cbindgen.toml`), so each slot is declared once.
pub use crate::headers::{
    KNOWN_COUNT as OFFHEAP_KNOWN_COUNT, Known as offheap_known, NOT_PRESENT as OFFHEAP_KNOWN_ABSENT,
};

/// Parser limits and options. A zero limit selects the default (64 KiB head, 100 headers).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_headers_config {
    /// Longest head in bytes (0: 65536; at most 16 MiB).
    pub max_head_len: u32,
    /// Most header lines per head (0: 100; at most 254).
    pub max_headers: u16,
    /// Non-zero: accept lines ended by a bare LF.
    pub allow_bare_lf: u8,
    /// Responses only, non-zero: the requests were HEAD, so no response has a body.
    pub head_request: u8,
}

/// What a parse call filled in.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_headers_result {
    /// Head records written.
    pub heads: u64,
    /// Header records written.
    pub headers: u64,
    /// Pipelined: where to resume reading; offsets: end of the last region parsed.
    pub consumed: u64,
}

/// How a request head is rewritten (`offheap_headers_rewrite_request`, and the sessions and
/// proxy of the engine); every string is a span of the call's `strings`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_rewrite_options {
    /// Client address appended to X-Forwarded-For (empty: none).
    pub client_ip: Span,
    /// X-Forwarded-Proto value (empty: none).
    pub proto: Span,
    /// New Host value; used only when `set_host` is non-zero.
    pub host: Span,
    /// This proxy's Via pseudonym (empty: no Via).
    pub via: Span,
    /// Non-zero: replace Host with the `host` span.
    pub set_host: u8,
    /// Non-zero: append to the client's X-Forwarded-For instead of replacing it.
    pub append_forwarded: u8,
    /// Reserved, zero.
    pub reserved: [u8; 6],
}

/// The rewrite `opts` describes, its strings taken from `strings`: what
/// `offheap_headers_rewrite_request`, `offheap_engine_submit_session` and
/// `offheap_engine_proxy_start` share. A span outside `strings` is `INVALID_ARGUMENT`.
pub(super) fn rewrite_of<'a>(
    opts: &offheap_rewrite_options,
    strings: &'a [u8],
) -> FfiResult<RewriteOptions<'a>> {
    let span = |s: Span| {
        let start = s.off as usize;
        strings
            .get(start..start + s.len as usize)
            .ok_or(offheap_status::InvalidArgument)
    };
    Ok(RewriteOptions {
        client_ip: span(opts.client_ip)?,
        proto: span(opts.proto)?,
        host: if opts.set_host != 0 {
            Some(span(opts.host)?)
        } else {
            None
        },
        via: span(opts.via)?,
        append_forwarded: opts.append_forwarded != 0,
    })
}

fn config(cfg: &offheap_headers_config) -> Config {
    let d = Config::default();
    Config {
        max_head_len: if cfg.max_head_len == 0 {
            d.max_head_len
        } else {
            cfg.max_head_len
        },
        max_headers: if cfg.max_headers == 0 {
            d.max_headers
        } else {
            cfg.max_headers
        },
        allow_bare_lf: cfg.allow_bare_lf != 0,
    }
}

fn batch_status(e: BatchError) -> offheap_status {
    match e {
        BatchError::InputTooLarge => offheap_status::TooLarge,
        BatchError::BadOffsets => offheap_status::InvalidArgument,
        BatchError::HeadersFull => offheap_status::BufferTooSmall,
    }
}

/// What `offheap_headers_parse` parses. The values are the order of the variants (0, 1),
/// which is the C ABI: a new variant goes last.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum offheap_head_kind {
    /// Request heads.
    Request,
    /// Response heads; set `cfg->head_request` when the requests were HEAD (then no response
    /// has a body).
    Response,
}

/// Parses request or response heads (`kind`, an `offheap_head_kind`) from `input` into the
/// caller's arrays, in one call.
///
/// With no offsets (`offsets_len == 0`) the input is one connection's pipelined bytes: heads
/// are parsed one after another, skipping Content-Length bodies, until `heads` is full, the
/// input ends, or a head is incomplete, invalid or followed by a body that is not
/// length-delimited. With offsets, region `i` is `input[offsets[i] .. offsets[i + 1]]` (the
/// last runs to the end) and holds one head each: the heads of many connections.
///
/// Per-head problems (incomplete, malformed) are reported in each record's `status`; the
/// call's own status is about the arguments. `cfg` may be NULL (defaults). Give `headers` at
/// least `max_headers` entries.
///
/// Errors: `OFFHEAP_STATUS_NULL_POINTER`, `OFFHEAP_STATUS_MISALIGNED_POINTER`,
/// `OFFHEAP_STATUS_TOO_LARGE` (input over 4 GiB), `OFFHEAP_STATUS_INVALID_ARGUMENT` (an
/// unknown `kind`, offsets out of order or range), `OFFHEAP_STATUS_BUFFER_TOO_SMALL` (the
/// first head's headers do not fit). `*result` is written on success.
///
/// # Safety
/// Until the call returns, each pointer is NULL with a zero length, or valid for its length:
/// `input` and `offsets` for reading, `heads` and `headers` for writing (they are not read),
/// `cfg` (NULL: defaults) for reading one `offheap_headers_config`, `result` for writing one
/// `offheap_headers_result`; the memory written overlaps no other argument.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn offheap_headers_parse(
    kind: u32,
    input: *const u8,
    input_len: usize,
    offsets: *const u32,
    offsets_len: usize,
    cfg: *const offheap_headers_config,
    heads: *mut Head,
    heads_len: usize,
    headers: *mut HeaderSpan,
    headers_len: usize,
    result: *mut offheap_headers_result,
) -> offheap_status {
    const REQUEST: u32 = offheap_head_kind::Request as u32;
    const RESPONSE: u32 = offheap_head_kind::Response as u32;
    guard(|| {
        // SAFETY: this function's `# Safety` gives `result` valid for one write, a non-NULL
        // `cfg` for one read, `input` and `offsets` for reading and `heads` and `headers` for
        // writing their lengths (NULL with a zero length), the written ones overlapping
        // nothing, until the call returns: what `ptr::out`, `ptr::one`, `ptr::slice` and
        // `ptr::slice_mut` require.
        let (result, input, offsets, cfg, heads, headers) = unsafe {
            (
                ptr::out(result)?,
                ptr::slice(input, input_len)?,
                ptr::slice(offsets, offsets_len)?,
                if cfg.is_null() {
                    offheap_headers_config::default()
                } else {
                    *ptr::one(cfg)?
                },
                ptr::slice_mut(heads, heads_len)?,
                ptr::slice_mut(headers, headers_len)?,
            )
        };
        let c = config(&cfg);
        let head_request = cfg.head_request != 0;
        let batch = match (kind, offsets.is_empty()) {
            (REQUEST, true) => headers::parse_requests(input, &c, heads, headers),
            (REQUEST, false) => headers::parse_requests_at(input, offsets, &c, heads, headers),
            (RESPONSE, true) => headers::parse_responses(input, &c, head_request, heads, headers),
            (RESPONSE, false) => {
                headers::parse_responses_at(input, offsets, &c, head_request, heads, headers)
            }
            _ => return Err(offheap_status::InvalidArgument),
        }
        .map_err(batch_status)?;
        result.write(offheap_headers_result {
            heads: batch.heads as u64,
            headers: batch.headers as u64,
            consumed: batch.consumed as u64,
        });
        Ok(())
    })
}

/// Finishes a rewrite export: the length on success; on `BUFFER_TOO_SMALL` the size needed
/// (the one error that writes `*written`).
fn rewrite_result(r: Result<usize, RewriteError>, written: ptr::Out<'_, usize>) -> FfiResult<()> {
    match r {
        Ok(len) => {
            written.write(len);
            Ok(())
        }
        Err(RewriteError::NotComplete) => Err(offheap_status::InvalidArgument),
        Err(RewriteError::OutputTooSmall { needed }) => {
            written.write(needed);
            Err(offheap_status::BufferTooSmall)
        }
    }
}

/// The parsed head a rewrite export takes: its input, its record and the header records.
///
/// # Safety
/// Until the call returns, `input` and `headers` are NULL with a zero length or valid for
/// reading their lengths, and `head` is NULL or valid for reading one `offheap_head`.
unsafe fn parsed_head<'a>(
    input: *const u8,
    input_len: usize,
    head: *const Head,
    headers: *const HeaderSpan,
    headers_len: usize,
) -> FfiResult<(&'a [u8], &'a Head, &'a [HeaderSpan])> {
    // SAFETY: this function's `# Safety` gives `input` and `headers` valid for reading their
    // lengths (or NULL with a zero length) and `head` for one read until the call returns:
    // what `ptr::slice` and `ptr::one` require.
    unsafe {
        Ok((
            ptr::slice(input, input_len)?,
            ptr::one(head)?,
            ptr::slice(headers, headers_len)?,
        ))
    }
}

/// Rewrites a parsed request head for an upstream (`httputil.ReverseProxy` semantics: drops
/// hop-by-hop headers, sets X-Forwarded-For/-Host/-Proto, Via and optionally Host) into
/// `out`, and stores the length in `*written`.
///
/// `head` is a complete request record from `offheap_headers_parse` over the same `input`,
/// `headers` that call's header array. The option strings are spans of `strings`.
///
/// Errors: the pointer errors, `OFFHEAP_STATUS_INVALID_ARGUMENT` (the head is not complete,
/// or an option span is out of range), `OFFHEAP_STATUS_BUFFER_TOO_SMALL` (then `*written`
/// is the size needed).
///
/// # Safety
/// Until the call returns, each pointer is NULL with a zero length, or valid for its length:
/// `input`, `headers` and `strings` for reading, `out` for writing; `head` and `opts` for
/// reading one element, `written` for writing one `size_t`; the memory written overlaps no
/// other argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_headers_rewrite_request(
    input: *const u8,
    input_len: usize,
    head: *const Head,
    headers: *const HeaderSpan,
    headers_len: usize,
    strings: *const u8,
    strings_len: usize,
    opts: *const offheap_rewrite_options,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `written` valid for one write, `head` and
        // `opts` for one read, `input`, `headers` and `strings` for reading and `out` for
        // writing their lengths (NULL with a zero length), the written ones overlapping
        // nothing, until the call returns: what `ptr::out`, `parsed_head`, `ptr::slice`,
        // `ptr::one` and `ptr::slice_mut` require.
        let (written, (input, head, headers), strings, opts, out) = unsafe {
            (
                ptr::out(written)?,
                parsed_head(input, input_len, head, headers, headers_len)?,
                ptr::slice(strings, strings_len)?,
                *ptr::one(opts)?,
                ptr::slice_mut(out, out_len)?,
            )
        };
        let options = rewrite_of(&opts, strings)?;
        rewrite_result(
            headers::rewrite_request(input, head, headers, &options, out),
            written,
        )
    })
}

/// Rewrites a parsed response head for the client: drops hop-by-hop headers and appends
/// `via` (when not empty) to Via. Like `offheap_headers_rewrite_request`.
///
/// # Safety
/// Until the call returns, each pointer is NULL with a zero length, or valid for its length:
/// `input`, `headers` and `via` for reading, `out` for writing; `head` for reading one
/// `offheap_head`, `written` for writing one `size_t`; the memory written overlaps no other
/// argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_headers_rewrite_response(
    input: *const u8,
    input_len: usize,
    head: *const Head,
    headers: *const HeaderSpan,
    headers_len: usize,
    via: *const u8,
    via_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `written` valid for one write, `head` for
        // one read, `input`, `headers` and `via` for reading and `out` for writing their
        // lengths (NULL with a zero length), the written ones overlapping nothing, until the
        // call returns: what `ptr::out`, `parsed_head`, `ptr::slice` and `ptr::slice_mut`
        // require.
        let (written, (input, head, headers), via, out) = unsafe {
            (
                ptr::out(written)?,
                parsed_head(input, input_len, head, headers, headers_len)?,
                ptr::slice(via, via_len)?,
                ptr::slice_mut(out, out_len)?,
            )
        };
        rewrite_result(
            headers::rewrite_response(input, head, headers, via, out),
            written,
        )
    })
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
