//! The two text formats: Prometheus text 0.0.4 and OpenMetrics 1.0.
//!
//! Per family a `# HELP` line (when there is help) and a `# TYPE` line, then per series:
//!
//! | type | text 0.0.4 | OpenMetrics 1.0 |
//! |---|---|---|
//! | summary | `x{..,quantile="q"}`, `x_sum`, `x_count` | the same |
//! | histogram | `histogram`: `x_bucket{..,le="+Inf"}`, `x_sum`, `x_count` | windowed: `gaugehistogram` with `_bucket`, `_gcount`, `_gsum`; cumulative: `histogram` |
//! | counter | `x` (the name as given) | family `x` without `_total`, sample `x_total` |
//! | gauge | `x` | `x` |
//!
//! OpenMetrics has rules the text format has not: counter-like values (counter totals, summary
//! and histogram sums) are neither negative nor NaN, a `_sum` goes with every `_count`, and
//! summary quantiles are never negative. So a series whose sum breaks the rule leaves out its
//! `_sum` and `_count` (a counter: the whole series), and a negative quantile is left out. And
//! a counter `x` (sample `x_total`) or `x_total` (family `x`) beside a family named `x_total`
//! or `x` would be one name twice: that counter family is left out ([`openmetrics_clash`]).
//! HELP escapes `\\` and `\n`, and in OpenMetrics `\"` too; label values escape `\\`, `\"` and
//! `\n` in both.

use super::config::{KeyFormat, MetricType};
use super::expo_num::{float, float_7, uint};
use super::expo_row::{RowSource, Totals};
use super::names::{OVERFLOW_LABEL, escape_help, escape_label_value, split_series};
use super::snapshot::KeyKind;

/// Which text format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Text,
    OpenMetrics,
}

/// The family name a type line names: OpenMetrics counters drop a `_total` suffix (their
/// sample adds it back).
pub(crate) fn family_name(name: &[u8], t: MetricType, d: Dialect) -> &[u8] {
    match (t, d) {
        (MetricType::Counter, Dialect::OpenMetrics) => name.strip_suffix(b"_total").unwrap_or(name),
        _ => name,
    }
}

/// Whether an OpenMetrics counter family of metric name `name` would clash with the family
/// `other` names (`has(other)` says whether there is one): `x_total` is the family `x`, which
/// must not exist besides; `x` has the sample `x_total`, which no family may be named. Such a
/// counter is left out of OpenMetrics expositions (text 0.0.4 and protobuf keep it).
pub(crate) fn openmetrics_clash(name: &[u8], has: impl Fn(&[u8]) -> bool) -> bool {
    match name.strip_suffix(b"_total") {
        Some(base) => has(base),
        None => has(&[name, b"_total"].concat()),
    }
}

/// Appends the `# HELP` and `# TYPE` lines of a family.
pub(crate) fn header(
    out: &mut Vec<u8>,
    name: &[u8],
    t: MetricType,
    help: &str,
    windowed: bool,
    d: Dialect,
) {
    let family = family_name(name, t, d);
    if !help.is_empty() {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(family);
        out.push(b' ');
        escape_help(help.as_bytes(), d == Dialect::OpenMetrics, out);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(family);
    out.extend_from_slice(match (t, d) {
        (MetricType::Summary, _) => b" summary\n",
        (MetricType::Histogram, Dialect::OpenMetrics) if windowed => b" gaugehistogram\n",
        (MetricType::Histogram, _) => b" histogram\n",
        (MetricType::Counter, _) => b" counter\n",
        (MetricType::Gauge, _) => b" gauge\n",
    });
}

/// Appends the labels of row `i` (without braces) to `out`.
pub(crate) fn labels(src: &RowSource<'_>, i: usize, out: &mut Vec<u8>) {
    let (cfg, snap) = (src.cfg, src.snap);
    match snap.kind(i) {
        Some(KeyKind::Overflow) => {
            out.extend_from_slice(OVERFLOW_LABEL);
            out.extend_from_slice(b"=\"true\"");
        }
        Some(KeyKind::U64) => {
            out.extend_from_slice(cfg.key_label.as_bytes());
            out.extend_from_slice(b"=\"");
            uint(snap.raw_keys()[i], out);
            out.push(b'"');
        }
        Some(KeyKind::Bytes) => match cfg.key_format {
            KeyFormat::Value => {
                out.extend_from_slice(cfg.key_label.as_bytes());
                out.extend_from_slice(b"=\"");
                escape_label_value(snap.key(i), out);
                out.push(b'"');
            }
            KeyFormat::Labels => out.extend_from_slice(snap.key(i)),
            KeyFormat::Series => {
                if let Some((_, l)) = split_series(snap.key(i)) {
                    out.extend_from_slice(l);
                }
            }
        },
        None => {}
    }
}

/// One sample line: `<name><suffix>{<labels>[,<extra>]} ` then the value written by `value`.
fn line(
    out: &mut Vec<u8>,
    name: &[u8],
    suffix: &[u8],
    labels: &[u8],
    extra: &[u8],
    value: impl FnOnce(&mut Vec<u8>),
) {
    out.extend_from_slice(name);
    out.extend_from_slice(suffix);
    if !labels.is_empty() || !extra.is_empty() {
        out.push(b'{');
        out.extend_from_slice(labels);
        if !labels.is_empty() && !extra.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(extra);
        out.push(b'}');
    }
    out.push(b' ');
    value(out);
    out.push(b'\n');
}

/// Appends the sample lines of row `i` of family `name` of type `t`. `scratch` holds the
/// labels while the lines are written.
pub(crate) fn row(
    out: &mut Vec<u8>,
    src: &RowSource<'_>,
    name: &[u8],
    t: MetricType,
    i: usize,
    d: Dialect,
    scratch: &mut Vec<u8>,
) {
    let snap = src.snap;
    let om = d == Dialect::OpenMetrics;
    scratch.clear();
    labels(src, i, scratch);
    let l = &scratch[..];
    let Totals { count, sum } = src.totals(i);
    // Counter-like values below zero or NaN are not OpenMetrics.
    let sum_ok = !om || sum >= 0.0;
    match t {
        MetricType::Summary => {
            for j in 0..snap.quantiles().len() {
                let v = snap.quantile(j)[i];
                if om && v < 0.0 {
                    continue;
                }
                // `quantile="<q>"} ` less the brace and space (the line adds them).
                let ql = snap.quantile_label(j);
                let ql = &ql[..ql.len().saturating_sub(2)];
                line(out, name, b"", l, ql, |o| float_7(v, o));
            }
            if sum_ok {
                line(out, name, b"_sum", l, b"", |o| float(sum, o));
                line(out, name, b"_count", l, b"", |o| uint(count, o));
            }
        }
        MetricType::Histogram => {
            // The window's count and sum: what its buckets (the native histogram) hold.
            let Totals { count, sum } = src.window(i);
            let sum_ok = !om || sum >= 0.0;
            let gauge = om && src.windowed;
            line(out, name, b"_bucket", l, b"le=\"+Inf\"", |o| uint(count, o));
            let (c, s) = if gauge {
                (&b"_gcount"[..], &b"_gsum"[..])
            } else {
                (&b"_count"[..], &b"_sum"[..])
            };
            if sum_ok {
                line(out, name, c, l, b"", |o| uint(count, o));
                line(out, name, s, l, b"", |o| float(sum, o));
            }
        }
        MetricType::Counter => {
            if !sum_ok {
                return;
            }
            let (n, suffix) = match (om, name.strip_suffix(b"_total")) {
                (true, None) => (name, &b"_total"[..]),
                _ => (name, &b""[..]),
            };
            line(out, n, suffix, l, b"", |o| float(sum, o));
        }
        MetricType::Gauge => {
            if let Some(v) = src.gauge(i) {
                line(out, name, b"", l, b"", |o| float(v, o));
            }
        }
    }
}
