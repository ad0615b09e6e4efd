//! What both parse paths (the fused tokenizer in `fast.rs`, httparse in `parse.rs`) write
//! into a [`Head`] record the same way: the kind of head, the incomplete, rejected and failed
//! outcomes, and the request-line rules httparse does not check. It sits below both paths
//! (and below the framing accumulator), so neither path reaches into the other.

use super::framing;
use super::{Config, Error, Head, diagnose, flags};

/// Which kind of head, and for responses whether the request was HEAD.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Response { head_request: bool },
}

/// One head to parse, as both parse paths and the incomplete-head check take it: the whole
/// input of the call (every offset in the records is relative to it), where the head starts
/// and where it must end by, the clamped configuration, and the index in the call's header
/// output of the first record this head writes.
///
/// `input.len()` fits in `u32` and `start <= end <= input.len()`.
#[derive(Clone, Copy)]
pub(crate) struct Region<'a> {
    pub(crate) kind: Kind,
    pub(crate) input: &'a [u8],
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) cfg: &'a Config,
    pub(crate) first: u32,
}

impl Region<'_> {
    /// The record of this head before anything of it is parsed.
    #[inline]
    pub(crate) fn unparsed(&self) -> Head {
        Head {
            start: self.start as u32,
            first_header: self.first,
            ..Head::default()
        }
    }
}

/// The header output could not hold this head's headers; nothing was written.
pub(crate) struct Full;

/// Offset of `part` in `input`: every part is a sub-slice of `input` (httparse returns
/// sub-slices of what it is given, and the fused path slices the input itself).
#[inline]
pub(crate) fn offset(input: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize)
}

/// Marks `head` as failed by `error` at absolute offset `at`.
#[cold]
pub(crate) fn fail(head: &mut Head, error: Error, at: usize) {
    head.status = error.code();
    head.error_offset = at as u32;
}

/// Marks `head` (the bytes `start..end` of the input) as incomplete, or as too large when
/// more than `max_head_len` bytes have been seen without its end.
#[inline]
pub(crate) fn partial(head: &mut Head, start: usize, end: usize, cfg: &Config) {
    if end - start > cfg.max_head_len as usize {
        head.len = cfg.max_head_len;
        fail(head, Error::HeadTooLarge, start + cfg.max_head_len as usize);
    } else {
        head.status = Error::Incomplete.code();
        head.len = (end - start) as u32;
    }
}

/// Marks `head`, whose bytes `buf` start at `start`, as rejected by a parse path: the
/// reference scanner ([`diagnose()`]) names the rule and the offending byte. Rare, so it runs
/// only here and the happy path never scans a byte twice. Inlined because, as a call, it
/// changed the register allocation of the fused tokenizer around it (1.5% more instructions
/// per kittyhell request).
#[inline(always)]
pub(crate) fn reject(head: &mut Head, buf: &[u8], kind: Kind, start: usize, cfg: &Config) {
    let (error, at) = match diagnose(buf, kind == Kind::Request, cfg) {
        // The scanner accepts exactly the line syntax both paths accept, so this does not
        // happen; if it did, the head is still reported as rejected, never as complete.
        Err((Error::Incomplete, _)) | Ok(_) => (Error::HeaderValue, 0),
        Err(e) => e,
    };
    head.len = buf.len() as u32;
    fail(head, error, start + at);
}

/// Method flags and the rules of the request-line httparse does not have: an ASCII-only
/// target (RFC 3986 §2; skipped when `ascii_checked`) and a target form that fits the
/// method (RFC 9112 §3.2).
#[inline]
pub(crate) fn check_request_line(
    input: &[u8],
    method: &[u8],
    target: &[u8],
    ascii_checked: bool,
    head: &mut Head,
) -> Result<(), (Error, usize)> {
    let target_off = offset(input, target);
    if !ascii_checked && !target.is_ascii() {
        let j = target.iter().position(|b| !b.is_ascii()).unwrap_or(0);
        return Err((Error::Target, target_off + j));
    }
    let connect = method == b"CONNECT";
    if connect {
        head.flags |= flags::CONNECT;
    } else if method == b"HEAD" {
        head.flags |= flags::HEAD_METHOD;
    }
    match target.first() {
        Some(b'/') if !connect => Ok(()),
        _ if connect => match target.first() {
            // authority-form: uri-host ":" port, no path.
            Some(b'/') | None => Err((Error::TargetForm, target_off)),
            _ => match framing::authority_form_error(target) {
                Some(j) => Err((Error::TargetForm, target_off + j)),
                None => Ok(()),
            },
        },
        Some(b'*') if target.len() == 1 => {
            if method == b"OPTIONS" {
                Ok(())
            } else {
                Err((Error::TargetForm, target_off))
            }
        }
        _ => {
            // absolute-form: scheme ":" ...; scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
            let scheme_end = target.iter().position(|&b| b == b':').unwrap_or(0);
            let scheme = &target[..scheme_end];
            let ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
                && scheme
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
            if ok {
                Ok(())
            } else {
                Err((Error::TargetForm, target_off))
            }
        }
    }
}
