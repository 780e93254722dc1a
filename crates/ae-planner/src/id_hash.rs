//! A cheap, deterministic hasher for integer IDs, so inventory lookups cost a multiply, not SipHash.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes one integer ID with a multiply and a fold; no seed, so maps built from the same IDs behave
/// identically on every run.
///
/// It is made for the `u64` IDs of this crate (shard, node and task IDs come from counters), not
/// for keys an attacker chooses freely: a fixed multiplicative hash can be flooded with collisions.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // The multiply spreads the ID into the high bits (used by the map's tag byte); the fold
        // brings them down into the low bits (used for the bucket index).
        let x = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^ (x >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(32) ^ n;
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

/// Builds [`IdHasher`]s; the hasher of [`IdMap`].
pub(crate) type IdBuildHasher = BuildHasherDefault<IdHasher>;

/// A hash map keyed by an integer ID, hashed with [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, IdBuildHasher>;

/// A hash set of integer IDs, hashed with [`IdHasher`].
pub(crate) type IdSet<K> = HashSet<K, IdBuildHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_spread_over_low_and_high_bits() {
        let hash = |id: u64| {
            let mut h = IdHasher::default();
            h.write_u64(id);
            h.finish()
        };
        let low: std::collections::BTreeSet<u64> = (0..1024).map(|id| hash(id) & 1023).collect();
        let high: std::collections::BTreeSet<u64> = (0..1024).map(|id| hash(id) >> 57).collect();
        assert!(low.len() > 600, "low bits: {}", low.len());
        assert_eq!(high.len(), 128);
    }

    #[test]
    fn map_finds_what_it_holds() {
        let map: IdMap<u64, u64> = (0..10_000).map(|i| (i * 7, i)).collect();
        assert!((0..10_000).all(|i| map.get(&(i * 7)) == Some(&i)));
        assert!(!map.contains_key(&1));
    }
}
