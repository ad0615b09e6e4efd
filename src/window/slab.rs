//! The slots of one shard's series, in chunks that are allocated as series arrive and freed
//! as they go.
//!
//! A slot holds a series' [`Meta`] (key, hash chain link, generation, lifetime totals) and its
//! ring of slices (each followed by its sketch only in slabs of an aggregator that keeps
//! sketches); byte keys live beside them, in a per-chunk table made only for chunks that hold
//! one. Chunks hold 1024 slots (a slot's chunk and offset are its bits), except that the
//! first starts with 16 and doubles as it fills, so a shard with a few series holds a few
//! hundred bytes and a shard with millions wastes at most one chunk.
//! Recording a sample allocates nothing; making a series allocates only when it opens a new
//! chunk. Each chunk keeps its free slots in a list threaded through their metas; a chunk
//! whose last series goes is freed, and the shard remembers only the generation its slots
//! start at when it is made again (above every generation it had), so an id from before
//! never matches a new series.

use super::sketch::Sketch;
use super::slice::{Lifetime, Ring, RingMut, SliceMut, Slices};

/// Slots the first chunk starts with (it doubles up to [`CHUNK`] as it fills).
const FIRST: usize = 16;
/// Bits of a slot's offset in its chunk.
const CHUNK_BITS: u32 = 10;
/// Slots of a chunk.
const CHUNK: usize = 1 << CHUNK_BITS;
/// Marks the end of a free list and a chain.
pub(crate) const NIL: u32 = u32::MAX;
/// A slice's address is `chunk << 18 | offset << 8 | ring position` (rings are at most 130
/// slices long, offsets below 1024).
const POS_BITS: u32 = 8;
const OFFSET_BITS: u32 = 10;

/// The chunk of `slot` and the slot's offset in it.
#[inline(always)]
fn locate(slot: u32) -> (usize, usize) {
    let s = slot as usize;
    (s >> CHUNK_BITS, s & (CHUNK - 1))
}

/// The first slot of chunk `c`.
fn chunk_start(c: usize) -> usize {
    c << CHUNK_BITS
}

/// What a slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Free,
    U64,
    Bytes,
}

/// Per-series bookkeeping beside the slices: 32 bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    /// The `u64` key (0 for byte keys, which are in the chunk's key table).
    pub key: u64,
    /// The kind in the top two bits; the next slot of the hash chain (or of the chunk's free
    /// list, for a free slot) in the low 30 ([`NIL`] when none).
    link: u32,
    /// Bumped when the series in this slot is removed (kept while the slot is free).
    pub generation: u32,
    /// Count and sum of the samples of slices emptied for a later time: with what the slices
    /// hold, the series' lifetime totals.
    pub folded: Lifetime,
}

const LINK_MASK: u32 = (1 << 30) - 1;

impl Meta {
    #[inline(always)]
    pub fn kind(&self) -> Kind {
        match self.link >> 30 {
            0 => Kind::Free,
            1 => Kind::U64,
            _ => Kind::Bytes,
        }
    }

    /// The next slot of the chain (or free list).
    #[inline(always)]
    pub fn next(&self) -> u32 {
        match self.link & LINK_MASK {
            LINK_MASK => NIL,
            n => n,
        }
    }

    #[inline(always)]
    pub fn set(&mut self, kind: Kind, next: u32) {
        let k = match kind {
            Kind::Free => 0,
            Kind::U64 => 1,
            Kind::Bytes => 2,
        };
        self.link = (k << 30) | (next & LINK_MASK);
    }
}

/// The byte keys of a chunk's slots (`None` for slots without one).
type ByteKeys = Vec<Option<Box<[u8]>>>;

/// The meta of a free slot that was never used, at generation `floor`.
fn free_meta(floor: u32) -> Meta {
    Meta {
        key: 0,
        // Free, no next slot.
        link: LINK_MASK,
        generation: floor,
        folded: Lifetime::default(),
    }
}

struct Chunk {
    /// One per slot the chunk has room for (fewer than [`CHUNK`] only while the first chunk
    /// grows).
    metas: Vec<Meta>,
    slices: Slices,
    /// Byte keys of the chunk's slots, made with the chunk's first byte key.
    keys: Option<ByteKeys>,
    live: u32,
    /// Head of the free list (offsets in the chunk), [`NIL`] when empty.
    free: u32,
    /// Slots handed out so far (the ones above were never used).
    used: u32,
}

/// The slots of one shard.
pub(crate) struct Slab {
    chunks: Vec<Option<Chunk>>,
    /// The generation each chunk's slots start at when it is made (again).
    floors: Vec<u32>,
    /// Chunks that may have a free slot (some entries stale: checked when popped).
    open: Vec<u32>,
    ring_len: usize,
    /// Whether each slice has a sketch.
    sketches: bool,
    /// Slots below this may be live (the end of the highest chunk ever made).
    span: u32,
}

impl Slab {
    /// An empty slab whose series keep `ring_len` slices each, with a sketch each when
    /// `sketches`.
    pub fn new(ring_len: usize, sketches: bool) -> Slab {
        Slab {
            chunks: Vec::new(),
            floors: Vec::new(),
            open: Vec::new(),
            ring_len,
            sketches,
            span: 0,
        }
    }

    /// The meta of `slot`, if its chunk exists.
    #[inline(always)]
    pub fn meta(&self, slot: u32) -> Option<&Meta> {
        let (c, o) = locate(slot);
        self.chunks.get(c)?.as_ref()?.metas.get(o)
    }

    #[inline(always)]
    pub fn meta_mut(&mut self, slot: u32) -> Option<&mut Meta> {
        let (c, o) = locate(slot);
        self.chunks.get_mut(c)?.as_mut()?.metas.get_mut(o)
    }

    /// The byte key of `slot`.
    pub fn bytes(&self, slot: u32) -> Option<&[u8]> {
        let (c, o) = locate(slot);
        self.chunks
            .get(c)?
            .as_ref()?
            .keys
            .as_ref()?
            .get(o)?
            .as_deref()
    }

    /// The address of the slice of `slot` at ring position `pos`, for [`Slab::slice`].
    #[inline(always)]
    pub fn at(&self, slot: u32, pos: u32) -> usize {
        let (c, o) = locate(slot);
        (c << (OFFSET_BITS + POS_BITS)) | (o << POS_BITS) | pos as usize
    }

    /// The chunk, offset and slice index of address `at`.
    #[inline(always)]
    fn split(&self, at: usize) -> (usize, usize, usize) {
        let o = (at >> POS_BITS) & ((1 << OFFSET_BITS) - 1);
        let pos = at & ((1 << POS_BITS) - 1);
        (at >> (OFFSET_BITS + POS_BITS), o, o * self.ring_len + pos)
    }

    /// Starts loading the slice at `at` and its sketch.
    #[inline(always)]
    pub fn prefetch(&self, at: usize) {
        let (c, _, i) = self.split(at);
        if let Some(Some(ch)) = self.chunks.get(c) {
            ch.slices.prefetch(i);
        }
    }

    /// The sketch of the slice at `at`, if the slab keeps sketches.
    #[inline(always)]
    pub fn sketch(&self, at: usize) -> Option<&Sketch> {
        let (c, _, i) = self.split(at);
        self.chunks.get(c)?.as_ref()?.slices.sketch(i)
    }

    /// The slice at `at`, its sketch and the lifetime totals of its series.
    #[inline(always)]
    pub fn slice_mut(&mut self, at: usize) -> Option<(SliceMut<'_>, &mut Lifetime)> {
        let (c, o, i) = self.split(at);
        let ch = self.chunks.get_mut(c)?.as_mut()?;
        let sl = ch.slices.get_mut(i)?;
        let m = ch.metas.get_mut(o)?;
        Some((sl, &mut m.folded))
    }

    /// The ring of `slot` (empty if its chunk does not exist).
    #[inline]
    pub fn ring(&self, slot: u32) -> Ring<'_> {
        let (c, o) = locate(slot);
        match self.chunks.get(c) {
            Some(Some(ch)) => ch.slices.ring(o * self.ring_len..(o + 1) * self.ring_len),
            _ => None,
        }
        .unwrap_or(Ring::EMPTY)
    }

    /// The ring of `slot` and its series' lifetime totals.
    pub fn ring_mut(&mut self, slot: u32) -> Option<(RingMut<'_>, &mut Lifetime)> {
        let (c, o) = locate(slot);
        let ring_len = self.ring_len;
        let ch = self.chunks.get_mut(c)?.as_mut()?;
        let ring = ch.slices.ring_mut(o * ring_len..(o + 1) * ring_len)?;
        Some((ring, &mut ch.metas.get_mut(o)?.folded))
    }

    /// Slots below this may hold series.
    #[inline]
    pub fn span(&self) -> u32 {
        self.span
    }

    /// Takes a free slot for a series of `kind` (its byte key `bytes`), chain link `next`,
    /// or `None` when the shard cannot address another slot (`max_slots`).
    pub fn take(
        &mut self,
        kind: Kind,
        bytes: Option<&[u8]>,
        next: u32,
        max_slots: usize,
    ) -> Option<u32> {
        let c = self.open_chunk(max_slots)?;
        let start = chunk_start(c);
        let ring_len = self.ring_len;
        let ch = self.chunks[c].as_mut()?;
        let o = if ch.free != NIL {
            let o = ch.free;
            ch.free = ch.metas[o as usize].next();
            o as usize
        } else {
            ch.used += 1;
            ch.used as usize - 1
        };
        ch.live += 1;
        let m = &mut ch.metas[o];
        m.set(kind, next);
        m.folded = Lifetime::default();
        ch.slices.free(o * ring_len..(o + 1) * ring_len);
        if let Some(b) = bytes {
            let len = ch.metas.len();
            let keys = ch.keys.get_or_insert_with(Vec::new);
            keys.resize(len, None);
            keys[o] = Some(b.into());
        }
        Some((start + o) as u32)
    }

    /// A chunk with a free slot: an open one (grown if it may), or a new one.
    fn open_chunk(&mut self, max_slots: usize) -> Option<usize> {
        let ring_len = self.ring_len;
        while let Some(&c) = self.open.last() {
            if let Some(Some(ch)) = self.chunks.get_mut(c as usize) {
                if ch.free != NIL || (ch.used as usize) < ch.metas.len() {
                    return Some(c as usize);
                }
                let len = ch.metas.len();
                if len < CHUNK && chunk_start(c as usize) + 2 * len <= max_slots {
                    let floor = self.floors[c as usize];
                    ch.metas.resize(2 * len, free_meta(floor));
                    ch.slices.resize(2 * len * ring_len);
                    if let Some(keys) = ch.keys.as_mut() {
                        keys.resize(2 * len, None);
                    }
                    self.span = self.span.max((chunk_start(c as usize) + 2 * len) as u32);
                    return Some(c as usize);
                }
            }
            self.open.pop();
        }
        // The lowest chunk not made (or freed, and not retired), so that live slots stay low.
        let retired = |c: usize| self.floors.get(c) == Some(&u32::MAX);
        let c = (0..)
            .find(|&c| self.chunks.get(c).is_none_or(Option::is_none) && !retired(c))
            .unwrap_or(usize::MAX);
        let len = if c == 0 { FIRST } else { CHUNK };
        if chunk_start(c).saturating_add(len) > max_slots {
            return None;
        }
        while self.chunks.len() <= c {
            self.chunks.push(None);
        }
        while self.floors.len() <= c {
            self.floors.push(1);
        }
        let floor = self.floors[c];
        self.chunks[c] = Some(Chunk {
            metas: vec![free_meta(floor); len],
            slices: Slices::new(len * self.ring_len, self.sketches),
            keys: None,
            live: 0,
            free: NIL,
            used: 0,
        });
        self.span = self.span.max((chunk_start(c) + len) as u32);
        self.open.push(c as u32);
        Some(c)
    }

    /// Frees `slot` (live): its key, sketches and, when it was the chunk's last series, the
    /// chunk. A slot whose generation would reach `u32::MAX` is retired, never reused.
    pub fn release(&mut self, slot: u32) {
        let (c, o) = locate(slot);
        let ring_len = self.ring_len;
        let Some(Some(ch)) = self.chunks.get_mut(c) else {
            return;
        };
        let was_full = ch.free == NIL && ch.used as usize == ch.metas.len();
        ch.slices.free(o * ring_len..(o + 1) * ring_len);
        if let Some(keys) = ch.keys.as_mut() {
            keys[o] = None;
        }
        ch.live -= 1;
        let m = &mut ch.metas[o];
        m.generation += 1;
        if m.generation < u32::MAX {
            m.set(Kind::Free, ch.free);
            ch.free = o as u32;
        } else {
            m.set(Kind::Free, NIL);
        }
        if ch.live == 0 {
            let top = ch.metas.iter().map(|m| m.generation).max().unwrap_or(0);
            // A chunk with a retired slot is never made again.
            self.floors[c] = if top >= u32::MAX - 1 {
                u32::MAX
            } else {
                top + 1
            };
            self.chunks[c] = None;
            // Freed chunks at the end are forgotten (their floors kept), unless retired.
            while self.chunks.last().is_some_and(Option::is_none)
                && self.floors.get(self.chunks.len() - 1) != Some(&u32::MAX)
            {
                self.chunks.pop();
            }
            self.span = match self.chunks.last() {
                Some(Some(ch)) => (chunk_start(self.chunks.len() - 1) + ch.metas.len()) as u32,
                _ => chunk_start(self.chunks.len()) as u32,
            };
            if self.chunks.is_empty() {
                self.chunks = Vec::new();
                self.open = Vec::new();
            }
        } else if was_full {
            self.open.push(c as u32);
        }
    }

    /// Heap bytes held by the chunks, their slices and their sketches' stores.
    pub fn heap_bytes(&self) -> usize {
        let chunks: usize = self
            .chunks
            .iter()
            .flatten()
            .map(|ch| {
                ch.metas.len() * std::mem::size_of::<Meta>()
                    + ch.slices.heap_bytes()
                    + ch.keys.as_ref().map_or(0, |k| {
                        k.len() * 16 + k.iter().flatten().map(|b| b.len()).sum::<usize>()
                    })
            })
            .sum();
        chunks
            + self.chunks.capacity() * std::mem::size_of::<Option<Chunk>>()
            + self.floors.capacity() * 4
            + self.open.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_chunk_grows_and_later_ones_are_whole() {
        let mut s = Slab::new(3, true);
        for i in 0..3000u32 {
            assert_eq!(s.take(Kind::U64, None, NIL, 1 << 24), Some(i));
            assert_eq!(locate(i), ((i >> 10) as usize, (i & 1023) as usize));
            let (ring, _) = s.ring_mut(i).unwrap();
            assert!(matches!(ring, RingMut::Sketched(r) if r.len() == 3));
        }
        assert_eq!(s.span(), 3072);
        let chunk = |c: usize| s.chunks[c].as_ref().map_or(0, |ch| ch.metas.len());
        assert_eq!((chunk(0), chunk(1), chunk(2)), (1024, 1024, 1024));
        // A small slab holds a small first chunk.
        let mut t = Slab::new(1, true);
        for _ in 0..20 {
            t.take(Kind::U64, None, NIL, 1 << 24).unwrap();
        }
        assert_eq!(t.chunks[0].as_ref().unwrap().metas.len(), 32);
        assert_eq!(t.span(), 32);
    }

    #[test]
    fn freed_chunks_come_back_with_higher_generations() {
        let mut s = Slab::new(2, true);
        let slots: Vec<u32> = (0..100)
            .map(|_| s.take(Kind::U64, None, NIL, 1 << 24).unwrap())
            .collect();
        assert_eq!(slots, (0..100).collect::<Vec<_>>());
        let generations: Vec<u32> = slots
            .iter()
            .map(|&x| s.meta(x).unwrap().generation)
            .collect();
        for &x in &slots {
            s.release(x);
        }
        assert_eq!(s.span(), 0);
        assert!(s.heap_bytes() < 200, "{}", s.heap_bytes());
        for (i, &old) in generations.iter().enumerate() {
            let x = s.take(Kind::U64, None, NIL, 1 << 24).unwrap();
            assert_eq!(x, i as u32);
            assert!(s.meta(x).unwrap().generation > old);
        }
        // A byte key and a slot of a middle chunk freed and reused.
        let b = s.take(Kind::Bytes, Some(b"key"), NIL, 1 << 24).unwrap();
        assert_eq!(s.bytes(b), Some(&b"key"[..]));
        s.release(20);
        assert_eq!(s.take(Kind::U64, None, NIL, 1 << 24), Some(20));
        assert_eq!(s.meta(b).unwrap().kind(), Kind::Bytes);
        // The slot cap.
        let mut t = Slab::new(1, true);
        for _ in 0..16 {
            t.take(Kind::U64, None, NIL, 16).unwrap();
        }
        assert_eq!(t.take(Kind::U64, None, NIL, 16), None);
    }

    #[test]
    fn a_slab_without_sketches_holds_none() {
        let size = |sketches: bool| {
            let mut s = Slab::new(2, sketches);
            for _ in 0..2000 {
                s.take(Kind::U64, None, NIL, 1 << 24).unwrap();
            }
            let at = s.at(1500, 1);
            assert_eq!(s.sketch(at).is_some(), sketches);
            let (sl, _) = s.slice_mut(at).unwrap();
            assert_eq!(sl.sketch.is_some(), sketches);
            let (ring, _) = s.ring_mut(1500).unwrap();
            assert_eq!(matches!(ring, RingMut::Sketched(_)), sketches);
            assert_eq!(s.ring(1500).len(), 2);
            s.heap_bytes()
        };
        let (with, without) = (size(true), size(false));
        assert_eq!(with - without, 2048 * 2 * std::mem::size_of::<Sketch>());
    }
}
