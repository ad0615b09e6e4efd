//! One head: a strict request goes to the fused tokenizer (`fast.rs`); everything else, and
//! what it declines, to the general path here: httparse tokenizes, then one pass over its
//! header list writes the records, the well-known index and the framing.

use core::mem::MaybeUninit;

use super::fast;
use super::incomplete::incomplete;
use super::record::{Full, Kind, Region, check_request_line, fail, offset, reject};
use super::state::Framing;
use super::{Error, Head, HeaderSpan, MAX_HEADERS_LIMIT, Span, flags};

type Scratch<'b> = [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS_LIMIT];

#[inline]
fn span(input: &[u8], part: &[u8]) -> Span {
    Span {
        off: offset(input, part) as u32,
        len: part.len() as u32,
    }
}

/// Parses the head of region `at` into `head`, writing its header records to `out` (whose
/// first entry is entry `at.first` of the whole output).
#[inline]
pub(crate) fn parse_head(
    at: &Region<'_>,
    out: &mut [HeaderSpan],
    head: &mut Head,
) -> Result<(), Full> {
    if at.kind == Kind::Request
        && let Some(done) = fast::request(at, out, head)
    {
        return done;
    }
    general(at, out, head)
}

/// The general path: httparse tokenizes, then one walk over its header list. Kept out of
/// line so that its 8 KiB header scratch does not enlarge the fused path's stack frame.
#[inline(never)]
fn general(at: &Region<'_>, out: &mut [HeaderSpan], head: &mut Head) -> Result<(), Full> {
    let (kind, input, start, end, cfg) = (at.kind, at.input, at.start, at.end, at.cfg);
    *head = at.unparsed();
    let limit = end.min(start.saturating_add(cfg.max_head_len as usize));
    let buf = input.get(start..limit).unwrap_or(&[]);
    let mut scratch: Scratch<'_> = [const { MaybeUninit::uninit() }; MAX_HEADERS_LIMIT];
    let slots = &mut scratch[..usize::from(cfg.max_headers).min(MAX_HEADERS_LIMIT)];

    let parsed = match kind {
        Kind::Request => {
            let mut req = httparse::Request::new(&mut []);
            match req.parse_with_uninit_headers(buf, slots) {
                Ok(httparse::Status::Complete(n)) => match (req.method, req.path, req.version) {
                    (Some(m), Some(p), Some(v)) => Some((
                        n,
                        StartLine::Request {
                            method: m.as_bytes(),
                            target: p.as_bytes(),
                        },
                        v,
                        req.headers,
                    )),
                    _ => None,
                },
                Ok(httparse::Status::Partial) => {
                    incomplete(at, head);
                    return Ok(());
                }
                Err(_) => None,
            }
        }
        Kind::Response { .. } => {
            let mut res = httparse::Response::new(&mut []);
            match httparse::ParserConfig::default()
                .parse_response_with_uninit_headers(&mut res, buf, slots)
            {
                Ok(httparse::Status::Complete(n)) => match (res.code, res.version) {
                    (Some(code), Some(v)) => {
                        Some((n, StartLine::Response { code }, v, res.headers))
                    }
                    _ => None,
                },
                Ok(httparse::Status::Partial) => {
                    incomplete(at, head);
                    return Ok(());
                }
                Err(_) => None,
            }
        }
    };
    let Some((n, line, version, headers)) = parsed else {
        reject(head, buf, kind, start, cfg);
        return Ok(());
    };
    let count = headers.len();
    let out = out.get_mut(..count).ok_or(Full)?;
    head.len = n as u32;
    head.header_count = count as u32;
    head.version = version;
    let head_end = start + n;
    let strict_lf = !cfg.allow_bare_lf;

    // The start-line: where it begins (after optional empty lines) and kind-specific checks.
    let line_start = match line {
        StartLine::Request { method, target } => {
            head.method = span(input, method);
            head.target = span(input, target);
            offset(input, method)
        }
        StartLine::Response { code } => {
            let line_start = skip_empty_lines(input, start, head_end);
            let code_off = line_start + 9;
            head.status_code = code;
            if !(100..=599).contains(&code) {
                fail(head, Error::Status, code_off);
                return Ok(());
            }
            line_start
        }
    };
    if line_start > start {
        head.flags |= flags::LEADING_EMPTY_LINES;
        if strict_lf && let Some(at) = bare_lf_in_empty_lines(input, start, line_start) {
            fail(head, Error::BareLf, at);
            return Ok(());
        }
    }
    if let StartLine::Request { method, target } = line
        && let Err((e, at)) = check_request_line(input, method, target, false, head)
    {
        fail(head, e, at);
        return Ok(());
    }

    // One pass over the header list: records, well-known index, framing inputs, bare LF.
    let mut framing = Framing::default();
    for (i, (h, o)) in headers.iter().zip(out.iter_mut()).enumerate() {
        let name = h.name.as_bytes();
        let name_off = offset(input, name);
        let value_off = offset(input, h.value);
        *o = HeaderSpan {
            name_off: name_off as u32,
            name_len: name.len() as u32,
            value_off: value_off as u32,
            value_len: h.value.len() as u32,
        };
        // The previous line ended just before this name: "\r\n", not a bare "\n".
        if strict_lf && input.get(name_off.wrapping_sub(2)) != Some(&b'\r') {
            fail(head, Error::BareLf, name_off - 1);
            return Ok(());
        }
        if let Err((e, at)) = framing.line(head, i, name, name_off, h.value, value_off) {
            fail(head, e, at);
            return Ok(());
        }
    }
    // The last field line and the empty line both end in CRLF.
    let crlf = input.get(head_end.wrapping_sub(2)) == Some(&b'\r');
    let empty_line = head_end - if crlf { 2 } else { 1 };
    if strict_lf {
        if input.get(empty_line.wrapping_sub(2)) != Some(&b'\r') {
            fail(head, Error::BareLf, empty_line - 1);
            return Ok(());
        }
        if !crlf {
            fail(head, Error::BareLf, head_end - 1);
            return Ok(());
        }
    }
    if let Err((e, at)) = framing.finish(kind, head, empty_line) {
        fail(head, e, at);
        return Ok(());
    }
    if let StartLine::Response { .. } = line {
        head.reason = reason_span(input, line_start, head_end);
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum StartLine<'b> {
    Request { method: &'b [u8], target: &'b [u8] },
    Response { code: u16 },
}

fn skip_empty_lines(input: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && matches!(input.get(i), Some(b'\r' | b'\n')) {
        i += 1;
    }
    i
}

#[cold]
fn bare_lf_in_empty_lines(input: &[u8], start: usize, line_start: usize) -> Option<usize> {
    (start..line_start)
        .find(|&i| input.get(i) == Some(&b'\n') && (i == start || input.get(i - 1) != Some(&b'\r')))
}

/// The reason phrase: after "HTTP/1.x NNN " up to the line end (httparse validated the
/// line; a status line may also end right after the code).
fn reason_span(input: &[u8], line_start: usize, head_end: usize) -> Span {
    let from = line_start + 12;
    let rest = input.get(from..head_end).unwrap_or(&[]);
    let end = from + memchr::memchr2(b'\r', b'\n', rest).unwrap_or(0);
    let start = (from + 1).min(end);
    Span {
        off: start as u32,
        len: (end - start) as u32,
    }
}
