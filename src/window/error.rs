//! The window's error type: one flat `Copy` enum whose messages name what is at fault and the
//! rule it breaks.
//!
//! [`Error::as_str`] is the only text of each error: `Display` writes it, and the C ABI's
//! `offheap_status_str` returns it behind the `offheap: ` prefix, so Rust, C and Go callers
//! read the same words. A configuration error's message names the setting in words (the
//! window width, the maximum future skew), not a field of one language: each binding names
//! its own field (the variant's docs name [`Config`](super::Config)'s; the Go package puts
//! `AggregatorConfig.MaxFutureSkew` and the like before the message).

use std::fmt;

/// Why a window call failed. Calls that fail have no effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The window width ([`Config::width`](super::Config::width)) is zero or over `i64::MAX`
    /// (sliding and tumbling windows need a positive width).
    InvalidWidth,
    /// The slice count ([`Config::slices`](super::Config::slices)) is zero, over 64, or does
    /// not divide the width into whole nanoseconds.
    InvalidSlices,
    /// The relative accuracy α ([`Config::alpha`](super::Config::alpha)) is not in
    /// `[0.0001, 0.5]`.
    InvalidAlpha,
    /// The sketch bucket cap ([`Config::max_buckets`](super::Config::max_buckets)) is not in
    /// `[16, 65536]`.
    InvalidBuckets,
    /// The series cap ([`Config::max_series`](super::Config::max_series)) is zero or larger
    /// than the shards can address.
    InvalidSeriesCap,
    /// The shard count ([`Config::shards`](super::Config::shards)) is not a power of two in
    /// `[1, 256]`.
    InvalidShards,
    /// The maximum future skew ([`Config::max_future`](super::Config::max_future)) needs more
    /// than 64 extra slices.
    InvalidFutureSkew,
    /// The maximum key length ([`Config::max_key_len`](super::Config::max_key_len)) is zero or
    /// over [`MAX_KEY_LEN_LIMIT`](super::MAX_KEY_LEN_LIMIT).
    InvalidKeyLimit,
    /// A metric name ([`Config::name`](super::Config::name) or a family's) is not a valid
    /// Prometheus metric name, or ends in a suffix summaries and histograms add.
    InvalidName,
    /// A help text ([`Config::help`](super::Config::help) or a family's) is over
    /// [`MAX_HELP_LEN`](super::MAX_HELP_LEN) bytes.
    InvalidHelp,
    /// The key label ([`Config::key_label`](super::Config::key_label)) is not a label name a
    /// caller may use.
    InvalidKeyLabel,
    /// More metric families were given a type or help than
    /// [`MAX_FAMILIES`](super::MAX_FAMILIES).
    TooManyFamilies,
    /// The batch columns have different lengths.
    LengthMismatch,
    /// The batch has more than [`MAX_BATCH`](super::MAX_BATCH) samples.
    BatchTooLarge,
    /// Key end offsets decrease or point past the key bytes.
    BadOffsets,
    /// A requested quantile is outside `[0, 1]` (or NaN), or more than
    /// [`MAX_QUANTILES`](super::MAX_QUANTILES) were asked.
    InvalidQuantile,
    /// The key or id does not name a live series (evicted, deleted or never issued).
    StaleId,
    /// An output buffer cannot hold even one unit of output.
    BufferTooSmall,
    /// An exposition was read without [`Exposition::begin`](super::Exposition::begin) for
    /// this snapshot, or after the snapshot was taken again.
    NotBegun,
    /// Serialized state does not start with [`FORMAT_MAGIC`](super::FORMAT_MAGIC).
    BadMagic,
    /// Serialized state has a format version this library does not read.
    UnsupportedVersion,
    /// Serialized state was written with a different α (or without sketches for an
    /// aggregator that keeps them), so its buckets do not line up.
    AlphaMismatch,
    /// Serialized state is truncated or inconsistent.
    Corrupt,
}

impl Error {
    /// Every variant (for tests and for the C ABI's message table).
    pub const ALL: [Error; 23] = [
        Error::InvalidWidth,
        Error::InvalidSlices,
        Error::InvalidAlpha,
        Error::InvalidBuckets,
        Error::InvalidSeriesCap,
        Error::InvalidShards,
        Error::InvalidFutureSkew,
        Error::InvalidKeyLimit,
        Error::InvalidName,
        Error::InvalidHelp,
        Error::InvalidKeyLabel,
        Error::TooManyFamilies,
        Error::LengthMismatch,
        Error::BatchTooLarge,
        Error::BadOffsets,
        Error::InvalidQuantile,
        Error::StaleId,
        Error::BufferTooSmall,
        Error::NotBegun,
        Error::BadMagic,
        Error::UnsupportedVersion,
        Error::AlphaMismatch,
        Error::Corrupt,
    ];

    /// The message: what is wrong and the rule it breaks, a setting named in words (the
    /// variant's docs name the [`Config`](super::Config) field).
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::InvalidWidth => {
                "window: the window width must be in [1, i64::MAX] nanoseconds for sliding and \
                 tumbling windows"
            }
            Error::InvalidSlices => {
                "window: the slice count must be in [1, 64] and divide the window width into whole \
                 nanoseconds"
            }
            Error::InvalidAlpha => "window: the relative accuracy (alpha) must be in [0.0001, 0.5]",
            Error::InvalidBuckets => "window: the sketch bucket cap must be in [16, 65536]",
            Error::InvalidSeriesCap => "window: the series cap must be in [1, shard count * 2^24]",
            Error::InvalidShards => "window: the shard count must be a power of two in [1, 256]",
            Error::InvalidFutureSkew => {
                "window: the maximum future skew spans more than 64 slices (window width / slice \
                 count)"
            }
            Error::InvalidKeyLimit => "window: the maximum key length must be in [1, 4096] bytes",
            Error::InvalidName => {
                "window: a metric name (the aggregator's or a family's) must match \
                 [a-zA-Z_:][a-zA-Z0-9_:]* (at most 256 bytes), not start with __ and not end in \
                 _sum, _count, _bucket, _gsum, _gcount or _created"
            }
            Error::InvalidHelp => {
                "window: a help text (the aggregator's or a family's) must be at most 1048576 bytes \
                 of UTF-8"
            }
            Error::InvalidKeyLabel => {
                "window: the key label must match [a-zA-Z_][a-zA-Z0-9_]* (at most 256 bytes), not \
                 start with __, and not be quantile, le or otel_metric_overflow"
            }
            Error::TooManyFamilies => {
                "window: more than 65536 metric families were given a type or help"
            }
            Error::LengthMismatch => {
                "window: batch columns (keys, timestamps, values, weights) have different lengths"
            }
            Error::BatchTooLarge => "window: batch has more than 4194304 samples (MAX_BATCH)",
            Error::BadOffsets => "window: key end offsets decrease or point past the key bytes",
            Error::InvalidQuantile => {
                "window: quantiles must be in [0, 1], at most 16 per snapshot"
            }
            Error::StaleId => {
                "window: no live series for this key or id (never made, deleted or evicted)"
            }
            Error::BufferTooSmall => "window: output buffer too small for one series",
            Error::NotBegun => {
                "window: exposition read before it began for this snapshot, or after the \
                 snapshot was taken again"
            }
            Error::BadMagic => "window: not serialized window state (no \"OHWS\" magic)",
            Error::UnsupportedVersion => {
                "window: unsupported serialized state version (this library reads version 3)"
            }
            Error::AlphaMismatch => {
                "window: serialized state has a different relative accuracy or sketch setting"
            }
            Error::Corrupt => "window: truncated or corrupt serialized state",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{
        FORMAT_VERSION, MAX_BATCH, MAX_FAMILIES, MAX_HELP_LEN, MAX_KEY_LEN_LIMIT, MAX_QUANTILES,
    };

    #[test]
    fn every_message_names_the_window_and_the_constants_it_quotes_hold() {
        for e in Error::ALL {
            let m = e.as_str();
            assert!(m.starts_with("window: "), "{m}");
            assert!(!m.contains('\0') && !m.contains('\n'), "{m}");
            // Settings are named in words: each binding adds its own field's name.
            assert!(!m.contains("Config") && !m.contains("Options"), "{m}");
        }
        for (e, quoted) in [
            (Error::BatchTooLarge, MAX_BATCH.to_string()),
            (Error::InvalidQuantile, format!("at most {MAX_QUANTILES}")),
            (Error::InvalidKeyLimit, format!("[1, {MAX_KEY_LEN_LIMIT}]")),
            (Error::InvalidHelp, MAX_HELP_LEN.to_string()),
            (Error::TooManyFamilies, MAX_FAMILIES.to_string()),
            (
                Error::UnsupportedVersion,
                format!("version {FORMAT_VERSION}"),
            ),
        ] {
            assert!(e.as_str().contains(&quoted), "{e:?} quotes {quoted:?}");
        }
    }
}
