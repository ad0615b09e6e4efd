//! The slots of one shard's series, in chunks that are allocated as series arrive and freed
//! as they go.
//!
//! A slot holds a series' [`Meta`] (key, hash chain link, generation, lifetime totals) and its
//! ring of slices; byte keys live beside them, in a per-chunk table made only for chunks that
//! hold one. Chunks grow geometrically (16, 32, ... slots, then 1024 each), so a shard with a
//! few series holds a few hundred bytes and a shard with millions wastes at most one chunk.
//! Recording a sample allocates nothing; making a series allocates only when it opens a new
//! chunk. Each chunk keeps its free slots in a list threaded through their metas; a chunk
//! whose last series goes is freed, and the shard remembers only the generation its slots
//! start at when it is made again (above every generation it had), so an id from before
//! never matches a new series.

use super::slice::{Lifetime, Slice};

/// Slots of the first chunk; each next chunk doubles, up to [`CHUNK_MAX`].
const CHUNK_MIN: usize = 16;
/// Slots of every chunk from the seventh on.
const CHUNK_MAX: usize = 1024;
/// Slots in the chunks of geometric size (16 + 32 + ... + 512).
const GEOMETRIC: usize = CHUNK_MAX - CHUNK_MIN;
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
    if s < GEOMETRIC {
        let c = (s / CHUNK_MIN + 1).ilog2() as usize;
        (c, s - CHUNK_MIN * ((1 << c) - 1))
    } else {
        let r = s - GEOMETRIC;
        (6 + r / CHUNK_MAX, r % CHUNK_MAX)
    }
}

/// Slots of chunk `c`.
fn chunk_len(c: usize) -> usize {
    (CHUNK_MIN << c.min(6)).min(CHUNK_MAX)
}

/// The first slot of chunk `c`.
fn chunk_start(c: usize) -> usize {
    if c < 6 {
        CHUNK_MIN * ((1 << c) - 1)
    } else {
        GEOMETRIC + (c - 6) * CHUNK_MAX
    }
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
type ByteKeys = Box<[Option<Box<[u8]>>]>;

struct Chunk {
    metas: Box<[Meta]>,
    slices: Box<[Slice]>,
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
    /// Slots below this may be live (the end of the highest chunk ever made).
    span: u32,
}

impl Slab {
    /// An empty slab whose series keep `ring_len` slices each.
    pub fn new(ring_len: usize) -> Slab {
        Slab {
            chunks: Vec::new(),
            floors: Vec::new(),
            open: Vec::new(),
            ring_len,
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

    /// The slice at `at` (from [`Slab::at`]).
    #[inline(always)]
    pub fn slice(&self, at: usize) -> Option<&Slice> {
        let (c, _, i) = self.split(at);
        self.chunks.get(c)?.as_ref()?.slices.get(i)
    }

    /// The slice at `at` and the lifetime totals of its series.
    #[inline(always)]
    pub fn slice_mut(&mut self, at: usize) -> Option<(&mut Slice, &mut Lifetime)> {
        let (c, o, i) = self.split(at);
        let ch = self.chunks.get_mut(c)?.as_mut()?;
        let sl = ch.slices.get_mut(i)?;
        let m = ch.metas.get_mut(o)?;
        Some((sl, &mut m.folded))
    }

    /// The ring of `slot` (empty if its chunk does not exist).
    #[inline]
    pub fn ring(&self, slot: u32) -> &[Slice] {
        let (c, o) = locate(slot);
        match self.chunks.get(c) {
            Some(Some(ch)) => ch.slices.get(o * self.ring_len..(o + 1) * self.ring_len),
            _ => None,
        }
        .unwrap_or(&[])
    }

    /// The ring of `slot` and its series' lifetime totals.
    pub fn ring_mut(&mut self, slot: u32) -> Option<(&mut [Slice], &mut Lifetime)> {
        let (c, o) = locate(slot);
        let ring_len = self.ring_len;
        let ch = self.chunks.get_mut(c)?.as_mut()?;
        let ring = ch.slices.get_mut(o * ring_len..(o + 1) * ring_len)?;
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
        for sl in &mut ch.slices[o * ring_len..(o + 1) * ring_len] {
            *sl = Slice::default();
        }
        if let Some(b) = bytes {
            let keys = ch
                .keys
                .get_or_insert_with(|| (0..chunk_len(c)).map(|_| None).collect());
            keys[o] = Some(b.into());
        }
        Some((start + o) as u32)
    }

    /// A chunk with a free slot: an open one, or a new one.
    fn open_chunk(&mut self, max_slots: usize) -> Option<usize> {
        while let Some(&c) = self.open.last() {
            if let Some(Some(ch)) = self.chunks.get(c as usize)
                && (ch.free != NIL || (ch.used as usize) < ch.metas.len())
            {
                return Some(c as usize);
            }
            self.open.pop();
        }
        // The lowest chunk not made (or freed, and not retired), so that live slots stay low.
        let retired = |c: usize| self.floors.get(c) == Some(&u32::MAX);
        let c = (0..)
            .find(|&c| self.chunks.get(c).is_none_or(Option::is_none) && !retired(c))
            .unwrap_or(usize::MAX);
        let len = chunk_len(c);
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
        let meta = Meta {
            key: 0,
            // Free, no next slot.
            link: LINK_MASK,
            generation: floor,
            folded: Lifetime::default(),
        };
        self.chunks[c] = Some(Chunk {
            metas: vec![meta; len].into_boxed_slice(),
            slices: (0..len * self.ring_len).map(|_| Slice::default()).collect(),
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
        for sl in &mut ch.slices[o * ring_len..(o + 1) * ring_len] {
            sl.free();
        }
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
            self.span = chunk_start(self.chunks.len()) as u32;
            if self.chunks.is_empty() {
                self.chunks = Vec::new();
                self.open = Vec::new();
            }
        } else if was_full {
            self.open.push(c as u32);
        }
    }

    /// Heap bytes held by the chunks (not counting dense sketch stores).
    pub fn heap_bytes(&self) -> usize {
        let chunks: usize = self
            .chunks
            .iter()
            .flatten()
            .map(|ch| {
                ch.metas.len() * std::mem::size_of::<Meta>()
                    + ch.slices.len() * std::mem::size_of::<Slice>()
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

    /// Every slice of every chunk (for heap accounting of their sketches).
    pub fn slices(&self) -> impl Iterator<Item = &Slice> {
        self.chunks.iter().flatten().flat_map(|ch| ch.slices.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_tile_the_slots() {
        let mut next = 0usize;
        for c in 0..20 {
            assert_eq!(chunk_start(c), next);
            for o in [0, chunk_len(c) - 1] {
                assert_eq!(locate((next + o) as u32), (c, o));
            }
            next += chunk_len(c);
        }
        assert_eq!(
            locate((1 << 24) - 1).1,
            ((1 << 24) - 1 - GEOMETRIC) % CHUNK_MAX
        );
    }

    #[test]
    fn freed_chunks_come_back_with_higher_generations() {
        let mut s = Slab::new(2);
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
        let mut t = Slab::new(1);
        for _ in 0..16 {
            t.take(Kind::U64, None, NIL, 16).unwrap();
        }
        assert_eq!(t.take(Kind::U64, None, NIL, 16), None);
    }
}
