//! The window's error type: one flat `Copy` enum whose messages name the field or input at
//! fault and the rule it breaks.
//!
//! [`Error::as_str`] is the only text of each error: `Display` writes it, and the C ABI's
//! `offheap_status_str` returns it behind the `offheap: ` prefix, so Rust, C and Go callers
//! read the same words.

use std::fmt;

/// Why a window call failed. Calls that fail have no effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The window width is zero or over `i64::MAX` (sliding and tumbling windows need a
    /// positive width).
    InvalidWidth,
    /// The slice count is zero, over 64, or does not divide the width into whole nanoseconds.
    InvalidSlices,
    /// The relative accuracy α is not in `[0.0001, 0.5]`.
    InvalidAlpha,
    /// The sketch bucket cap is not in `[16, 65536]`.
    InvalidBuckets,
    /// The series cap is zero or larger than the shards can address.
    InvalidSeriesCap,
    /// The shard count is not a power of two in `[1, 256]`.
    InvalidShards,
    /// The maximum future skew needs more than 64 extra slices.
    InvalidFutureSkew,
    /// The maximum key length is zero or over [`MAX_KEY_LEN_LIMIT`](super::MAX_KEY_LEN_LIMIT).
    InvalidKeyLimit,
    /// The metric name, help text or key label name is not valid Prometheus syntax.
    InvalidName,
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
    pub const ALL: [Error; 19] = [
        Error::InvalidWidth,
        Error::InvalidSlices,
        Error::InvalidAlpha,
        Error::InvalidBuckets,
        Error::InvalidSeriesCap,
        Error::InvalidShards,
        Error::InvalidFutureSkew,
        Error::InvalidKeyLimit,
        Error::InvalidName,
        Error::LengthMismatch,
        Error::BatchTooLarge,
        Error::BadOffsets,
        Error::InvalidQuantile,
        Error::StaleId,
        Error::BufferTooSmall,
        Error::BadMagic,
        Error::UnsupportedVersion,
        Error::AlphaMismatch,
        Error::Corrupt,
    ];

    /// The message: what is wrong, the rule, and for configuration errors the
    /// [`Config`](super::Config) field at fault.
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::InvalidWidth => {
                "window: width must be in [1, i64::MAX] nanoseconds for sliding and tumbling \
                 windows (Config::width)"
            }
            Error::InvalidSlices => {
                "window: slices must be in [1, 64] and divide the width into whole nanoseconds \
                 (Config::slices)"
            }
            Error::InvalidAlpha => {
                "window: relative accuracy must be in [0.0001, 0.5] (Config::alpha)"
            }
            Error::InvalidBuckets => {
                "window: sketch bucket cap must be in [16, 65536] (Config::max_buckets)"
            }
            Error::InvalidSeriesCap => {
                "window: series cap must be in [1, shards * 2^24] (Config::max_series)"
            }
            Error::InvalidShards => {
                "window: shards must be a power of two in [1, 256] (Config::shards)"
            }
            Error::InvalidFutureSkew => {
                "window: max_future spans more than 64 slices of width / slices \
                 (Config::max_future)"
            }
            Error::InvalidKeyLimit => {
                "window: maximum key length must be in [1, 4096] (Config::max_key_len)"
            }
            Error::InvalidName => {
                "window: name must match [a-zA-Z_:][a-zA-Z0-9_:]*, help must have no control \
                 characters, key_label must be empty or a label name other than quantile \
                 (Config::name, Config::help, Config::key_label)"
            }
            Error::LengthMismatch => {
                "window: batch columns (keys, timestamps, values, weights) have different lengths"
            }
            Error::BatchTooLarge => "window: batch has more than 4194304 samples (MAX_BATCH)",
            Error::BadOffsets => "window: key end offsets decrease or point past the key bytes",
            Error::InvalidQuantile => {
                "window: quantiles must be in [0, 1], at most 16 per snapshot (MAX_QUANTILES)"
            }
            Error::StaleId => {
                "window: no live series for this key or id (never made, deleted or evicted)"
            }
            Error::BufferTooSmall => "window: output buffer too small for one series",
            Error::BadMagic => "window: not serialized window state (no \"OHWS\" magic)",
            Error::UnsupportedVersion => {
                "window: unsupported serialized state version (this library reads version 2)"
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

    #[test]
    fn every_message_names_the_window_and_the_constants_it_quotes_hold() {
        for e in Error::ALL {
            let m = e.as_str();
            assert!(m.starts_with("window: "), "{m}");
            assert!(!m.contains('\0') && !m.contains('\n'), "{m}");
        }
        assert!(
            Error::BatchTooLarge
                .as_str()
                .contains(&crate::window::MAX_BATCH.to_string())
        );
        let q = crate::window::MAX_QUANTILES.to_string();
        assert!(
            Error::InvalidQuantile
                .as_str()
                .contains(&format!("at most {q}"))
        );
        let k = crate::window::MAX_KEY_LEN_LIMIT.to_string();
        assert!(
            Error::InvalidKeyLimit
                .as_str()
                .contains(&format!("[1, {k}]"))
        );
        let v = crate::window::FORMAT_VERSION.to_string();
        assert!(
            Error::UnsupportedVersion
                .as_str()
                .contains(&format!("version {v}"))
        );
    }
}
