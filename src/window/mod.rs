//! Windowed aggregation of keyed metric samples, with all state on the Rust heap.
//!
//! An [`Aggregator`] holds many series (one per key) and, per series, a time window of
//! statistics: count, sum, min, max, last, mean, stddev, counter increase and rate, and
//! quantiles from a mergeable [`Sketch`] with relative error α. Samples arrive in
//! column batches (keys, timestamps, values, optional weights); every batch returns an
//! [`Accounting`] that counts each sample exactly once (accepted, overflowed, or dropped by
//! reason). Reads take a consistent [`Snapshot`] at a caller-given `now`, render it as a
//! Prometheus exposition ([`Exposition`]), or export a binary state that another aggregator
//! merges exactly ([`Aggregator::export`], [`Aggregator::merge_import`]).
//!
//! ```
//! use offheap::window::{Aggregator, Config, Samples, Snapshot, SnapshotOptions};
//!
//! const SEC: i64 = 1_000_000_000;
//! // A one-minute window that slides in six 10 s slices.
//! let agg = Aggregator::new(Config::sliding(60 * SEC as u64, 6)).unwrap();
//! let ts = [SEC, 2 * SEC, 3 * SEC];
//! let values = [1.0, 2.0, 6.0];
//! let acc = agg.ingest_u64(&[7, 7, 7], Samples::new(&ts, &values), 4 * SEC).unwrap();
//! assert_eq!(acc.accepted, 3);
//!
//! let mut snap = Snapshot::new();
//! agg.snapshot(4 * SEC, &SnapshotOptions { quantiles: &[0.5], ..Default::default() }, &mut snap)
//!     .unwrap();
//! assert_eq!(snap.len(), 1);
//! assert_eq!(snap.counts()[0], 3);
//! assert_eq!(snap.means()[0], 3.0);
//! assert!((snap.quantile(0)[0] - 2.0).abs() <= 0.02 * 2.0);
//! ```
//!
//! # Time
//!
//! Time is always an input: sample timestamps and `now` are nanoseconds chosen by the caller
//! (usually Unix time). Nothing runs in the background, so every result is deterministic.
//!
//! * **Sliding** windows of width `W` in `N` slices: a sample goes into the slice
//!   `floor(ts / (W/N))`; a read at `now` merges the `N` slices ending with the one that holds
//!   `now` (so the window covers between `W - W/N` and `W` of history).
//! * **Tumbling** windows are sliding windows with one slice: a read sees the current window.
//! * **Cumulative** series never forget; a snapshot either reads the running total or, with
//!   [`SnapshotOptions::delta`], the change since the previous delta read (and resets it).
//!
//! A sample is *late* if its timestamp is older than `now - allowed_lateness`, or its slice has
//! already left the window; it is *future* if it is newer than `now + max_future`.
//!
//! # Keys
//!
//! Series are named by caller `u64` keys ([`Aggregator::ingest_u64`]), by byte-string keys
//! ([`Aggregator::ingest_keys`], at most [`Config::max_key_len`] bytes of UTF-8), or by the
//! ids the aggregator hands out for either ([`Aggregator::resolve_keys`],
//! [`Aggregator::ingest_ids`]). An id encodes `(shard, slot, generation)`: the id of an evicted
//! or deleted series is detected (counted as `stale`) and never reaches another series.
//!
//! # Bounded memory
//!
//! Live series are capped by [`Config::max_series`]; samples of new keys beyond the cap go to
//! one overflow series (id [`OVERFLOW_ID`]), so every sample is still counted once. Series idle
//! for longer than [`Config::idle_ttl`] are evicted (their memory freed) at each snapshot and by
//! [`Aggregator::evict_idle`]. Sketches have at most [`Config::max_buckets`] buckets per sign.
//!
//! A series costs what it holds: its slot and ring of slices come from per-shard slabs whose
//! chunks are freed with their last series, and its sketches keep a few buckets inline before
//! they take an allocation of narrow counters (`u16`, widened when a count would overflow).
//! Eviction, deletion and [`Aggregator::clear`] give the memory back.
//!
//! Every series also keeps its lifetime count and sum (what it was ever given, monotonic
//! across window rotations): [`Snapshot::total_counts`] and [`Snapshot::total_sums`].
//!
//! # Sketch buckets
//!
//! Sketch buckets are those of Prometheus native histograms and OpenTelemetry exponential
//! histograms: bucket `i` of schema `s` holds the magnitudes `(base^(i-1), base^i]`,
//! `base = 2^(2^-s)`, and answers with `2·L·U/(L+U)` for its bounds `L`, `U`, within
//! `(base-1)/(base+1)` of every value in it. An aggregator uses the smallest schema whose error
//! is at most [`Config::alpha`]:
//!
//! | α at least | α below | schema | `base` | relative error `(base-1)/(base+1)` |
//! |---|---|---|---|---|
//! | 0.33333 | 0.5 (incl.) | 0 | 2 | 0.33333 |
//! | 0.17157 | 0.33333 | 1 | 1.41421 | 0.17157 |
//! | 0.086427 | 0.17157 | 2 | 1.18921 | 0.086427 |
//! | 0.043295 | 0.086427 | 3 | 1.09051 | 0.043295 |
//! | 0.021657 | 0.043295 | 4 | 1.04427 | 0.021657 |
//! | 0.01083 | 0.021657 | 5 | 1.02190 | 0.010830 |
//! | 0.0054152 | 0.01083 | 6 | 1.01089 | 0.0054152 |
//! | 0.0027076 | 0.0054152 | 7 | 1.00543 | 0.0027076 |
//! | 0.0013538 | 0.0027076 | 8 | 1.00271 | 0.0013538 |
//! | 0.0006769 | 0.0013538 | 9 | 1.00135 | 0.00067690 |
//! | 0.00033845 | 0.0006769 | 10 | 1.00068 | 0.00033845 |
//! | 0.00016923 | 0.00033845 | 11 | 1.00034 | 0.00016923 |
//! | 0.0001 (incl.) | 0.00016923 | 12 | 1.00017 | 0.000084613 |
//!
//! The default α = 0.01 is schema 6. Magnitudes at or below [`ZERO_THRESHOLD`]
//! (`f64::MIN_POSITIVE`) count in the zero bucket. [`Sketch::positive_buckets`] and
//! [`Sketch::negative_buckets`] give the buckets as `(index, count)` in ascending index order,
//! [`SketchParams::schema`] the schema and [`Sketch::zero_count`] the zero bucket: what a
//! native histogram's spans and deltas are made of. Prometheus accepts schemas up to 8 (merge
//! bucket pairs, `2i - 1` and `2i` into `i`, to go from schema `s` to `s - 1` exactly); OTLP's
//! `scale` is the schema and its bucket `k` (`offset + position`) covers `(base^k, base^(k+1)]`,
//! this bucket `k + 1`.
//!
//! # Prometheus exposition
//!
//! An [`Exposition`] renders a snapshot in [`Format::Text`] (0.0.4), [`Format::OpenMetrics`]
//! (1.0) or [`Format::Protobuf`] (delimited `MetricFamily` messages, with native histograms),
//! about [`CHUNK`] bytes at a time into its own buffer, read out into a buffer of any size
//! ([`render_all`] renders it whole). Series are grouped by metric family, families in name
//! order, each with its type and help ([`Aggregator::set_family`], else [`Config::metric_type`]
//! and, for [`Config::name`], [`Config::help`]):
//!
//! ```text
//! # HELP http_latency_seconds Latency.                       (when there is help)
//! # TYPE http_latency_seconds summary
//! http_latency_seconds{route="/a",quantile="0.5"} 0.25       the window's quantiles
//! http_latency_seconds_sum{route="/a"} 1234.5                lifetime: never decreases
//! http_latency_seconds_count{route="/a"} 99                  lifetime: never decreases
//! # TYPE requests_total counter
//! requests_total{code="200"} 42.0                            lifetime sum of the samples
//! # TYPE temperature_celsius gauge
//! temperature_celsius 21.5                                   newest value in the window
//! # TYPE latency_seconds histogram                           (gaugehistogram in OpenMetrics
//! latency_seconds_bucket{le="+Inf"} 7                         when windowed; in protobuf a
//! latency_seconds_count 7                                     native histogram of the
//! latency_seconds_sum 3.5                                     window's buckets)
//! ```
//!
//! Keys map to metric names and labels by [`Config::key_format`]: [`KeyFormat::Value`] keys
//! are a label value, `<name>{<key_label>="<key>"}` (escaped: `\\`, `\"`, `\n`);
//! [`KeyFormat::Labels`] keys are label lists, `<name>{<key>}`; [`KeyFormat::Series`] keys are
//! whole series, `metric{labels}`, each metric under its own name. `u64` keys render as
//! `<name>{<key_label>="<decimal>"}` and the overflow series as
//! `<name>{otel_metric_overflow="true"}`. Keys are checked when their series is made against the
//! Prometheus data model (metric and label names, `__` reserved, `quantile`, `le`, the key label
//! and `otel_metric_overflow` reserved, label names in strictly ascending order so no name
//! repeats and each label set is one key, metric names not ending in a suffix summaries and
//! histograms add): a key that breaks a rule is a counted `bad_key` and never reaches an
//! exposition. Help texts are any UTF-8 up to [`MAX_HELP_LEN`], escaped as each format requires.
//! Quantile values are written to 7 significant digits (their error bound α is at least 1e-4),
//! other values exactly; `NaN`, `+Inf`, `-Inf` in Prometheus spelling. OpenMetrics leaves out
//! what it forbids: counter-like values that are negative or NaN (a `_sum` and its `_count`, a
//! counter), negative quantiles, and a counter whose name would clash with another family's.
//!
//! # Serialized state (format version 3)
//!
//! [`Aggregator::export`] writes, and [`Aggregator::merge_import`] reads, this little-endian
//! format: one record per series with samples in the window at the export's `now`.
//!
//! ```text
//! header  magic "OHWS" | version u16 = 3 | flags u16 (bit 0: sketches present, others 0)
//!         | alpha f64 | max_buckets u32 | reserved u32 = 0 | records u64
//! record  kind u8 (0 = u64 key, 1 = byte key, 2 = overflow series)
//!         | key (kind 0: u64; kind 1: len u32 (<= 4096) + UTF-8 bytes; kind 2: nothing)
//!         | count u64 (>= 1) | sum f64 | mean f64 | m2 f64 | min f64 | max f64
//!         | first f64 | last f64 | increase f64 | first_ts i64 | last_ts i64
//!         | (if sketches) zero u64 | positive store | negative store
//! store   offset i32 | len u32 (<= 65536) | len × count u64   (bucket offset+j of the
//!         exponential schema chosen for α: magnitudes in (base^(i-1), base^i], base =
//!         2^(2^-schema); versions 1 and 2 used other mappings and are not read)
//! ```
//!
//! An import checks all of the input before changing anything (magic, version, flags, α equal
//! bit for bit, lengths against the remaining bytes, key limits, NaN-free moments with
//! `min <= max`, bucket counts adding up to the count) and merges each record into the series
//! of the same key, in the slice that holds the importer's `now`: counts, sums, min, max and
//! buckets merge exactly, mean and stddev up to rounding.

mod accounting;
mod aggregator;
mod batch;
mod bucket;
mod buckets;
mod clock;
mod codec;
mod config;
mod dense;
mod error;
mod expo;
mod expo_num;
mod expo_proto;
mod expo_row;
mod expo_text;
mod families;
mod hash;
mod id;
mod ingest;
mod keys;
mod maintain;
mod mapping;
mod names;
mod pairs;
mod rings;
mod shard;
mod sketch;
mod slab;
mod slice;
mod snapshot;
mod store;
mod table;

pub use accounting::{Accounting, Stats};
pub use aggregator::Aggregator;
pub use codec::{FORMAT_MAGIC, FORMAT_VERSION, ImportAccounting};
pub use config::{Config, KeyFormat, MetricType, Mode};
pub use error::Error;
pub use expo::{CHUNK, Exposition, Format, render_all};
pub use ingest::Samples;
pub use names::MAX_NAME_LEN;
pub use sketch::{BucketIter, MAX_SCHEMA, Sketch, SketchParams, ZERO_THRESHOLD};
pub use snapshot::{KeyKind, Snapshot, SnapshotOptions};

/// The id of the overflow series, which collects the samples of new keys beyond the series cap.
pub const OVERFLOW_ID: u64 = u64::MAX;
/// An id that never names a series (returned for keys that were rejected).
pub const INVALID_ID: u64 = 0;
/// The largest number of samples in one batch.
pub const MAX_BATCH: usize = 1 << 22;
/// The largest number of quantiles one snapshot computes.
pub const MAX_QUANTILES: usize = 16;
/// The largest accepted [`Config::max_key_len`].
pub const MAX_KEY_LEN_LIMIT: u32 = 4096;
/// The longest help text of a metric family, in bytes.
pub const MAX_HELP_LEN: usize = 1 << 20;
/// The most metric families [`Aggregator::set_family`] describes.
pub const MAX_FAMILIES: usize = 65536;
