//! One lock shard: an arena of series records, their slices, and the key map.
//!
//! Series live in slots of `Vec`s that only grow (freed slots are reused through a free list),
//! so recording a sample allocates nothing. Each slot has a generation, bumped when its series
//! is removed; the id (see `id.rs`) of a removed series no longer matches. A slot whose generation would reach `u32::MAX` is retired instead of reused.
//!
//! The key map goes from a 64-bit key hash to the first slot with that hash; slots with equal
//! hashes are chained through `Meta::next` and told apart by comparing keys. Map values of
//! byte-keyed slots carry a marker bit: `u64` keys hash by a bijection, so a `u64` key whose
//! hash leads to an unmarked slot is that slot's key, found without touching the series.

use super::hash::hash_u64;
use super::id::{self, MAX_SLOTS};
use super::sketch::{Bucket, Sketch};
use super::slice::Slice;
use super::table::{HashIndex, NIL, prefetch};

/// The key a series was made for.
#[derive(Debug)]
pub(crate) enum Key {
    /// The slot is free.
    Free,
    /// A caller `u64` key.
    U64(u64),
    /// A byte-string key (UTF-8).
    Bytes(Box<[u8]>),
}

/// A key to look up.
#[derive(Clone, Copy, Debug)]
pub(crate) enum KeyRef<'a> {
    U64(u64),
    Bytes(&'a [u8]),
}

impl Key {
    #[inline(always)]
    fn matches(&self, k: KeyRef<'_>) -> bool {
        match (self, k) {
            (Key::U64(a), KeyRef::U64(b)) => *a == b,
            (Key::Bytes(a), KeyRef::Bytes(b)) => **a == *b,
            _ => false,
        }
    }
}

/// Key map values of byte-keyed series carry this bit (slots are below `MAX_SLOTS`), so a
/// `u64` key is found from the map alone.
const BYTES_KEY: u32 = 1 << 31;

/// The key map value of `slot`, whose key is `key`.
fn map_value(slot: u32, key: &Key) -> u32 {
    if matches!(key, Key::Bytes(_)) {
        slot | BYTES_KEY
    } else {
        slot
    }
}

/// Per-series bookkeeping beside the slices.
#[derive(Debug)]
struct Meta {
    key: Key,
    hash: u64,
    next: u32,
    /// Bumped when the series in this slot is removed (kept while the slot is free).
    generation: u32,
    /// Newest sample timestamp from imports (for idle eviction; ingest keeps it in the
    /// slices: see [`Shard::last_ts`]).
    last_ts: i64,
    /// Aggregator generation of the creation or last import (ingest keeps it in the slices:
    /// see [`Shard::changed_at`]).
    changed_at: u64,
}

/// The overflow series of one shard (they are merged into one row on read).
#[derive(Debug, Default)]
pub(crate) struct Overflow {
    pub ring: Vec<Slice>,
    pub used: bool,
    pub changed_at: u64,
}

/// The state behind one shard lock.
#[derive(Debug)]
pub(crate) struct Shard {
    index: u32,
    metas: Vec<Meta>,
    slices: Vec<Slice>,
    free: Vec<u32>,
    map: HashIndex,
    live: usize,
    key_bytes: usize,
    pub overflow: Overflow,
    ring_len: usize,
}

impl Shard {
    pub fn new(index: u32, ring_len: usize) -> Shard {
        Shard {
            index,
            metas: Vec::new(),
            slices: Vec::new(),
            free: Vec::new(),
            map: HashIndex::default(),
            live: 0,
            key_bytes: 0,
            overflow: Overflow {
                ring: vec![Slice::default(); ring_len],
                used: false,
                changed_at: 0,
            },
            ring_len,
        }
    }

    /// The id of the series in `slot`.
    #[inline]
    pub fn id(&self, slot: u32) -> u64 {
        id::make(self.index, slot, self.metas[slot as usize].generation)
    }

    /// The slot of a live series from its id (the caller routed the id to this shard).
    #[inline]
    pub fn slot_of_id(&self, id: u64) -> Option<u32> {
        let (slot, generation) = (id::slot(id), id::generation(id));
        match self.metas.get(slot) {
            Some(m) if m.generation == generation && !matches!(m.key, Key::Free) => {
                Some(slot as u32)
            }
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
            let m = self.metas.get(slot as usize)?;
            if m.key.matches(key) {
                return Some(slot);
            }
            slot = m.next;
        }
    }

    /// Starts loading the key index entry for `hash`.
    #[inline(always)]
    pub fn prefetch_key(&self, hash: u64) {
        self.map.prefetch(hash);
    }

    /// Index in `slices` of `slot`'s slice at ring position `pos`.
    #[inline(always)]
    pub fn slice_index(&self, slot: u32, pos: u32) -> usize {
        slot as usize * self.ring_len + pos as usize
    }

    /// Starts loading slice `at` (all ingest writes of a sample).
    #[inline(always)]
    pub(super) fn prefetch_slice(&self, at: usize) {
        if let Some(sl) = self.slices.get(at) {
            prefetch(sl);
        }
    }

    /// Slice `at` (an index from [`Shard::slice_index`]), if there is one.
    #[inline(always)]
    pub(super) fn slice_mut(&mut self, at: usize) -> Option<&mut Slice> {
        self.slices.get_mut(at)
    }

    /// The newest sample time of the series in `slot` (`i64::MIN` if it has none): the
    /// newest of its `Meta` (imports) and of its slices. A slice is emptied only to take a
    /// sample of a later slice epoch, so its successor holds a newer time: the newest sample
    /// is always in some slice.
    pub fn last_ts(&self, slot: u32) -> i64 {
        let m = self
            .metas
            .get(slot as usize)
            .map_or(i64::MIN, |m| m.last_ts);
        self.ring(slot)
            .iter()
            .filter(|sl| sl.count > 0)
            .fold(m, |t, sl| t.max(sl.last_ts))
    }

    /// The aggregator generation of the last change to the series in `slot`: its creation
    /// or an import (`Meta`), or a sample recorded in one of its slices.
    pub fn changed_at(&self, slot: u32) -> u64 {
        let m = self.metas.get(slot as usize).map_or(0, |m| m.changed_at);
        self.ring(slot).iter().fold(m, |g, sl| g.max(sl.changed_at))
    }

    /// Starts loading the sketch header of slice `at` (once that slice is cached).
    #[inline(always)]
    pub(super) fn prefetch_sketch(&self, at: usize) {
        if let Some(sk) = self.slices.get(at).and_then(|sl| sl.sketch.as_deref()) {
            prefetch(sk);
        }
    }

    /// Starts loading the counter of bucket `b` in slice `at`'s sketch (once its header is
    /// cached).
    #[inline(always)]
    pub(super) fn prefetch_bucket(&self, at: usize, b: Bucket) {
        if let Some(sk) = self.slices.get(at).and_then(|sl| sl.sketch.as_deref()) {
            sk.prefetch(b);
        }
    }

    /// Makes a series for a key known to be absent. `None` when the shard has no slot left.
    pub fn insert(&mut self, hash: u64, key: KeyRef<'_>, changed_at: u64) -> Option<u32> {
        let owned = match key {
            KeyRef::U64(k) => Key::U64(k),
            KeyRef::Bytes(b) => {
                self.key_bytes += b.len();
                Key::Bytes(b.into())
            }
        };
        let head = self.map.get(hash).map_or(NIL, |v| v & !BYTES_KEY);
        let meta = Meta {
            key: owned,
            hash,
            next: head,
            generation: 1,
            last_ts: i64::MIN,
            changed_at,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                let generation = self.metas[slot as usize].generation;
                self.metas[slot as usize] = Meta { generation, ..meta };
                slot
            }
            None => {
                if self.metas.len() >= MAX_SLOTS {
                    if let Key::Bytes(b) = &meta.key {
                        self.key_bytes -= b.len();
                    }
                    return None;
                }
                let slot = self.metas.len() as u32;
                self.metas.push(meta);
                self.slices
                    .extend(std::iter::repeat_with(Slice::default).take(self.ring_len));
                slot
            }
        };
        let value = map_value(slot, &self.metas[slot as usize].key);
        self.map.insert(hash, value);
        self.live += 1;
        Some(slot)
    }

    /// Removes a live series and frees its key and sketches.
    pub fn remove(&mut self, slot: u32) {
        let s = slot as usize;
        let (hash, next) = (self.metas[s].hash, self.metas[s].next);
        let head = self.map.get(hash).map_or(NIL, |v| v & !BYTES_KEY);
        if head == slot {
            if next == NIL {
                self.map.remove(hash);
            } else {
                let value = map_value(next, &self.metas[next as usize].key);
                self.map.insert(hash, value);
            }
        } else {
            let mut cur = head;
            while cur != NIL {
                let n = self.metas[cur as usize].next;
                if n == slot {
                    self.metas[cur as usize].next = next;
                    break;
                }
                cur = n;
            }
        }
        if let Key::Bytes(b) = &self.metas[s].key {
            self.key_bytes -= b.len();
        }
        self.metas[s].key = Key::Free;
        self.metas[s].next = NIL;
        for sl in self.ring_mut(slot) {
            sl.free();
        }
        self.metas[s].generation += 1;
        if self.metas[s].generation < u32::MAX {
            self.free.push(slot);
        }
        self.live -= 1;
    }

    /// Removes every series and empties the overflow series.
    pub fn clear(&mut self) -> usize {
        let removed = self.live;
        for slot in 0..self.metas.len() as u32 {
            if !matches!(self.metas[slot as usize].key, Key::Free) {
                self.remove(slot);
            }
        }
        self.map = HashIndex::default();
        for sl in &mut self.overflow.ring {
            sl.free();
        }
        self.overflow.used = false;
        removed
    }

    #[inline]
    pub fn ring_mut(&mut self, slot: u32) -> &mut [Slice] {
        let start = slot as usize * self.ring_len;
        &mut self.slices[start..start + self.ring_len]
    }

    #[inline]
    pub fn ring(&self, slot: u32) -> &[Slice] {
        let start = slot as usize * self.ring_len;
        &self.slices[start..start + self.ring_len]
    }

    /// Whether `slot` holds a live series.
    #[inline]
    pub fn is_live(&self, slot: u32) -> bool {
        !matches!(self.metas[slot as usize].key, Key::Free)
    }

    /// Slots in use or free: live series are among `0..slot_count()`.
    #[inline]
    pub fn slot_count(&self) -> u32 {
        self.metas.len() as u32
    }

    /// The key of the series in `slot` ([`Key::Free`] for a free slot).
    #[inline]
    pub fn key(&self, slot: u32) -> &Key {
        &self.metas[slot as usize].key
    }

    /// Notes an import into the series in `slot`: its newest sample time and the generation
    /// of the change (samples recorded by ingest note both in the slices themselves).
    pub fn note_import(&mut self, slot: u32, last_ts: i64, generation: u64) {
        let m = &mut self.metas[slot as usize];
        m.last_ts = m.last_ts.max(last_ts);
        m.changed_at = generation;
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
        let sketches: usize = self
            .slices
            .iter()
            .chain(&self.overflow.ring)
            .filter_map(|s| s.sketch.as_deref())
            .map(|s| s.heap_bytes() + std::mem::size_of::<Sketch>())
            .sum();
        self.metas.capacity() * std::mem::size_of::<Meta>()
            + self.free.capacity() * 4
            + self.slices.capacity() * std::mem::size_of::<Slice>()
            + self.map.capacity() * 16
            + self.key_bytes
            + sketches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_removed_series_go_stale_and_slots_are_reused() {
        let mut sh = Shard::new(3, 2);
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
        sh.remove(b);
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
        sh.remove(e);
        assert_eq!(sh.find(h1, KeyRef::Bytes(b"e")), None);
        assert_eq!(sh.live(), 2);
        assert_eq!(sh.clear(), 2);
        assert_eq!(sh.live(), 0);
        assert_eq!(sh.key_bytes(), 0);
    }
}
