//! The Prometheus protobuf format (`application/vnd.google.protobuf;
//! proto=io.prometheus.client.MetricFamily; encoding=delimited`), encoded by hand: a stream of
//! `MetricFamily` messages of `io/prometheus/client/metrics.proto` (client_model), each
//! preceded by its length as a varint.
//!
//! A family's series are split over as many `MetricFamily` messages as it takes to keep each
//! under about [`CHUNK`](super::expo::CHUNK) bytes (so rendering never buffers a whole family);
//! the first message of a family carries its help text, the others only name and type. Decoders
//! (Prometheus' scrape, `expfmt`) read each message on its own.
//!
//! Histogram families are native histograms: `schema`, `zero_threshold`, `zero_count`, and
//! positive and negative spans with delta-encoded counts (packed `sint64`), exactly the
//! sketch's buckets; windowed aggregators mark them `GAUGE_HISTOGRAM` (the window's buckets
//! go down as well as up), cumulative ones `HISTOGRAM`. Prometheus reads schemas up to
//! [`MAX_PROMETHEUS_SCHEMA`]: sketches of a finer schema (α below 0.0013538) are merged down
//! to it exactly, bucket pairs into one per step, as Prometheus itself reduces resolution.
//! Without buckets in the snapshot (`SnapshotOptions::buckets`) or sketches, a histogram is a
//! classic one of `sample_count` and `sample_sum` only.

use super::config::{KeyFormat, MetricType};
use super::expo_row::{NativeRow, RowSource, Totals};
use super::names::{OVERFLOW_LABEL, labels, split_series, unescape_label_value};
use super::snapshot::KeyKind;

/// The finest schema Prometheus reads.
pub(crate) const MAX_PROMETHEUS_SCHEMA: i32 = 8;

/// Reusable buffers of the protobuf writer.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub labels: Vec<u8>,
    index: Vec<i32>,
    count: Vec<u64>,
}

/// Protobuf wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;

/// Appends `v` as a varint.
#[inline]
pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn tag(out: &mut Vec<u8>, field: u32, wire: u32) {
    // Every field number here is below 16: the tag is one byte.
    out.push((field << 3 | wire) as u8);
}

#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    tag(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

#[inline]
fn uint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, VARINT);
    varint(out, v);
}

#[inline]
fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, LEN);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Starts a length-delimited field whose length is not known yet: one byte is reserved for
/// it (most nested messages are shorter than 128 bytes); [`close`] writes it.
#[inline]
fn open(out: &mut Vec<u8>, field: u32) -> usize {
    tag(out, field, LEN);
    out.push(0);
    out.len()
}

/// Ends the field [`open`] started at `start`, moving its content when the length needs
/// more than one byte.
#[inline]
fn close(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    if len < 0x80 {
        out[start - 1] = len as u8;
        return;
    }
    let mut v = Vec::with_capacity(10);
    varint(&mut v, len as u64);
    out.splice(start - 1..start, v);
}

/// `MetricType` of client_model for a family.
fn wire_type(t: MetricType, windowed: bool) -> u64 {
    match t {
        MetricType::Counter => 0,
        MetricType::Gauge => 1,
        MetricType::Summary => 2,
        MetricType::Histogram if windowed => 5,
        MetricType::Histogram => 4,
    }
}

/// Appends the fields of a `MetricFamily` that precede its metrics (name, help when
/// `help` is not empty, type).
pub(crate) fn family_fields(
    out: &mut Vec<u8>,
    name: &[u8],
    help: &str,
    t: MetricType,
    windowed: bool,
) {
    bytes_field(out, 1, name);
    if !help.is_empty() {
        bytes_field(out, 2, help.as_bytes());
    }
    uint_field(out, 3, wire_type(t, windowed));
}

fn label_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    let at = open(out, 1);
    bytes_field(out, 1, name);
    bytes_field(out, 2, value);
    close(out, at);
}

/// Appends the `LabelPair`s of row `i`, label values unescaped (`scratch` holds them).
fn row_labels(out: &mut Vec<u8>, src: &RowSource<'_>, i: usize, scratch: &mut Vec<u8>) {
    let (cfg, snap) = (src.cfg, src.snap);
    let list = match snap.kind(i) {
        Some(KeyKind::Overflow) => return label_pair(out, OVERFLOW_LABEL, b"true"),
        Some(KeyKind::U64) => {
            scratch.clear();
            super::expo_num::uint(snap.raw_keys()[i], scratch);
            return label_pair(out, cfg.key_label.as_bytes(), scratch);
        }
        Some(KeyKind::Bytes) => match cfg.key_format {
            KeyFormat::Value => return label_pair(out, cfg.key_label.as_bytes(), snap.key(i)),
            KeyFormat::Labels => snap.key(i),
            KeyFormat::Series => split_series(snap.key(i)).map_or(&b""[..], |(_, l)| l),
        },
        None => return,
    };
    for (name, value) in labels(list) {
        if memchr::memchr(b'\\', value).is_none() {
            label_pair(out, name, value);
        } else {
            scratch.clear();
            unescape_label_value(value, scratch);
            label_pair(out, name, scratch);
        }
    }
}

/// Appends the native histogram fields of `h` (inside a `Histogram` message), at a schema of
/// at most [`MAX_PROMETHEUS_SCHEMA`].
fn native_fields(out: &mut Vec<u8>, h: &NativeRow<'_>, scratch: &mut Scratch) {
    let schema = h.schema.min(MAX_PROMETHEUS_SCHEMA);
    tag(out, 5, VARINT);
    varint(out, zigzag(i64::from(schema)));
    double(out, 6, h.zero_threshold);
    uint_field(out, 7, h.zero_count);
    if h.neg_index.is_empty() && h.pos_index.is_empty() && h.zero_threshold == 0.0 {
        // An empty native histogram is told from a classic one by a span of no buckets.
        let at = open(out, 12);
        close(out, at);
    }
    let shift = (h.schema - schema) as u32;
    for (index, count, span_field, delta_field) in [
        (h.neg_index, h.neg_count, 9, 10),
        (h.pos_index, h.pos_count, 12, 13),
    ] {
        if shift == 0 {
            buckets(out, span_field, delta_field, index, count);
        } else {
            downscale(index, count, shift, scratch);
            buckets(out, span_field, delta_field, &scratch.index, &scratch.count);
        }
    }
}

/// Merges ascending buckets into the schema `shift` steps coarser: bucket `i` (upper bound
/// `base^i`) lands in `ceil(i / 2^shift)`, the bucket of the coarser schema that holds it.
fn downscale(index: &[i32], count: &[u64], shift: u32, scratch: &mut Scratch) {
    scratch.index.clear();
    scratch.count.clear();
    let add = (1i64 << shift) - 1;
    for (&i, &c) in index.iter().zip(count) {
        let j = ((i64::from(i) + add) >> shift) as i32;
        if scratch.index.last() == Some(&j) {
            let last = scratch.count.len() - 1;
            scratch.count[last] = scratch.count[last].saturating_add(c);
        } else {
            scratch.index.push(j);
            scratch.count.push(c);
        }
    }
}

/// Spans (field `span_field`) and packed count deltas (field `delta_field`) of buckets with
/// ascending indices `index` and counts `count`.
fn buckets(out: &mut Vec<u8>, span_field: u32, delta_field: u32, index: &[i32], count: &[u64]) {
    if index.is_empty() {
        return;
    }
    // Spans: runs of consecutive indices; a span's offset is the gap since the previous one.
    let mut run_start = 0;
    let mut prev_end = 0i64;
    for k in 1..=index.len() {
        if k == index.len() || index[k] != index[k - 1] + 1 {
            let first = i64::from(index[run_start]);
            let offset = if run_start == 0 {
                first
            } else {
                first - prev_end
            };
            let at = open(out, span_field);
            tag(out, 1, VARINT);
            varint(out, zigzag(offset));
            uint_field(out, 2, (k - run_start) as u64);
            close(out, at);
            prev_end = i64::from(index[k - 1]) + 1;
            run_start = k;
        }
    }
    let at = open(out, delta_field);
    let mut prev = 0i64;
    for &c in count {
        // Counts fit i64 (they are sample counts); the delta of two of them fits too.
        let c = c.min(i64::MAX as u64) as i64;
        varint(out, zigzag(c.wrapping_sub(prev)));
        prev = c;
    }
    close(out, at);
}

/// Appends row `i` as one `Metric` (field 4 of `MetricFamily`); `false` (nothing appended)
/// when the row has no value of its type (a gauge without samples in the window).
pub(crate) fn row(
    out: &mut Vec<u8>,
    src: &RowSource<'_>,
    t: MetricType,
    i: usize,
    scratch: &mut Scratch,
) -> bool {
    let gauge = match t {
        MetricType::Gauge => match src.gauge(i) {
            Some(v) => v,
            None => return false,
        },
        _ => 0.0,
    };
    let snap = src.snap;
    let Totals { count, sum } = src.totals(i);
    let metric = open(out, 4);
    row_labels(out, src, i, &mut scratch.labels);
    match t {
        MetricType::Gauge => {
            let at = open(out, 2);
            double(out, 1, gauge);
            close(out, at);
        }
        MetricType::Counter => {
            let at = open(out, 3);
            double(out, 1, sum);
            close(out, at);
        }
        MetricType::Summary => {
            let at = open(out, 4);
            uint_field(out, 1, count);
            double(out, 2, sum);
            for (j, &q) in snap.quantiles().iter().enumerate() {
                let qa = open(out, 3);
                double(out, 1, q);
                double(out, 2, snap.quantile(j)[i]);
                close(out, qa);
            }
            close(out, at);
        }
        MetricType::Histogram => {
            // The window's count and sum: what its buckets hold.
            let w = src.window(i);
            let at = open(out, 7);
            uint_field(out, 1, w.count);
            double(out, 2, w.sum);
            if let Some(h) = src.native(i) {
                native_fields(out, &h, scratch);
            }
            close(out, at);
        }
    }
    close(out, metric);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_zigzag_and_long_fields() {
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
        let mut out = vec![9];
        let at = open(&mut out, 2);
        out.extend(std::iter::repeat_n(7u8, 200));
        close(&mut out, at);
        assert_eq!(&out[..4], &[9, 0x12, 0xc8, 0x01]);
        assert_eq!(out.len(), 4 + 200);
    }

    #[test]
    fn downscaling_merges_bucket_pairs_as_prometheus_does() {
        // Schema s bucket i is (b^(i-1), b^i]; one step coarser it is in bucket ceil(i/2).
        let mut s = Scratch::default();
        downscale(
            &[-3, -2, -1, 0, 1, 2, 3, 4],
            &[1, 2, 3, 4, 5, 6, 7, 8],
            1,
            &mut s,
        );
        assert_eq!(s.index, [-1, 0, 1, 2]);
        assert_eq!(s.count, [1 + 2, 3 + 4, 5 + 6, 7 + 8]);
        downscale(&[-5, 7, 8, 9], &[1, 1, 1, 1], 2, &mut s);
        assert_eq!(
            (&s.index[..], &s.count[..]),
            (&[-1, 2, 3][..], &[1, 2, 1][..])
        );
    }

    #[test]
    fn spans_and_deltas() {
        // Buckets -2, -1, 3, 4, 5 with counts 1, 3, 2, 2, 5: spans (-2, 2), (3, 3);
        // deltas 1, 2, -1, 0, 3.
        let mut out = Vec::new();
        buckets(&mut out, 12, 13, &[-2, -1, 3, 4, 5], &[1, 3, 2, 2, 5]);
        assert_eq!(
            out,
            [
                0x62, 4, 0x08, 3, 0x10, 2, // span offset -2 (zigzag 3), length 2
                0x62, 4, 0x08, 6, 0x10, 3, // span offset 3 (buckets 0..=2 empty), length 3
                0x6a, 5, 2, 4, 1, 0, 6, // packed deltas 1, 2, -1, 0, 3
            ]
        );
    }
}
