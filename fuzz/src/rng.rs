//! SplitMix64: the harness's only source of randomness.
//!
//! Hand-written rather than taken from `rand` so that a seed names the same inputs in every
//! build and every version of the dependencies.

/// A SplitMix64 generator (Steele, Lea and Flood 2014): 64 bits of state, full period.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A generator for one input: a hash of the run's seed, the target and the input index,
    /// so input `i` does not depend on how many numbers input `i - 1` drew.
    pub fn for_input(seed: u64, target: &str, index: u64) -> Rng {
        let mut h = Rng::new(seed ^ 0x6a09_e667_f3bc_c908);
        for &b in target.as_bytes() {
            h.0 ^= u64::from(b);
            h.next_u64();
        }
        h.0 ^= index;
        Rng::new(h.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform number in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// A small count in `1..=max`, smaller values more likely (a random power of two first).
    pub fn small(&mut self, max: usize) -> usize {
        let bits = self.below(usize::BITS as usize - max.max(1).leading_zeros() as usize + 1);
        1 + self.below((1usize << bits).min(max.max(1)))
    }

    /// A uniformly chosen element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_ranges_hold() {
        let a: Vec<u64> = (0..4)
            .map(|i| Rng::for_input(7, "schema", i).next_u64())
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|i| Rng::for_input(7, "schema", i).next_u64())
            .collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
        assert_ne!(a[0], Rng::for_input(7, "plan-toml", 0).next_u64());
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            assert!(r.below(3) < 3);
            let s = r.small(40);
            assert!((1..=40).contains(&s), "{s}");
        }
        assert_eq!(r.below(0), 0);
    }
}
