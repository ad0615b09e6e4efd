//! Aggregator configuration and its validation.

use super::id::{MAX_SHARDS, MAX_SLOTS};
use super::{Error, MAX_KEY_LEN_LIMIT};

/// How a series' window moves with time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A window of `width` that advances one slice (`width / slices`) at a time.
    Sliding,
    /// Back-to-back windows of `width` (a sliding window of one slice).
    Tumbling,
    /// Everything since the series was created; delta reads report the change since the last one.
    Cumulative,
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
    /// Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    pub name: String,
    /// Prometheus `# HELP` text (any text without control characters).
    pub help: String,
    /// Label that carries the key in exposition (`key="..."`); empty means keys already are
    /// label lists in Prometheus syntax (`route="/a",code="200"`), checked when a series is made.
    pub key_label: String,
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
        if !valid_metric_name(self.name.as_bytes())
            || self.help.bytes().any(|b| b < 0x20 || b == 0x7f)
            || !(self.key_label.is_empty() || valid_label_name(self.key_label.as_bytes()))
        {
            return Err(Error::InvalidName);
        }
        Ok(Derived {
            slice_width,
            slices: slices as usize,
            ring_len,
        })
    }

    /// Whether a new series may be made for byte key `key` (ingest and import apply the same
    /// rule): at most `max_key_len` bytes of UTF-8 and, when keys are label lists
    /// (`key_label` empty), a valid one.
    pub(crate) fn accepts_key(&self, key: &[u8]) -> bool {
        key.len() <= self.max_key_len as usize
            && std::str::from_utf8(key).is_ok()
            && (!self.key_label.is_empty() || valid_label_list(key))
    }
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

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, at most 256 bytes.
pub(crate) fn valid_metric_name(s: &[u8]) -> bool {
    match s.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':' => {}
        _ => return false,
    }
    s.len() <= 256
        && s.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, at most 256 bytes, not `quantile` (the summary uses it).
pub(crate) fn valid_label_name(s: &[u8]) -> bool {
    match s.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    s.len() <= 256 && s != b"quantile" && s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// A Prometheus label list without braces: `name="value"` pairs joined by commas, values with
/// only `\\`, `\"` and `\n` escapes, no `quantile` label. The empty list is valid.
pub(crate) fn valid_label_list(s: &[u8]) -> bool {
    let mut i = 0;
    if s.is_empty() {
        return true;
    }
    loop {
        let start = i;
        while i < s.len() && s[i] != b'=' {
            i += 1;
        }
        if i >= s.len() || !valid_label_name(&s[start..i]) {
            return false;
        }
        i += 1;
        if s.get(i) != Some(&b'"') {
            return false;
        }
        i += 1;
        loop {
            match s.get(i) {
                None | Some(b'\n') => return false,
                Some(b'"') => break,
                Some(b'\\') => match s.get(i + 1) {
                    Some(b'\\' | b'"' | b'n') => i += 2,
                    _ => return false,
                },
                Some(_) => i += 1,
            }
        }
        i += 1;
        match s.get(i) {
            None => return true,
            Some(b',') if i + 1 < s.len() => i += 1,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_values() {
        let ok = Config::sliding(60, 6);
        assert!(ok.validate().is_ok());
        assert_eq!(
            Config {
                width: 0,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidWidth
        );
        assert_eq!(
            Config {
                slices: 0,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidSlices
        );
        assert_eq!(
            Config {
                slices: 7,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidSlices
        );
        assert_eq!(
            Config {
                alpha: 0.0,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidAlpha
        );
        assert_eq!(
            Config {
                alpha: f64::NAN,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidAlpha
        );
        assert_eq!(
            Config {
                max_buckets: 1,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidBuckets
        );
        assert_eq!(
            Config {
                max_series: 0,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidSeriesCap
        );
        assert_eq!(
            Config {
                shards: 3,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidShards
        );
        assert_eq!(
            Config {
                shards: 0,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidShards
        );
        assert_eq!(
            Config {
                max_future: 1000,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidFutureSkew
        );
        assert_eq!(
            Config {
                max_key_len: 0,
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidKeyLimit
        );
        assert_eq!(
            Config {
                name: "1x".into(),
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidName
        );
        assert_eq!(
            Config {
                key_label: "quantile".into(),
                ..ok.clone()
            }
            .validate()
            .unwrap_err(),
            Error::InvalidName
        );
        assert_eq!(
            Config {
                help: "a\nb".into(),
                ..ok
            }
            .validate()
            .unwrap_err(),
            Error::InvalidName
        );
        assert!(Config::cumulative().validate().is_ok());
        assert_eq!(Config::sliding(60, 6).validate().unwrap().ring_len, 6);
        assert_eq!(
            Config {
                max_future: 11,
                ..Config::sliding(60, 6)
            }
            .validate()
            .unwrap()
            .ring_len,
            8
        );
    }

    #[test]
    fn label_lists() {
        for ok in [
            &b""[..],
            b"a=\"\"",
            b"route=\"/x\",code=\"200\"",
            b"a=\"q\\\"\\\\\\n\"",
        ] {
            assert!(valid_label_list(ok), "{:?}", std::str::from_utf8(ok));
        }
        for bad in [
            &b"a"[..],
            b"a=",
            b"a=\"",
            b"a=\"x\",",
            b"1a=\"x\"",
            b"a=\"x\"b",
            b"quantile=\"1\"",
            b"a=\"\\x\"",
        ] {
            assert!(!valid_label_list(bad), "{:?}", std::str::from_utf8(bad));
        }
    }
}
