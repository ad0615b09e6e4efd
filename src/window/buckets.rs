//! The bucket counts of one sketch, in a store that grows with what it holds.
//!
//! A sketch's content is a count per bucket: the zero bucket, and per sign a bucket index.
//! Each sign keeps at most `max` contiguous buckets: a bucket below `H - max + 1`, `H` the
//! highest index of that sign, counts in bucket `H - max + 1` (the smallest magnitudes
//! collapse; high quantiles keep their bound). That content depends only on the samples added,
//! never on the store that holds it, so every store below gives the same quantiles.
//!
//! * **Inline** (no allocation): up to [`INLINE`] `(key, count)` pairs sorted by key, inside
//!   the sketch itself, with `u32` counts. A series with a handful of samples costs nothing more.
//! * **Sparse**: the pairs in a vector of their own, 8 bytes a bucket, while that is smaller
//!   than the dense store of the same buckets (a series with tens of samples spread over
//!   decades of values).
//! * **Dense**: one allocation holding the zero count and, per sign, the counts of a
//!   contiguous index range in the narrowest width that holds them (`u16`, widened to `u32`
//!   and `u64` when a count would overflow); memory grows with the index range actually seen.
//!
//! Pairs are ordered by keys that order buckets by value (`bucket.rs`).

use super::bucket::{Bucket, KEY_BIAS, bucket_of, key};
use super::dense::{Dense, Run};
pub(crate) use super::pairs::INLINE;
use super::pairs::{Added, Inline, Pair, Pairs, Sparse};

/// The bucket counts of one sketch: inline pairs, a vector of pairs, or a dense allocation.
#[derive(Clone, Debug, PartialEq)]
enum Repr {
    Inline(Inline),
    Sparse(Sparse),
    Dense(Box<Dense>),
}

/// The bucket counts of one sketch (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Buckets(Repr);

impl Default for Buckets {
    fn default() -> Buckets {
        Buckets(Repr::Inline(Inline::default()))
    }
}

/// Where a [`BucketIter`] reads.
#[derive(Clone, Copy)]
enum Source<'a> {
    Run(&'a Run),
    /// Pairs of one sign: positive keys ascend with the index, negative keys descend.
    Pairs(&'a [Pair], bool),
}

/// The non-empty buckets of one sign of a sketch as `(index, count)`, in ascending index
/// order (negative buckets by the index of their magnitude).
#[derive(Clone)]
pub struct BucketIter<'a> {
    src: Source<'a>,
    front: usize,
    back: usize,
}

impl<'a> BucketIter<'a> {
    fn new(src: Source<'a>) -> BucketIter<'a> {
        let back = match src {
            Source::Run(r) => r.counts.len(),
            Source::Pairs(ps, _) => ps.len(),
        };
        BucketIter {
            src,
            front: 0,
            back,
        }
    }

    /// The bucket at position `p`, if it is a non-empty one of this iterator's sign.
    #[inline]
    fn at(&self, p: usize) -> Option<(i32, u64)> {
        match self.src {
            Source::Run(r) => {
                let c = r.counts.get(p);
                (c != 0).then(|| (r.offset + p as i32, c))
            }
            Source::Pairs(ps, negative) => {
                let j = if negative { ps.len() - 1 - p } else { p };
                let Pair { key, count } = *ps.get(j)?;
                match (negative, key) {
                    (false, k) if k > 0 => Some((k - KEY_BIAS, u64::from(count))),
                    (true, k) if k < 0 => Some((-k - KEY_BIAS, u64::from(count))),
                    _ => None,
                }
            }
        }
    }
}

impl Iterator for BucketIter<'_> {
    type Item = (i32, u64);
    #[inline]
    fn next(&mut self) -> Option<(i32, u64)> {
        while self.front < self.back {
            let p = self.front;
            self.front += 1;
            if let Some(b) = self.at(p) {
                return Some(b);
            }
        }
        None
    }
}

impl DoubleEndedIterator for BucketIter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<(i32, u64)> {
        while self.front < self.back {
            self.back -= 1;
            if let Some(b) = self.at(self.back) {
                return Some(b);
            }
        }
        None
    }
}

impl Buckets {
    /// Adds `w` to bucket `b` (nothing for [`Bucket::None`]), keeping at most `max` buckets
    /// per sign.
    #[inline(always)]
    pub(crate) fn add(&mut self, b: Bucket, w: u64, max: usize) {
        match &mut self.0 {
            Repr::Dense(d) => d.add(b, w, max),
            Repr::Inline(s) => {
                let Some(k) = key(b) else { return };
                if !s.add_existing(k, w) {
                    self.add_slow(b, k, w, max);
                }
            }
            Repr::Sparse(s) => {
                let Some(k) = key(b) else { return };
                if !s.add_existing(k, w) {
                    self.add_slow(b, k, w, max);
                } else {
                    s.hits = s.hits.saturating_add(1);
                    if s.hits as usize > 4 * s.pairs.len() + 64 {
                        self.go_dense(max);
                    }
                }
            }
        }
    }

    /// An add of a new key to pairs (or of a count past `u32`): the store may move on.
    #[cold]
    #[inline(never)]
    fn add_slow(&mut self, b: Bucket, k: i32, w: u64, max: usize) {
        let added = match &mut self.0 {
            Repr::Inline(s) => s.add_new(k, w, max),
            Repr::Sparse(s) => s.add_new(k, w, max),
            Repr::Dense(d) => {
                d.add(b, w, max);
                return;
            }
        };
        match (added, &self.0) {
            (Added::Yes, Repr::Sparse(s)) if s.outgrown() => self.go_dense(max),
            (Added::Yes, _) => {}
            (Added::Widen, _) => self.go_dense(max),
            (Added::No, Repr::Inline(s))
                if s.pairs().len() == INLINE && u32::try_from(w).is_ok() =>
            {
                // Full: move to a vector and add there.
                let mut pairs = Vec::with_capacity(2 * INLINE);
                pairs.extend_from_slice(s.pairs());
                self.0 = Repr::Sparse(Sparse { pairs, hits: 0 });
                self.add(b, w, max);
            }
            (Added::No, _) => {
                // The key exists with a count that would pass u32, or w itself does.
                self.go_dense(max);
                self.add(b, w, max);
            }
        }
    }

    /// Moves pairs into a dense allocation.
    #[cold]
    fn go_dense(&mut self, max: usize) {
        let pairs = match &self.0 {
            Repr::Inline(s) => s.pairs(),
            Repr::Sparse(s) => s.pairs(),
            Repr::Dense(_) => return,
        };
        let mut d = Box::<Dense>::default();
        // Highest keys of each sign first, so the ranges grow down and collapse at most once.
        for p in pairs.iter().rev().filter(|p| p.key >= 0) {
            d.add(bucket_of(p.key), u64::from(p.count), max);
        }
        for p in pairs.iter().filter(|p| p.key < 0) {
            d.add(bucket_of(p.key), u64::from(p.count), max);
        }
        self.0 = Repr::Dense(d);
    }

    /// The pairs of a pair store.
    fn pairs(&self) -> Option<&[Pair]> {
        match &self.0 {
            Repr::Inline(s) => Some(s.pairs()),
            Repr::Sparse(s) => Some(s.pairs()),
            Repr::Dense(_) => None,
        }
    }

    /// The zero bucket's count.
    pub(crate) fn zero(&self) -> u64 {
        match (&self.0, self.pairs()) {
            (Repr::Dense(d), _) => d.zero,
            (_, Some(ps)) => ps
                .binary_search_by_key(&0, |p| p.key)
                .map_or(0, |j| u64::from(ps[j].count)),
            _ => 0,
        }
    }

    /// Non-empty positive buckets in ascending index order.
    pub(crate) fn positive(&self) -> BucketIter<'_> {
        BucketIter::new(match (&self.0, self.pairs()) {
            (Repr::Dense(d), _) => Source::Run(&d.pos),
            (_, ps) => Source::Pairs(ps.unwrap_or_default(), false),
        })
    }

    /// Non-empty negative buckets (indices of magnitudes) in ascending index order.
    pub(crate) fn negative(&self) -> BucketIter<'_> {
        BucketIter::new(match (&self.0, self.pairs()) {
            (Repr::Dense(d), _) => Source::Run(&d.neg),
            (_, ps) => Source::Pairs(ps.unwrap_or_default(), true),
        })
    }

    /// Total count.
    pub(crate) fn total(&self) -> u64 {
        self.positive()
            .chain(self.negative())
            .fold(self.zero(), |a, (_, c)| a.saturating_add(c))
    }

    /// Empties the store; an allocation is kept for reuse.
    pub(crate) fn clear(&mut self) {
        match &mut self.0 {
            Repr::Dense(d) => d.clear(),
            Repr::Sparse(s) => {
                s.pairs.clear();
                s.hits = 0;
            }
            Repr::Inline(s) => s.clear(),
        }
    }

    /// Empties the store and frees its allocation.
    pub(crate) fn free(&mut self) {
        *self = Buckets::default();
    }

    /// Adds every bucket of `o` (kept to `max` buckets per sign as if added one by one).
    pub(crate) fn merge(&mut self, o: &Buckets, max: usize) {
        let zero = o.zero();
        if zero != 0 {
            self.add(Bucket::Zero, zero, max);
        }
        // Highest indices first: the range then grows downwards, and a collapse happens once.
        for (i, c) in o.positive().rev() {
            self.add(Bucket::Pos(i), c, max);
        }
        for (i, c) in o.negative().rev() {
            self.add(Bucket::Neg(i), c, max);
        }
    }

    /// Bytes of heap held (0 while inline).
    pub(crate) fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Dense(d) => d.heap_bytes(),
            Repr::Sparse(s) => s.heap_bytes(),
            Repr::Inline(_) => 0,
        }
    }

    /// Whether the store holds its buckets inline.
    pub(crate) fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline(_))
    }

    /// Whether the store holds its buckets in a dense range.
    #[cfg(test)]
    pub(crate) fn is_dense(&self) -> bool {
        matches!(self.0, Repr::Dense(_))
    }

    /// The address of the store's allocation, if any (for a prefetch hint).
    #[inline(always)]
    pub(crate) fn store_addr(&self) -> Option<*const u8> {
        match &self.0 {
            Repr::Dense(d) => Some((&**d as *const Dense).cast()),
            Repr::Sparse(s) => s.pairs.first().map(|p| (p as *const Pair).cast()),
            Repr::Inline(_) => None,
        }
    }

    /// The address of bucket `b`'s counter in a dense store (for a prefetch hint).
    #[inline(always)]
    pub(crate) fn counter_addr(&self, b: Bucket) -> Option<*const u8> {
        match &self.0 {
            Repr::Dense(d) => d.counter_addr(b),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A store's content: the zero count, the positive and the negative buckets.
    type Content = (u64, Vec<(i32, u64)>, Vec<(i32, u64)>);

    /// The content of a store by the collapse rule, computed the simple way.
    fn reference(adds: &[(Bucket, u64)], max: usize) -> Content {
        let mut zero = 0;
        let (mut pos, mut neg) = (BTreeMap::new(), BTreeMap::new());
        for &(b, w) in adds {
            match b {
                Bucket::Zero => zero += w,
                Bucket::Pos(i) => *pos.entry(i).or_insert(0) += w,
                Bucket::Neg(i) => *neg.entry(i).or_insert(0) += w,
                Bucket::None => {}
            }
        }
        let cap = |m: BTreeMap<i32, u64>| {
            let Some(&top) = m.keys().last() else {
                return Vec::new();
            };
            let low = top - (max as i32 - 1);
            let mut out = BTreeMap::new();
            for (i, c) in m {
                *out.entry(i.max(low)).or_insert(0) += c;
            }
            out.into_iter().collect()
        };
        (zero, cap(pos), cap(neg))
    }

    fn content(s: &Buckets) -> Content {
        (s.zero(), s.positive().collect(), s.negative().collect())
    }

    #[test]
    fn every_store_holds_the_content_of_the_collapse_rule() {
        let mut x = 11u64;
        for round in 0..400 {
            let max = [16, 20, 64][round % 3];
            let spread = [3, 12, 40, 500][round % 4];
            let n = [1, 2, 5, 8, 64, 300][round % 6];
            let mut adds = Vec::new();
            let mut s = Buckets::default();
            for _ in 0..n {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = ((x >> 33) % spread) as i32 - (spread / 2) as i32;
                let b = match (x >> 20) % 7 {
                    0 => Bucket::Zero,
                    1 | 2 => Bucket::Neg(i),
                    _ => Bucket::Pos(i * 3),
                };
                let w = if (x >> 40).is_multiple_of(50) {
                    70_000
                } else {
                    1 + (x >> 50) % 3
                };
                adds.push((b, w));
                s.add(b, w, max);
                assert_eq!(content(&s), reference(&adds, max), "round {round}");
            }
            // Merge into stores in every state.
            for other in [0usize, 1, 4, 40] {
                let mut t = Buckets::default();
                let mut both = Vec::new();
                for k in 0..other {
                    let b = Bucket::Pos(k as i32 * 7 - 20);
                    t.add(b, 2, max);
                    both.push((b, 2));
                }
                t.merge(&s, max);
                both.extend(adds.iter().copied());
                assert_eq!(content(&t), reference(&both, max), "merge round {round}");
                assert_eq!(t.total(), both.iter().map(|a| a.1).sum::<u64>());
            }
        }
    }

    #[test]
    fn small_stores_stay_inline_and_counts_widen() {
        let mut s = Buckets::default();
        for i in 0..INLINE as i32 {
            s.add(Bucket::Pos(i), 1, 2048);
        }
        assert!(s.is_inline());
        assert_eq!(s.heap_bytes(), 0);
        s.add(Bucket::Pos(100), 1, 2048);
        assert!(!s.is_inline() && !s.is_dense(), "sparse");
        // Sparse while smaller than the dense range: 6 pairs over 101 buckets, then dense once
        // the pairs outgrow it.
        for i in 10..60 {
            s.add(Bucket::Pos(i), 1, 2048);
        }
        assert!(s.is_dense(), "56 pairs over 101 buckets");
        for _ in 0..3 {
            s.add(Bucket::Pos(3), 40_000, 2048);
        }
        s.add(Bucket::Pos(3), u64::from(u32::MAX), 2048);
        assert_eq!(
            s.positive().find(|&(i, _)| i == 3),
            Some((3, 120_001 + u64::from(u32::MAX)))
        );
        assert_eq!(s.total(), 56 + 120_000 + u64::from(u32::MAX));
        s.clear();
        assert_eq!(s.total(), 0);
        let mut t = Buckets::default();
        t.add(Bucket::Zero, u64::from(u32::MAX) + 5, 16);
        assert!(!t.is_inline());
        assert_eq!(t.zero(), u64::from(u32::MAX) + 5);
    }
}
