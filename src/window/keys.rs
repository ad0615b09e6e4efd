//! The key and weight columns of a batch, one type per kind ([`U64Keys`], [`IdKeys`],
//! [`ByteKeys`]; [`Unweighted`] or `&[u32]`).
//!
//! Ingest and resolve are generic over them, so each per-sample loop is compiled once per key
//! kind and weighting, with no branch on either: the kind is chosen once, by the public entry
//! point, and the weighting once per batch (`ingest::Ingest::samples`).

use super::accounting::DropReason;
use super::hash::{hash_bytes, hash_u64};
use super::shard::KeyRef;
use super::store::ShardMap;
use super::{Error, INVALID_ID, OVERFLOW_ID, id};

/// What a sample's record word names: a series id, or a key to find or make a series for.
pub(super) enum Lookup<'a> {
    Id(u64),
    Key(KeyRef<'a>),
}

/// A column of keys, one per sample.
pub(super) trait KeyColumn<'a>: Copy {
    /// Number of keys.
    fn len(self) -> usize;

    /// The keys of the first `n` samples (`n` at most [`KeyColumn::len`]), so that a loop
    /// over them needs no bounds check.
    fn first(self, n: usize) -> Self;

    /// Checks the column's own layout, before any sample is routed.
    fn check(self) -> Result<(), Error> {
        Ok(())
    }

    /// The word kept in sample `i`'s record: its `u64` key or id, or for byte keys `i`
    /// itself (the key is read from the column again when its series is looked up).
    fn word(self, i: usize) -> u64;

    /// Shard and hash of key `i`, or why its sample is dropped before routing (a byte key
    /// over `max_key_len`, an id no shard has).
    fn route(
        self,
        i: usize,
        shards: ShardMap,
        max_key_len: usize,
    ) -> Result<(usize, u64), DropReason>;

    /// What a record's `word` names.
    fn lookup(self, word: u64) -> Lookup<'a>;
}

/// A column of `u64` words: caller keys ([`U64Keys`]) or series ids ([`IdKeys`]). The two
/// differ only in how a word routes and what it names, decided by `IDS` at compile time.
#[derive(Clone, Copy)]
pub(super) struct Words<'a, const IDS: bool>(&'a [u64]);

/// Caller `u64` keys.
pub(super) type U64Keys<'a> = Words<'a, false>;

/// Series ids handed out by resolve.
pub(super) type IdKeys<'a> = Words<'a, true>;

impl<'a, const IDS: bool> Words<'a, IDS> {
    /// The column of `words`, one per sample.
    pub(super) fn new(words: &'a [u64]) -> Self {
        Words(words)
    }
}

impl<'a, const IDS: bool> KeyColumn<'a> for Words<'a, IDS> {
    #[inline(always)]
    fn len(self) -> usize {
        self.0.len()
    }

    #[inline(always)]
    fn first(self, n: usize) -> Self {
        Words(&self.0[..n])
    }

    #[inline(always)]
    fn word(self, i: usize) -> u64 {
        self.0[i]
    }

    /// A key routes by its hash; an id names its shard (the overflow id: shard 0).
    #[inline(always)]
    fn route(self, i: usize, shards: ShardMap, _: usize) -> Result<(usize, u64), DropReason> {
        let word = self.0[i];
        if !IDS {
            let h = hash_u64(word);
            return Ok((shards.of(h), h));
        }
        if word == OVERFLOW_ID {
            return Ok((0, 0));
        }
        let shard = id::shard(word);
        if shard < shards.count() && word != INVALID_ID {
            Ok((shard, 0))
        } else {
            Err(DropReason::Stale)
        }
    }

    #[inline(always)]
    fn lookup(self, word: u64) -> Lookup<'a> {
        if IDS {
            Lookup::Id(word)
        } else {
            Lookup::Key(KeyRef::U64(word))
        }
    }
}

/// Byte-string keys: key `i` is `bytes[ends[i-1]..ends[i]]` (with `ends[-1] = 0`).
#[derive(Clone, Copy)]
pub(super) struct ByteKeys<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) ends: &'a [u32],
}

impl<'a> ByteKeys<'a> {
    /// Key `i`, for `i` below the column's length once [`KeyColumn::check`] has passed
    /// (offsets in order and within the bytes).
    #[inline]
    fn key(self, i: usize) -> &'a [u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }
}

impl<'a> KeyColumn<'a> for ByteKeys<'a> {
    #[inline(always)]
    fn len(self) -> usize {
        self.ends.len()
    }

    #[inline(always)]
    fn first(self, n: usize) -> Self {
        ByteKeys {
            bytes: self.bytes,
            ends: &self.ends[..n],
        }
    }

    /// End offsets must never decrease and stay within the bytes.
    fn check(self) -> Result<(), Error> {
        let mut prev = 0u32;
        for &e in self.ends {
            if e < prev {
                return Err(Error::BadOffsets);
            }
            prev = e;
        }
        if prev as usize > self.bytes.len() {
            Err(Error::BadOffsets)
        } else {
            Ok(())
        }
    }

    #[inline(always)]
    fn word(self, i: usize) -> u64 {
        i as u64
    }

    #[inline(always)]
    fn route(
        self,
        i: usize,
        shards: ShardMap,
        max_key_len: usize,
    ) -> Result<(usize, u64), DropReason> {
        let b = self.key(i);
        if b.len() > max_key_len {
            return Err(DropReason::BadKey);
        }
        let h = hash_bytes(b);
        Ok((shards.of(h), h))
    }

    #[inline(always)]
    fn lookup(self, word: u64) -> Lookup<'a> {
        Lookup::Key(KeyRef::Bytes(self.key(word as usize)))
    }
}

/// A column of sample weights.
pub(super) trait Weights: Copy {
    /// The weights of the first `n` samples (`n` at most the batch length), so that a loop
    /// over them needs no bounds check.
    fn first(self, n: usize) -> Self;

    /// The weight of sample `i` (0, which marks the sample invalid, past the end).
    fn weight(self, i: usize) -> u32;
}

/// Every sample has weight 1.
#[derive(Clone, Copy)]
pub(super) struct Unweighted;

impl Weights for Unweighted {
    #[inline(always)]
    fn first(self, _: usize) -> Self {
        self
    }

    #[inline(always)]
    fn weight(self, _: usize) -> u32 {
        1
    }
}

impl Weights for &[u32] {
    #[inline(always)]
    fn first(self, n: usize) -> Self {
        &self[..n]
    }

    #[inline(always)]
    fn weight(self, i: usize) -> u32 {
        self.get(i).copied().unwrap_or(0)
    }
}
