//! An open-addressing table from integer ids to tallies, built for counting.
//!
//! Profiling spends most of its time adding one to the tally of an id in a table of up to
//! millions of entries, so most additions are a cache miss. This table keeps the key and
//! its tally in one 24-byte slot (one memory access per probe, linear probing) and counts
//! a column of ids at a time: it hashes the whole column first, then prefetches the slot
//! of id `i + PREFETCH_AHEAD` while it adds id `i`, so the misses overlap instead of
//! queueing one after another.

use super::counts::Tally;

/// One slot: an id and its tally; `key == EMPTY` marks a free slot.
#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    key: u64,
    count: u64,
    positives: u64,
}

/// The key of a free slot. The id `u64::MAX` itself is tallied apart, in `max_id`.
const EMPTY: u64 = u64::MAX;

const FREE: Slot = Slot {
    key: EMPTY,
    count: 0,
    positives: 0,
};

/// How many ids ahead of the one being added the table prefetches.
const PREFETCH_AHEAD: usize = 16;

/// Slots in a new table's first allocation.
const MIN_SLOTS: usize = 16;

/// Bytes of one slot.
pub const SLOT_BYTES: u64 = std::mem::size_of::<Slot>() as u64;

/// Exact tallies of integer ids.
#[derive(Clone, Default)]
pub struct IdTable {
    /// A power of two slots (or none before the first id).
    slots: Vec<Slot>,
    /// Occupied slots.
    len: usize,
    /// The tally of id `u64::MAX`, which cannot be stored in a slot.
    max_id: Option<Tally>,
}

impl std::fmt::Debug for IdTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTable")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// A well-mixed 64-bit hash of an id (a folded 128-bit multiply, as foldhash does), so
/// ids that share low bits (multiples of a power of two) still spread over the table.
#[inline]
fn hash(id: u64) -> u64 {
    let m = u128::from(id ^ 0x243F_6A88_85A3_08D3) * 0x9E37_79B9_7F4A_7C15;
    (m as u64) ^ ((m >> 64) as u64)
}

impl IdTable {
    /// Distinct ids held.
    pub fn len(&self) -> usize {
        self.len + usize::from(self.max_id.is_some())
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `tally` to the tally of `id`.
    pub fn add(&mut self, id: u64, tally: Tally) {
        if id == EMPTY {
            let t = self.max_id.get_or_insert_with(Tally::default);
            t.count += tally.count;
            t.positives += tally.positives;
            return;
        }
        self.reserve_one();
        let slot = self.slot_mut(id, hash(id));
        slot.count += tally.count;
        slot.positives += tally.positives;
    }

    /// Counts one occurrence of each id, positive where `positive` says so; `hashes` is
    /// scratch space.
    pub fn count_column(&mut self, ids: &[u64], positive: &[bool], hashes: &mut Vec<u64>) {
        debug_assert_eq!(ids.len(), positive.len());
        hashes.clear();
        hashes.extend(ids.iter().map(|&id| hash(id)));
        for i in 0..ids.len() {
            if let Some(&ahead) = hashes.get(i + PREFETCH_AHEAD) {
                self.prefetch(ahead);
            }
            let p = u64::from(positive[i]);
            if ids[i] == EMPTY {
                self.add(
                    EMPTY,
                    Tally {
                        count: 1,
                        positives: p,
                    },
                );
                continue;
            }
            self.reserve_one();
            let slot = self.slot_mut(ids[i], hashes[i]);
            slot.count += 1;
            slot.positives += p;
        }
    }

    /// Every id with its tally, in no particular order.
    pub fn into_entries(self) -> impl Iterator<Item = (u64, Tally)> {
        let max = self.max_id.map(|t| (EMPTY, t));
        self.slots
            .into_iter()
            .filter(|s| s.key != EMPTY)
            .map(|s| {
                (
                    s.key,
                    Tally {
                        count: s.count,
                        positives: s.positives,
                    },
                )
            })
            .chain(max)
    }

    /// Adds every tally of `other`, inserting the smaller table into the larger one.
    pub fn merge(&mut self, mut other: IdTable) {
        if self.len() < other.len() {
            std::mem::swap(self, &mut other);
        }
        for (id, t) in other.into_entries() {
            self.add(id, t);
        }
    }

    /// Hints the slot where a key of this hash starts its probe into the cache.
    #[inline]
    fn prefetch(&self, h: u64) {
        if self.slots.is_empty() {
            return;
        }
        let i = (h as usize) & (self.slots.len() - 1);
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // SAFETY: prefetching has no effect on memory and cannot fault; the address
            // is inside the slot array anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(self.slots.as_ptr().add(i).cast::<i8>()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    /// The slot of `id` (hash `h`), claimed if the id is new; a free slot must exist.
    #[inline]
    fn slot_mut(&mut self, id: u64, h: u64) -> &mut Slot {
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            let key = self.slots[i].key;
            if key == id {
                return &mut self.slots[i];
            }
            if key == EMPTY {
                self.len += 1;
                self.slots[i].key = id;
                return &mut self.slots[i];
            }
            i = (i + 1) & mask;
        }
    }

    /// Makes room for one more id: tables stay at most 70% full, where a linear probe for
    /// a new id takes about six steps on average (at 7/8 full it would take over thirty).
    #[inline]
    fn reserve_one(&mut self) {
        let cap = self.slots.len();
        if (self.len + 1) * 10 > cap * 7 {
            self.grow();
        }
    }

    #[cold]
    fn grow(&mut self) {
        let new_len = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![FREE; new_len]);
        let mask = new_len - 1;
        for s in old.into_iter().filter(|s| s.key != EMPTY) {
            let mut i = (hash(s.key) as usize) & mask;
            while self.slots[i].key != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn sorted(t: IdTable) -> Vec<(u64, u64, u64)> {
        let mut v: Vec<_> = t
            .into_entries()
            .map(|(k, t)| (k, t.count, t.positives))
            .collect();
        v.sort_unstable();
        v
    }

    proptest! {
        #[test]
        fn counts_like_a_hash_map(
            ids in proptest::collection::vec(prop_oneof![0u64..50, any::<u64>(), Just(u64::MAX), Just(0)], 0..600),
            split in 0usize..600,
        ) {
            let positive: Vec<bool> = ids.iter().map(|id| id % 3 == 0).collect();
            let mut expected: HashMap<u64, (u64, u64)> = HashMap::new();
            for (&id, &p) in ids.iter().zip(&positive) {
                let e = expected.entry(id).or_default();
                e.0 += 1;
                e.1 += u64::from(p);
            }
            let mut want: Vec<_> = expected.into_iter().map(|(k, (c, p))| (k, c, p)).collect();
            want.sort_unstable();

            let mut hashes = Vec::new();
            let mut whole = IdTable::default();
            whole.count_column(&ids, &positive, &mut hashes);
            prop_assert_eq!(whole.len(), want.len());
            prop_assert_eq!(sorted(whole), want.clone());

            // Two halves counted apart and merged give the same tallies.
            let cut = split.min(ids.len());
            let mut a = IdTable::default();
            let mut b = IdTable::default();
            a.count_column(&ids[..cut], &positive[..cut], &mut hashes);
            b.count_column(&ids[cut..], &positive[cut..], &mut hashes);
            a.merge(b);
            prop_assert_eq!(sorted(a), want);
        }
    }
}
