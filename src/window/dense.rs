//! The dense store of a sketch: the zero count and, per sign, the counts of a contiguous index
//! range in the narrowest width that holds them (`u16`, widened to `u32` and `u64` when a count
//! would overflow), kept to at most `max` buckets per sign by collapsing the lowest.

use super::bucket::Bucket;

/// Counts of one sign's contiguous index range in one width.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Counts {
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
}

impl Counts {
    pub(crate) fn len(&self) -> usize {
        match self {
            Counts::U16(v) => v.len(),
            Counts::U32(v) => v.len(),
            Counts::U64(v) => v.len(),
        }
    }

    pub(crate) fn get(&self, j: usize) -> u64 {
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

    pub(crate) fn capacity_bytes(&self) -> usize {
        match self {
            Counts::U16(v) => v.capacity() * 2,
            Counts::U32(v) => v.capacity() * 4,
            Counts::U64(v) => v.capacity() * 8,
        }
    }
}

/// One sign's buckets: counts of indices `offset ..`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Run {
    pub offset: i32,
    pub counts: Counts,
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
pub(crate) struct Dense {
    pub zero: u64,
    pub pos: Run,
    pub neg: Run,
}

impl Dense {
    /// Empties the store, keeping its allocations.
    pub(crate) fn clear(&mut self) {
        self.zero = 0;
        for r in [&mut self.pos, &mut self.neg] {
            match &mut r.counts {
                Counts::U16(v) => v.clear(),
                Counts::U32(v) => v.clear(),
                Counts::U64(v) => v.clear(),
            }
        }
    }

    /// Heap bytes held, the allocation of the store itself included.
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Dense>()
            + self.pos.counts.capacity_bytes()
            + self.neg.counts.capacity_bytes()
    }

    /// The address of bucket `b`'s counter (for a prefetch hint).
    #[inline(always)]
    pub(crate) fn counter_addr(&self, b: Bucket) -> Option<*const u8> {
        let (r, i) = match b {
            Bucket::Pos(i) => (&self.pos, i),
            Bucket::Neg(i) => (&self.neg, i),
            _ => return None,
        };
        let rel = i.wrapping_sub(r.offset) as u32 as usize;
        match &r.counts {
            Counts::U16(v) => v.get(rel).map(|c| (c as *const u16).cast()),
            Counts::U32(v) => v.get(rel).map(|c| (c as *const u32).cast()),
            Counts::U64(v) => v.get(rel).map(|c| (c as *const u64).cast()),
        }
    }

    #[inline(always)]
    pub(crate) fn add(&mut self, b: Bucket, w: u64, max: usize) {
        match b {
            Bucket::Pos(i) => self.pos.add(i, w, max),
            Bucket::Neg(i) => self.neg.add(i, w, max),
            Bucket::Zero => self.zero = self.zero.saturating_add(w),
            Bucket::None => {}
        }
    }
}
