//! The key index of a shard: an open-addressing table from 64-bit key hashes to slots.
//!
//! Linear probing over `(hash, slot)` pairs stored inline (the hash is compared without
//! touching the series), at most 3/4 full, deletion by backward shift (no tombstones, so
//! lookups never slow down after evictions). The hashes are already mixed, so the low bits
//! index the table directly.

/// Hints the CPU to start loading the cache lines that hold `*r` (no effect on results).
#[inline(always)]
pub(crate) fn prefetch<T>(r: &T) {
    let start = (r as *const T).cast::<u8>();
    let size = std::mem::size_of::<T>().max(1);
    // One hint per 64-byte line the object may touch (the loop unrolls: size is a constant).
    let mut off = 0;
    while off < size + 63 {
        let at = start.wrapping_add(off.min(size - 1));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint: it never faults and changes no program-visible
        // state, whatever the address (here inside `*r` anyway); SSE is in the x86-64 baseline.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(at.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = at;
        off += 64;
    }
}

/// Hints the CPU to start loading the cache line of `at` (no effect on results).
#[inline(always)]
pub(crate) fn prefetch_addr(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and changes no program-visible
    // state, whatever the address; SSE is in the x86-64 baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Marks an empty entry.
pub(crate) const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Entry {
    hash: u64,
    slot: u32,
}

const EMPTY: Entry = Entry { hash: 0, slot: NIL };
const MIN_CAPACITY: usize = 16;

/// A map from key hash to slot (one slot per hash; the shard chains equal hashes itself).
#[derive(Default)]
pub(crate) struct HashIndex {
    entries: Vec<Entry>,
    len: usize,
}

impl std::fmt::Debug for HashIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashIndex")
            .field("len", &self.len)
            .field("capacity", &self.entries.len())
            .finish()
    }
}

impl HashIndex {
    /// The slot stored for `hash`.
    #[inline(always)]
    pub fn get(&self, hash: u64) -> Option<u32> {
        let entries = &self.entries[..];
        if entries.is_empty() {
            return None;
        }
        let mask = entries.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let e = entries[i];
            if e.hash == hash && e.slot != NIL {
                return Some(e.slot);
            }
            if e.slot == NIL {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Starts loading the entry where a lookup of `hash` begins.
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        if !self.entries.is_empty()
            && let Some(e) = self.entries.get(hash as usize & (self.entries.len() - 1))
        {
            prefetch(e);
        }
    }

    /// Sets the slot of `hash` (replacing any).
    pub fn insert(&mut self, hash: u64, slot: u32) {
        debug_assert!(slot != NIL);
        if (self.len + 1) * 4 > self.entries.len() * 3 {
            self.grow();
        }
        let mask = self.entries.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let e = &mut self.entries[i];
            if e.slot == NIL {
                *e = Entry { hash, slot };
                self.len += 1;
                return;
            }
            if e.hash == hash {
                e.slot = slot;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Removes `hash` if present.
    pub fn remove(&mut self, hash: u64) {
        if self.entries.is_empty() {
            return;
        }
        let mask = self.entries.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let e = self.entries[i];
            if e.slot == NIL {
                return;
            }
            if e.hash == hash {
                break;
            }
            i = (i + 1) & mask;
        }
        // Backward shift: move later entries of the run into the hole when the hole lies on
        // their probe path (between their home and where they are).
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let e = self.entries[j];
            if e.slot == NIL {
                break;
            }
            let home = e.hash as usize & mask;
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                self.entries[hole] = e;
                hole = j;
            }
        }
        self.entries[hole] = EMPTY;
        self.len -= 1;
    }

    fn grow(&mut self) {
        self.rebuild((self.entries.len() * 2).max(MIN_CAPACITY));
    }

    /// Gives memory back when at most 1/8 of the table is used (down to a table at most
    /// 3/8 full, or none when empty), so that removals return what inserts took.
    pub fn shrink(&mut self) {
        if self.len == 0 {
            self.entries = Vec::new();
        } else if self.len * 8 <= self.entries.len() && self.entries.len() > MIN_CAPACITY {
            self.rebuild((self.len * 8 / 3).next_power_of_two().max(MIN_CAPACITY));
        }
    }

    fn rebuild(&mut self, cap: usize) {
        let old = std::mem::replace(&mut self.entries, vec![EMPTY; cap]);
        self.len = 0;
        for e in old {
            if e.slot != NIL {
                self.insert(e.hash, e.slot);
            }
        }
    }

    /// Entries the table has room for before it grows.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn matches_a_hash_map_under_random_inserts_and_removes() {
        let mut t = HashIndex::default();
        let mut reference = HashMap::new();
        let mut x = 5u64;
        for step in 0..200_000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Few distinct low bits, so runs collide and wrap around the table.
            let hash = (x >> 40) % 5000 * 0x1_0000_0001;
            if (x >> 20).is_multiple_of(3) {
                t.remove(hash);
                reference.remove(&hash);
            } else {
                t.insert(hash, step);
                reference.insert(hash, step);
            }
            if step % 1000 == 0 {
                for h in 0..5000u64 {
                    let h = h * 0x1_0000_0001;
                    assert_eq!(t.get(h), reference.get(&h).copied());
                }
            }
        }
        assert_eq!(t.len, reference.len());
    }
}
