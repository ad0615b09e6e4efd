//! Exposition: names checked at ingest (a refused key is a counted bad key and never reaches
//! an exposition), each metric under its own name and type, escaping per format, HELP up to
//! 1 MiB read in pieces of any size, and the series cap against 10M keys.

use offheap::window::{
    Aggregator, Config, Error, Exposition, Format, KeyFormat, MetricType, OVERFLOW_ID, Samples,
    Snapshot, SnapshotOptions, render_all,
};

const SEC: i64 = 1_000_000_000;

fn series_agg() -> Aggregator {
    Aggregator::new(Config {
        key_format: KeyFormat::Series,
        key_label: String::new(),
        ..Config::tumbling(60 * SEC as u64)
    })
    .unwrap()
}

/// Key bytes and end offsets of `keys`.
fn columns(keys: &[&[u8]]) -> (Vec<u8>, Vec<u32>) {
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for k in keys {
        bytes.extend_from_slice(k);
        ends.push(bytes.len() as u32);
    }
    (bytes, ends)
}

fn ingest(agg: &Aggregator, keys: &[&[u8]], values: &[f64]) -> offheap::window::Accounting {
    let (bytes, ends) = columns(keys);
    let ts = vec![SEC; keys.len()];
    agg.ingest_keys(&bytes, &ends, Samples::new(&ts, values), SEC)
        .unwrap()
}

fn snap(agg: &Aggregator, q: &[f64]) -> Snapshot {
    let mut s = Snapshot::new();
    let opts = SnapshotOptions {
        quantiles: q,
        ..Default::default()
    };
    agg.snapshot(SEC, &opts, &mut s).unwrap();
    s
}

fn text(agg: &Aggregator, s: &Snapshot, f: Format) -> String {
    let mut out = Vec::new();
    render_all(agg, s, f, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn refused_keys_are_counted_and_never_exposed() {
    let agg = series_agg();
    let bad: [&[u8]; 12] = [
        b"http_latency_seconds{__name__=\"evil\"}",
        b"http_latency_seconds{route=\"/a\",route=\"/b\"}",
        b"http_latency_seconds{route=\"/a\",code=\"200\"}",
        b"http_latency_seconds{quantile=\"0.5\"}",
        b"http_latency_seconds{le=\"1\"}",
        b"http_latency_seconds{otel_metric_overflow=\"true\"}",
        b"http_latency_seconds_count",
        b"http_latency_seconds{}",
        b"9lives",
        b"a-b",
        b"x{a=\"\xff\"}",
        b"x{a=\"raw\nnewline\"}",
    ];
    let acc = ingest(&agg, &bad, &[1.0; 12]);
    assert_eq!((acc.accepted, acc.bad_key), (0, 12));
    // Without a key label, u64 keys have no label to render under.
    let acc = agg
        .ingest_u64(&[7], Samples::new(&[SEC], &[1.0]), SEC)
        .unwrap();
    assert_eq!(acc.bad_key, 1);
    // With one, label lists may not use it: it is the u64 keys'.
    let with_label = Aggregator::new(Config {
        key_format: KeyFormat::Series,
        ..Config::tumbling(60 * SEC as u64)
    })
    .unwrap();
    let acc = ingest(
        &with_label,
        &[b"x{key=\"7\"}", b"x{route=\"7\"}"],
        &[1.0, 1.0],
    );
    assert_eq!((acc.accepted, acc.bad_key), (1, 1));
    let acc = with_label
        .ingest_u64(&[7], Samples::new(&[SEC], &[1.0]), SEC)
        .unwrap();
    assert_eq!(acc.accepted, 1);
    let good: [&[u8]; 3] = [
        b"http_latency_seconds{code=\"200\",route=\"/a\"}",
        b"http_latency_seconds{route=\"/b\"}",
        b"up",
    ];
    let acc = ingest(&agg, &good, &[0.25, 0.75, 1.0]);
    assert_eq!((acc.accepted, acc.bad_key), (3, 0));
    assert_eq!(agg.stats().samples.bad_key, 13);
    let s = snap(&agg, &[0.5]);
    for f in [Format::Text, Format::OpenMetrics] {
        let t = text(&agg, &s, f);
        assert!(
            !t.contains("evil") && !t.contains("__name__") && !t.contains("route=\"/a\",route")
        );
        // Each metric under its own name, families in name order, one TYPE line each.
        assert_eq!(
            t.matches("# TYPE http_latency_seconds summary\n").count(),
            1,
            "{t}"
        );
        assert_eq!(t.matches("# TYPE up summary\n").count(), 1, "{t}");
        assert!(t.find("# TYPE http_latency").unwrap() < t.find("# TYPE up").unwrap());
        assert!(
            t.contains("http_latency_seconds{code=\"200\",route=\"/a\",quantile=\"0.5\"} 0.25\n")
        );
        assert!(
            t.contains("http_latency_seconds_count{route=\"/b\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("up_sum 1.0\n") && t.contains("up{quantile=\"0.5\"} 1.0\n"),
            "{t}"
        );
        assert_eq!(t.ends_with("# EOF\n"), f == Format::OpenMetrics);
    }
}

#[test]
fn each_family_renders_as_its_type() {
    let agg = series_agg();
    agg.set_family("requests_total", MetricType::Counter, "Requests.")
        .unwrap();
    agg.set_family("temperature", MetricType::Gauge, "Now \"hot\"\nor not \\.")
        .unwrap();
    agg.set_family("latency", MetricType::Histogram, "")
        .unwrap();
    let acc = ingest(
        &agg,
        &[
            b"requests_total{code=\"200\"}",
            b"requests_total{code=\"200\"}",
            b"temperature",
            b"temperature",
            b"latency",
            b"size",
        ],
        &[1.0, 2.0, 20.5, 21.5, 0.5, 100.0],
    );
    assert_eq!(acc.accepted, 6);
    let s = snap(&agg, &[0.5]);
    let t = text(&agg, &s, Format::Text);
    assert!(t.contains("# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total{code=\"200\"} 3.0\n"), "{t}");
    assert!(t.contains("# HELP temperature Now \"hot\"\\nor not \\\\.\n# TYPE temperature gauge\ntemperature 21.5\n"), "{t}");
    assert!(t.contains("# TYPE latency histogram\nlatency_bucket{le=\"+Inf\"} 1\nlatency_count 1\nlatency_sum 0.5\n"), "{t}");
    assert!(
        t.contains("# TYPE size summary\nsize{quantile=\"0.5\"} 100.0\n"),
        "{t}"
    );
    let om = text(&agg, &s, Format::OpenMetrics);
    assert!(
        om.contains(
            "# HELP requests Requests.\n# TYPE requests counter\nrequests_total{code=\"200\"} 3.0\n"
        ),
        "{om}"
    );
    assert!(
        om.contains("# HELP temperature Now \\\"hot\\\"\\nor not \\\\.\n"),
        "{om}"
    );
    assert!(om.contains("# TYPE latency gaugehistogram\nlatency_bucket{le=\"+Inf\"} 1\nlatency_gcount 1\nlatency_gsum 0.5\n"), "{om}");
    // Type and help names are checked like keys.
    assert_eq!(
        agg.set_family("x_count", MetricType::Gauge, ""),
        Err(Error::InvalidName)
    );
    assert_eq!(
        agg.set_family(
            "x",
            MetricType::Gauge,
            &"h".repeat(offheap::window::MAX_HELP_LEN + 1)
        ),
        Err(Error::InvalidHelp)
    );
}

#[test]
fn openmetrics_leaves_out_negative_counter_like_values() {
    let agg = series_agg();
    agg.set_family("drift_total", MetricType::Counter, "")
        .unwrap();
    ingest(
        &agg,
        &[b"drift_total", b"offset", b"offset"],
        &[-1.0, -2.0, -4.0],
    );
    let s = snap(&agg, &[0.5]);
    let om = text(&agg, &s, Format::OpenMetrics);
    assert!(!om.contains("drift_total "), "{om}");
    assert!(
        !om.contains("offset_sum") && !om.contains("quantile"),
        "{om}"
    );
    assert!(
        !om.contains("offset_count") && om.contains("# TYPE offset summary\n"),
        "{om}"
    );
    let t = text(&agg, &s, Format::Text);
    assert!(
        t.contains("drift_total -1.0\n") && t.contains("offset_sum -6.0\n"),
        "{t}"
    );
}

#[test]
fn control_characters_escape_and_read_back_byte_for_byte() {
    let agg = Aggregator::new(Config {
        name: "ctl".into(),
        ..Config::tumbling(60 * SEC as u64)
    })
    .unwrap();
    // Every control character, a quote, a backslash and multi-byte UTF-8 in one key.
    let mut key: Vec<u8> = (0u8..0x20).chain([0x7f]).collect();
    key.extend_from_slice("\"\\é✓".as_bytes());
    let acc = ingest(&agg, &[&key, b"ok\xc3"], &[1.0, 1.0]);
    assert_eq!(
        (acc.accepted, acc.bad_key),
        (1, 1),
        "invalid UTF-8 is refused"
    );
    let s = snap(&agg, &[]);
    assert_eq!(s.key(0), &key[..]);
    let t = text(&agg, &s, Format::Text);
    let mut escaped = Vec::new();
    for &b in &key {
        match b {
            b'\n' => escaped.extend_from_slice(b"\\n"),
            b'\\' => escaped.extend_from_slice(b"\\\\"),
            b'"' => escaped.extend_from_slice(b"\\\""),
            _ => escaped.push(b),
        }
    }
    let line = [&b"ctl_count{key=\""[..], &escaped, b"\"} 1\n"].concat();
    assert!(t.as_bytes().windows(line.len()).any(|w| w == line), "{t:?}");
    // The protobuf label value is the raw key.
    let mut proto = Vec::new();
    render_all(&agg, &s, Format::Protobuf, &mut proto);
    assert!(proto.windows(key.len()).any(|w| w == key));
}

#[test]
fn help_of_one_mebibyte_reads_in_pieces_of_any_size() {
    let help: String = "αβ\n\\".repeat((1 << 20) / 6);
    assert!(help.len() <= offheap::window::MAX_HELP_LEN);
    let agg = Aggregator::new(Config {
        help: help.clone(),
        ..Config::tumbling(60 * SEC as u64)
    })
    .unwrap();
    agg.ingest_u64(&[1, 2], Samples::new(&[SEC; 2], &[1.0, 2.0]), SEC)
        .unwrap();
    let s = snap(&agg, &[0.5]);
    for f in [Format::Text, Format::OpenMetrics, Format::Protobuf] {
        let mut whole = Vec::new();
        render_all(&agg, &s, f, &mut whole);
        assert!(whole.len() > 1 << 20);
        let mut e = Exposition::new();
        e.begin(&agg, &s, f);
        let mut got = Vec::with_capacity(whole.len());
        let mut one = [0u8; 1];
        while e.read(&agg, &s, &mut one).unwrap() == 1 {
            got.push(one[0]);
        }
        assert_eq!(got, whole, "{f:?}");
    }
    assert_eq!(
        Aggregator::new(Config {
            help: "x".repeat(offheap::window::MAX_HELP_LEN + 1),
            ..Config::tumbling(60 * SEC as u64)
        })
        .unwrap_err(),
        Error::InvalidHelp
    );
}

#[test]
fn ten_million_keys_against_the_cap() {
    let agg = Aggregator::new(Config {
        max_series: 1000,
        ..Config::cumulative()
    })
    .unwrap();
    let batch = 1 << 20;
    let ts = vec![SEC; batch];
    let values = vec![1.0; batch];
    let mut keys = vec![0u64; batch];
    let (mut sent, mut accepted, mut overflowed) = (0u64, 0, 0);
    while sent < 10_000_000 {
        let n = batch.min((10_000_000 - sent) as usize);
        for (j, k) in keys[..n].iter_mut().enumerate() {
            *k = sent + j as u64;
        }
        let acc = agg
            .ingest_u64(&keys[..n], Samples::new(&ts[..n], &values[..n]), SEC)
            .unwrap();
        accepted += acc.accepted;
        overflowed += acc.overflowed;
        sent += n as u64;
    }
    assert_eq!((accepted, overflowed), (1000, 10_000_000 - 1000));
    assert_eq!(agg.stats().series, 1000);
    let s = snap(&agg, &[0.5]);
    assert_eq!(s.len(), 1001);
    assert_eq!(s.ids().last(), Some(&OVERFLOW_ID));
    let t = text(&agg, &s, Format::Text);
    assert_eq!(t.matches("_count{").count(), 1001);
    assert!(t.contains("offheap_window_count{otel_metric_overflow=\"true\"} 9999000\n"));
}
