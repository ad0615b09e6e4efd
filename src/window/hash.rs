//! Key hashing: a fast 64-bit hash for byte keys and a mixer for `u64` keys (the shard's
//! [`HashIndex`](super::table::HashIndex) uses the mixed hashes as they are).

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// The murmur3 finalizer: a bijective mix of all 64 bits.
#[inline]
pub(crate) fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Hash of a caller `u64` key (distinct from byte keys only by chance; maps compare keys).
#[inline]
pub(crate) fn hash_u64(k: u64) -> u64 {
    mix(k ^ K)
}

/// Hash of a byte key: 8 bytes per step, then the finalizer.
#[inline]
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    mix(h)
}

/// Picks a shard from a hash with bits the map's own probing does not rely on alone.
#[inline]
pub(crate) fn shard_of(h: u64, mask: u64) -> usize {
    ((h.wrapping_mul(K) >> 40) & mask) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_hash_differs_by_length_and_content() {
        assert_ne!(hash_bytes(b""), hash_bytes(b"\0"));
        assert_ne!(hash_bytes(b"abcdefgh"), hash_bytes(b"abcdefgh\0"));
        assert_ne!(hash_bytes(b"route=1"), hash_bytes(b"route=2"));
        assert_eq!(hash_bytes(b"same key"), hash_bytes(b"same key"));
    }

    #[test]
    fn shards_spread() {
        let mut counts = [0u32; 16];
        for k in 0..16_000u64 {
            counts[shard_of(hash_u64(k), 15)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
