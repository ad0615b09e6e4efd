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
//! * **Dense**: one allocation holding the zero count and, per sign, the counts of a
//!   contiguous index range in the narrowest width that holds them (`u16`, widened to `u32`
//!   and `u64` when a count would overflow). A store goes dense when its pairs are full or a
//!   count passes `u32`, and its memory grows with the index range actually seen.
//!
//! Keys order the buckets by value: zero is key 0, positive bucket `i` is `KEY_BIAS + i`,
//! negative bucket `i` (of magnitude index `i`) is `-(KEY_BIAS + i)`. Indices are within
//! `±2^22`, so keys never collide.

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

/// Pairs kept inline before a store goes dense.
pub(crate) const INLINE: usize = 5;

const KEY_BIAS: i32 = 1 << 24;

#[inline(always)]
fn key(b: Bucket) -> Option<i32> {
    match b {
        Bucket::Pos(i) => Some(KEY_BIAS + i),
        Bucket::Neg(i) => Some(-(KEY_BIAS + i)),
        Bucket::Zero => Some(0),
        Bucket::None => None,
    }
}

#[inline(always)]
fn bucket_of(k: i32) -> Bucket {
    match k {
        0 => Bucket::Zero,
        k if k > 0 => Bucket::Pos(k - KEY_BIAS),
        k => Bucket::Neg(-k - KEY_BIAS),
    }
}

/// Counts of one sign's contiguous index range in one width.
#[derive(Clone, Debug, PartialEq)]
enum Counts {
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
}

impl Counts {
    fn len(&self) -> usize {
        match self {
            Counts::U16(v) => v.len(),
            Counts::U32(v) => v.len(),
            Counts::U64(v) => v.len(),
        }
    }

    fn get(&self, j: usize) -> u64 {
        match self {
            Counts::U16(v) => v.get(j).map_or(0, |&c| u64::from(c)),
            Counts::U32(v) => v.get(j).map_or(0, |&c| u64::from(c)),
            Counts::U64(v) => v.get(j).copied().unwrap_or(0),
        }
    }

    /// Adds `w` at `j` (in range), widening when the count would not fit.
    #[inline(always)]
    fn add(&mut self, j: usize, w: u64) {
        match self {
            Counts::U16(v) => {
                if let Some(c) = v.get_mut(j)
                    && let Some(n) = u16::try_from(w).ok().and_then(|w| c.checked_add(w))
                {
                    *c = n;
                    return;
                }
            }
            Counts::U32(v) => {
                if let Some(c) = v.get_mut(j)
                    && let Some(n) = u32::try_from(w).ok().and_then(|w| c.checked_add(w))
                {
                    *c = n;
                    return;
                }
            }
            Counts::U64(v) => {
                if let Some(c) = v.get_mut(j) {
                    *c = c.saturating_add(w);
                }
                return;
            }
        }
        self.widen();
        self.add(j, w);
    }

    #[cold]
    fn widen(&mut self) {
        *self = match self {
            Counts::U16(v) => Counts::U32(v.iter().map(|&c| u32::from(c)).collect()),
            Counts::U32(v) => Counts::U64(v.iter().map(|&c| u64::from(c)).collect()),
            Counts::U64(v) => Counts::U64(std::mem::take(v)),
        };
    }

    /// Inserts `n` zero counts before the first (`front`) or after the last.
    fn grow(&mut self, n: usize, front: bool) {
        fn go<T: Copy + Default>(v: &mut Vec<T>, n: usize, front: bool) {
            // Grow by a quarter at least, so that a range widening one bucket at a time does
            // not reallocate for every bucket.
            let want = v.len() + n;
            if want > v.capacity() {
                let cap = want.max(v.len() + v.len() / 4 + 4);
                v.reserve_exact(cap - v.len());
            }
            if front {
                v.splice(0..0, std::iter::repeat_n(T::default(), n));
            } else {
                v.resize(want, T::default());
            }
        }
        match self {
            Counts::U16(v) => go(v, n, front),
            Counts::U32(v) => go(v, n, front),
            Counts::U64(v) => go(v, n, front),
        }
    }

    /// Sums counts `..n` into count 0 and drops the first `n - 1` (`n >= 1`).
    fn fold_front(&mut self, n: usize) {
        let total: u64 = (0..n).fold(0u64, |a, j| a.saturating_add(self.get(j)));
        match self {
            Counts::U16(v) => drop(v.drain(..n - 1)),
            Counts::U32(v) => drop(v.drain(..n - 1)),
            Counts::U64(v) => drop(v.drain(..n - 1)),
        }
        self.set(0, total);
    }

    fn set(&mut self, j: usize, c: u64) {
        loop {
            let fits = match self {
                Counts::U16(v) => u16::try_from(c).ok().map(|c| v[j] = c).is_some(),
                Counts::U32(v) => u32::try_from(c).ok().map(|c| v[j] = c).is_some(),
                Counts::U64(v) => {
                    v[j] = c;
                    true
                }
            };
            if fits {
                return;
            }
            self.widen();
        }
    }

    fn capacity_bytes(&self) -> usize {
        match self {
            Counts::U16(v) => v.capacity() * 2,
            Counts::U32(v) => v.capacity() * 4,
            Counts::U64(v) => v.capacity() * 8,
        }
    }
}

/// One sign's buckets: counts of indices `offset ..`.
#[derive(Clone, Debug, PartialEq)]
struct Run {
    offset: i32,
    counts: Counts,
}

impl Default for Run {
    fn default() -> Run {
        Run {
            offset: 0,
            counts: Counts::U16(Vec::new()),
        }
    }
}

impl Run {
    /// Adds `w` to index `i`, keeping at most `max` buckets.
    #[inline(always)]
    fn add(&mut self, i: i32, w: u64, max: usize) {
        let rel = i.wrapping_sub(self.offset) as u32 as usize;
        if rel < self.counts.len() {
            self.counts.add(rel, w);
        } else {
            self.add_outside(i, w, max);
        }
    }

    #[cold]
    #[inline(never)]
    fn add_outside(&mut self, i: i32, w: u64, max: usize) {
        let len = self.counts.len();
        if len == 0 {
            self.offset = i;
            self.counts.grow(1, false);
            self.counts.add(0, w);
            return;
        }
        let high = i64::from(self.offset) + len as i64 - 1;
        if i64::from(i) - max as i64 >= high {
            // The whole range falls below the new one: it all collapses into its lowest bucket.
            let total = (0..len).fold(0u64, |a, j| a.saturating_add(self.counts.get(j)));
            self.counts = Counts::U16(Vec::new());
            self.counts.grow(max, false);
            self.counts.set(0, total);
            self.offset = i - (max as i32 - 1);
            self.counts.add(max - 1, w);
        } else if i64::from(i) > high {
            self.counts.grow((i64::from(i) - high) as usize, false);
            let new_len = self.counts.len();
            if new_len > max {
                self.counts.fold_front(new_len - max + 1);
                self.offset = i - (max as i32 - 1);
            }
            let last = self.counts.len() - 1;
            self.counts.add(last, w);
        } else {
            // Below the range: widen it down as far as the cap allows; a lower index lands
            // in the new lowest bucket.
            let want_low = (high - max as i64 + 1).max(i64::from(i));
            let pad = (i64::from(self.offset) - want_low).max(0) as usize;
            if pad > 0 {
                self.counts.grow(pad, true);
                self.offset = want_low as i32;
            }
            self.counts.add(0, w);
        }
    }
}

/// The heap part of a dense store.
#[derive(Clone, Debug, Default, PartialEq)]
struct Dense {
    zero: u64,
    pos: Run,
    neg: Run,
}

/// The inline pairs of a small store, sorted by key.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Inline {
    len: u8,
    keys: [i32; INLINE],
    counts: [u32; INLINE],
}

/// The bucket counts of one sketch: inline pairs, or a dense allocation.
#[derive(Clone, Debug, PartialEq)]
enum Repr {
    Inline(Inline),
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
    /// Inline pairs of one sign: positive keys ascend with the index, negative keys descend.
    Inline(&'a Inline, bool),
    Empty,
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
            Source::Inline(s, _) => usize::from(s.len).min(INLINE),
            Source::Empty => 0,
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
            Source::Inline(s, negative) => {
                let n = usize::from(s.len).min(INLINE);
                let j = if negative { n - 1 - p } else { p };
                let (k, c) = (s.keys[j], u64::from(s.counts[j]));
                match (negative, k) {
                    (false, k) if k > 0 => Some((k - KEY_BIAS, c)),
                    (true, k) if k < 0 => Some((-k - KEY_BIAS, c)),
                    _ => None,
                }
            }
            Source::Empty => None,
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
                let n = usize::from(s.len).min(INLINE);
                for j in 0..n {
                    if s.keys[j] == k {
                        if let Some(c) = u32::try_from(w)
                            .ok()
                            .and_then(|w| s.counts[j].checked_add(w))
                        {
                            s.counts[j] = c;
                            return;
                        }
                        break;
                    }
                }
                self.add_slow(b, k, w, max);
            }
        }
    }

    /// An inline add of a new key (or of a count past `u32`).
    #[cold]
    #[inline(never)]
    fn add_slow(&mut self, b: Bucket, k: i32, w: u64, max: usize) {
        if let Repr::Inline(s) = &mut self.0 {
            let n = usize::from(s.len).min(INLINE);
            if n < INLINE
                && !s.keys[..n].contains(&k)
                && let Ok(w) = u32::try_from(w)
            {
                let before = *s;
                let at = s.keys[..n].partition_point(|&x| x < k);
                s.keys.copy_within(at..n, at + 1);
                s.counts.copy_within(at..n, at + 1);
                s.keys[at] = k;
                s.counts[at] = w;
                s.len += 1;
                if s.collapse(max) {
                    return;
                }
                // A collapsed count passes u32: add to a dense store instead.
                *s = before;
            }
            self.go_dense(max);
        }
        self.add(b, w, max);
    }

    /// Moves inline pairs into a dense allocation.
    #[cold]
    fn go_dense(&mut self, max: usize) {
        if let Repr::Inline(s) = self.0 {
            let mut d = Box::<Dense>::default();
            for j in 0..usize::from(s.len).min(INLINE) {
                d.add(bucket_of(s.keys[j]), u64::from(s.counts[j]), max);
            }
            self.0 = Repr::Dense(d);
        }
    }

    /// The zero bucket's count.
    pub(crate) fn zero(&self) -> u64 {
        match &self.0 {
            Repr::Dense(d) => d.zero,
            Repr::Inline(s) => s.pairs().find(|&(k, _)| k == 0).map_or(0, |(_, c)| c),
        }
    }

    /// Non-empty positive buckets in ascending index order.
    pub(crate) fn positive(&self) -> BucketIter<'_> {
        BucketIter::new(match &self.0 {
            Repr::Dense(d) => Source::Run(&d.pos),
            Repr::Inline(s) if s.len > 0 => Source::Inline(s, false),
            Repr::Inline(_) => Source::Empty,
        })
    }

    /// Non-empty negative buckets (indices of magnitudes) in ascending index order.
    pub(crate) fn negative(&self) -> BucketIter<'_> {
        BucketIter::new(match &self.0 {
            Repr::Dense(d) => Source::Run(&d.neg),
            Repr::Inline(s) if s.len > 0 => Source::Inline(s, true),
            Repr::Inline(_) => Source::Empty,
        })
    }

    /// Total count.
    pub(crate) fn total(&self) -> u64 {
        self.positive()
            .chain(self.negative())
            .fold(self.zero(), |a, (_, c)| a.saturating_add(c))
    }

    /// Empties the store; a dense store keeps its allocation.
    pub(crate) fn clear(&mut self) {
        match &mut self.0 {
            Repr::Dense(d) => {
                d.zero = 0;
                for r in [&mut d.pos, &mut d.neg] {
                    match &mut r.counts {
                        Counts::U16(v) => v.clear(),
                        Counts::U32(v) => v.clear(),
                        Counts::U64(v) => v.clear(),
                    }
                }
            }
            Repr::Inline(s) => s.len = 0,
        }
    }

    /// Empties the store and frees a dense allocation.
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
            Repr::Dense(d) => {
                std::mem::size_of::<Dense>()
                    + d.pos.counts.capacity_bytes()
                    + d.neg.counts.capacity_bytes()
            }
            Repr::Inline(_) => 0,
        }
    }

    /// Whether the store holds its buckets inline.
    pub(crate) fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline(_))
    }

    /// The address of the dense allocation, if any (for a prefetch hint).
    #[inline(always)]
    pub(crate) fn store_addr(&self) -> Option<*const u8> {
        match &self.0 {
            Repr::Dense(d) => Some((&**d as *const Dense).cast()),
            Repr::Inline(_) => None,
        }
    }

    /// The address of bucket `b`'s counter in a dense store (for a prefetch hint).
    #[inline(always)]
    pub(crate) fn counter_addr(&self, b: Bucket) -> Option<*const u8> {
        let Repr::Dense(d) = &self.0 else { return None };
        let (r, i) = match b {
            Bucket::Pos(i) => (&d.pos, i),
            Bucket::Neg(i) => (&d.neg, i),
            _ => return None,
        };
        let rel = i.wrapping_sub(r.offset) as u32 as usize;
        match &r.counts {
            Counts::U16(v) => v.get(rel).map(|c| (c as *const u16).cast()),
            Counts::U32(v) => v.get(rel).map(|c| (c as *const u32).cast()),
            Counts::U64(v) => v.get(rel).map(|c| (c as *const u64).cast()),
        }
    }
}

impl Inline {
    fn pairs(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        let n = usize::from(self.len).min(INLINE);
        self.keys[..n]
            .iter()
            .zip(&self.counts[..n])
            .map(|(&k, &c)| (k, u64::from(c)))
    }

    /// Applies the bucket cap to each sign after an insert: pairs of one sign more than
    /// `max - 1` indices below its highest fold into the lowest kept index. `false` (and
    /// the pairs partly folded) if a folded count would pass `u32`.
    fn collapse(&mut self, max: usize) -> bool {
        let n = usize::from(self.len);
        // Positive keys ascend with the index; the highest is last.
        if let Some(&top) = self.keys[..n].last()
            && top > 0
        {
            let low = top - (max as i32 - 1);
            if !self.fold(|k| k > 0 && k < low, low) {
                return false;
            }
        }
        // Negative keys descend with the index; the highest index has the lowest key.
        if let Some(&bottom) = self.keys[..n].first()
            && bottom < 0
        {
            let low = bottom + (max as i32 - 1);
            return self.fold(|k| k < 0 && k > low, low);
        }
        true
    }

    /// Merges the pairs whose key `under` selects (adjacent in the sorted keys) into one pair
    /// of key `to`; `false`, changing nothing, if its count would pass `u32`.
    fn fold(&mut self, under: impl Fn(i32) -> bool, to: i32) -> bool {
        let n = usize::from(self.len);
        let Some(first) = self.keys[..n].iter().position(|&k| under(k)) else {
            return true;
        };
        let last = first
            + self.keys[first..n]
                .iter()
                .take_while(|&&k| under(k))
                .count();
        let total: u64 = self.counts[first..last].iter().map(|&c| u64::from(c)).sum();
        // The target may already exist just past the folded run (or before it, for negatives).
        let existing = self.keys[..n].iter().position(|&k| k == to);
        let total = total + existing.map_or(0, |j| u64::from(self.counts[j]));
        let Ok(total) = u32::try_from(total) else {
            return false;
        };
        // Remove the folded run and the existing target, then insert the merged pair.
        let mut keys = [0i32; INLINE];
        let mut counts = [0u32; INLINE];
        let mut m = 0;
        for j in 0..n {
            if (first..last).contains(&j) || Some(j) == existing {
                continue;
            }
            keys[m] = self.keys[j];
            counts[m] = self.counts[j];
            m += 1;
        }
        let at = keys[..m].partition_point(|&x| x < to);
        keys.copy_within(at..m, at + 1);
        counts.copy_within(at..m, at + 1);
        keys[at] = to;
        counts[at] = total;
        self.keys = keys;
        self.counts = counts;
        self.len = (m + 1) as u8;
        true
    }
}

impl Dense {
    #[inline(always)]
    fn add(&mut self, b: Bucket, w: u64, max: usize) {
        match b {
            Bucket::Pos(i) => self.pos.add(i, w, max),
            Bucket::Neg(i) => self.neg.add(i, w, max),
            Bucket::Zero => self.zero = self.zero.saturating_add(w),
            Bucket::None => {}
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
        assert!(!s.is_inline());
        for _ in 0..3 {
            s.add(Bucket::Pos(3), 40_000, 2048);
        }
        s.add(Bucket::Pos(3), u64::from(u32::MAX), 2048);
        assert_eq!(
            s.positive().find(|&(i, _)| i == 3),
            Some((3, 120_001 + u64::from(u32::MAX)))
        );
        assert_eq!(s.total(), 6 + 120_000 + u64::from(u32::MAX));
        s.clear();
        assert_eq!(s.total(), 0);
        let mut t = Buckets::default();
        t.add(Bucket::Zero, u64::from(u32::MAX) + 5, 16);
        assert!(!t.is_inline());
        assert_eq!(t.zero(), u64::from(u32::MAX) + 5);
    }
}
