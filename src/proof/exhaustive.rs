//! The exhaustive complementarity check: enumerate every id, compare class tuples.
//!
//! Each id's class tuple is read as one number, its *code*, in mixed radix over the tables'
//! row counts. Two ids collide exactly when their codes are equal, and every class is
//! checked against its table's row count, so a code outside the space is an error.
//!
//! Time and memory are bounded by n, whatever the size of the code space:
//! - **dense**: when the space is at most 64 bits per id (and the bitset fits the memory
//!   budget), one pass marks codes in an atomic bitset of `space` bits;
//! - **sparse**: otherwise each id's code becomes a 64-bit fingerprint (the code itself when
//!   the space fits in 64 bits, else a hash of the class tuple, re-checked against the exact
//!   tuples; so any space works, even one beyond 2^128 codes), and
//!   the fingerprints are radix-partitioned into passes that each fit the memory budget,
//!   sorted, and scanned for equal neighbours.
//!
//! The counterexample is the smallest b that repeats an earlier id's tuple, with the smallest
//! such a, so it never depends on thread timing.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Result, bail};
use rayon::prelude::*;

use super::{Counterexample, Method, Verdict, class_tuple};
use crate::memory::try_filled;
use crate::partition::{Scheme, TableMap};
use crate::size::format_iec;

/// The most ids the exhaustive check enumerates; a larger n is refused up front.
pub const MAX_ENUMERATED_IDS: u64 = 1 << 32;

/// Ids handled per parallel work item.
const CHUNK: u64 = 1 << 16;

/// Enumeration cost used for the up-front estimate, in nanoseconds per id and table on one
/// thread (measured by `cargo bench --bench proof`, rounded up).
const NS_PER_ID_TABLE: f64 = 20.0;

/// Limits of one exhaustive check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Working memory one pass may allocate, in bytes.
    pub memory: u64,
    /// The most ids enumerated; larger n is refused.
    pub max_ids: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory: 4 << 30,
            max_ids: MAX_ENUMERATED_IDS,
        }
    }
}

/// Which way the codes are compared (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enumeration {
    /// One atomic bitset over the whole code space.
    Dense,
    /// Fingerprints radix-partitioned into this many passes, each sorted.
    Sparse {
        /// Passes over the ids (each one bucket of fingerprints).
        passes: u64,
    },
}

/// How a check of `scheme` over `n` ids would run: its strategy and peak working memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Dense or sparse.
    pub strategy: Enumeration,
    /// Bytes of the largest allocation, expected (sparse buckets vary with the ids).
    pub memory: u64,
    /// Size of the class-tuple space (product of the tables' row counts), saturated at
    /// `u128::MAX`.
    pub space: u128,
}

/// Plans the check: dense when the space is small next to n, sparse otherwise.
pub fn cost(scheme: &Scheme, n: u64, limits: &Limits) -> Result<Cost> {
    let rows = scheme.table_rows(n);
    let space = strides(&rows).map_or(u128::MAX, |s| s.last().copied().unwrap_or(1));
    let dense_bits = u128::from(n).saturating_mul(64).max(1 << 27);
    let dense_bytes = space.div_ceil(8);
    if space <= dense_bits && dense_bytes <= u128::from(limits.memory) {
        return Ok(Cost {
            strategy: Enumeration::Dense,
            memory: dense_bytes as u64,
            space,
        });
    }
    let total = n.saturating_mul(8);
    let passes = total.div_ceil(limits.memory.max(8)).max(1);
    Ok(Cost {
        strategy: Enumeration::Sparse { passes },
        memory: total.div_ceil(passes),
        space,
    })
}

/// Decides complementarity by enumerating every id, independently of any algebra.
pub fn check_exhaustive(scheme: &Scheme, n: u64) -> Result<Verdict> {
    check_exhaustive_with(scheme, n, &Limits::default())
}

/// [`check_exhaustive`] under explicit limits (tests force several passes with them).
pub fn check_exhaustive_with(scheme: &Scheme, n: u64, limits: &Limits) -> Result<Verdict> {
    scheme.validate(n)?;
    refuse_beyond_limit(scheme, n, limits)?;
    let maps = scheme.table_maps();
    let rows = scheme.table_rows(n);
    check_classes_in_range(&maps, &rows, n)?;
    let plan = cost(scheme, n, limits)?;
    // The code in mixed radix over the row counts: used when the space fits in 64 bits.
    let strides = strides(&rows).unwrap_or_default();
    let code_of = |x: u64| -> u128 {
        maps.iter()
            .zip(&strides)
            .map(|(m, &s)| u128::from(m.class_of(x)) * s)
            .sum()
    };
    let exact = plan.space <= u128::from(u64::MAX) + 1;
    let collision = match plan.strategy {
        Enumeration::Dense => dense_first_collision(n, plan.space, &code_of)?,
        Enumeration::Sparse { passes } if exact => {
            let fp = |x: u64| code_of(x) as u64;
            sparse_first_collision(n, passes, limits.memory, None, &fp)?
        }
        Enumeration::Sparse { passes } => {
            let fp = |x: u64| tuple_hash(&maps, x);
            let tuple = |x: u64| class_tuple(&maps, x);
            sparse_first_collision(n, passes, limits.memory, Some(&tuple), &fp)?
        }
    };
    let desc = scheme.describe();
    Ok(match collision {
        None => Verdict {
            complementary: true,
            method: Method::Exhaustive,
            reason: format!(
                "{desc}: enumerated all {n} ids; their class tuples are pairwise distinct"
            ),
            counterexample: None,
        },
        Some((a, b)) => Verdict {
            complementary: false,
            method: Method::Exhaustive,
            reason: format!("{desc}: enumerated the ids; {a} and {b} have the same class tuple"),
            counterexample: Some(Counterexample {
                a,
                b,
                classes: class_tuple(&maps, a),
            }),
        },
    })
}

/// Refuses, before any work, an n beyond what the check enumerates, naming what it would need.
fn refuse_beyond_limit(scheme: &Scheme, n: u64, limits: &Limits) -> Result<()> {
    if n <= limits.max_ids && usize::try_from(n).is_ok() {
        return Ok(());
    }
    let threads = rayon::current_num_threads().max(1) as f64;
    let tables = scheme.num_tables().max(1) as f64;
    let secs_per_pass = n as f64 * tables * NS_PER_ID_TABLE * 1e-9 / threads;
    let memory = u128::from(n) * 8;
    let passes = memory.div_ceil(u128::from(limits.memory.max(1))).max(1);
    bail!(
        "exhaustive check of n = {n} ids refused: it enumerates at most {} ids; at n = {n} it would need \
         {} of memory for one pass (or {passes} passes of {}) and about {} per pass on {} threads. \
         The algebraic proof (verify without --exhaustive) decides qr, mixed-radix, crt and hash for any n",
        limits.max_ids,
        format_iec_u128(memory),
        format_iec(limits.memory),
        format_duration(secs_per_pass),
        threads as u64
    )
}

/// IEC bytes for sizes beyond u64 too (in EiB, rounded).
fn format_iec_u128(bytes: u128) -> String {
    u64::try_from(bytes).map_or_else(
        |_| format!("{:.0} EiB", bytes as f64 / (1u64 << 60) as f64),
        format_iec,
    )
}

fn format_duration(secs: f64) -> String {
    match secs {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7200.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.0} h", s / 3600.0),
        s => format!("{:.0} days", s / 86_400.0),
    }
}

/// Errors when some id's class is outside its table (the table would be indexed out of range).
fn check_classes_in_range(maps: &[TableMap], rows: &[u64], n: u64) -> Result<()> {
    for (j, (map, &r)) in maps.iter().zip(rows).enumerate() {
        // Arithmetic maps are in range by construction (see `Scheme::table_rows`); lookups
        // are data and are checked one by one.
        if let TableMap::Lookup(classes) = map {
            if classes.len() as u64 != n {
                bail!(
                    "partition {} lists {} class ids for {n} categories",
                    j + 1,
                    classes.len()
                );
            }
            if let Some(x) = classes.iter().position(|&c| c >= r) {
                bail!(
                    "category {x} has class {} in partition {}, outside its {r} rows",
                    classes[x],
                    j + 1
                );
            }
        }
    }
    Ok(())
}

/// Place values of the tables' classes in the code, with the code-space size last; `None`
/// when the space exceeds u128 (then tuples are hashed instead).
fn strides(rows: &[u64]) -> Option<Vec<u128>> {
    let mut out = Vec::with_capacity(rows.len() + 1);
    let mut acc: u128 = 1;
    out.push(acc);
    for &r in rows {
        acc = acc.checked_mul(u128::from(r.max(1)))?;
        out.push(acc);
    }
    Some(out)
}

/// A 64-bit hash of x's class tuple, for spaces too large for an exact 64-bit code.
fn tuple_hash(maps: &[TableMap], x: u64) -> u64 {
    maps.iter().fold(0x9e37_79b9_7f4a_7c15, |h, m| {
        mix64(h ^ m.class_of(x)).wrapping_add(0x632b_e59b_d9b4_e019)
    })
}

/// The splitmix64 finalizer: a bijection on u64 that spreads nearby values apart.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The pass (bucket) of a fingerprint, uniform over `passes`.
fn bucket(fp: u64, passes: u64) -> usize {
    ((u128::from(mix64(fp)) * u128::from(passes)) >> 64) as usize
}

/// Dense strategy: one atomic bitset over the code space; a sequential re-scan names the pair.
fn dense_first_collision(
    n: u64,
    space: u128,
    code_of: &(dyn Fn(u64) -> u128 + Sync),
) -> Result<Option<(u64, u64)>> {
    let words = space.div_ceil(64) as u64;
    let bits: Vec<AtomicU64> = try_filled::<u64>(words, "the exhaustive check's bitset")?
        .into_iter()
        .map(AtomicU64::new)
        .collect();
    let duplicate = (0..n.div_ceil(CHUNK)).into_par_iter().any(|c| {
        let (start, end) = (c * CHUNK, ((c + 1) * CHUNK).min(n));
        (start..end).any(|x| {
            let off = code_of(x) as usize;
            let mask = 1u64 << (off % 64);
            bits[off / 64].fetch_or(mask, Ordering::Relaxed) & mask != 0
        })
    });
    if !duplicate {
        return Ok(None);
    }
    let mut seen = bits;
    for w in &mut seen {
        *w.get_mut() = 0;
    }
    let b = (0..n)
        .find(|&x| {
            let off = code_of(x) as usize;
            let mask = 1u64 << (off % 64);
            let word = seen[off / 64].get_mut();
            let hit = *word & mask != 0;
            *word |= mask;
            hit
        })
        .expect("a duplicate was seen in the parallel pass");
    let code = code_of(b);
    let a = (0..b)
        .find(|&x| code_of(x) == code)
        .expect("b repeats an earlier id");
    Ok(Some((a, b)))
}

/// Per chunk of ids, how many fingerprints fall in each of `passes` buckets.
fn bucket_counts(n: u64, passes: u64, fp: &(dyn Fn(u64) -> u64 + Sync)) -> Vec<Vec<u64>> {
    (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut counts = vec![0u64; passes as usize];
            for x in c * CHUNK..((c + 1) * CHUNK).min(n) {
                counts[bucket(fp(x), passes)] += 1;
            }
            counts
        })
        .collect()
}

/// Fills `out` (sized exactly) with `item(x)` for every id whose fingerprint is in bucket `p`,
/// in id order: each chunk of ids writes its own slice, so the result is deterministic.
fn gather_bucket<T: Send>(
    n: u64,
    p: usize,
    passes: u64,
    counts: &[Vec<u64>],
    fp: &(dyn Fn(u64) -> u64 + Sync),
    item: &(dyn Fn(u64, u64) -> T + Sync),
    out: &mut [T],
) {
    let mut slices = Vec::with_capacity(counts.len());
    let mut rest = out;
    for chunk_counts in counts {
        let (head, tail) = rest.split_at_mut(chunk_counts[p] as usize);
        slices.push(head);
        rest = tail;
    }
    slices.into_par_iter().enumerate().for_each(|(c, slice)| {
        let c = c as u64;
        let mut i = 0;
        for x in c * CHUNK..((c + 1) * CHUNK).min(n) {
            let f = fp(x);
            if bucket(f, passes) == p {
                slice[i] = item(x, f);
                i += 1;
            }
        }
    });
}

/// Sparse strategy: fingerprints first (8 bytes an id), then, only if two are equal, pairs
/// of fingerprint and id (16 bytes) to name the first colliding pair exactly. Fingerprints
/// are exact codes when `tuple` is `None`, else hashes checked against `tuple(x)`.
fn sparse_first_collision(
    n: u64,
    passes: u64,
    memory: u64,
    tuple: Option<&(dyn Fn(u64) -> Vec<u64> + Sync)>,
    fp: &(dyn Fn(u64) -> u64 + Sync),
) -> Result<Option<(u64, u64)>> {
    let counts = bucket_counts(n, passes, fp);
    let mut any_equal = false;
    for p in 0..passes as usize {
        let len: u64 = counts.iter().map(|c| c[p]).sum();
        let mut buf = try_filled::<u64>(len, "the exhaustive check's fingerprints")?;
        gather_bucket(n, p, passes, &counts, fp, &|_, f| f, &mut buf);
        buf.par_sort_unstable();
        if buf.windows(2).any(|w| w[0] == w[1]) {
            any_equal = true;
            break;
        }
    }
    if !any_equal {
        return Ok(None);
    }
    let pair_passes = n.saturating_mul(16).div_ceil(memory.max(16)).max(1);
    let counts = bucket_counts(n, pair_passes, fp);
    let mut best: Option<(u64, u64)> = None;
    for p in 0..pair_passes as usize {
        let len: u64 = counts.iter().map(|c| c[p]).sum();
        let mut buf = try_filled::<(u64, u64)>(len, "the exhaustive check's fingerprint pairs")?;
        gather_bucket(n, p, pair_passes, &counts, fp, &|x, f| (f, x), &mut buf);
        buf.par_sort_unstable();
        for run in buf.chunk_by(|l, r| l.0 == r.0).filter(|r| r.len() > 1) {
            let found = match tuple {
                None => Some((run[0].1, run[1].1)),
                Some(tuple) => first_equal_tuple(run, tuple),
            };
            if let Some((a, b)) = found
                && best.is_none_or(|(_, bb)| b < bb)
            {
                best = Some((a, b));
            }
        }
    }
    Ok(best)
}

/// Among ids sharing a hashed fingerprint, the smallest b whose class tuple an earlier id has.
fn first_equal_tuple(run: &[(u64, u64)], tuple: &dyn Fn(u64) -> Vec<u64>) -> Option<(u64, u64)> {
    let mut codes: Vec<(Vec<u64>, u64)> = run.iter().map(|&(_, x)| (tuple(x), x)).collect();
    codes.sort_unstable();
    codes
        .chunk_by(|l, r| l.0 == r.0)
        .filter(|g| g.len() > 1)
        .map(|g| (g[0].1, g[1].1))
        .min_by_key(|&(_, b)| b)
}
