// Body of the `expo` fuzz target, shared by fuzz/fuzz_targets/expo.rs (libFuzzer) and
// tests/fuzz_smoke.rs (`make test`): random keys (any bytes, any key format), label values,
// help texts, family types and values go into an aggregator, whose exposition must then read
// back in every format:
// - text 0.0.4 and OpenMetrics 1.0 are checked line by line against the formats' grammar
//   (names, label escapes, numbers, one TYPE per family, families contiguous, OpenMetrics'
//   `_total`, non-negative counter-like values and `# EOF`);
// - protobuf is walked message by message (lengths, field types, UTF-8 strings, valid names,
//   and each native histogram's spans, deltas and counts adding up to its sample count);
// - reading the exposition in small pieces gives the same bytes.
// The Go side parses the same formats with expfmt and prometheus_client (tests/promparse).

use offheap::window::{
    Aggregator, Config, Exposition, Format, KeyFormat, MetricType, Samples, Snapshot,
    SnapshotOptions, render_all,
};

struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Up to `max` raw bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = usize::from(self.u8()) % (max + 1);
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        self.data[start..end].to_vec()
    }
}

const NAMES: [&[u8]; 13] = [
    b"a", b"x_total", b"x", b"req_count", b"__x", b"le", b"quantile", b"route", b"key", b"_",
    b"a:b", b"9", b"otel_metric_overflow",
];

fn value(b: &mut Bytes) -> f64 {
    match b.u8() % 8 {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => -1e308,
        3 => 1e-320,
        4 => 0.0,
        5 => -(f64::from(b.u8()) / 3.0),
        _ => f64::from(b.u8()) * 1.5,
    }
}

/// Label names in ascending order (so a subset is a valid list), reserved ones among them.
const LABELS: [&[u8]; 8] = [b"__x", b"a", b"code", b"key", b"le", b"quantile", b"route", b"z"];

/// A label value: mostly printable, sometimes any byte (control characters, quotes,
/// backslashes and invalid UTF-8 included), escaped as keys write them (or, rarely, not).
fn label_value(b: &mut Bytes, out: &mut Vec<u8>) {
    for c in b.bytes(8) {
        let c = if c % 4 == 0 { c } else { b'a' + c % 26 };
        match c {
            b'"' | b'\\' | b'\n' if !b.u8().is_multiple_of(8) => out.extend_from_slice(match c {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                _ => b"\\n",
            }),
            c => out.push(c),
        }
    }
}

/// A key of the aggregator's format: mostly well-formed, sometimes not.
fn key(b: &mut Bytes, format: KeyFormat) -> Vec<u8> {
    let mut k = Vec::new();
    if format == KeyFormat::Value {
        label_value(b, &mut k);
        return k;
    }
    if format == KeyFormat::Series {
        k.extend_from_slice(NAMES[usize::from(b.u8()) % NAMES.len()]);
        if b.u8().is_multiple_of(8) {
            k.extend(b.bytes(3));
        }
    }
    let mask = b.u8();
    let mut first = true;
    for (j, name) in LABELS.iter().enumerate() {
        if mask & (1 << j) == 0 || (j == 0 && !b.u8().is_multiple_of(4)) {
            continue;
        }
        k.push(if first && format == KeyFormat::Series { b'{' } else { b',' });
        if first && format == KeyFormat::Labels {
            k.pop();
        }
        first = false;
        k.extend_from_slice(name);
        k.extend_from_slice(b"=\"");
        label_value(b, &mut k);
        k.push(b'"');
    }
    if format == KeyFormat::Series && !first {
        k.push(b'}');
    }
    k
}

/// Series rendered and sample lines checked (the smoke test reports them).
pub static SERIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
pub static LINES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub fn run(data: &[u8]) {
    let mut b = Bytes { data, pos: 0 };
    let format = [KeyFormat::Series, KeyFormat::Labels, KeyFormat::Value][usize::from(b.u8() % 3)];
    let types = [MetricType::Summary, MetricType::Histogram, MetricType::Counter, MetricType::Gauge];
    let mut cfg = match b.u8() % 3 {
        0 => Config::tumbling(60_000_000_000),
        1 => Config::sliding(60_000_000_000, 6),
        _ => Config::cumulative(),
    };
    cfg.key_format = format;
    cfg.metric_type = types[usize::from(b.u8() % 4)];
    cfg.max_series = u64::from(1 + b.u8() % 32);
    cfg.alpha = [0.01, 0.0001, 0.3][usize::from(b.u8() % 3)];
    cfg.sketch = !b.u8().is_multiple_of(5);
    if b.u8().is_multiple_of(3) && format != KeyFormat::Value {
        cfg.key_label = String::new();
    }
    // Help is a str here (the C ABI refuses bytes that are not UTF-8 as InvalidHelp).
    cfg.help = String::from_utf8_lossy(&b.bytes(40)).into_owned();
    let agg = match Aggregator::new(cfg.clone()) {
        Ok(a) => a,
        // Label values need a key label; nothing else here is invalid.
        Err(e) => panic!("{cfg:?}: {e}"),
    };
    let (mut bytes, mut ends, mut ts, mut vs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut u64_keys = Vec::new();
    for _ in 0..64 {
        if b.done() {
            break;
        }
        match b.u8() % 10 {
            0 => {
                let name = NAMES[usize::from(b.u8()) % NAMES.len()];
                let help = String::from_utf8_lossy(&b.bytes(20)).into_owned();
                let _ = agg.set_family(
                    std::str::from_utf8(name).unwrap_or("a"),
                    types[usize::from(b.u8() % 4)],
                    &help,
                );
            }
            1 => u64_keys.push(u64::from(b.u8())),
            _ => {
                bytes.extend(key(&mut b, format));
                ends.push(bytes.len() as u32);
                ts.push(1_000_000_000);
                vs.push(value(&mut b));
            }
        }
    }
    let acc = agg
        .ingest_keys(&bytes, &ends, Samples::new(&ts, &vs), 1_000_000_000)
        .expect("ingest");
    assert_eq!(acc.total(), ends.len() as u64);
    let t = vec![1_000_000_000; u64_keys.len()];
    let v = vec![1.0; u64_keys.len()];
    agg.ingest_u64(&u64_keys, Samples::new(&t, &v), 1_000_000_000)
        .expect("ingest u64");
    let mut snap = Snapshot::new();
    let opts = SnapshotOptions {
        quantiles: &[0.0, 0.5, 1.0][..usize::from(b.u8() % 4).min(3)],
        buckets: !b.u8().is_multiple_of(4),
        ..Default::default()
    };
    agg.snapshot(61_000_000_000, &opts, &mut snap)
        .expect("snapshot");
    SERIES.fetch_add(snap.len(), std::sync::atomic::Ordering::Relaxed);
    for f in [Format::Text, Format::OpenMetrics, Format::Protobuf] {
        let mut whole = Vec::new();
        render_all(&agg, &snap, f, &mut whole);
        match f {
            Format::Protobuf => check_proto(&whole),
            _ => check_text(&whole, f == Format::OpenMetrics),
        }
        let cap = 1 + usize::from(b.u8()) % 700;
        let mut e = Exposition::new();
        e.begin(&agg, &snap, f);
        let mut pieces = Vec::new();
        let mut buf = vec![0u8; cap];
        loop {
            match e.read(&agg, &snap, &mut buf).expect("read") {
                0 => break,
                n => pieces.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(pieces, whole, "{f:?} in pieces of {cap}");
    }
}

fn metric_name_ok(s: &[u8]) -> bool {
    !s.is_empty()
        && !s[0].is_ascii_digit()
        && !s.starts_with(b"__")
        && s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

fn label_name_ok(s: &[u8]) -> bool {
    !s.is_empty() && !s[0].is_ascii_digit() && s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Whether `s` is a number of the text formats; with `min`, also not below it (and, when
/// `nan` is false, not NaN).
fn number_ok(s: &[u8], min: Option<f64>, nan: bool) -> bool {
    let Ok(t) = std::str::from_utf8(s) else {
        return false;
    };
    let v = match t {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => match t.parse::<f64>() {
            Ok(v) if !t.contains(['i', 'I', 'n', 'N']) => v,
            _ => return false,
        },
    };
    match min {
        Some(m) => v >= m || (nan && v.is_nan()),
        None => true,
    }
}

/// Checks a text 0.0.4 or OpenMetrics 1.0 exposition line by line.
fn check_text(out: &[u8], om: bool) {
    let text = std::str::from_utf8(out).expect("text exposition is UTF-8");
    let mut lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.pop(), Some(""), "ends with a newline");
    if om {
        assert_eq!(lines.pop(), Some("# EOF"), "OpenMetrics ends with # EOF");
    }
    let mut seen = std::collections::HashSet::new();
    let mut family: Option<(String, String)> = None;
    for line in lines {
        let l = line.as_bytes();
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(metric_name_ok(name.as_bytes()), "HELP name {name:?}");
            let h = help.as_bytes();
            let mut i = 0;
            while i < h.len() {
                match h[i] {
                    b'\\' => {
                        let ok = matches!(h.get(i + 1), Some(b'\\' | b'n'))
                            || (om && h.get(i + 1) == Some(&b'"'));
                        assert!(ok, "HELP escape in {line:?}");
                        i += 2;
                    }
                    b'"' => {
                        assert!(!om, "raw quote in OpenMetrics HELP");
                        i += 1;
                    }
                    _ => i += 1,
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, typ) = rest.split_once(' ').expect("TYPE has a type");
            assert!(metric_name_ok(name.as_bytes()), "TYPE name {name:?}");
            assert!(seen.insert(name.to_string()), "second TYPE for {name}: families contiguous");
            let types: &[&str] = if om {
                &["counter", "gauge", "summary", "histogram", "gaugehistogram"]
            } else {
                &["counter", "gauge", "summary", "histogram"]
            };
            assert!(types.contains(&typ), "type {typ}");
            family = Some((name.to_string(), typ.to_string()));
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment {line:?}");
        let (fam, typ) = family.as_ref().expect("a sample before any TYPE");
        // name, optional {labels}, space, value
        let name_end = l.iter().position(|&c| c == b'{' || c == b' ').expect("sample has a value");
        let name = &line[..name_end];
        let suffix = name.strip_prefix(fam.as_str()).unwrap_or_else(|| panic!("{name} outside family {fam}"));
        let allowed: &[&str] = match (typ.as_str(), om) {
            ("counter", true) => &["_total"],
            ("counter", false) | ("gauge", _) => &[""],
            ("summary", _) => &["", "_sum", "_count"],
            ("gaugehistogram", _) => &["_bucket", "_gsum", "_gcount"],
            _ => &["_bucket", "_sum", "_count"],
        };
        assert!(allowed.contains(&suffix), "{name} in a {typ}");
        let mut i = name_end;
        if l[i] == b'{' {
            i += 1;
            let mut prev: Vec<u8> = Vec::new();
            loop {
                let eq = i + l[i..].iter().position(|&c| c == b'=').expect("label =");
                let lname = &l[i..eq];
                assert!(label_name_ok(lname), "label name {:?}", String::from_utf8_lossy(lname));
                assert!(prev.is_empty() || lname != &prev[..], "repeated label");
                prev = lname.to_vec();
                assert_eq!(l[eq + 1], b'"');
                i = eq + 2;
                loop {
                    match l[i] {
                        b'"' => break,
                        b'\\' => {
                            assert!(matches!(l[i + 1], b'\\' | b'"' | b'n'), "label escape");
                            i += 2;
                        }
                        _ => i += 1,
                    }
                }
                i += 1;
                match l[i] {
                    b',' => i += 1,
                    b'}' => break,
                    c => panic!("after a label: {c}"),
                }
            }
            i += 1;
        }
        assert_eq!(l[i], b' ', "space before the value in {line:?}");
        // OpenMetrics: counter-like values are neither negative nor NaN, quantiles not
        // negative.
        let (min, nan) = match (om, suffix) {
            (true, "_total" | "_sum" | "_count" | "_bucket" | "_gcount") => (Some(0.0), false),
            (true, "") if typ == "summary" => (Some(0.0), true),
            _ => (None, true),
        };
        assert!(number_ok(&l[i + 1..], min, nan), "value in {line:?}");
        LINES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Reads a varint at `*at`.
fn varint(b: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let c = b[*at];
        *at += 1;
        v |= u64::from(c & 0x7f) << shift;
        if c < 0x80 {
            return v;
        }
    }
    panic!("varint over 10 bytes");
}

/// The fields of a message: (field, wire type, value or payload).
fn fields(b: &[u8]) -> Vec<(u64, u64, u64, &[u8])> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < b.len() {
        let tag = varint(b, &mut at);
        let (field, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => out.push((field, wire, varint(b, &mut at), &b[..0])),
            1 => {
                let v = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
                at += 8;
                out.push((field, wire, v, &b[..0]));
            }
            2 => {
                let n = varint(b, &mut at) as usize;
                assert!(at + n <= b.len(), "field length past the message");
                out.push((field, wire, n as u64, &b[at..at + n]));
                at += n;
            }
            w => panic!("wire type {w}"),
        }
    }
    out
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Walks a delimited stream of MetricFamily messages.
fn check_proto(out: &[u8]) {
    let mut at = 0;
    while at < out.len() {
        let n = varint(out, &mut at) as usize;
        assert!(at + n <= out.len(), "message past the end");
        let msg = &out[at..at + n];
        at += n;
        let mut typ = None;
        let mut named = false;
        for (field, wire, v, payload) in fields(msg) {
            match (field, wire) {
                (1, 2) => {
                    assert!(metric_name_ok(payload), "family name");
                    named = true;
                }
                (2, 2) => assert!(std::str::from_utf8(payload).is_ok(), "help is UTF-8"),
                (3, 0) => {
                    assert!(v <= 5, "type {v}");
                    typ = Some(v);
                }
                (4, 2) => check_metric(payload, typ.expect("type before metrics")),
                f => panic!("MetricFamily field {f:?}"),
            }
        }
        assert!(named, "a family without a name");
    }
}

fn check_metric(m: &[u8], typ: u64) {
    let mut kinds = 0;
    for (field, wire, _, payload) in fields(m) {
        assert_eq!(wire, 2, "Metric field {field} is a message");
        match field {
            1 => {
                let f = fields(payload);
                assert!(label_name_ok(f[0].3), "label name");
                assert!(std::str::from_utf8(f[1].3).is_ok(), "label value is UTF-8");
            }
            2..=4 => kinds += 1,
            7 => {
                kinds += 1;
                assert!(typ == 4 || typ == 5, "histogram in a family of type {typ}");
                check_histogram(payload);
            }
            f => panic!("Metric field {f}"),
        }
    }
    assert_eq!(kinds, 1, "one value per Metric");
}

fn check_histogram(h: &[u8]) {
    let (mut count, mut zero, mut in_buckets, mut native) = (0, 0, 0u64, false);
    let (mut spans, mut deltas) = ([0u64; 2], [0usize; 2]);
    for (field, _, v, payload) in fields(h) {
        match field {
            1 => count = v,
            5 => {
                native = true;
                assert!((-4..=8).contains(&zigzag(v)), "schema {}", zigzag(v));
            }
            7 => zero = v,
            9 | 12 => {
                let f = fields(payload);
                spans[usize::from(field == 12)] += f.iter().find(|x| x.0 == 2).map_or(0, |x| x.2);
            }
            10 | 13 => {
                let mut at = 0;
                let mut c = 0i64;
                while at < payload.len() {
                    c += zigzag(varint(payload, &mut at));
                    assert!(c > 0, "bucket count {c}");
                    in_buckets += c as u64;
                    deltas[usize::from(field == 13)] += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!(spans[0] as usize, deltas[0], "negative spans and deltas");
    assert_eq!(spans[1] as usize, deltas[1], "positive spans and deltas");
    if native {
        assert_eq!(zero + in_buckets, count, "buckets hold the sample count");
    }
}
