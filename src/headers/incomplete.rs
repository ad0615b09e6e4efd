//! A head cut short: whether the lines it has complete already break a rule that no later
//! byte can cure. Such a head is refused at once, with the error and offset the whole head
//! would get, so that a peer cannot hold a parse slot with a head known to be bad. Both parse
//! paths come here when they run out of bytes; a head that is only incomplete costs one more
//! pass over the bytes seen, and the happy path none.

use super::record::{Kind, Region, check_request_line, fail, partial};
use super::state::Framing;
use super::{Error, Head, MAX_HEADERS_LIMIT};

/// Marks `head`, whose region `at` ends before the head does, as too large, as failed by the
/// first rule its complete lines break for good, or as incomplete.
pub(crate) fn incomplete(at: &Region<'_>, head: &mut Head) {
    partial(head, at.start, at.end, at.cfg);
    if head.status == Error::Incomplete.code()
        && let Err((e, offset)) = settled(at)
    {
        fail(head, e, offset);
    }
}

/// The complete lines of `input[start..end]`, in order, without their line ends.
struct Lines<'a> {
    input: &'a [u8],
    at: usize,
    end: usize,
    bare_lf: bool,
}

impl Lines<'_> {
    /// The next complete line as `(from, to)`, `Ok(None)` when the rest is not a complete
    /// line, or the bare LF that ends it when that is not allowed.
    fn next(&mut self) -> Result<Option<(usize, usize)>, (Error, usize)> {
        let rest = self.input.get(self.at..self.end).unwrap_or(&[]);
        let Some(lf) = memchr::memchr(b'\n', rest) else {
            return Ok(None);
        };
        let (from, lf) = (self.at, self.at + lf);
        self.at = lf + 1;
        if lf > from && self.input[lf - 1] == b'\r' {
            return Ok(Some((from, lf - 1)));
        }
        if !self.bare_lf {
            return Err((Error::BareLf, lf));
        }
        Ok(Some((from, lf)))
    }
}

/// The rules the complete lines of the head at `start` break for good, checked as the whole
/// head would be: the start-line's (target form, status code), each field line's, and those
/// of the framing headers together ([`Framing::settled`]). The tokenizers have already checked
/// the syntax of these bytes; rules that a later line may still satisfy (Host present, chunked
/// last) wait for the head's end.
fn settled(at: &Region<'_>) -> Result<(), (Error, usize)> {
    let (kind, input, start, end, cfg) = (at.kind, at.input, at.start, at.end, at.cfg);
    let mut lines = Lines {
        input,
        at: start,
        end,
        bare_lf: cfg.allow_bare_lf,
    };
    let (from, to) = loop {
        match lines.next()? {
            Some((from, to)) if from < to => break (from, to),
            Some(_) => {} // an empty line before the start-line
            None => return Ok(()),
        }
    };
    let line = &input[from..to];
    let mut scratch = Head::default();
    match kind {
        Kind::Request => {
            let (Some(sp1), Some(sp2)) = (memchr::memchr(b' ', line), memchr::memrchr(b' ', line))
            else {
                return Ok(());
            };
            let (method, target) = (&line[..sp1], &line[sp1 + 1..sp2.max(sp1 + 1)]);
            check_request_line(input, method, target, false, &mut scratch)?;
            scratch.version = u8::from(line.last() == Some(&b'1'));
        }
        Kind::Response { .. } => {
            // "HTTP/1.x NNN": the tokenizer checked the version and the three digits.
            let code = line.get(9..12).map_or(0, |d| {
                d.iter()
                    .fold(0u16, |n, &c| n * 10 + u16::from(c.wrapping_sub(b'0')))
            });
            if !(100..=599).contains(&code) {
                return Err((Error::Status, from + 9));
            }
            scratch.version = u8::from(line.get(7) == Some(&b'1'));
        }
    }
    let mut framing = Framing::default();
    let mut i = 0;
    while let Some((from, to)) = lines.next()? {
        let line = &input[from..to];
        let Some(colon) = memchr::memchr(b':', line) else {
            break; // the empty line ends a complete head: not one of ours
        };
        if i >= MAX_HEADERS_LIMIT {
            break;
        }
        let mut value = (from + colon + 1, to);
        while value.0 < value.1 && matches!(input[value.0], b' ' | b'\t') {
            value.0 += 1;
        }
        while value.1 > value.0 && matches!(input[value.1 - 1], b' ' | b'\t') {
            value.1 -= 1;
        }
        let name = &line[..colon];
        framing.line(
            &mut scratch,
            i,
            name,
            from,
            &input[value.0..value.1],
            value.0,
        )?;
        i += 1;
    }
    framing.settled(scratch.version)
}
