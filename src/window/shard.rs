//! One lock shard: its series (in a [`Slab`]), the key map, and its part of the overflow
//! series.
//!
//! Recording a sample allocates nothing; a series' slot and slices come from the slab's
//! chunks, which are freed when their last series goes. Each slot has a generation, bumped
//! when its series is removed; the id (see `id.rs`) of a removed series no longer matches.
//!
//! The key map goes from a 64-bit key hash to the first slot with that hash; slots with equal
//! hashes are chained through their metas and told apart by comparing keys. Map values of
//! byte-keyed slots carry a marker bit: `u64` keys hash by a bijection, so a `u64` key whose
//! hash leads to an unmarked slot is that slot's key, found without touching the series.

use super::bucket::Bucket;
use super::hash::{hash_bytes, hash_u64};
use super::id::{self, MAX_SLOTS};
use super::slab::{Kind, NIL, Slab};
use super::slice::{Lifetime, Ring, RingMut, SliceMut, Slices};
use super::table::HashIndex;

/// A key to look up (or the key of a live series).
#[derive(Clone, Copy, Debug)]
pub(crate) enum KeyRef<'a> {
    U64(u64),
    Bytes(&'a [u8]),
}

/// Key map values of byte-keyed series carry this bit (slots are below `MAX_SLOTS`), so a
/// `u64` key is found from the map alone.
const BYTES_KEY: u32 = 1 << 31;

/// The overflow series of one shard (they are merged into one row on read).
#[derive(Debug)]
pub(crate) struct Overflow {
    ring: Slices,
    pub used: bool,
    pub changed_at: u64,
    /// Count and sum of the samples of slices emptied for a later time.
    pub folded: Lifetime,
}

impl Overflow {
    /// The lifetime count and sum of this shard's overflow samples.
    pub fn lifetime(&self) -> Lifetime {
        Lifetime::of_ring(self.folded, self.ring.all())
    }

    /// The ring of the overflow series.
    pub fn ring(&self) -> Ring<'_> {
        self.ring.all()
    }

    /// The ring of the overflow series and its lifetime totals.
    pub fn ring_mut(&mut self) -> (RingMut<'_>, &mut Lifetime) {
        (self.ring.all_mut(), &mut self.folded)
    }

    /// Ring position `pos` of the overflow series and its lifetime totals.
    pub fn slice_mut(&mut self, pos: usize) -> Option<(SliceMut<'_>, &mut Lifetime)> {
        Some((self.ring.get_mut(pos)?, &mut self.folded))
    }

    /// Empties every slice and frees the sketches' stores.
    fn clear(&mut self) {
        self.ring.free(0..self.ring.len());
        self.used = false;
        self.folded = Lifetime::default();
    }
}

/// The state behind one shard lock.
pub(crate) struct Shard {
    index: u32,
    slab: Slab,
    map: HashIndex,
    live: usize,
    key_bytes: usize,
    pub overflow: Overflow,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("index", &self.index)
            .field("live", &self.live)
            .finish()
    }
}

impl Shard {
    /// Shard `index`, empty, whose series keep `ring_len` slices each, with a sketch each
    /// when `sketches`.
    pub fn new(index: u32, ring_len: usize, sketches: bool) -> Shard {
        Shard {
            index,
            slab: Slab::new(ring_len, sketches),
            map: HashIndex::default(),
            live: 0,
            key_bytes: 0,
            overflow: Overflow {
                ring: Slices::new(ring_len, sketches),
                used: false,
                changed_at: 0,
                folded: Lifetime::default(),
            },
        }
    }

    /// The id of the series in `slot`.
    #[inline]
    pub fn id(&self, slot: u32) -> u64 {
        let generation = self.slab.meta(slot).map_or(0, |m| m.generation);
        id::make(self.index, slot, generation)
    }

    /// The slot of a live series from its id (the caller routed the id to this shard).
    #[inline]
    pub fn slot_of_id(&self, id: u64) -> Option<u32> {
        let (slot, generation) = (id::slot(id) as u32, id::generation(id));
        match self.slab.meta(slot) {
            Some(m) if m.generation == generation && m.kind() != Kind::Free => Some(slot),
            _ => None,
        }
    }

    /// The slot of the live series of `key`, whose hash is `hash` (for a `u64` key always
    /// `hash_u64(key)`).
    #[inline(always)]
    pub fn find(&self, hash: u64, key: KeyRef<'_>) -> Option<u32> {
        let head = self.map.get(hash)?;
        if let KeyRef::U64(k) = key {
            debug_assert_eq!(hash, hash_u64(k));
            // `hash_u64` is a bijection: the `u64`-keyed series with this hash is this key's.
            if head & BYTES_KEY == 0 {
                return Some(head);
            }
        }
        self.find_in_chain(head & !BYTES_KEY, key)
    }

    /// Walks the chain of series with one hash from `slot` for `key`.
    #[inline]
    fn find_in_chain(&self, mut slot: u32, key: KeyRef<'_>) -> Option<u32> {
        loop {
            let m = self.slab.meta(slot)?;
            let hit = match (m.kind(), key) {
                (Kind::U64, KeyRef::U64(k)) => m.key == k,
                (Kind::Bytes, KeyRef::Bytes(b)) => self.slab.bytes(slot) == Some(b),
                _ => false,
            };
            if hit {
                return Some(slot);
            }
            slot = m.next();
        }
    }

    /// Starts loading the key index entry for `hash`.
    #[inline(always)]
    pub fn prefetch_key(&self, hash: u64) {
        self.map.prefetch(hash);
    }

    /// The address of `slot`'s slice at ring position `pos` (for the calls below).
    #[inline(always)]
    pub fn slice_index(&self, slot: u32, pos: u32) -> usize {
        self.slab.at(slot, pos)
    }

    /// Starts loading slice `at` and its sketch (all ingest writes of a sample, with the
    /// sketch's inline buckets).
    #[inline(always)]
    pub(super) fn prefetch_slice(&self, at: usize) {
        self.slab.prefetch(at);
    }

    /// Slice `at` (an address from [`Shard::slice_index`]) and its sketch, if there is one,
    /// and the lifetime totals its series folds emptied slices into.
    #[inline(always)]
    pub(super) fn slice_mut(&mut self, at: usize) -> Option<(SliceMut<'_>, &mut Lifetime)> {
        self.slab.slice_mut(at)
    }

    /// The ring of the series in `slot` and the lifetime totals it folds emptied slices into.
    pub fn ring_and_folded_mut(&mut self, slot: u32) -> Option<(RingMut<'_>, &mut Lifetime)> {
        self.slab.ring_mut(slot)
    }

    /// The lifetime count and sum of the series in `slot`: monotonic, across rotations of
    /// its slices.
    pub fn lifetime(&self, slot: u32) -> Lifetime {
        let folded = self
            .slab
            .meta(slot)
            .map_or(Lifetime::default(), |m| m.folded);
        Lifetime::of_ring(folded, self.ring(slot))
    }

    /// The newest sample time of the series in `slot` (`i64::MIN` if it has none). A slice is
    /// emptied only to take a sample of a later slice epoch, so its successor holds a newer
    /// time: the newest sample is always in some slice (imports merge into slices too).
    pub fn last_ts(&self, slot: u32) -> i64 {
        self.ring(slot)
            .moments()
            .filter(|sl| sl.count > 0)
            .fold(i64::MIN, |t, sl| t.max(sl.last_ts))
    }

    /// The aggregator generation of the last change to the series in `slot`: its creation,
    /// an import or a sample, each noted in the slice it touched.
    pub fn changed_at(&self, slot: u32) -> u64 {
        self.ring(slot)
            .moments()
            .fold(0, |g, sl| g.max(sl.changed_at))
    }

    /// Starts loading the dense store header of slice `at`'s sketch, if it has one (once
    /// that slice is cached; inline buckets came with it).
    #[inline(always)]
    pub(super) fn prefetch_sketch(&self, at: usize) {
        if let Some(sk) = self.slab.sketch(at) {
            sk.prefetch_store();
        }
    }

    /// Starts loading the counter of bucket `b` in slice `at`'s sketch (once its header is
    /// cached).
    #[inline(always)]
    pub(super) fn prefetch_bucket(&self, at: usize, b: Bucket) {
        if let Some(sk) = self.slab.sketch(at) {
            sk.prefetch(b);
        }
    }

    /// Makes a series for a key known to be absent, noting generation `changed_at` as its
    /// creation. `None` when the shard has no slot left.
    pub fn insert(&mut self, hash: u64, key: KeyRef<'_>, changed_at: u64) -> Option<u32> {
        let head = self.map.get(hash).map_or(NIL, |v| v & !BYTES_KEY);
        let (kind, word, bytes) = match key {
            KeyRef::U64(k) => (Kind::U64, k, None),
            KeyRef::Bytes(b) => (Kind::Bytes, 0, Some(b)),
        };
        let slot = self.slab.take(kind, bytes, head, MAX_SLOTS)?;
        if let Some(m) = self.slab.meta_mut(slot) {
            m.key = word;
        }
        if let Some((ring, _)) = self.slab.ring_mut(slot)
            && let Some(first) = ring.into_slice(0)
        {
            first.moments.changed_at = changed_at;
        }
        self.key_bytes += bytes.map_or(0, <[u8]>::len);
        let value = if kind == Kind::Bytes {
            slot | BYTES_KEY
        } else {
            slot
        };
        self.map.insert(hash, value);
        self.live += 1;
        Some(slot)
    }

    /// The map value of `slot` (live).
    fn map_value(&self, slot: u32) -> u32 {
        match self.slab.meta(slot).map(|m| m.kind()) {
            Some(Kind::Bytes) => slot | BYTES_KEY,
            _ => slot,
        }
    }

    /// Removes a live series and frees its key and sketches (and its chunk, if it was the
    /// chunk's last).
    pub fn remove(&mut self, slot: u32) {
        let hash = match self.key(slot) {
            None => return,
            Some(KeyRef::U64(k)) => hash_u64(k),
            Some(KeyRef::Bytes(b)) => hash_bytes(b),
        };
        self.remove_hashed(slot, hash);
    }

    /// [`Shard::remove`] of a series whose key hashes to `hash` (the key map's hash).
    fn remove_hashed(&mut self, slot: u32, hash: u64) {
        let Some(&m) = self.slab.meta(slot) else {
            return;
        };
        if m.kind() == Kind::Free {
            return;
        }
        self.key_bytes -= self.slab.bytes(slot).map_or(0, <[u8]>::len);
        let next = m.next();
        let head = self.map.get(hash).map_or(NIL, |v| v & !BYTES_KEY);
        if head == slot {
            if next == NIL {
                self.map.remove(hash);
            } else {
                let value = self.map_value(next);
                self.map.insert(hash, value);
            }
        } else {
            let mut cur = head;
            while let Some(c) = self.slab.meta(cur).copied() {
                if c.next() == slot {
                    if let Some(cm) = self.slab.meta_mut(cur) {
                        cm.set(c.kind(), next);
                    }
                    break;
                }
                cur = c.next();
            }
        }
        self.slab.release(slot);
        self.live -= 1;
        self.map.shrink();
    }

    /// Removes every series and empties the overflow series.
    pub fn clear(&mut self) -> usize {
        let removed = self.live;
        let mut slot = 0;
        while slot < self.slab.span() {
            if self.is_live(slot) {
                self.remove(slot);
            }
            slot += 1;
        }
        self.map = HashIndex::default();
        self.overflow.clear();
        removed
    }

    /// The ring of the series in `slot` (empty for a slot of no chunk).
    #[inline]
    pub fn ring(&self, slot: u32) -> Ring<'_> {
        self.slab.ring(slot)
    }

    /// The ring of the series in `slot` (empty for a slot of no chunk).
    #[inline]
    pub fn ring_mut(&mut self, slot: u32) -> RingMut<'_> {
        self.slab
            .ring_mut(slot)
            .map_or(RingMut::Plain(&mut []), |(r, _)| r)
    }

    /// Whether `slot` holds a live series.
    #[inline]
    pub fn is_live(&self, slot: u32) -> bool {
        self.slab.meta(slot).is_some_and(|m| m.kind() != Kind::Free)
    }

    /// Live series are among `0..slot_count()`.
    #[inline]
    pub fn slot_count(&self) -> u32 {
        self.slab.span()
    }

    /// The key of the series in `slot` (`None` for a free slot).
    #[inline]
    pub fn key(&self, slot: u32) -> Option<KeyRef<'_>> {
        let m = self.slab.meta(slot)?;
        match m.kind() {
            Kind::Free => None,
            Kind::U64 => Some(KeyRef::U64(m.key)),
            Kind::Bytes => self.slab.bytes(slot).map(KeyRef::Bytes),
        }
    }

    /// Live series.
    #[inline]
    pub fn live(&self) -> usize {
        self.live
    }

    /// Bytes of interned byte keys.
    #[inline]
    pub fn key_bytes(&self) -> usize {
        self.key_bytes
    }

    /// Heap bytes held (walks every sketch: O(series)).
    pub fn heap_bytes(&self) -> usize {
        self.slab.heap_bytes() + self.map.capacity() * 16 + self.overflow.ring.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_removed_series_go_stale_and_slots_are_reused() {
        let mut sh = Shard::new(3, 2, true);
        let h1 = hash_u64(1);
        let a = sh.insert(h1, KeyRef::U64(1), 0).unwrap();
        let b = sh.insert(h1, KeyRef::Bytes(b"b"), 0).unwrap(); // same hash: chained
        let h2 = hash_u64(2);
        let c = sh.insert(h2, KeyRef::Bytes(b"k"), 0).unwrap();
        let (ida, idb) = (sh.id(a), sh.id(b));
        assert_eq!(ida & 0xff, 3);
        assert_eq!(sh.find(h1, KeyRef::U64(1)), Some(a));
        assert_eq!(sh.find(h1, KeyRef::Bytes(b"b")), Some(b));
        assert_eq!(sh.find(h2, KeyRef::Bytes(b"k")), Some(c));
        assert_eq!(sh.find(h2, KeyRef::U64(2)), None);
        assert_eq!(sh.find(h1, KeyRef::Bytes(b"k")), None);
        // Keys whose hashes the test chose (to chain them) are removed by that hash.
        sh.remove_hashed(b, h1);
        assert_eq!(sh.slot_of_id(idb), None);
        assert_eq!(sh.slot_of_id(ida), Some(a));
        assert_eq!(sh.find(h1, KeyRef::Bytes(b"b")), None);
        assert_eq!(sh.find(h1, KeyRef::U64(1)), Some(a));
        let d = sh.insert(hash_u64(9), KeyRef::U64(9), 0).unwrap();
        assert_eq!(d, b, "slot reused");
        assert_ne!(sh.id(d), idb, "with a new generation");
        assert_eq!(sh.slot_of_id(idb), None);
        // The byte key is the chain's head: removing the u64 key under it unlinks it.
        let e = sh.insert(h1, KeyRef::Bytes(b"e"), 0).unwrap();
        assert_eq!(sh.find(h1, KeyRef::U64(1)), Some(a));
        sh.remove(a);
        assert_eq!(sh.find(h1, KeyRef::U64(1)), None);
        assert_eq!(sh.find(h1, KeyRef::Bytes(b"e")), Some(e));
        sh.remove_hashed(e, h1);
        assert_eq!(sh.find(h1, KeyRef::Bytes(b"e")), None);
        assert_eq!(sh.live(), 2);
        assert_eq!(sh.clear(), 2);
        assert_eq!(sh.live(), 0);
        assert_eq!(sh.key_bytes(), 0);
    }
}
