//! Sketch stores of `(key, count)` pairs sorted by key (see `bucket.rs` for the keys): a few
//! pairs inline in the sketch ([`Inline`]), then a vector of them ([`Sparse`]) while that is
//! smaller than a dense range would be. Counts are `u32`; a store whose count would pass it
//! goes dense. Both keep the collapse rule of the dense store: pairs of one sign more than
//! `max - 1` indices below that sign's highest fold into the lowest kept index.

/// One bucket: its key and count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pair {
    pub key: i32,
    pub count: u32,
}

/// Pairs kept inline before a store takes an allocation.
pub(crate) const INLINE: usize = 5;

/// What [`Pairs::add_new`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Added {
    /// The pair is in, the cap applied.
    Yes,
    /// The pair is in, but applying the cap would pass `u32` in a count: the store must go
    /// dense (whose counts are wider), which applies the cap itself.
    Widen,
    /// Nothing changed: no room, the key exists, or the count passes `u32`.
    No,
}

/// Sorted pairs with room that may run out.
pub(crate) trait Pairs {
    fn pairs(&self) -> &[Pair];
    fn pairs_mut(&mut self) -> &mut [Pair];
    /// Inserts `p` at `at`; `false` (changing nothing) when there is no room.
    fn insert_at(&mut self, at: usize, p: Pair) -> bool;
    /// Removes the pairs `a..b`.
    fn remove_range(&mut self, a: usize, b: usize);

    /// Adds `w` to the pair of key `k`, if there is one that can hold it; `false` otherwise.
    #[inline(always)]
    fn add_existing(&mut self, k: i32, w: u64) -> bool {
        let ps = self.pairs_mut();
        let at = if ps.len() <= INLINE {
            ps.iter().position(|p| p.key == k)
        } else {
            ps.binary_search_by_key(&k, |p| p.key).ok()
        };
        match at.and_then(|j| ps.get_mut(j)) {
            Some(p) => match u32::try_from(w).ok().and_then(|w| p.count.checked_add(w)) {
                Some(c) => {
                    p.count = c;
                    true
                }
                None => false,
            },
            None => false,
        }
    }

    /// Inserts a new key `k` with count `w` and applies the bucket cap.
    fn add_new(&mut self, k: i32, w: u64, max: usize) -> Added {
        let Ok(w) = u32::try_from(w) else {
            return Added::No;
        };
        let at = self.pairs().partition_point(|p| p.key < k);
        if self.pairs().get(at).is_some_and(|p| p.key == k) {
            return Added::No;
        }
        if !self.insert_at(at, Pair { key: k, count: w }) {
            return Added::No;
        }
        if self.collapse(max) {
            Added::Yes
        } else {
            Added::Widen
        }
    }

    /// Applies the bucket cap to each sign; `false` (pairs partly folded, every count kept) if
    /// a folded count would pass `u32`.
    fn collapse(&mut self, max: usize) -> bool {
        let m = max as i32 - 1;
        // Positive keys ascend with the index; the highest is last.
        if let Some(top) = self.pairs().last().map(|p| p.key)
            && top > 0
            && !self.fold(|k| k > 0 && k < top - m, top - m)
        {
            return false;
        }
        // Negative keys descend with the index; the highest index has the lowest key.
        if let Some(bottom) = self.pairs().first().map(|p| p.key)
            && bottom < 0
        {
            return self.fold(|k| k < 0 && k > bottom + m, bottom + m);
        }
        true
    }

    /// Merges the pairs `under` selects (adjacent in the sorted keys) into one pair of key
    /// `to` (placed where it sorts); `false`, changing nothing, if its count would pass `u32`.
    fn fold(&mut self, under: impl Fn(i32) -> bool, to: i32) -> bool {
        let ps = self.pairs();
        let Some(first) = ps.iter().position(|p| under(p.key)) else {
            return true;
        };
        let last = first + ps[first..].iter().take_while(|p| under(p.key)).count();
        let existing = ps.iter().position(|p| p.key == to);
        let total = ps[first..last]
            .iter()
            .chain(existing.map(|j| &ps[j]))
            .map(|p| u64::from(p.count))
            .sum::<u64>();
        let Ok(total) = u32::try_from(total) else {
            return false;
        };
        // The target pair, if it exists, sits right next to the folded run.
        if let Some(j) = existing {
            self.pairs_mut()[j].count = total;
            self.remove_range(first, last);
        } else {
            // Reuse the run's first pair as the target: `to` sorts where the run was.
            let p = &mut self.pairs_mut()[first];
            p.key = to;
            p.count = total;
            self.remove_range(first + 1, last);
        }
        true
    }
}

/// The inline pairs of a small store.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Inline {
    len: u8,
    pairs: [Pair; INLINE],
}

impl Pairs for Inline {
    #[inline(always)]
    fn pairs(&self) -> &[Pair] {
        &self.pairs[..usize::from(self.len).min(INLINE)]
    }

    #[inline(always)]
    fn pairs_mut(&mut self) -> &mut [Pair] {
        &mut self.pairs[..usize::from(self.len).min(INLINE)]
    }

    fn insert_at(&mut self, at: usize, p: Pair) -> bool {
        let n = usize::from(self.len);
        if n >= INLINE || at > n {
            return false;
        }
        self.pairs.copy_within(at..n, at + 1);
        self.pairs[at] = p;
        self.len += 1;
        true
    }

    fn remove_range(&mut self, a: usize, b: usize) {
        let n = usize::from(self.len);
        self.pairs.copy_within(b..n, a);
        self.len = (n - (b - a)) as u8;
    }
}

impl Inline {
    /// Empties it.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }
}

/// The pairs of a store past [`INLINE`] buckets.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Sparse {
    pub pairs: Vec<Pair>,
    /// Adds to existing pairs: a store that takes many samples per bucket is worth the
    /// speed of a dense one (a binary search per sample costs more than an index).
    pub hits: u32,
}

impl Pairs for Sparse {
    #[inline(always)]
    fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    #[inline(always)]
    fn pairs_mut(&mut self) -> &mut [Pair] {
        &mut self.pairs
    }

    fn insert_at(&mut self, at: usize, p: Pair) -> bool {
        if at > self.pairs.len() {
            return false;
        }
        if self.pairs.len() == self.pairs.capacity() {
            // Grow by a quarter at least: fewer reallocations than one pair at a time, less
            // slack than doubling.
            let n = self.pairs.len();
            self.pairs.reserve_exact(n / 4 + 4);
        }
        self.pairs.insert(at, p);
        true
    }

    fn remove_range(&mut self, a: usize, b: usize) {
        self.pairs.drain(a..b);
    }
}

impl Sparse {
    /// The bytes a dense store of the same buckets would take: two per bucket of each sign's
    /// index range, and its header.
    pub(crate) fn dense_bytes(&self) -> usize {
        let ps = &self.pairs;
        let span = |keys: &[Pair]| match (keys.first(), keys.last()) {
            (Some(a), Some(b)) => (b.key - a.key) as usize + 1,
            _ => 0,
        };
        let neg_end = ps.partition_point(|p| p.key < 0);
        let pos_start = ps.partition_point(|p| p.key <= 0);
        2 * (span(&ps[..neg_end]) + span(&ps[pos_start..])) + 96
    }

    /// Bytes of heap held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.pairs.capacity() * std::mem::size_of::<Pair>()
    }

    /// Whether the store should go dense: it is larger than a dense store of its buckets, or
    /// it takes many samples per bucket (more than 4 each, past a start of 64).
    #[inline(always)]
    pub(crate) fn outgrown(&self) -> bool {
        self.hits as usize > 4 * self.pairs.len() + 64 || self.heap_bytes() > self.dense_bytes()
    }
}
