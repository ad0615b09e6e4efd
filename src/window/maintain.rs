//! Removing series: delete by key or id, clear, and idle-TTL eviction.

use super::hash::{hash_bytes, hash_u64};
use super::shard::{KeyRef, Shard};
use super::store::Store;
use super::{Error, INVALID_ID, OVERFLOW_ID, id};

/// Deletes the series `find` picks in shard `shard` ([`Error::StaleId`] if there is none).
fn delete_where(
    store: &Store,
    shard: usize,
    find: impl FnOnce(&Shard) -> Option<u32>,
) -> Result<(), Error> {
    let _change = store.change();
    let mut sh = store.lock_checked(shard).ok_or(Error::StaleId)?;
    let slot = find(&sh).ok_or(Error::StaleId)?;
    sh.remove(slot);
    store.removed(1);
    store.totals().deleted(1);
    Ok(())
}

/// Deletes the series of a caller `u64` key.
pub(super) fn delete_u64(store: &Store, key: u64) -> Result<(), Error> {
    let h = hash_u64(key);
    delete_where(store, store.shard_for(h), |sh| sh.find(h, KeyRef::U64(key)))
}

/// Deletes the series of a byte key.
pub(super) fn delete_key(store: &Store, key: &[u8]) -> Result<(), Error> {
    let h = hash_bytes(key);
    delete_where(store, store.shard_for(h), |sh| {
        sh.find(h, KeyRef::Bytes(key))
    })
}

/// Deletes the series of an id.
pub(super) fn delete_id(store: &Store, series: u64) -> Result<(), Error> {
    if series == OVERFLOW_ID || series == INVALID_ID {
        return Err(Error::StaleId);
    }
    delete_where(store, id::shard(series), |sh| sh.slot_of_id(series))
}

/// Removes every series (and empties the overflow series); returns how many were removed.
pub(super) fn clear(store: &Store) -> u64 {
    let _cut = store.cut();
    let mut removed = 0;
    store.for_each_shard(|sh| removed += sh.clear() as u64);
    store.removed(removed);
    store.totals().deleted(removed);
    removed
}

/// Evicts the series whose newest sample is older than `now - idle_ttl` (none when the TTL
/// is 0); returns how many were evicted. The caller holds the cut exclusively
/// ([`Store::cut`]).
pub(super) fn evict_idle(store: &Store, idle_ttl: u64, now: i64) -> u64 {
    if idle_ttl == 0 {
        return 0;
    }
    let cutoff = now.saturating_sub(i64::try_from(idle_ttl).unwrap_or(i64::MAX));
    let mut evicted = 0u64;
    store.for_each_shard(|sh| {
        for slot in 0..sh.slot_count() {
            if sh.is_live(slot) && sh.last_ts(slot) < cutoff {
                sh.remove(slot);
                evicted += 1;
            }
        }
    });
    store.removed(evicted);
    store.totals().evicted(evicted);
    evicted
}
