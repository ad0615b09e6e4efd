//! Where a value goes in a sketch ([`Bucket`]), and the keys that order buckets by value in
//! the stores that keep `(key, count)` pairs.

/// Where a value goes in a sketch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Bucket {
    /// Nowhere (NaN or infinite).
    #[default]
    None,
    /// The zero bucket (magnitude at or below `ZERO_THRESHOLD`).
    Zero,
    /// Positive bucket index.
    Pos(i32),
    /// Negative value, bucket index of its magnitude.
    Neg(i32),
}

/// Keys order the buckets by value: zero is key 0, positive bucket `i` is `KEY_BIAS + i`,
/// negative bucket `i` (of magnitude index `i`) is `-(KEY_BIAS + i)`. Indices are within
/// `±2^23`, so keys of different signs never meet.
pub(crate) const KEY_BIAS: i32 = 1 << 24;

/// The key of a bucket (`None` for [`Bucket::None`]).
#[inline(always)]
pub(crate) fn key(b: Bucket) -> Option<i32> {
    match b {
        Bucket::Pos(i) => Some(KEY_BIAS + i),
        Bucket::Neg(i) => Some(-(KEY_BIAS + i)),
        Bucket::Zero => Some(0),
        Bucket::None => None,
    }
}

/// The bucket of a key.
#[inline(always)]
pub(crate) fn bucket_of(k: i32) -> Bucket {
    match k {
        0 => Bucket::Zero,
        k if k > 0 => Bucket::Pos(k - KEY_BIAS),
        k => Bucket::Neg(-k - KEY_BIAS),
    }
}
