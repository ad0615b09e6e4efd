//! Prometheus text exposition (format 0.0.4) of a snapshot, rendered in pages.
//!
//! Every series becomes one summary:
//!
//! ```text
//! # HELP <name> <help>
//! # TYPE <name> summary
//! <name>{<labels>,quantile="0.5"} 12.5
//! <name>_sum{<labels>} 1234.5
//! <name>_count{<labels>} 99
//! ```
//!
//! `<labels>` comes from the series key:
//! * with [`Config::key_label`] set (the default `key`): `key="<key>"`, the key escaped as a
//!   label value (`\\`, `\"`, `\n`); a `u64` key is written in decimal;
//! * with `key_label` empty, byte keys *are* the label list (`route="/a",code="200"`, checked
//!   when the series is made) and `u64` keys become `key="<n>"`;
//! * the overflow series is `otel_metric_overflow="true"` (OpenTelemetry's name for it).
//!
//! `# HELP` is written only when the help text is not empty. Values use Prometheus spellings
//! `NaN`, `+Inf`, `-Inf`.

use super::Error;
use super::config::Config;
use super::snapshot::{KeyKind, Snapshot};
use std::io::Write;

/// Where a paged rendering stands; start with `PrometheusCursor::default()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrometheusCursor {
    header_done: bool,
    row: usize,
}

impl PrometheusCursor {
    /// The cursor as one number (0 = nothing rendered yet, `k + 1` = header and `k` rows done),
    /// for callers that keep it outside Rust.
    pub fn position(&self) -> u64 {
        if self.header_done {
            self.row as u64 + 1
        } else {
            0
        }
    }

    /// The cursor at a [`position`](Self::position).
    pub fn from_position(p: u64) -> PrometheusCursor {
        match p {
            0 => PrometheusCursor::default(),
            p => PrometheusCursor {
                header_done: true,
                row: usize::try_from(p - 1).unwrap_or(usize::MAX),
            },
        }
    }

    /// Whether every row of `snap` has been rendered.
    pub fn done(&self, snap: &Snapshot) -> bool {
        self.header_done && self.row >= snap.len()
    }
}

/// Renders whole units (the header, then one series at a time) of `snap` into `out` from
/// `cursor` on, until the next unit does not fit; returns the bytes written and advances the
/// cursor. `scratch` is a reusable buffer. [`Error::BufferTooSmall`] if `out` cannot hold even
/// the next unit (64 KiB always suffices).
pub fn render_prometheus(
    cfg: &Config,
    snap: &Snapshot,
    cursor: &mut PrometheusCursor,
    out: &mut [u8],
    scratch: &mut Vec<u8>,
) -> Result<usize, Error> {
    let mut written = 0;
    loop {
        scratch.clear();
        if !cursor.header_done {
            header(cfg, scratch);
        } else if cursor.row < snap.len() {
            row(cfg, snap, cursor.row, scratch);
        } else {
            return Ok(written);
        }
        let Some(dst) = out.get_mut(written..written + scratch.len()) else {
            return if written == 0 {
                Err(Error::BufferTooSmall)
            } else {
                Ok(written)
            };
        };
        dst.copy_from_slice(scratch);
        written += scratch.len();
        if cursor.header_done {
            cursor.row += 1;
        } else {
            cursor.header_done = true;
        }
    }
}

/// Appends the whole exposition of `snap` to `out`.
pub fn render_prometheus_all(cfg: &Config, snap: &Snapshot, out: &mut Vec<u8>) {
    header(cfg, out);
    for i in 0..snap.len() {
        row(cfg, snap, i, out);
    }
}

fn header(cfg: &Config, out: &mut Vec<u8>) {
    if !cfg.help.is_empty() {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(cfg.name.as_bytes());
        out.push(b' ');
        for &b in cfg.help.as_bytes() {
            if b == b'\\' {
                out.extend_from_slice(b"\\\\");
            } else {
                out.push(b);
            }
        }
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(cfg.name.as_bytes());
    out.extend_from_slice(b" summary\n");
}

fn labels(cfg: &Config, snap: &Snapshot, i: usize, out: &mut Vec<u8>) {
    let label = if cfg.key_label.is_empty() {
        "key"
    } else {
        cfg.key_label.as_str()
    };
    match snap.kind(i) {
        Some(KeyKind::Overflow) => out.extend_from_slice(b"otel_metric_overflow=\"true\""),
        Some(KeyKind::U64) => {
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(b"=\"");
            uint(snap.raw_keys[i], out);
            out.push(b'"');
        }
        Some(KeyKind::Bytes) if cfg.key_label.is_empty() => out.extend_from_slice(snap.key(i)),
        Some(KeyKind::Bytes) => {
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(b"=\"");
            for &b in snap.key(i) {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    _ => out.push(b),
                }
            }
            out.push(b'"');
        }
        None => {}
    }
}

/// Decimal digits of `v`, without the formatting machinery.
fn uint(mut v: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// A quantile estimate to 7 significant digits: the estimate is only within a relative α
/// (>= 1e-4) of the true value, so the digits past the 7th (worth < 5e-7 relative) carry
/// nothing, and skipping shortest-representation formatting makes exposition several times
/// faster. Non-finite values and integers go through [`float`].
fn float_7(v: f64, out: &mut Vec<u8>) {
    if !v.is_finite() || v == 0.0 || v.fract() == 0.0 {
        return float(v, out);
    }
    let a = v.abs();
    let mut e10 = a.log10().floor() as i32;
    // 7 digits in [1_000_000, 9_999_999]; the log10 estimate can be off by one at boundaries.
    let mut m = (a * 10f64.powi(6 - e10)).round();
    if m >= 9_999_999.5 {
        e10 += 1;
        m = (a * 10f64.powi(6 - e10)).round();
    } else if m < 999_999.5 {
        e10 -= 1;
        m = (a * 10f64.powi(6 - e10)).round();
    }
    if !(999_999.5..9_999_999.5).contains(&m) {
        return float(v, out);
    }
    let mut digits = [0u8; 7];
    let mut m = m as u64;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (m % 10) as u8;
        m /= 10;
    }
    let mut len = 7;
    while len > 1 && digits[len - 1] == b'0' {
        len -= 1;
    }
    let digits = &digits[..len];
    if v < 0.0 {
        out.push(b'-');
    }
    if (-5..15).contains(&e10) {
        if e10 < 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-e10 - 1) as usize));
            out.extend_from_slice(digits);
        } else {
            let int_len = e10 as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        if e10 < 0 {
            out.push(b'-');
        }
        uint(u64::from(e10.unsigned_abs()), out);
    }
}

fn float(v: f64, out: &mut Vec<u8>) {
    // Integral values (common for sums and counters) skip float formatting.
    if v.fract() == 0.0 && v.abs() < 1e15 {
        if v < 0.0 {
            out.push(b'-');
        }
        uint(v.abs() as u64, out);
        out.extend_from_slice(b".0");
        return;
    }
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else {
        let _ = write!(out, "{v:?}");
    }
}

fn row(cfg: &Config, snap: &Snapshot, i: usize, out: &mut Vec<u8>) {
    let name = cfg.name.as_bytes();
    // The labels are written once, repeated per line from there, and cut out at the end.
    let start = out.len();
    labels(cfg, snap, i, out);
    let l = start..out.len();
    let has_labels = !l.is_empty();
    for j in 0..snap.quantiles().len() {
        out.extend_from_slice(name);
        out.push(b'{');
        if has_labels {
            out.extend_from_within(l.clone());
            out.push(b',');
        }
        out.extend_from_slice(snap.quantile_label(j));
        float_7(snap.quantile(j)[i], out);
        out.push(b'\n');
    }
    for (suffix, is_sum) in [(&b"_sum"[..], true), (&b"_count"[..], false)] {
        out.extend_from_slice(name);
        out.extend_from_slice(suffix);
        if has_labels {
            out.push(b'{');
            out.extend_from_within(l.clone());
            out.push(b'}');
        }
        out.push(b' ');
        if is_sum {
            float(snap.sums[i], out);
        } else {
            uint(snap.counts[i], out);
        }
        out.push(b'\n');
    }
    out.drain(l);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_digit_floats_parse_back_within_5e_7() {
        let mut x = 1.234_567_891e-300_f64;
        let mut out = Vec::new();
        while x < 1e300 {
            for v in [x, -x, x * 1.000_000_1, 0.1 + x.fract()] {
                out.clear();
                float_7(v, &mut out);
                let text = std::str::from_utf8(&out).unwrap();
                let back: f64 = text.parse().unwrap();
                assert!(((back - v) / v).abs() <= 5e-7, "{v} -> {text}");
            }
            x *= 3.7;
        }
        for (v, want) in [
            (0.5, "0.5"),
            (12.25, "12.25"),
            (2.0, "2.0"),
            (1234567.5, "1234568.0"),
            (0.000123, "0.000123"),
            (1.5e-7, "1.5e-7"),
            (f64::NAN, "NaN"),
        ] {
            out.clear();
            float_7(v, &mut out);
            assert_eq!(std::str::from_utf8(&out).unwrap(), want);
        }
    }
}
