//! Windowed aggregation of keyed metric samples, with all state on the Rust heap.
//!
//! An [`Aggregator`] holds many series (one per key) and, per series, a time window of
//! statistics: count, sum, min, max, last, mean, stddev, counter increase and rate, and
//! quantiles from a mergeable log-bucket [`Sketch`] with relative error α. Samples arrive in
//! column batches (keys, timestamps, values, optional weights); every batch returns an
//! [`Accounting`] that counts each sample exactly once (accepted, overflowed, or dropped by
//! reason). Reads take a consistent [`Snapshot`] at a caller-given `now`, render Prometheus
//! text ([`render_prometheus`]), or export a binary state that another aggregator merges
//! exactly ([`Aggregator::export`], [`Aggregator::merge_import`]).
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
//! # Prometheus exposition
//!
//! [`render_prometheus`] writes text format 0.0.4, one summary per series:
//!
//! ```text
//! # HELP <name> <help>            (only when Config::help is not empty)
//! # TYPE <name> summary
//! <name>{<labels>,quantile="0.5"} 12.5
//! <name>_sum{<labels>} 1234.5
//! <name>_count{<labels>} 99
//! ```
//!
//! Keys map to `<labels>` like this: with [`Config::key_label`] set (default `key`), a byte
//! key becomes `key="<key>"` (escaped: `\\`, `\"`, `\n`) and a `u64` key `key="<decimal>"`; with
//! `key_label` empty, byte keys *are* Prometheus label lists (`route="/a",code="200"`, checked
//! when the series is made; invalid ones are counted as `bad_key`) and `u64` keys become
//! `key="<decimal>"`; the overflow series is `otel_metric_overflow="true"`. Quantile values
//! are written to 7 significant digits (their error bound α is at least 1e-4), other values
//! exactly; `NaN`, `+Inf`, `-Inf` in Prometheus spelling.
//!
//! # Serialized state (format version 2)
//!
//! [`Aggregator::export`] writes, and [`Aggregator::merge_import`] reads, this little-endian
//! format: one record per series with samples in the window at the export's `now`.
//!
//! ```text
//! header  magic "OHWS" | version u16 = 2 | flags u16 (bit 0: sketches present, others 0)
//!         | alpha f64 | max_buckets u32 | reserved u32 = 0 | records u64
//! record  kind u8 (0 = u64 key, 1 = byte key, 2 = overflow series)
//!         | key (kind 0: u64; kind 1: len u32 (<= 4096) + UTF-8 bytes; kind 2: nothing)
//!         | count u64 (>= 1) | sum f64 | mean f64 | m2 f64 | min f64 | max f64
//!         | first f64 | last f64 | increase f64 | first_ts i64 | last_ts i64
//!         | (if sketches) zero u64 | positive store | negative store
//! store   offset i32 | len u32 (<= 65536) | len × count u64   (bucket offset+j counts
//!         magnitudes v = 2^e·(1+s) with floor(m·(e + P(s))) = offset+j, P and m as in
//!         Sketch's docs; version 1 used ceil(ln v / ln γ) and is not read)
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
mod clock;
mod codec;
mod config;
mod error;
mod expo;
mod hash;
mod id;
mod ingest;
mod keys;
mod maintain;
mod rings;
mod shard;
mod sketch;
mod slice;
mod snapshot;
mod store;
mod table;

pub use accounting::{Accounting, Stats};
pub use aggregator::Aggregator;
pub use codec::{FORMAT_MAGIC, FORMAT_VERSION, ImportAccounting};
pub use config::{Config, Mode};
pub use error::Error;
pub use expo::{PrometheusCursor, render_prometheus, render_prometheus_all};
pub use ingest::Samples;
pub use sketch::{Sketch, SketchParams};
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
