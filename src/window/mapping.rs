//! The sketch's bucket mapping: the exponential schema of Prometheus native histograms and
//! OpenTelemetry exponential histograms.
//!
//! Bucket `i` of schema `s` covers the magnitudes `(base^(i-1), base^i]` with
//! `base = 2^(2^-s)`; its representative value `2·L·U/(L+U)` (`L`, `U` its bounds, so
//! `2·U/(1+base)`) is within a factor `1 ± (base-1)/(base+1)` of every value in it. For a
//! requested relative accuracy α the mapping takes the smallest schema whose
//! `(base-1)/(base+1)` is at most α (the table is in the [window docs](super#sketch-buckets)).
//!
//! So the default α = 0.01 is schema 6. Prometheus native histograms accept schemas up to 8:
//! a reader of schema 9 to 12 merges bucket pairs (schema `s - 1` bucket `i` is the sum of
//! schema `s` buckets `2i - 1` and `2i`) down to 8, exactly. OTLP exponential histograms use
//! `scale = schema` and the same bucket indices, shifted: OTLP's bucket `k` (its
//! `offset + position`) covers `(base^k, base^(k+1)]`, so it is this mapping's bucket `k + 1`.
//!
//! Magnitudes up to [`ZERO_THRESHOLD`] (`f64::MIN_POSITIVE`, `2^-1022`) go to the zero bucket,
//! so every bucket's bounds are normal floats. Indices stay within `±1024·2^12 = ±2^22`.
//!
//! The index costs no logarithm: `v = 2^e·(1 + M/2^52)` gives `i = e·2^s + j`, where `j`
//! counts the bucket bounds `2^(k/2^s)` (`k` in `0..2^s`) below the mantissa. The mantissa's
//! top `s + 1` bits pick one of `2^(s+1)` equal parts of `[1, 2)`; consecutive bounds are at
//! least `ln 2/2^s > 1/2^(s+1)` apart, so a part holds at most one bound, and a per-schema
//! table gives the count of bounds below the part and the one bound that may lie inside it:
//! one table load and one comparison. (client_golang does `math.Frexp` and a binary search of
//! `2^s` bounds: `s` dependent steps.) The bounds are `exp2(k/2^s)` rounded to `f64`; a value
//! within an ulp of a bound may land in the neighbouring bucket compared with an
//! implementation whose table rounds differently.

use std::sync::OnceLock;

/// Magnitudes at or below this go to the zero bucket.
pub const ZERO_THRESHOLD: f64 = f64::MIN_POSITIVE;

/// The largest schema (the finest resolution; α = 0.0001 needs it).
pub const MAX_SCHEMA: u8 = 12;

const MANTISSA: u64 = (1 << 52) - 1;

/// The per-schema tables of the index computation.
struct Tables {
    /// For each of the `2^(s+1)` equal parts of the mantissa range: how many bounds lie below
    /// the part's start.
    below: Box<[u16]>,
    /// Mantissa bits of the bounds `2^(k/2^s)`, `k` in `0..2^s`, then `2^52` (above every
    /// mantissa), so that `bounds[below[t]]` always exists.
    bounds: Box<[u64]>,
    /// The bounds as floats, `2^(k/2^s)` for `k` in `0..2^s`.
    values: Box<[f64]>,
}

fn build(schema: u8) -> Tables {
    let n = 1usize << schema;
    let values: Box<[f64]> = (0..n).map(|k| (k as f64 / n as f64).exp2()).collect();
    let mut bounds: Vec<u64> = values.iter().map(|v| v.to_bits() & MANTISSA).collect();
    bounds.push(1 << 52);
    let shift = 52 - (u32::from(schema) + 1);
    let below = (0..2 * n)
        .map(|t| {
            let start = (t as u64) << shift;
            bounds[..n].iter().filter(|&&b| b < start).count() as u16
        })
        .collect();
    Tables {
        below,
        bounds: bounds.into_boxed_slice(),
        values,
    }
}

fn tables(schema: u8) -> &'static Tables {
    static TABLES: [OnceLock<Tables>; MAX_SCHEMA as usize + 1] =
        [const { OnceLock::new() }; MAX_SCHEMA as usize + 1];
    TABLES[usize::from(schema.min(MAX_SCHEMA))].get_or_init(|| build(schema.min(MAX_SCHEMA)))
}

/// The relative error `(base-1)/(base+1)` of a schema's buckets.
pub fn schema_error(schema: u8) -> f64 {
    let base = (-f64::from(schema)).exp2().exp2();
    (base - 1.0) / (base + 1.0)
}

/// The smallest schema whose relative error is at most `alpha` (a margin of 1e-9 covers the
/// rounding of the representative values), capped at [`MAX_SCHEMA`].
pub fn schema_for(alpha: f64) -> u8 {
    (0..MAX_SCHEMA)
        .find(|&s| schema_error(s) <= alpha * (1.0 - 1e-9))
        .unwrap_or(MAX_SCHEMA)
}

/// The mapping of one schema: `Copy`, with its tables shared by every aggregator.
#[derive(Clone, Copy)]
pub(crate) struct Mapping {
    schema: u8,
    shift: u32,
    tables: &'static Tables,
    /// `2/(1+base)`: the representative of a bucket is its upper bound times this.
    ratio: f64,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("schema", &self.schema)
            .finish()
    }
}

impl PartialEq for Mapping {
    fn eq(&self, o: &Mapping) -> bool {
        self.schema == o.schema
    }
}

impl Mapping {
    /// The mapping of `schema` (at most [`MAX_SCHEMA`]).
    pub(crate) fn new(schema: u8) -> Mapping {
        let schema = schema.min(MAX_SCHEMA);
        let base = (-f64::from(schema)).exp2().exp2();
        Mapping {
            schema,
            shift: 52 - (u32::from(schema) + 1),
            tables: tables(schema),
            ratio: 2.0 / (1.0 + base),
        }
    }

    /// The schema.
    #[inline(always)]
    pub(crate) fn schema(&self) -> u8 {
        self.schema
    }

    /// Bucket index of a finite magnitude above [`ZERO_THRESHOLD`].
    #[inline(always)]
    pub(crate) fn index(&self, v: f64) -> i32 {
        let bits = v.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i32 - 1023;
        let m = bits & MANTISSA;
        let t = &self.tables;
        let part = (m >> self.shift) as usize;
        debug_assert!(part < t.below.len());
        // SAFETY: `m < 2^52` and `shift = 52 - (schema + 1)`, so `part < 2^(schema + 1)`,
        // the length of `below` (`build` makes one entry per part).
        let c = usize::from(unsafe { *t.below.get_unchecked(part) });
        debug_assert!(c < t.bounds.len());
        // SAFETY: `below` counts bounds among the `2^schema` of the schema, so `c <= 2^schema`,
        // and `bounds` has `2^schema + 1` entries (the bounds and the sentinel `2^52`).
        let above = unsafe { *t.bounds.get_unchecked(c) } < m;
        let j = c + usize::from(above);
        (e << self.schema) + j as i32
    }

    /// The upper bound `base^i` of bucket `i` as `(2^(k/2^s), e)` with `base^i = that · 2^e`.
    #[inline]
    fn upper(&self, i: i32) -> (f64, i32) {
        let k = (i & ((1 << self.schema) - 1)) as usize;
        (self.tables.values[k], i >> self.schema)
    }

    /// The upper bound `base^i` of bucket `i` (`+Inf` past `f64::MAX`).
    pub(crate) fn upper_bound(&self, i: i32) -> f64 {
        let (m, e) = self.upper(i);
        scale(m, e)
    }

    /// The representative value of bucket `i`, `2·L·U/(L+U)`, within `(base-1)/(base+1)` of
    /// every magnitude in the bucket (clamped to `f64::MAX`).
    #[inline]
    pub(crate) fn value(&self, i: i32) -> f64 {
        let (m, e) = self.upper(i);
        scale(m * self.ratio, e).min(f64::MAX)
    }
}

/// `m · 2^e` for `e` in `[-1100, 1100]`, in two exact steps so that neither overflows early.
fn scale(m: f64, e: i32) -> f64 {
    let half = e / 2;
    let p = |k: i32| f64::from_bits(((k + 1023) as u64) << 52);
    m * p(half) * p(e - half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_of_alphas() {
        assert_eq!(schema_for(0.01), 6);
        assert_eq!(schema_for(0.5), 0);
        assert_eq!(schema_for(0.0001), 12);
        assert_eq!(schema_for(0.001), 9);
        for s in 0..=MAX_SCHEMA {
            assert_eq!(schema_for(schema_error(s) * 1.000_001), s);
            if s > 0 {
                assert!(schema_error(s - 1) > schema_error(s));
            }
        }
    }

    /// client_golang's way: `math.Frexp`, then the count of bounds below the fraction.
    fn reference(schema: u8, v: f64) -> i32 {
        let n = 1i32 << schema;
        let e = ((v.to_bits() >> 52) & 0x7ff) as i32 - 1023;
        let m = f64::from_bits((v.to_bits() & MANTISSA) | (1023u64 << 52));
        let j = (0..n)
            .filter(|&k| (f64::from(k) / f64::from(n)).exp2() < m)
            .count() as i32;
        e * n + j
    }

    #[test]
    fn index_matches_a_search_of_the_bounds() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for schema in 0..=MAX_SCHEMA {
            let m = Mapping::new(schema);
            let n = 1usize << schema;
            // Every bound and its neighbours.
            for k in 0..n {
                let b = m.tables.values[k];
                for v in [b, b.next_up(), b.next_down(), b * 8.0, b / 1024.0] {
                    if v >= 1.0 / 1024.0 {
                        assert_eq!(m.index(v), reference(schema, v), "schema {schema} v {v}");
                    }
                }
            }
            for _ in 0..2000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = f64::from_bits((x >> 12) | (((x >> 52) % 2045 + 1) << 52));
                assert_eq!(m.index(v), reference(schema, v), "schema {schema} v {v}");
            }
        }
    }

    #[test]
    fn buckets_hold_their_values_and_representatives_are_within_the_error() {
        for schema in [0, 3, 6, 9, 12] {
            let m = Mapping::new(schema);
            let err = schema_error(schema);
            let mut v = f64::MIN_POSITIVE.next_up();
            while v < f64::MAX / 1.3 {
                let i = m.index(v);
                assert!(
                    v <= m.upper_bound(i) && v > m.upper_bound(i - 1),
                    "{v} in {i}"
                );
                let r = m.value(i);
                assert!((r - v).abs() <= err * v * (1.0 + 1e-12), "{v} -> {r}");
                v *= 1.37;
            }
            let top = m.index(f64::MAX);
            assert_eq!(top, 1024 << schema);
            assert!(m.value(top).is_finite());
            assert!((m.value(top) - f64::MAX).abs() <= err * f64::MAX * (1.0 + 1e-12));
            assert_eq!(m.index(f64::MIN_POSITIVE), -1022 << schema);
        }
    }
}
