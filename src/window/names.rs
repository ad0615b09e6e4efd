//! The Prometheus data model's rules for names and keys, checked once per new series so that
//! no exposition can carry an invalid or ambiguous series.
//!
//! * Metric names match `[a-zA-Z_:][a-zA-Z0-9_:]*`; label names `[a-zA-Z_][a-zA-Z0-9_]*`. Both
//!   are at most [`MAX_NAME_LEN`] bytes, and neither starts with `__`.
//! * Label names starting with `__` are reserved (Prometheus uses them internally: `__name__`
//!   would rename the series), and so are `quantile` and `le`, which summaries and histograms
//!   add themselves, and `otel_metric_overflow`, which marks the overflow series.
//! * Metric names of series keys may not end in a suffix that summaries and histograms add
//!   (`_sum`, `_count`, `_bucket`, `_gsum`, `_gcount`, `_created`): a series `x_count` beside a
//!   summary `x` would be two series of one name in the exposition.
//! * A label list may not use the aggregator's key label, which `u64` keys render under.
//! * Label lists name each label once, in strictly ascending byte order: the order makes every
//!   label set one key (so one series), and a repeated name is refused by the same comparison.
//! * Label values are UTF-8 with `\\`, `\"` and `\n` escaped as in the text format (other
//!   characters, control characters included, stand for themselves); a value is stored as
//!   written and renders back byte for byte.

/// The longest metric or label name accepted.
pub const MAX_NAME_LEN: usize = 256;

/// Suffixes that summaries and histograms append to their family name.
const RESERVED_SUFFIXES: [&[u8]; 6] = [
    b"_sum",
    b"_count",
    b"_bucket",
    b"_gsum",
    b"_gcount",
    b"_created",
];

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, at most [`MAX_NAME_LEN`] bytes, not starting with `__`
/// (reserved, as for label names).
pub(crate) fn valid_metric_name(s: &[u8]) -> bool {
    if s.starts_with(b"__") {
        return false;
    }
    match s.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':' => {}
        _ => return false,
    }
    s.len() <= MAX_NAME_LEN
        && s.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// Whether a metric name ends in a suffix summaries and histograms add.
pub(crate) fn has_reserved_suffix(name: &[u8]) -> bool {
    RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, at most [`MAX_NAME_LEN`] bytes.
pub(crate) fn valid_label_name(s: &[u8]) -> bool {
    match s.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    s.len() <= MAX_NAME_LEN && s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// A label name a caller may use: valid, not `__`-prefixed, not `quantile` or `le`, and not
/// [`OVERFLOW_LABEL`], which marks the overflow series.
pub(crate) fn valid_user_label_name(s: &[u8]) -> bool {
    valid_label_name(s)
        && !s.starts_with(b"__")
        && s != b"quantile"
        && s != b"le"
        && s != OVERFLOW_LABEL
}

/// The label of the overflow series (`otel_metric_overflow="true"`, OpenTelemetry's name).
pub(crate) const OVERFLOW_LABEL: &[u8] = b"otel_metric_overflow";

/// Checks a label list without braces (`a="1",b="2"`, possibly empty): see the module docs.
/// No label may be named `reserved` (when it is not empty). The caller has checked that the
/// bytes are UTF-8.
pub(crate) fn valid_label_list(s: &[u8], reserved: &[u8]) -> bool {
    let mut i = 0;
    let mut prev: &[u8] = &[];
    while i < s.len() {
        let start = i;
        let Some(eq) = memchr::memchr(b'=', &s[i..]) else {
            return false;
        };
        let name = &s[start..start + eq];
        // Strictly ascending: a repeated name compares equal and is refused.
        if !valid_user_label_name(name) || (start > 0 && name <= prev) || name == reserved {
            return false;
        }
        prev = name;
        i = start + eq + 1;
        if s.get(i) != Some(&b'"') {
            return false;
        }
        i += 1;
        loop {
            // Only `"`, `\` and a raw newline need a look; memchr3 skips the rest.
            let Some(k) = memchr::memchr3(b'"', b'\\', b'\n', &s[i..]) else {
                return false;
            };
            i += k;
            match s[i] {
                b'"' => break,
                b'\\' => match s.get(i + 1) {
                    Some(b'\\' | b'"' | b'n') => i += 2,
                    _ => return false,
                },
                _ => return false,
            }
        }
        i += 1;
        match s.get(i) {
            None => return true,
            Some(b',') if i + 1 < s.len() => i += 1,
            _ => return false,
        }
    }
    true
}

/// Splits a series key `name` or `name{labels}` into its metric name and label list (without
/// braces; empty when there is none). `None` if the key has no valid shape; `name{}` has none
/// (it would be a second key of the series `name`).
pub(crate) fn split_series(key: &[u8]) -> Option<(&[u8], &[u8])> {
    match memchr::memchr(b'{', key) {
        None => Some((key, &[])),
        Some(at) if key.last() == Some(&b'}') && at + 2 < key.len() => {
            Some((&key[..at], &key[at + 1..key.len() - 1]))
        }
        Some(_) => None,
    }
}

/// Checks a series key (`name` or `name{labels}`) against every rule of the module docs, no
/// label named `reserved`. The caller has checked that the bytes are UTF-8.
pub(crate) fn valid_series_key(key: &[u8], reserved: &[u8]) -> bool {
    match split_series(key) {
        Some((name, labels)) => {
            valid_metric_name(name)
                && !has_reserved_suffix(name)
                && valid_label_list(labels, reserved)
        }
        None => false,
    }
}

/// Appends label value `v` (raw bytes) escaped for the text formats: `\\`, `\"`, `\n`.
pub(crate) fn escape_label_value(v: &[u8], out: &mut Vec<u8>) {
    escape(v, true, out);
}

/// Appends the raw value of a label value written with text-format escapes (as a valid label
/// list holds it).
pub(crate) fn unescape_label_value(v: &[u8], out: &mut Vec<u8>) {
    let mut rest = v;
    while let Some(k) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..k]);
        out.push(match rest.get(k + 1) {
            Some(b'n') => b'\n',
            Some(&c) => c,
            None => b'\\',
        });
        rest = rest.get(k + 2..).unwrap_or(&[]);
    }
    out.extend_from_slice(rest);
}

/// The `(name, escaped value)` pairs of a valid label list, in order.
pub(crate) fn labels(list: &[u8]) -> LabelIter<'_> {
    LabelIter { rest: list }
}

/// Iterator of [`labels`].
pub(crate) struct LabelIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest;
        let eq = memchr::memchr(b'=', s)?;
        let body = s.get(eq + 2..)?;
        // The closing quote is the first `"` not escaped by a backslash.
        let mut i = 0;
        loop {
            let k = memchr::memchr2(b'"', b'\\', &body[i..])?;
            i += k;
            if body[i] == b'"' {
                break;
            }
            i += 2;
        }
        let value = &body[..i];
        self.rest = body.get(i + 2..).unwrap_or(&[]);
        Some((&s[..eq], value))
    }
}

/// Appends `help` escaped for text format 0.0.4 HELP lines (`\\`, `\n`); with `quote` (the
/// OpenMetrics rule) `"` too.
pub(crate) fn escape_help(help: &[u8], quote: bool, out: &mut Vec<u8>) {
    escape(help, quote, out);
}

/// Appends `raw` with `\\` and newlines escaped, and `"` too when `quote`: the one escaping
/// of the text formats, which label values and HELP lines share.
fn escape(raw: &[u8], quote: bool, out: &mut Vec<u8>) {
    let mut rest = raw;
    loop {
        let hit = if quote {
            memchr::memchr3(b'\\', b'\n', b'"', rest)
        } else {
            memchr::memchr2(b'\\', b'\n', rest)
        };
        let Some(k) = hit else { break };
        out.extend_from_slice(&rest[..k]);
        out.extend_from_slice(match rest[k] {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            _ => b"\\n",
        });
        rest = &rest[k + 1..];
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `valid` accepts every input of `ok` and refuses every one of `bad`.
    fn sorts(valid: impl Fn(&[u8]) -> bool, ok: &[&[u8]], bad: &[&[u8]]) {
        for (inputs, want) in [(ok, true), (bad, false)] {
            for &input in inputs {
                assert_eq!(valid(input), want, "{:?}", String::from_utf8_lossy(input));
            }
        }
    }

    #[test]
    fn label_lists() {
        let ok: &[&[u8]] = &[
            &b""[..],
            b"a=\"\"",
            b"code=\"200\",route=\"/x\"",
            b"a=\"q\\\"\\\\\\n\"",
            b"a=\"tab\there\x01\x7f\"",
            b"_a=\"1\",a=\"2\"",
        ];
        let bad: &[&[u8]] = &[
            &b"a"[..],
            b"a=",
            b"a=\"",
            b"a=\"x\",",
            b"1a=\"x\"",
            b"a=\"x\"b",
            b"quantile=\"1\"",
            b"le=\"1\"",
            b"__name__=\"evil\"",
            b"__x=\"1\"",
            b"otel_metric_overflow=\"true\"",
            b"a=\"\\x\"",
            b"a=\"raw\nnewline\"",
            b"route=\"/a\",route=\"/b\"",
            b"route=\"/x\",code=\"200\"",
            b",a=\"1\"",
        ];
        sorts(|s| valid_label_list(s, b""), ok, bad);
    }

    #[test]
    fn series_keys() {
        let ok: &[&[u8]] = &[
            &b"up"[..],
            b"http_latency_seconds{route=\"/a\"}",
            b"a:b{x=\"}\"}",
            b"x_total",
        ];
        let bad: &[&[u8]] = &[
            &b""[..],
            b"{a=\"1\"}",
            b"x{}",
            b"x{a=\"1\"",
            b"1x",
            b"x-y",
            b"x_count",
            b"x_sum{a=\"1\"}",
            b"x_bucket",
            b"x{__name__=\"evil\"}",
            b"x{a=\"1\"}y",
            b"__name__",
        ];
        sorts(|s| valid_series_key(s, b""), ok, bad);
        assert_eq!(
            split_series(b"a{b=\"1\"}"),
            Some((&b"a"[..], &b"b=\"1\""[..]))
        );
    }

    #[test]
    fn escapes_round_trip_and_labels_iterate() {
        let raw = b"a\\b\"c\nd\te\x00";
        let mut esc = Vec::new();
        escape_label_value(raw, &mut esc);
        assert_eq!(esc, b"a\\\\b\\\"c\\nd\te\x00");
        let mut back = Vec::new();
        unescape_label_value(&esc, &mut back);
        assert_eq!(back, raw);
        let list = b"a=\"x\\\"y\",b=\"\",c=\"\\\\\"";
        assert!(valid_label_list(list, b""));
        assert!(!valid_label_list(list, b"b"));
        assert!(!valid_series_key(b"x{b=\"1\"}", b"b"));
        let got: Vec<_> = labels(list).collect();
        assert_eq!(
            got,
            vec![
                (&b"a"[..], &b"x\\\"y"[..]),
                (&b"b"[..], &b""[..]),
                (&b"c"[..], &b"\\\\"[..])
            ]
        );
        let mut h = Vec::new();
        escape_help(b"a\\b\nc\"d\te", false, &mut h);
        assert_eq!(h, b"a\\\\b\\nc\"d\te");
        h.clear();
        escape_help(b"a\"b", true, &mut h);
        assert_eq!(h, b"a\\\"b");
    }
}
