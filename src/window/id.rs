//! Series ids: `generation (32 bits) | slot (24) | shard (8)`.
//!
//! An id names a slot of a shard and the generation of the series in it; a slot's generation
//! is bumped when its series is removed, so the id of a removed series never reaches the
//! series that takes the slot next. [`OVERFLOW_ID`](super::OVERFLOW_ID) and
//! [`INVALID_ID`](super::INVALID_ID) never name a live series: a slot is retired before its
//! generation reaches `u32::MAX`, and generations start at 1.

/// Slots per shard (24 bits of the id).
pub(super) const MAX_SLOTS: usize = 1 << 24;

/// Shards an id can name (8 bits of the id).
pub(super) const MAX_SHARDS: usize = 1 << 8;

/// The id of the series in `slot` of `shard` at `generation`.
#[inline]
pub(super) const fn make(shard: u32, slot: u32, generation: u32) -> u64 {
    ((generation as u64) << 32) | ((slot as u64) << 8) | (shard as u64 & 0xff)
}

/// The shard an id names (not necessarily one the aggregator has).
#[inline]
pub(super) const fn shard(id: u64) -> usize {
    (id & 0xff) as usize
}

/// The slot an id names within its shard.
#[inline]
pub(super) const fn slot(id: u64) -> usize {
    ((id >> 8) & (MAX_SLOTS as u64 - 1)) as usize
}

/// The generation an id names.
#[inline]
pub(super) const fn generation(id: u64) -> u32 {
    (id >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip() {
        let id = make(3, MAX_SLOTS as u32 - 1, u32::MAX);
        assert_eq!(
            (shard(id), slot(id), generation(id)),
            (3, MAX_SLOTS - 1, u32::MAX)
        );
        assert_eq!(shard(crate::window::OVERFLOW_ID), MAX_SHARDS - 1);
    }
}
