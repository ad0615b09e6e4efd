//! The byte-at-a-time strict scanner: names the rule and offset of a rejected head.
//!
//! It runs only after a parse path (the fused tokenizer of `fast.rs`, or httparse in
//! `parse.rs`) has rejected a head, so it is written for clarity, not speed. It also serves
//! as the naive reference in the tests: on any input it accepts exactly the line syntax the
//! parse paths accept.

use super::framing::is_tchar;
use super::{Config, Error};

/// Scans the head at the start of `buf` with the strict line grammar (no framing rules):
/// `Ok(len)` when a syntactically valid head of `len` bytes is there, `Err((error, offset))`
/// otherwise, with [`Error::Incomplete`] at `buf.len()` when the bytes run out first.
///
/// Checks the start-line (`is_request` selects request-line or status-line), the field
/// lines, line ends and the header count of `cfg`; not the head length limit, the status
/// code range, the target form, or the framing headers (the parser checks those once the
/// head is complete).
///
/// ```
/// use offheap::headers::{diagnose, Config, Error};
/// let cfg = Config::default();
/// assert_eq!(diagnose(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", true, &cfg),
///            Err((Error::WhitespaceBeforeColon, 20)));
/// assert_eq!(diagnose(b"GET / HTTP/1.1\r\n\r\n", true, &cfg), Ok(18));
/// ```
pub fn diagnose(buf: &[u8], is_request: bool, cfg: &Config) -> Result<usize, (Error, usize)> {
    let mut s = Scanner {
        buf,
        i: 0,
        bare_lf: cfg.allow_bare_lf,
    };
    s.empty_lines()?;
    if is_request {
        s.request_line()?;
    } else {
        s.status_line()?;
    }
    s.fields(usize::from(cfg.clamped().max_headers))
}

struct Scanner<'a> {
    buf: &'a [u8],
    i: usize,
    bare_lf: bool,
}

type Step<T = ()> = Result<T, (Error, usize)>;

impl Scanner<'_> {
    fn peek(&self) -> Step<u8> {
        self.buf
            .get(self.i)
            .copied()
            .ok_or((Error::Incomplete, self.buf.len()))
    }

    fn fail<T>(&self, e: Error) -> Step<T> {
        Err((e, self.i))
    }

    /// At CR or LF: consumes a line end, or fails.
    fn line_end(&mut self) -> Step {
        match self.peek()? {
            b'\r' => {
                self.i += 1;
                match self.peek()? {
                    b'\n' => {
                        self.i += 1;
                        Ok(())
                    }
                    _ => Err((Error::BareCr, self.i - 1)),
                }
            }
            b'\n' if self.bare_lf => {
                self.i += 1;
                Ok(())
            }
            b'\n' => self.fail(Error::BareLf),
            _ => unreachable_line_end(self.i),
        }
    }

    fn empty_lines(&mut self) -> Step {
        while matches!(self.peek()?, b'\r' | b'\n') {
            self.line_end()?;
        }
        Ok(())
    }

    fn request_line(&mut self) -> Step {
        let start = self.i;
        while is_tchar(self.peek()?) {
            self.i += 1;
        }
        if self.i == start || self.peek()? != b' ' {
            return self.fail(Error::Method);
        }
        self.i += 1;
        let start = self.i;
        while matches!(self.peek()?, 0x21..=0x7e) {
            self.i += 1;
        }
        if self.i == start || self.peek()? != b' ' {
            return self.fail(Error::Target);
        }
        self.i += 1;
        self.version()?;
        match self.peek()? {
            b'\r' | b'\n' => self.line_end(),
            _ => self.fail(Error::Version),
        }
    }

    fn version(&mut self) -> Step {
        for &want in b"HTTP/1." {
            if self.peek()? != want {
                return self.fail(Error::Version);
            }
            self.i += 1;
        }
        match self.peek()? {
            b'0' | b'1' => {
                self.i += 1;
                Ok(())
            }
            _ => self.fail(Error::Version),
        }
    }

    fn status_line(&mut self) -> Step {
        self.version()?;
        if self.peek()? != b' ' {
            return self.fail(Error::Version);
        }
        self.i += 1;
        for _ in 0..3 {
            if !self.peek()?.is_ascii_digit() {
                return self.fail(Error::Status);
            }
            self.i += 1;
        }
        match self.peek()? {
            b'\r' | b'\n' => return self.line_end(),
            b' ' => self.i += 1,
            _ => return self.fail(Error::Status),
        }
        loop {
            match self.peek()? {
                b'\r' | b'\n' => return self.line_end(),
                b'\t' | b' '..=0x7e | 0x80..=0xff => self.i += 1,
                _ => return self.fail(Error::Status),
            }
        }
    }

    fn fields(&mut self, max_headers: usize) -> Step<usize> {
        let mut count = 0;
        loop {
            let line = self.i;
            match self.peek()? {
                b'\r' | b'\n' => {
                    self.line_end()?;
                    return Ok(self.i);
                }
                b' ' | b'\t' => return self.fail(Error::ObsFold),
                b if !is_tchar(b) => return self.fail(Error::HeaderName),
                _ => {}
            }
            while is_tchar(self.peek()?) {
                self.i += 1;
            }
            match self.peek()? {
                b':' => self.i += 1,
                b' ' | b'\t' => return self.fail(Error::WhitespaceBeforeColon),
                _ => return self.fail(Error::HeaderName),
            }
            loop {
                match self.peek()? {
                    b'\r' | b'\n' => break,
                    b'\t' | b' '..=0x7e | 0x80..=0xff => self.i += 1,
                    _ => return self.fail(Error::HeaderValue),
                }
            }
            self.line_end()?;
            count += 1;
            // Like httparse: the line after the last slot is read before it is refused.
            if count > max_headers {
                return Err((Error::TooManyHeaders, line));
            }
        }
    }
}

#[cold]
fn unreachable_line_end(at: usize) -> Step {
    // Callers only call line_end at CR or LF; report rather than panic.
    Err((Error::BareCr, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &[u8]) -> Result<usize, (Error, usize)> {
        diagnose(s, true, &Config::default())
    }

    #[test]
    fn rules_and_offsets() {
        assert_eq!(req(b"GET / HTTP/1.1\r\nA: b\r\n\r\n"), Ok(24));
        assert_eq!(req(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"), Ok(22));
        // Each head with the rule it breaks and the offset of the offending byte.
        for (input, want) in [
            (&b"G@T / HTTP/1.1\r\n\r\n"[..], (Error::Method, 1)),
            (b" GET / HTTP/1.1\r\n\r\n", (Error::Method, 0)),
            (b"GET  / HTTP/1.1\r\n\r\n", (Error::Target, 4)),
            (b"GET /\x7f HTTP/1.1\r\n\r\n", (Error::Target, 5)),
            (b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", (Error::Target, 5)),
            (b"GET / HTTP/1.2\r\n\r\n", (Error::Version, 13)),
            (b"GET / HTTP/1.1 \r\n\r\n", (Error::Version, 14)),
            (b"GET / HTTP/1.1\rX\n\r\n", (Error::BareCr, 14)),
            (b"GET / HTTP/1.1\nA: b\r\n\r\n", (Error::BareLf, 14)),
        ] {
            let shown = String::from_utf8_lossy(input);
            assert_eq!(req(input), Err(want), "{shown:?}");
        }
        // Field lines after a valid request-line: the rule each breaks, and where in them.
        for (fields, error, at) in [
            (&b"A b: c\r\n\r\n"[..], Error::WhitespaceBeforeColon, 1),
            (b"A : c\r\n\r\n", Error::WhitespaceBeforeColon, 1),
            (b"A\x01: c\r\n\r\n", Error::HeaderName, 1),
            (b": c\r\n\r\n", Error::HeaderName, 0),
            (b"A: c\r\n d\r\n\r\n", Error::ObsFold, 6),
            (b" A: c\r\n\r\n", Error::ObsFold, 0),
            (b"A: c\0d\r\n\r\n", Error::HeaderValue, 4),
            (b"A: c\rd\r\n\r\n", Error::BareCr, 4),
            (b"A: c\r\n\r", Error::Incomplete, 7),
            (b"A: c\r\n\n", Error::BareLf, 6),
        ] {
            let line = b"GET / HTTP/1.1\r\n";
            let input = [line.as_slice(), fields].concat();
            let shown = String::from_utf8_lossy(fields);
            assert_eq!(req(&input), Err((error, line.len() + at)), "{shown:?}");
        }
        let lf = Config {
            allow_bare_lf: true,
            ..Config::default()
        };
        assert_eq!(diagnose(b"GET / HTTP/1.1\nA: c\n\n", true, &lf), Ok(21));
    }

    #[test]
    fn too_many_headers_after_the_line() {
        let cfg = Config {
            max_headers: 1,
            ..Config::default()
        };
        let one = b"GET / HTTP/1.1\r\nA: b\r\n\r\n";
        assert_eq!(diagnose(one, true, &cfg), Ok(24));
        let two = b"GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n";
        assert_eq!(diagnose(two, true, &cfg), Err((Error::TooManyHeaders, 22)));
        let cut = b"GET / HTTP/1.1\r\nA: b\r\nC: d";
        assert_eq!(diagnose(cut, true, &cfg), Err((Error::Incomplete, 26)));
    }

    #[test]
    fn status_lines() {
        let status = |s: &[u8]| diagnose(s, false, &Config::default());
        assert_eq!(status(b"HTTP/1.1 200 OK\r\n\r\n"), Ok(19));
        assert_eq!(status(b"HTTP/1.1 200\r\n\r\n"), Ok(16));
        assert_eq!(status(b"HTTP/1.1 200 \xff\r\n\r\n"), Ok(18));
        assert_eq!(status(b"HTTP/1.1 2x0 OK\r\n\r\n"), Err((Error::Status, 10)));
        assert_eq!(
            status(b"HTTP/1.1 200 O\x01K\r\n\r\n"),
            Err((Error::Status, 14))
        );
        assert_eq!(status(b"HTTP/1.1  200 OK\r\n\r\n"), Err((Error::Status, 9)));
    }
}
