//! Aggregator configuration and its validation.

use super::id::{MAX_SHARDS, MAX_SLOTS};
use super::names::{
    has_reserved_suffix, valid_label_list, valid_metric_name, valid_series_key,
    valid_user_label_name,
};
use super::{Error, MAX_HELP_LEN, MAX_KEY_LEN_LIMIT};

// The C ABI's `offheap_window_mode`, `offheap_key_format` and `offheap_metric_type`
// (`OFFHEAP_WINDOW_MODE_SLIDING` ...) are these three enums (build.rs, cbindgen.toml): their
// values are declared once, here, by the order of the variants (0, 1, ...), so a new variant
// goes last.

/// How a series' window moves with time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Mode {
    /// A window of `width` that advances one slice (`width / slices`) at a time.
    Sliding,
    /// Back-to-back windows of `width` (a sliding window of one slice).
    Tumbling,
    /// Everything since the series was created; delta reads report the change since the last one.
    Cumulative,
}

impl Mode {
    /// Every mode.
    pub(crate) const ALL: [Mode; 3] = [Mode::Sliding, Mode::Tumbling, Mode::Cumulative];
}

/// What a byte key is, and so which metric and labels its series has in exposition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u32)]
pub enum KeyFormat {
    /// The key is a label value: series `<Config::name>{<Config::key_label>="<key>"}`.
    #[default]
    Value,
    /// The key is a label list in Prometheus syntax (`code="200",route="/a"`): series
    /// `<Config::name>{<key>}`.
    Labels,
    /// The key is a whole series, `name` or `name{labels}`
    /// (`http_latency_seconds{route="/a"}`): each metric is exposed under its own name.
    Series,
}

impl KeyFormat {
    /// Every key format.
    pub(crate) const ALL: [KeyFormat; 3] = [KeyFormat::Value, KeyFormat::Labels, KeyFormat::Series];
}

/// The Prometheus type of a metric family, and so what its series expose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u32)]
pub enum MetricType {
    /// The window's quantiles, with `_sum` and `_count`.
    #[default]
    Summary,
    /// A native histogram of the sketch's buckets (a gauge histogram of the window for sliding
    /// and tumbling windows, a histogram for cumulative ones).
    Histogram,
    /// The sum of the values ingested (each sample an increment).
    Counter,
    /// The newest value in the window.
    Gauge,
}

impl MetricType {
    /// Every metric type.
    pub(crate) const ALL: [MetricType; 4] = [
        MetricType::Summary,
        MetricType::Histogram,
        MetricType::Counter,
        MetricType::Gauge,
    ];
}

/// The configuration of an [`Aggregator`](super::Aggregator). Build one with
/// [`Config::sliding`], [`Config::tumbling`] or [`Config::cumulative`] and adjust fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Window kind.
    pub mode: Mode,
    /// Window width in nanoseconds (positive for sliding and tumbling; unused by cumulative).
    pub width: u64,
    /// Number of slices of a sliding window (1..=64, dividing `width`); 1 for tumbling.
    pub slices: u32,
    /// Whether series keep a quantile sketch.
    pub sketch: bool,
    /// Relative accuracy α of quantiles, in `[0.0001, 0.5]`.
    pub alpha: f64,
    /// Bucket cap per sign of each sketch, in `[16, 65536]`; beyond it the buckets of the
    /// smallest magnitudes are collapsed into one.
    pub max_buckets: u32,
    /// Series cap; samples of new keys beyond it go to the overflow series.
    pub max_series: u64,
    /// Evict series whose newest sample is older than `now - idle_ttl` (nanoseconds; 0 = never).
    pub idle_ttl: u64,
    /// Samples older than `now - allowed_lateness` are dropped as late (nanoseconds).
    pub allowed_lateness: u64,
    /// Samples newer than `now + max_future` are dropped as future (nanoseconds).
    pub max_future: u64,
    /// Number of lock shards, a power of two in `[1, 256]`.
    pub shards: u32,
    /// Longest byte-string key accepted, in `[1, 4096]`.
    pub max_key_len: u32,
    /// Prometheus metric name of the series not keyed by [`KeyFormat::Series`] keys (and of
    /// the overflow series): `[a-zA-Z_:][a-zA-Z0-9_:]*`, not ending in a suffix summaries and
    /// histograms add (`_sum`, `_count`, `_bucket`, `_gsum`, `_gcount`, `_created`).
    pub name: String,
    /// Prometheus `# HELP` text of `name`: UTF-8, at most [`MAX_HELP_LEN`] bytes (escaped as
    /// each format requires).
    pub help: String,
    /// Label that carries `u64` keys, and byte keys with [`KeyFormat::Value`], in exposition
    /// (`key="..."`): a label name not starting with `__`, not `quantile`, `le` or
    /// `otel_metric_overflow`. Label lists and series keys may not use it; with them it may be
    /// empty (then `u64` keys are refused as bad keys).
    pub key_label: String,
    /// What byte keys are.
    pub key_format: KeyFormat,
    /// The type of metric families that were given none
    /// ([`Aggregator::set_family`](super::Aggregator::set_family)).
    pub metric_type: MetricType,
}

impl Config {
    /// A sliding window of `width` nanoseconds in `slices` slices, with defaults elsewhere.
    pub fn sliding(width: u64, slices: u32) -> Config {
        Config {
            mode: Mode::Sliding,
            width,
            slices,
            sketch: true,
            alpha: 0.01,
            max_buckets: 2048,
            max_series: 1 << 21,
            idle_ttl: 0,
            allowed_lateness: u64::MAX,
            max_future: 0,
            shards: 16,
            max_key_len: 1024,
            name: "offheap_window".to_string(),
            help: String::new(),
            key_label: "key".to_string(),
            key_format: KeyFormat::Value,
            metric_type: MetricType::Summary,
        }
    }

    /// Tumbling windows of `width` nanoseconds.
    pub fn tumbling(width: u64) -> Config {
        Config {
            mode: Mode::Tumbling,
            ..Config::sliding(width, 1)
        }
    }

    /// Cumulative series.
    pub fn cumulative() -> Config {
        Config {
            mode: Mode::Cumulative,
            ..Config::sliding(1, 1)
        }
    }

    /// Checks every field; returns the derived slice width and ring length.
    pub(crate) fn validate(&self) -> Result<Derived, Error> {
        let (slice_width, slices) = match self.mode {
            Mode::Cumulative => (i64::MAX, 1u32),
            Mode::Sliding | Mode::Tumbling => {
                if self.width == 0 || self.width > i64::MAX as u64 {
                    return Err(Error::InvalidWidth);
                }
                let slices = if self.mode == Mode::Tumbling {
                    1
                } else {
                    self.slices
                };
                if slices == 0 || slices > 64 || !self.width.is_multiple_of(u64::from(slices)) {
                    return Err(Error::InvalidSlices);
                }
                ((self.width / u64::from(slices)) as i64, slices)
            }
        };
        if !(0.0001..=0.5).contains(&self.alpha) {
            return Err(Error::InvalidAlpha);
        }
        if !(16..=65536).contains(&self.max_buckets) {
            return Err(Error::InvalidBuckets);
        }
        if !self.shards.is_power_of_two() || self.shards as usize > MAX_SHARDS {
            return Err(Error::InvalidShards);
        }
        let addressable = u64::from(self.shards) * (MAX_SLOTS as u64);
        if self.max_series == 0 || self.max_series > addressable {
            return Err(Error::InvalidSeriesCap);
        }
        if self.max_key_len == 0 || self.max_key_len > MAX_KEY_LEN_LIMIT {
            return Err(Error::InvalidKeyLimit);
        }
        let ring_len = match self.mode {
            Mode::Cumulative => 2,
            _ => {
                let extra = self.max_future.div_ceil(slice_width as u64);
                if extra > 64 {
                    return Err(Error::InvalidFutureSkew);
                }
                slices as usize + extra as usize
            }
        };
        check_family(&self.name, &self.help)?;
        // Label values need a key label; label lists and series keys do without one (and then
        // take no u64 keys).
        let label = self.key_label.as_bytes();
        if !(valid_user_label_name(label)
            || (label.is_empty() && self.key_format != KeyFormat::Value))
        {
            return Err(Error::InvalidKeyLabel);
        }
        Ok(Derived {
            slice_width,
            slices: slices as usize,
            ring_len,
        })
    }

    /// Whether a new series may be made for byte key `key` (ingest and import apply the same
    /// rule): at most `max_key_len` bytes of UTF-8 and, when keys are label lists or series, a
    /// valid one (`names.rs`). Called once per new series, never per sample.
    pub(crate) fn accepts_key(&self, key: &[u8]) -> bool {
        key.len() <= self.max_key_len as usize
            && std::str::from_utf8(key).is_ok()
            && match self.key_format {
                KeyFormat::Value => true,
                KeyFormat::Labels => valid_label_list(key, self.key_label.as_bytes()),
                KeyFormat::Series => valid_series_key(key, self.key_label.as_bytes()),
            }
    }

    /// Whether a new series may be made for a `u64` key: it renders as `<key_label>="<n>"`, so
    /// only with a key label (which label lists and series keys may not use).
    pub(crate) fn accepts_u64_keys(&self) -> bool {
        !self.key_label.is_empty()
    }
}

/// Checks a metric family's name and help text ([`Config::name`], [`Config::help`], and the
/// families of [`Aggregator::set_family`](super::Aggregator::set_family)).
pub(crate) fn check_family(name: &str, help: &str) -> Result<(), Error> {
    if !valid_metric_name(name.as_bytes()) || has_reserved_suffix(name.as_bytes()) {
        return Err(Error::InvalidName);
    }
    if help.len() > MAX_HELP_LEN {
        return Err(Error::InvalidHelp);
    }
    Ok(())
}

/// Values derived from a valid config.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Derived {
    /// Nanoseconds per slice (`i64::MAX` for cumulative).
    pub slice_width: i64,
    /// Slices a read merges.
    pub slices: usize,
    /// Slices each series holds (window slices plus room for future samples; 2 for cumulative).
    pub ring_len: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change to a valid config.
    type Change = fn(&mut Config);

    /// `base` with `change` made to it.
    fn with(base: &Config, change: impl FnOnce(&mut Config)) -> Config {
        let mut c = base.clone();
        change(&mut c);
        c
    }

    #[test]
    fn rejects_bad_values() {
        let ok = Config::sliding(60, 6);
        assert!(ok.validate().is_ok());
        let bad: &[(Change, Error)] = &[
            (|c| c.width = 0, Error::InvalidWidth),
            (|c| c.slices = 0, Error::InvalidSlices),
            (|c| c.slices = 7, Error::InvalidSlices),
            (|c| c.alpha = 0.0, Error::InvalidAlpha),
            (|c| c.alpha = f64::NAN, Error::InvalidAlpha),
            (|c| c.max_buckets = 1, Error::InvalidBuckets),
            (|c| c.max_series = 0, Error::InvalidSeriesCap),
            (|c| c.shards = 3, Error::InvalidShards),
            (|c| c.shards = 0, Error::InvalidShards),
            (|c| c.max_future = 1000, Error::InvalidFutureSkew),
            (|c| c.max_key_len = 0, Error::InvalidKeyLimit),
            (|c| c.name = "1x".into(), Error::InvalidName),
            (
                |c| c.help = "h".repeat(MAX_HELP_LEN + 1),
                Error::InvalidHelp,
            ),
        ];
        for (change, want) in bad {
            let cfg = with(&ok, change);
            assert_eq!(cfg.validate().unwrap_err(), *want, "{cfg:?}");
        }
        for label in ["quantile", "le", "__x", "", "1a", "otel_metric_overflow"] {
            let cfg = with(&ok, |c| c.key_label = label.into());
            assert_eq!(
                cfg.validate().unwrap_err(),
                Error::InvalidKeyLabel,
                "{label}"
            );
        }
        let series_keys = with(&ok, |c| {
            c.key_label = String::new();
            c.key_format = KeyFormat::Series;
        });
        assert!(series_keys.validate().is_ok());
        for name in ["x_count", "x_sum", "x_bucket", "a-b", ""] {
            let cfg = with(&ok, |c| c.name = name.into());
            assert_eq!(cfg.validate().unwrap_err(), Error::InvalidName, "{name}");
        }
        // Newlines, tabs and other control characters are escaped or written as they are;
        // only the length is limited.
        let help = with(&ok, |c| c.help = "a\nb\tc\u{1}\\".into());
        assert!(help.validate().is_ok());
        assert!(Config::cumulative().validate().is_ok());
        assert_eq!(ok.validate().unwrap().ring_len, 6);
        let future = with(&ok, |c| c.max_future = 11);
        assert_eq!(future.validate().unwrap().ring_len, 8);
    }
}
