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
        float(snap.quantile(j)[i], out);
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
