//! Mergeable streaming sketches, for profiling categorical features when exact counting does
//! not fit in memory: [`Hll`] counts distinct values, [`SpaceSaving`] finds the heavy hitters
//! (with their positive labels), and [`hash64`] hashes the caller's 128-bit keys for both.
//!
//! Both sketches are *mergeable*: one sketch per shard or per file, merged afterwards, keeps the
//! guarantees of one sketch over the concatenated stream, so profiling can run in parallel and
//! resume from the state written in a manifest. Both are deterministic: the same input in the
//! same order gives the same state, whatever the hash map's seed.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

/// Why a sketch could not be built, merged or read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SketchError {
    /// A HyperLogLog precision outside `Hll::MIN_PRECISION..=Hll::MAX_PRECISION`.
    #[error(
        "HyperLogLog precision {precision} is invalid: expected {}..={}",
        Hll::MIN_PRECISION,
        Hll::MAX_PRECISION
    )]
    InvalidPrecision {
        /// The precision asked for.
        precision: u8,
    },
    /// Two HyperLogLog sketches of different precisions cannot be merged.
    #[error(
        "cannot merge HyperLogLog sketches of precision {left} and {right}: expected equal precisions"
    )]
    PrecisionMismatch {
        /// The precision of the sketch merged into.
        left: u8,
        /// The precision of the sketch merged from.
        right: u8,
    },
    /// Two Space-Saving summaries of different capacities cannot be merged.
    #[error(
        "cannot merge Space-Saving summaries of capacity {left} and {right}: expected equal capacities"
    )]
    CapacityMismatch {
        /// The capacity of the summary merged into.
        left: usize,
        /// The capacity of the summary merged from.
        right: usize,
    },
    /// Serialized sketch state that does not parse.
    #[error("malformed HyperLogLog state: expected {expected}, found {found}")]
    Malformed {
        /// What the input should have held there.
        expected: String,
        /// What it held instead.
        found: String,
    },
}

/// The golden-ratio increment of splitmix64: keeps the all-zero key off the finalizer's fixed
/// point (the finalizer maps 0 to 0).
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// splitmix64's finalizer (Stafford's "Mix13"): a bijection on u64 with full avalanche.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A fast, well-mixed 64-bit hash of a 128-bit key: `mix64(mix64(low + γ) ^ high)`.
///
/// Two rounds of the splitmix64 finalizer, one per half, so that every input bit reaches every
/// output bit; for a fixed half the hash is a bijection of the other, so keys that differ in one
/// half only never collide. Not keyed and not collision-resistant against an adversary: it is
/// for sketches and sharding, not hash tables fed by untrusted input. [`Hll`] indexes its
/// registers with the *top* bits, so pick shards from the low bits (`h % shards`).
#[inline]
pub fn hash64(key: u128) -> u64 {
    let low = key as u64;
    let high = (key >> 64) as u64;
    mix64(mix64(low.wrapping_add(GOLDEN_GAMMA)) ^ high)
}

/// α∞ = 1/(2 ln 2): the HyperLogLog bias constant in the limit of many registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A HyperLogLog distinct-count sketch over 64-bit hashes (Flajolet et al. 2007), estimated
/// with Ertl's improved estimator (Ertl 2017, "New cardinality estimation algorithms for
/// HyperLogLog sketches", algorithm 6).
///
/// With precision p there are m = 2^p one-byte registers; a hash's top p bits pick a register,
/// which keeps the maximum over its hashes of 1 + the leading zeros of the other q = 64 − p bits
/// (at most q + 1). Ertl's estimator uses the whole register histogram, so one formula covers
/// small and large cardinalities: no empirical bias tables (HLL++), no switch to linear counting
/// (its σ term is linear counting in the limit), and with 64-bit hashes no large-range
/// correction. Relative standard error 1.04/√m, met from p = 6 on; at p = 4 and 5 estimates run
/// a few percent high with a heavier tail (measured at p = 4: about +5 % and 0.3 spread), as
/// α∞ is exact only for large m.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "HllState", into = "HllState")]
pub struct Hll {
    /// p: log2 of the number of registers.
    precision: u8,
    /// One register per 2^(64−p) hash range, each in 0..=65−p.
    registers: Vec<u8>,
}

/// The serialized form of [`Hll`]: its precision and registers as lower-case hex, two digits
/// per register, so that a manifest holds a plain string.
#[derive(Serialize, Deserialize)]
struct HllState {
    precision: u8,
    registers: String,
}

impl TryFrom<HllState> for Hll {
    type Error = SketchError;

    fn try_from(state: HllState) -> Result<Self, SketchError> {
        Hll::from_hex(state.precision, &state.registers)
    }
}

impl From<Hll> for HllState {
    fn from(hll: Hll) -> Self {
        HllState {
            precision: hll.precision,
            registers: hll.to_hex(),
        }
    }
}

impl Default for Hll {
    /// Precision 14: 16384 registers (16 KiB), 0.81 % relative standard error.
    fn default() -> Self {
        Self::new(Self::DEFAULT_PRECISION).expect("the default precision is valid")
    }
}

impl Hll {
    /// The smallest precision: 16 registers.
    pub const MIN_PRECISION: u8 = 4;
    /// The largest precision: 262144 registers (256 KiB).
    pub const MAX_PRECISION: u8 = 18;
    /// The default precision: 16384 registers, 0.81 % relative standard error.
    pub const DEFAULT_PRECISION: u8 = 14;

    /// An empty sketch with 2^precision registers.
    pub fn new(precision: u8) -> Result<Self, SketchError> {
        if !(Self::MIN_PRECISION..=Self::MAX_PRECISION).contains(&precision) {
            return Err(SketchError::InvalidPrecision { precision });
        }
        Ok(Self {
            precision,
            registers: vec![0; 1 << precision],
        })
    }

    /// The precision p.
    pub fn precision(&self) -> u8 {
        self.precision
    }

    /// The number of registers, m = 2^p.
    pub fn num_registers(&self) -> usize {
        self.registers.len()
    }

    /// The largest register value, q + 1 = 65 − p: the rank of a hash whose low q bits are 0.
    fn max_rank(&self) -> u8 {
        65 - self.precision
    }

    /// Adds one value by its 64-bit hash (see [`hash64`]); adding a hash again changes nothing.
    #[inline]
    pub fn insert_hash(&mut self, hash: u64) {
        let p = u32::from(self.precision);
        let index = (hash >> (64 - p)) as usize;
        // The low q bits, moved to the top; all zero gives 64 leading zeros, capped at q.
        let rank = (hash << p).leading_zeros().min(64 - p) + 1;
        let register = &mut self.registers[index];
        *register = (*register).max(rank as u8);
    }

    /// Adds every value of `other`: the register-wise maximum, the sketch of the union.
    pub fn merge(&mut self, other: &Hll) -> Result<(), SketchError> {
        if self.precision != other.precision {
            return Err(SketchError::PrecisionMismatch {
                left: self.precision,
                right: other.precision,
            });
        }
        for (mine, &theirs) in self.registers.iter_mut().zip(&other.registers) {
            *mine = (*mine).max(theirs);
        }
        Ok(())
    }

    /// The estimated number of distinct hashes added (0 for an empty sketch, ∞ if every
    /// register is saturated).
    pub fn estimate(&self) -> f64 {
        let q = 64 - usize::from(self.precision);
        let mut histogram = [0_u32; 64];
        for &register in &self.registers {
            histogram[usize::from(register)] += 1;
        }
        let m = self.registers.len() as f64;
        // Ertl's algorithm 6: the saturated registers enter through τ, the empty ones through
        // σ, and the rest by halving from the top rank down.
        let mut z = m * tau(1.0 - f64::from(histogram[q + 1]) / m);
        for &count in histogram[1..=q].iter().rev() {
            z = 0.5 * (z + f64::from(count));
        }
        z += m * sigma(f64::from(histogram[0]) / m);
        // All registers empty: σ(1) = ∞ and the estimate is exactly 0. All saturated (past
        // 2^64 hashes: only crafted state): z = 0 and the estimate is ∞.
        ALPHA_INF * m * m / z
    }

    /// The relative standard error of [`Hll::estimate`], 1.04/√m.
    pub fn relative_standard_error(&self) -> f64 {
        1.04 / (self.registers.len() as f64).sqrt()
    }

    /// The registers as lower-case hex, two digits per register (2^(p+1) characters).
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(2 * self.registers.len());
        for &register in &self.registers {
            hex.push(char::from(DIGITS[usize::from(register >> 4)]));
            hex.push(char::from(DIGITS[usize::from(register & 0xf)]));
        }
        hex
    }

    /// Reads back [`Hll::to_hex`]'s output for a sketch of the given precision.
    pub fn from_hex(precision: u8, hex: &str) -> Result<Self, SketchError> {
        let mut hll = Self::new(precision)?;
        let expected_len = 2 * hll.registers.len();
        if hex.len() != expected_len {
            return Err(SketchError::Malformed {
                expected: format!(
                    "{expected_len} hex digits (two per register at precision {precision})"
                ),
                found: format!("{} bytes", hex.len()),
            });
        }
        let max_rank = hll.max_rank();
        for (index, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
            let high = hex_value(pair[0]).ok_or_else(|| not_a_digit(hex, 2 * index))?;
            let low = hex_value(pair[1]).ok_or_else(|| not_a_digit(hex, 2 * index + 1))?;
            let value = (high << 4) | low;
            if value > max_rank {
                return Err(SketchError::Malformed {
                    expected: format!("register values 0..={max_rank} at precision {precision}"),
                    found: format!("{value} in register {index}"),
                });
            }
            hll.registers[index] = value;
        }
        Ok(hll)
    }
}

/// The value of an ASCII hex digit (either case).
fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|digit| digit as u8)
}

/// The error for a non-hex character at byte `at`, naming the character itself.
fn not_a_digit(hex: &str, at: usize) -> SketchError {
    // Every byte before `at` was an ASCII digit, so `at` starts a character; `get` keeps a
    // mistake here from panicking all the same.
    let found = hex.get(at..).and_then(|rest| rest.chars().next());
    SketchError::Malformed {
        expected: format!("a hex digit at byte {at}"),
        found: found.map_or_else(|| "a split character".to_owned(), |c| format!("{c:?}")),
    }
}

/// Ertl's σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k−1): the empty registers' term (∞ at x = 1).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        // The series converges for x < 1: stop when a term no longer changes the sum.
        if z == previous {
            return z;
        }
    }
}

/// Ertl's τ(x) = (1 − x − Σ_{k≥1} (1 − x^(2^−k))² 2^−k)/3: the saturated registers' term.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == previous {
            return z / 3.0;
        }
    }
}

/// A tracked key with its estimated counts. With `N` the items seen and `k` the capacity:
/// true count ∈ [count − error, count] and true positives ∈ [positives − error, positives],
/// where error ≤ [`SpaceSaving::error_bound`] ≤ N/k.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeavyHitter<K> {
    /// The key.
    pub key: K,
    /// An over-estimate of the key's occurrences.
    pub count: u64,
    /// The most `count` (and `positives`) may over-count by.
    pub error: u64,
    /// An over-estimate of the key's occurrences with a positive label.
    pub positives: u64,
}

/// Heavy hitters by Space-Saving (Metwally, Agrawal and El Abbadi 2005) with `capacity`
/// counters, each also counting positive labels.
///
/// A tracked key's counter is incremented; an untracked key takes over the counter with the
/// smallest count `min` (when all are used), starting at count `min + 1` and error `min`, since
/// an untracked key occurred at most `min` times. Guarantees, with `N` the items seen and `k`
/// the capacity: every key whose true count exceeds N/k is tracked, and every counter
/// over-counts by at most its error ≤ [`SpaceSaving::error_bound`] ≤ N/k. Positive labels have
/// the same semantics: a taken-over counter starts with `min` positives too, as the key may have
/// had up to `min` positive occurrences before.
///
/// The counters live in Metwally's *stream summary*, here as an array ordered by count
/// (descending) with a bucket per run of equal counts: an increment swaps the counter to the
/// front of its run and hands it to the run before, so every insert is O(1) (one hash lookup
/// plus a few index writes, no allocation once a key is tracked), and the minimum is the last
/// counter. Which of several minimal counters is taken over depends on the insertion order
/// only, never on the hash map, so the state is deterministic.
#[derive(Debug, Clone)]
pub struct SpaceSaving<K> {
    /// k, the number of counters.
    capacity: NonZeroUsize,
    /// N, the items seen (merged summaries add theirs).
    total: u64,
    /// Each tracked key's counter.
    slot_of: HashMap<K, usize>,
    /// The counters, in a stable slot each (a taken-over counter keeps its slot).
    counters: Vec<Counter<K>>,
    /// Slots by count descending.
    order: Vec<usize>,
    /// The runs of equal counts in `order`, indexed by `Counter::bucket`.
    buckets: Vec<Bucket>,
    /// Unused entries of `buckets`, for reuse.
    free_buckets: Vec<usize>,
}

/// One Space-Saving counter: its public view, and where it sits in the stream summary.
#[derive(Debug, Clone)]
struct Counter<K> {
    hit: HeavyHitter<K>,
    /// Where the slot is in `SpaceSaving::order`.
    position: usize,
    /// The run of equal counts it belongs to.
    bucket: usize,
}

/// A run `order[first..=last]` of counters with equal counts.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    first: usize,
    last: usize,
}

impl<K: Hash + Eq + Clone + Ord> SpaceSaving<K> {
    /// An empty summary with `capacity` counters.
    pub fn new(capacity: NonZeroUsize) -> Self {
        let k = capacity.get();
        Self {
            capacity,
            total: 0,
            // One spare entry: a taken-over key is inserted before the old one is removed.
            slot_of: HashMap::with_capacity(k + 1),
            counters: Vec::with_capacity(k),
            order: Vec::with_capacity(k),
            buckets: Vec::new(),
            free_buckets: Vec::new(),
        }
    }

    /// The number of counters, k.
    pub fn capacity(&self) -> usize {
        self.capacity.get()
    }

    /// The number of keys tracked (at most the capacity).
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// The items seen, N (including those of merged summaries).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The guaranteed maximum over-count: every counter's error is at most this, so is every
    /// untracked key's true count, and it is at most N/k. The smallest count when all counters
    /// are used, else 0 (nothing was ever dropped).
    pub fn error_bound(&self) -> u64 {
        match self.order.last() {
            Some(&slot) if self.len() == self.capacity() => self.counters[slot].hit.count,
            _ => 0,
        }
    }

    /// Counts one occurrence of `key`, and whether its label was positive.
    pub fn insert(&mut self, key: K, positive: bool) {
        self.total += 1;
        let tracked = self.counters.len();
        let slot = match self.slot_of.entry(key) {
            Entry::Occupied(entry) => {
                let slot = *entry.get();
                self.increment(slot);
                slot
            }
            Entry::Vacant(entry) if tracked < self.capacity.get() => {
                let key = entry.key().clone();
                entry.insert(tracked);
                let hit = HeavyHitter {
                    key,
                    count: 1,
                    error: 0,
                    positives: 0,
                };
                self.push(hit);
                tracked
            }
            Entry::Vacant(entry) => {
                // Take over the smallest counter: the key occurred at most `min` times before.
                let slot = self.order[tracked - 1];
                let key = entry.key().clone();
                entry.insert(slot);
                let hit = &mut self.counters[slot].hit;
                let evicted = std::mem::replace(&mut hit.key, key);
                hit.error = hit.count;
                hit.positives = hit.count;
                self.slot_of.remove(&evicted);
                self.increment(slot);
                slot
            }
        };
        if positive {
            self.counters[slot].hit.positives += 1;
        }
    }

    /// Appends a counter whose count is at most every other's (the caller keeps the slot map).
    fn push(&mut self, hit: HeavyHitter<K>) {
        let position = self.order.len();
        let last = self.order.last().map(|&slot| &self.counters[slot]);
        let bucket = match last.filter(|last| last.hit.count == hit.count) {
            Some(last) => {
                let bucket = last.bucket;
                self.buckets[bucket].last = position;
                bucket
            }
            None => self.new_bucket(position),
        };
        self.order.push(self.counters.len());
        self.counters.push(Counter {
            hit,
            position,
            bucket,
        });
    }

    /// Adds 1 to a slot's count, keeping `order` sorted: the slot swaps to the front of its run
    /// and joins the run before (count + 1) or starts one.
    fn increment(&mut self, slot: usize) {
        let Counter {
            position, bucket, ..
        } = self.counters[slot];
        let count = self.counters[slot].hit.count;
        let first = self.buckets[bucket].first;
        if position != first {
            let other = self.order[first];
            self.order.swap(position, first);
            self.counters[other].position = position;
            self.counters[slot].position = first;
        }
        let emptied = self.buckets[bucket].last == first;
        if !emptied {
            self.buckets[bucket].first = first + 1;
        }
        self.counters[slot].hit.count = count + 1;
        let before = first
            .checked_sub(1)
            .map(|at| &self.counters[self.order[at]])
            .filter(|counter| counter.hit.count == count + 1)
            .map(|counter| counter.bucket);
        match before {
            Some(joined) => {
                self.buckets[joined].last = first;
                self.counters[slot].bucket = joined;
                if emptied {
                    self.free_buckets.push(bucket);
                }
            }
            // The slot was alone in its run: the run [first, first] now holds count + 1.
            None if emptied => {}
            None => self.counters[slot].bucket = self.new_bucket(first),
        }
    }

    /// A bucket for the one-counter run at `position`, reusing a free one.
    fn new_bucket(&mut self, position: usize) -> usize {
        let bucket = Bucket {
            first: position,
            last: position,
        };
        if let Some(index) = self.free_buckets.pop() {
            self.buckets[index] = bucket;
            index
        } else {
            self.buckets.push(bucket);
            self.buckets.len() - 1
        }
    }

    /// A tracked key's estimate, or `None` (its true count is then at most
    /// [`SpaceSaving::error_bound`]).
    pub fn get(&self, key: &K) -> Option<&HeavyHitter<K>> {
        self.slot_of.get(key).map(|&slot| &self.counters[slot].hit)
    }

    /// The tracked keys by count descending, then key ascending (deterministic).
    pub fn entries(&self) -> Vec<HeavyHitter<K>> {
        let mut entries: Vec<_> = self.counters.iter().map(|c| c.hit.clone()).collect();
        sort_entries(&mut entries);
        entries
    }

    /// Adds `other`'s items: afterwards the summary holds the guarantees for the concatenation
    /// of both streams, with error ≤ (N_a + N_b)/k.
    ///
    /// Agarwal et al. 2012 ("Mergeable summaries") merge Misra–Gries summaries by adding counts
    /// and subtracting the (k+1)-th largest, which under-counts. Space-Saving is isomorphic to
    /// Misra–Gries (count − min), and this is the same merge on the over-counting side (as in
    /// Cafaro et al. 2016, parallel Space-Saving): a key absent from one summary is counted as
    /// that summary's `error_bound` (its true count there is at most that), counts, errors and
    /// positives add, and the k largest counts are kept (ties by key, so the merge is
    /// deterministic). Why the guarantees hold: a kept key's error is at most
    /// min_a + min_b ≤ (N_a + N_b)/k; every candidate counts at least min_a + min_b, so the new
    /// minimum bounds every dropped or unseen key's true count; and any k candidates sum to at
    /// most N_a + N_b, so a key with true count > (N_a + N_b)/k cannot be outranked by k others.
    pub fn merge(&mut self, other: &Self) -> Result<(), SketchError> {
        if self.capacity != other.capacity {
            return Err(SketchError::CapacityMismatch {
                left: self.capacity(),
                right: other.capacity(),
            });
        }
        // What an untracked key may have counted in a summary: its error bound, in all three.
        let floor = |summary: &Self| [summary.error_bound(); 3];
        let (floor_self, floor_other) = (floor(self), floor(other));
        let plus = |hit: &HeavyHitter<K>, [count, error, positives]: [u64; 3]| HeavyHitter {
            key: hit.key.clone(),
            count: hit.count + count,
            error: hit.error + error,
            positives: hit.positives + positives,
        };
        let mut candidates = Vec::with_capacity(self.len() + other.len());
        for Counter { hit, .. } in &self.counters {
            let theirs = other.get(&hit.key);
            let more = theirs.map_or(floor_other, |t| [t.count, t.error, t.positives]);
            candidates.push(plus(hit, more));
        }
        for Counter { hit, .. } in &other.counters {
            if self.get(&hit.key).is_none() {
                candidates.push(plus(hit, floor_self));
            }
        }
        sort_entries(&mut candidates);
        candidates.truncate(self.capacity());
        let mut merged = Self::new(self.capacity);
        merged.total = self.total + other.total;
        for (slot, hit) in candidates.into_iter().enumerate() {
            merged.slot_of.insert(hit.key.clone(), slot);
            merged.push(hit);
        }
        *self = merged;
        Ok(())
    }
}

/// Sorts by count descending, then key ascending: a total order, as keys are distinct.
fn sort_entries<K: Ord>(entries: &mut [HeavyHitter<K>]) {
    entries.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
}
