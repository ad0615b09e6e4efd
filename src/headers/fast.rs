//! The fused strict request tokenizer: one pass over the bytes that tokenizes, validates,
//! writes the span records and feeds the framing accumulator.
//!
//! It handles the common case (strict CRLF, no empty lines before the request-line) and
//! leaves everything else to the httparse path in `parse.rs`, which accepts the same
//! language; the differential tests hold both to httparse's spans. Compared with
//! httparse-then-walk, it never stores an intermediate header list, never re-reads a header,
//! and needs no UTF-8 check (the strict target is ASCII by construction). The long runs,
//! target and values, are checked 16 bytes per step (SSE2 on x86-64, a vectorized fold
//! elsewhere); the only `unsafe` is the SSE2 arithmetic.

use super::incomplete::incomplete;
use super::known::Known;
use super::record::{Full, Kind, Region, check_request_line, fail, reject};
use super::state::Framing;
use super::{Error, Head, HeaderSpan, Span};

/// How a scan ended.
enum Scan {
    /// A complete head of this many bytes.
    Done(usize),
    /// The bytes ran out first.
    Partial,
    /// A byte breaks the line grammar: the reference scanner names it.
    Invalid,
    /// The header output is full.
    Full,
}

use super::framing::TCHAR_MAP as TCHAR;

const STEP: usize = 16;

/// Index of the first byte at or after `i` for which `hit` holds, or `buf.len()`. `step`
/// tests one 16-byte block for the same class and returns the offset of its first hit.
#[inline(always)]
fn find(
    buf: &[u8],
    mut i: usize,
    hit: impl Fn(u8) -> bool + Copy,
    step: impl Fn(&[u8; STEP]) -> Option<usize>,
) -> usize {
    let rest = buf.get(i..).unwrap_or(&[]);
    let (chunks, remainder) = rest.as_chunks::<STEP>();
    for c in chunks {
        if let Some(k) = step(c) {
            return i + k;
        }
        i += STEP;
    }
    match remainder.iter().position(|&b| hit(b)) {
        Some(k) => i + k,
        None => buf.len(),
    }
}

/// One 16-byte block on x86-64 with SSE2 (the x86-64 baseline): the same instructions in
/// every build of the library, whatever the optimiser makes of a portable loop in a given
/// link (the static library and a Rust binary used to differ by ~4% here).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod block {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set_epi64x, _mm_set1_epi8,
    };

    /// The block as a vector, and the offset of the first byte that `class` flags.
    #[inline(always)]
    fn first(c: &[u8; super::STEP], class: impl Fn(__m128i) -> __m128i) -> Option<usize> {
        let v = u128::from_le_bytes(*c);
        // SAFETY: these intrinsics only compute on values (no memory access); their one
        // requirement, the SSE2 target feature, is enabled at compile time (the cfg above).
        let m = unsafe {
            _mm_movemask_epi8(class(_mm_set_epi64x(
                (v >> 64) as u64 as i64,
                v as u64 as i64,
            )))
        } as u32;
        if m == 0 {
            None
        } else {
            Some(m.trailing_zeros() as usize)
        }
    }

    /// First byte outside 0x21..=0x7E: as signed bytes, those below 0x21 and those at or
    /// above 0x80 are the ones less than 0x21; 0x7F is the only one left.
    #[inline(always)]
    pub(super) fn target(c: &[u8; super::STEP]) -> Option<usize> {
        first(c, |v| {
            // SAFETY: SSE2 intrinsics compute on values only (no memory access), and SSE2, their
            // one requirement, is enabled at compile time (the cfg of this module).
            unsafe {
                _mm_or_si128(
                    _mm_cmplt_epi8(v, _mm_set1_epi8(0x21)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)),
                )
            }
        })
    }

    /// First byte below 0x20 (unsigned: min(v, 0x1F) == v) or equal to 0x7F.
    #[inline(always)]
    pub(super) fn value(c: &[u8; super::STEP]) -> Option<usize> {
        first(c, |v| {
            // SAFETY: SSE2 intrinsics compute on values only (no memory access), and SSE2, their
            // one requirement, is enabled at compile time (the cfg of this module).
            unsafe {
                _mm_or_si128(
                    _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)),
                )
            }
        })
    }

    /// First ':'.
    #[inline(always)]
    pub(super) fn colon(c: &[u8; super::STEP]) -> Option<usize> {
        first(c, |v| {
            // SAFETY: SSE2 intrinsics compute on values only (no memory access), and SSE2, their
            // one requirement, is enabled at compile time (the cfg of this module).
            unsafe { _mm_cmpeq_epi8(v, _mm_set1_epi8(b':' as i8)) }
        })
    }
}

/// One 16-byte block elsewhere: one vector any-test (the fold has no early exit, so the
/// compiler vectorizes it), then the hit located with two word operations.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
mod block {
    use super::STEP;

    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;

    // SWAR byte classes on a little-endian word: the lowest flagged byte is exact (borrows only
    // move upward, so false flags appear only above a true one), which is all `find` needs.

    /// Bytes below `n` (`n <= 0x80`).
    #[inline(always)]
    const fn swar_lt(x: u64, n: u8) -> u64 {
        x.wrapping_sub(LO * n as u64) & !x & HI
    }

    /// Bytes equal to `c`.
    #[inline(always)]
    const fn swar_eq(x: u64, c: u8) -> u64 {
        let y = x ^ (LO * c as u64);
        y.wrapping_sub(LO) & !y & HI
    }

    /// Bytes at or above 0x7F.
    #[inline(always)]
    const fn swar_ge7f(x: u64) -> u64 {
        (((x & !HI) + LO) | x) & HI
    }

    #[inline(always)]
    fn locate(
        c: &[u8; STEP],
        hit: impl Fn(u8) -> bool,
        swar: impl Fn(u64) -> u64,
    ) -> Option<usize> {
        if !c.iter().fold(false, |any, &b| any | hit(b)) {
            return None;
        }
        let v = u128::from_le_bytes(*c);
        let lo = swar(v as u64);
        if lo != 0 {
            return Some((lo.trailing_zeros() / 8) as usize);
        }
        let hi = swar((v >> 64) as u64);
        Some(8 + (hi.trailing_zeros() / 8).min(7) as usize)
    }

    #[inline(always)]
    pub(super) fn target(c: &[u8; STEP]) -> Option<usize> {
        locate(
            c,
            |b| b.wrapping_sub(0x21) > 0x7e - 0x21,
            |x| swar_lt(x, 0x21) | swar_ge7f(x),
        )
    }

    #[inline(always)]
    pub(super) fn value(c: &[u8; STEP]) -> Option<usize> {
        locate(
            c,
            |b| b < 0x20 || b == 0x7f,
            |x| swar_lt(x, 0x20) | swar_eq(x, 0x7f),
        )
    }

    #[inline(always)]
    pub(super) fn colon(c: &[u8; STEP]) -> Option<usize> {
        locate(c, |b| b == b':', |x| swar_eq(x, b':'))
    }
}

/// Index of the first byte at or after `i` outside 0x21..=0x7E (request-target bytes), or
/// `buf.len()`.
#[inline(always)]
fn skip_target(buf: &[u8], i: usize) -> usize {
    find(
        buf,
        i,
        |b| b.wrapping_sub(0x21) > 0x7e - 0x21,
        block::target,
    )
}

/// Index of the first control character (HTAB included) or DEL at or after `i`, or
/// `buf.len()`.
#[inline(always)]
fn skip_value(buf: &[u8], i: usize) -> usize {
    find(buf, i, |b| b < 0x20 || b == 0x7f, block::value)
}

/// Index of the first ':' at or after `i`, or `buf.len()`.
#[inline(always)]
fn find_colon(buf: &[u8], i: usize) -> usize {
    find(buf, i, |b| b == b':', block::colon)
}

/// Every byte is a `tchar` (no early exit: a short name costs a few table loads).
#[inline(always)]
fn all_tchar(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| ok & TCHAR[b as usize])
}

/// Parses the request head of region `at` if it is in the fast path's language; `None`
/// leaves it to the general path (nothing has been written then).
#[inline]
pub(crate) fn request(
    at: &Region<'_>,
    out: &mut [HeaderSpan],
    head: &mut Head,
) -> Option<Result<(), Full>> {
    let (input, start, end, cfg) = (at.input, at.start, at.end, at.cfg);
    if cfg.allow_bare_lf {
        return None;
    }
    let limit = end.min(start.saturating_add(cfg.max_head_len as usize));
    let buf = input.get(start..limit)?;
    if matches!(buf.first(), None | Some(b'\r' | b'\n')) {
        return None;
    }
    *head = at.unparsed();
    let mut framing = Framing::default();
    let mut deferred: Option<(Error, usize)> = None;
    match scan(
        buf,
        start,
        usize::from(cfg.max_headers),
        {
            let slots = out.len().min(usize::from(cfg.max_headers));
            out.get_mut(..slots).unwrap_or(&mut [])
        },
        head,
        &mut framing,
        &mut deferred,
    ) {
        Scan::Done(n) => {
            head.len = n as u32;
            let method = head.method.of(input);
            let target = head.target.of(input);
            let result = check_request_line(input, method, target, true, head)
                .and_then(|()| deferred.map_or(Ok(()), Err))
                .and_then(|()| framing.finish(Kind::Request, head, start + n - 2));
            if let Err((e, at)) = result {
                fail(head, e, at);
            }
        }
        Scan::Partial => {
            *head = at.unparsed();
            incomplete(at, head);
        }
        Scan::Invalid => {
            *head = at.unparsed();
            reject(head, buf, Kind::Request, start, cfg);
        }
        Scan::Full => return Some(Err(Full)),
    }
    Some(Ok(()))
}

/// Fewer than 10 bytes after the target: `Partial` if they can still become
/// "HTTP/1.x\r\n", else `Invalid`.
#[cold]
fn version_prefix(rest: &[u8]) -> Scan {
    for (k, (&got, &want)) in rest.iter().zip(b"HTTP/1.1\r\n".iter()).enumerate() {
        if got != want && !(k == 7 && got == b'0') {
            return Scan::Invalid;
        }
    }
    Scan::Partial
}

#[inline(always)]
fn scan(
    buf: &[u8],
    base: usize,
    max_headers: usize,
    out: &mut [HeaderSpan],
    head: &mut Head,
    framing: &mut Framing,
    deferred: &mut Option<(Error, usize)>,
) -> Scan {
    // Method: 1*tchar SP ("GET " in one compare: all tchars, then the space).
    let mut i = if buf.starts_with(b"GET ") { 3 } else { 0 };
    while let Some(&b) = buf.get(i) {
        if !TCHAR[b as usize] {
            break;
        }
        i += 1;
    }
    match buf.get(i) {
        None => return Scan::Partial,
        Some(b' ') if i > 0 => {}
        Some(_) => return Scan::Invalid,
    }
    head.method = Span {
        off: base as u32,
        len: i as u32,
    };
    i += 1;

    // Request-target: 1*( %x21-7E ) SP.
    let t0 = i;
    i = skip_target(buf, i);
    match buf.get(i) {
        None => return Scan::Partial,
        Some(b' ') if i > t0 => {}
        Some(_) => return Scan::Invalid,
    }
    head.target = Span {
        off: (base + t0) as u32,
        len: (i - t0) as u32,
    };
    i += 1;

    // "HTTP/1.0" or "HTTP/1.1", then CRLF.
    const LINE_END: &[u8; 10] = b"HTTP/1.1\r\n";
    let rest = buf.get(i..).unwrap_or(&[]);
    let Some(v) = rest.first_chunk::<10>() else {
        return version_prefix(rest);
    };
    let word = u64::from_le_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]);
    // Bit 0 of "HTTP/1.1" ^ "HTTP/1.0" is the minor digit: any other difference is invalid.
    let diff = word ^ u64::from_le_bytes(*b"HTTP/1.1");
    if diff & !(1u64 << 56) != 0 || v[8] != b'\r' || v[9] != b'\n' {
        return Scan::Invalid;
    }
    head.version = u8::from(diff == 0);
    i += LINE_END.len();

    // Field lines.
    let mut count = 0usize;
    loop {
        let line = i;
        match buf.get(i) {
            None => return Scan::Partial,
            Some(b'\r') => {
                return match buf.get(i + 1) {
                    None => Scan::Partial,
                    Some(b'\n') => {
                        head.header_count = count as u32;
                        Scan::Done(i + 2)
                    }
                    Some(_) => Scan::Invalid,
                };
            }
            Some(_) => {}
        }
        // field-name ":"
        i = find_colon(buf, i);
        let name = buf.get(line..i).unwrap_or(&[]);
        // A well-known name is exactly one of ours, so it needs no byte-by-byte check.
        let known = Known::classify_token(name);
        if known.is_none() && !all_tchar(name) {
            return Scan::Invalid;
        }
        if i >= buf.len() {
            return Scan::Partial;
        }
        if i == line {
            return Scan::Invalid;
        }
        let name_end = i;
        i += 1;
        // OWS field-value OWS CRLF (one SP then a value byte is the common case)
        if buf.get(i) == Some(&b' ') {
            i += 1;
        }
        while let Some(b' ' | b'\t') = buf.get(i) {
            i += 1;
        }
        let v0 = i;
        loop {
            i = skip_value(buf, i);
            match buf.get(i) {
                None => return Scan::Partial,
                Some(b'\t') => i += 1,
                Some(b'\r') => break,
                Some(_) => return Scan::Invalid,
            }
        }
        let cr = i;
        match buf.get(i + 1) {
            None => return Scan::Partial,
            Some(b'\n') => {}
            Some(_) => return Scan::Invalid,
        }
        i += 2;
        let mut v1 = cr;
        while v1 > v0 && matches!(buf.get(v1 - 1), Some(b' ' | b'\t')) {
            v1 -= 1;
        }
        // `out` is cut to at most `max_headers` slots, so one check covers both limits.
        let Some(slot) = out.get_mut(count) else {
            // Like httparse: the line after the last slot is read, then refused.
            return if count >= max_headers {
                Scan::Invalid
            } else {
                Scan::Full
            };
        };
        *slot = HeaderSpan {
            name_off: (base + line) as u32,
            name_len: (name_end - line) as u32,
            value_off: (base + v0) as u32,
            value_len: (v1 - v0) as u32,
        };
        if deferred.is_none()
            && let Some(k) = known
        {
            let value = buf.get(v0..v1).unwrap_or(&[]);
            if let Err(e) = framing.known_line(head, count, k, base + line, value, base + v0) {
                // Reported once the head is complete, like the general path.
                *deferred = Some(e);
            }
        }
        count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_agrees_with_a_naive_scan() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for round in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 70) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|k| {
                    let r = x.rotate_left(k as u32 * 7) as u8;
                    if round % 3 == 0 { r } else { b'a' + r % 26 }
                })
                .collect();
            let start = (x >> 40) as usize % (len + 1);
            let naive = |p: fn(u8) -> bool| {
                buf[start..]
                    .iter()
                    .position(|&b| p(b))
                    .map_or(len, |k| start + k)
            };
            assert_eq!(
                skip_value(&buf, start),
                naive(|b| b < 0x20 || b == 0x7f),
                "{buf:?}"
            );
            assert_eq!(
                skip_target(&buf, start),
                naive(|b| !(0x21..=0x7e).contains(&b)),
                "{buf:?}"
            );
            assert_eq!(find_colon(&buf, start), naive(|b| b == b':'), "{buf:?}");
        }
    }
}
