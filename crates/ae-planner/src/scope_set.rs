//! The shards of a scoped round, with a bitmap in front so the scan rejects the million shards out
//! of scope for the price of a multiply and a bit test.

use crate::id_hash::IdSet;
use crate::input::ShardId;

/// A set of shard IDs, fast to ask about IDs that are not in it.
#[derive(Debug)]
pub(crate) struct ScopeSet {
    ids: IdSet<ShardId>,
    /// Bit `h(id)` is set for every member: a clear bit proves absence.
    filter: Vec<u64>,
    shift: u32,
}

impl ScopeSet {
    /// The set of `ids`.
    pub(crate) fn new(ids: &[ShardId]) -> Self {
        // About 16 bits per member: a non-member passes the filter one time in 16 or less.
        let bits = (ids.len() * 16).next_power_of_two().max(64);
        let mut set = ScopeSet {
            ids: ids.iter().copied().collect(),
            filter: vec![0; bits / 64],
            shift: 64 - bits.trailing_zeros(),
        };
        for &id in ids {
            let bit = set.bit(id);
            set.filter[bit / 64] |= 1 << (bit % 64);
        }
        set
    }

    #[inline]
    fn bit(&self, id: ShardId) -> usize {
        (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Whether `id` is in the set.
    #[inline]
    pub(crate) fn contains(&self, id: &ShardId) -> bool {
        let bit = self.bit(*id);
        self.filter[bit / 64] & (1 << (bit % 64)) != 0 && self.ids.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_exactly_its_members() {
        for members in [vec![], vec![0], (1..5000).map(|i| i * 3).collect::<Vec<_>>()] {
            let set = ScopeSet::new(&members);
            assert!(members.iter().all(|id| set.contains(id)));
            assert_eq!(
                (0..20_000).filter(|id| set.contains(id)).count(),
                members.iter().filter(|&&m| m < 20_000).count()
            );
        }
    }
}
