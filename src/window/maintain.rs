//! Removing series: delete by key or id, clear, and idle-TTL eviction.

use super::aggregator::Aggregator;
use super::hash::{hash_bytes, hash_u64, shard_of};
use super::shard::{Key, KeyRef, Shard};
use super::{Error, INVALID_ID, OVERFLOW_ID};
use std::sync::atomic::Ordering::Relaxed;

impl Aggregator {
    fn delete_where(
        &self,
        shard: usize,
        find: impl FnOnce(&Shard) -> Option<u32>,
    ) -> Result<(), Error> {
        let _cut = self.cut.read();
        let mut sh = self.shards.get(shard).ok_or(Error::StaleId)?.lock();
        let slot = find(&sh).ok_or(Error::StaleId)?;
        sh.remove(slot);
        self.live.fetch_sub(1, Relaxed);
        self.totals.deleted.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Deletes the series of a caller `u64` key ([`Error::StaleId`] if there is none).
    pub fn delete_u64(&self, key: u64) -> Result<(), Error> {
        let h = hash_u64(key);
        self.delete_where(shard_of(h, self.shard_mask), |sh| {
            sh.find(h, KeyRef::U64(key))
        })
    }

    /// Deletes the series of a byte key ([`Error::StaleId`] if there is none).
    pub fn delete_key(&self, key: &[u8]) -> Result<(), Error> {
        let h = hash_bytes(key);
        self.delete_where(shard_of(h, self.shard_mask), |sh| {
            sh.find(h, KeyRef::Bytes(key))
        })
    }

    /// Deletes the series of an id ([`Error::StaleId`] if it is not live).
    pub fn delete_id(&self, id: u64) -> Result<(), Error> {
        if id == OVERFLOW_ID || id == INVALID_ID {
            return Err(Error::StaleId);
        }
        self.delete_where((id & 0xff) as usize, |sh| sh.slot_of_id(id))
    }

    /// Removes every series (and empties the overflow series); returns how many were removed.
    pub fn clear(&self) -> u64 {
        let _cut = self.cut.write();
        let mut removed = 0;
        for sh in self.shards.iter() {
            removed += sh.lock().clear() as u64;
        }
        self.live.fetch_sub(removed, Relaxed);
        self.totals.deleted.fetch_add(removed, Relaxed);
        removed
    }

    /// Evicts series whose newest sample is older than `now - idle_ttl` (no-op when the TTL is
    /// 0); returns how many were evicted. Snapshots do this too.
    pub fn evict_idle(&self, now: i64) -> u64 {
        let _cut = self.cut.write();
        self.evict_locked(now)
    }

    /// Eviction with the cut already held.
    pub(crate) fn evict_locked(&self, now: i64) -> u64 {
        if self.cfg.idle_ttl == 0 {
            return 0;
        }
        let cutoff = now.saturating_sub(i64::try_from(self.cfg.idle_ttl).unwrap_or(i64::MAX));
        let mut evicted = 0u64;
        for sh in self.shards.iter() {
            let mut sh = sh.lock();
            for slot in 0..sh.metas.len() as u32 {
                if !matches!(sh.metas[slot as usize].key, Key::Free) && sh.last_ts(slot) < cutoff {
                    sh.remove(slot);
                    evicted += 1;
                }
            }
        }
        self.live.fetch_sub(evicted, Relaxed);
        self.totals.evicted.fetch_add(evicted, Relaxed);
        evicted
    }
}
