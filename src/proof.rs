//! Complementarity: algebraic proofs per family, and an independent exhaustive check.
//!
//! Partitions P1..Pk of [0, n) are complementary when no two distinct ids share every class.
//! [`prove`] decides it from the family's algebra in O(k) arithmetic; [`check_exhaustive`]
//! enumerates every id and marks its class tuple in a bitset, without using any algebra.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Result, bail};
use num_integer::Integer;
use rayon::prelude::*;
use serde::Serialize;

use crate::partition::{Combiner, Scheme, TableMap};

/// How a verdict was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// From the family's algebra (product or lcm against n).
    Proof,
    /// By enumerating every id.
    Exhaustive,
}

/// Two distinct ids whose class tuples are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counterexample {
    /// The smaller id.
    pub a: u64,
    /// The larger id.
    pub b: u64,
    /// Their shared class tuple, one class per partition.
    pub classes: Vec<u64>,
}

/// A complementarity verdict with its reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Whether every id gets a distinct class tuple.
    pub complementary: bool,
    /// How this was decided.
    pub method: Method,
    /// The argument, in words.
    pub reason: String,
    /// A colliding pair when not complementary.
    pub counterexample: Option<Counterexample>,
}

impl Verdict {
    fn proved(reason: String) -> Verdict {
        Verdict {
            complementary: true,
            method: Method::Proof,
            reason,
            counterexample: None,
        }
    }

    fn refuted(scheme: &Scheme, reason: String, a: u64, b: u64) -> Verdict {
        let classes = class_tuple(&scheme.table_maps(), a);
        debug_assert_eq!(classes, class_tuple(&scheme.table_maps(), b));
        Verdict {
            complementary: false,
            method: Method::Proof,
            reason,
            counterexample: Some(Counterexample { a, b, classes }),
        }
    }
}

/// The class of `x` in every partition.
pub fn class_tuple(maps: &[TableMap], x: u64) -> Vec<u64> {
    maps.iter().map(|m| m.class_of(x)).collect()
}

/// What complementarity buys for a combiner (the paper's Theorem 1 and its limits).
pub fn combiner_guarantee(combiner: Option<Combiner>, complementary: bool) -> &'static str {
    match (complementary, combiner) {
        (false, _) => {
            "not complementary: the colliding ids share every row, so they always get the same vector"
        }
        (true, None) => "complementary: every id has its own row, so its own vector",
        (true, Some(Combiner::Concat)) => {
            "unique codes; with concat, unique vectors are guaranteed whenever rows within each table are distinct (Theorem 1)"
        }
        (true, Some(Combiner::Add)) => {
            "unique codes; with add, vectors are unique only generically (almost every weight value): ties can make two ids' sums equal"
        }
        (true, Some(Combiner::Mult)) => {
            "unique codes; with mult, vectors are unique only generically (almost every weight value): zeros or ties can make two ids' products equal"
        }
    }
}

/// Decides complementarity from the family's algebra. Explicit partitions are enumerated.
pub fn prove(scheme: &Scheme, n: u64) -> Result<Verdict> {
    scheme.validate(n)?;
    Ok(match scheme {
        Scheme::Full => Verdict::proved(format!(
            "full table: id x has row x, so all {n} ids have distinct rows"
        )),
        Scheme::Hash { m } => {
            if *m >= n {
                Verdict::proved(format!(
                    "hash: m = {m} >= n = {n}, so x mod m = x for every id and no two ids share a bucket"
                ))
            } else {
                Verdict::refuted(
                    scheme,
                    format!("hash: m = {m} < n = {n}, so ids 0 and {m} share bucket 0"),
                    0,
                    *m,
                )
            }
        }
        Scheme::Qr { m } => Verdict::proved(format!(
            "qr: remainder x mod {m} and quotient x div {m} determine x = (x div {m})·{m} + x mod {m}, \
             so all {n} ids get distinct pairs (this is mixed radix [{m}, ceil(n/{m})] with product >= n)"
        )),
        Scheme::MixedRadix { radices } => prove_mixed_radix(scheme, radices, n),
        Scheme::Crt { moduli } => prove_crt(scheme, moduli, n),
        Scheme::Explicit(_) => check_exhaustive(scheme, n)?,
    })
}

/// The product of `values`, or `None` once it exceeds u128 (then it certainly exceeds any n).
fn checked_product(values: &[u64]) -> Option<u128> {
    values
        .iter()
        .try_fold(1u128, |acc, &v| acc.checked_mul(u128::from(v)))
}

fn prove_mixed_radix(scheme: &Scheme, radices: &[u64], n: u64) -> Verdict {
    let list = join(radices);
    match checked_product(radices) {
        Some(p) if p < u128::from(n) => {
            // p < n fits in u64; every digit of p is 0, like those of 0.
            let p = p as u64;
            Verdict::refuted(
                scheme,
                format!(
                    "mixed-radix [{list}]: product {p} < n = {n}, so ids 0 and {p} have the same digits (all 0)"
                ),
                0,
                p,
            )
        }
        product => Verdict::proved(format!(
            "mixed-radix [{list}]: product {} >= n = {n}, so the digits of x determine x = Σ digit_j·(m1·…·m(j-1)) for every id",
            product.map_or_else(|| "> 2^128".to_string(), |p| p.to_string())
        )),
    }
}

/// lcm of the moduli, or `None` once it exceeds u128.
fn checked_lcm(moduli: &[u64]) -> Option<u128> {
    moduli.iter().try_fold(1u128, |acc, &m| {
        let m = u128::from(m);
        (acc / acc.gcd(&m)).checked_mul(m)
    })
}

fn prove_crt(scheme: &Scheme, moduli: &[u64], n: u64) -> Verdict {
    let list = join(moduli);
    match checked_lcm(moduli) {
        Some(l) if l < u128::from(n) => {
            let l = l as u64;
            Verdict::refuted(
                scheme,
                format!(
                    "crt [{list}]: lcm {l} < n = {n}, so ids 0 and {l} have the same residues (all 0)"
                ),
                0,
                l,
            )
        }
        lcm => Verdict::proved(format!(
            "crt [{list}]: lcm {} >= n = {n}; a and b share every residue only if the lcm divides a − b, \
             and 0 < |a − b| < n <= lcm, so no two ids collide",
            lcm.map_or_else(|| "> 2^128".to_string(), |l| l.to_string())
        )),
    }
}

fn join(values: &[u64]) -> String {
    values
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Ids handled per parallel work item in the exhaustive check.
const CHUNK: u64 = 1 << 16;

/// A window of the code space marked in one pass, in bits: at least 2n, at least 2^27.
fn window_bits(n: u64) -> u128 {
    u128::from(n.saturating_mul(2)).max(1 << 27)
}

/// Decides complementarity by enumerating every id, independently of any algebra.
///
/// Each id's class tuple is read as one number, the code, in mixed radix over the tables'
/// row counts; an atomic bitset marks codes seen. When the code space is larger than
/// [`window_bits`], it is covered in several passes, each marking one window, so memory
/// stays O(n) bits. The first colliding pair (smallest b, then its a) is found by a
/// sequential re-scan, so the counterexample does not depend on thread timing.
pub fn check_exhaustive(scheme: &Scheme, n: u64) -> Result<Verdict> {
    scheme.validate(n)?;
    if usize::try_from(n).is_err() {
        bail!("cannot enumerate {n} ids on this platform");
    }
    let maps = scheme.table_maps();
    let rows = scheme.table_rows(n);
    let strides = strides(&rows)?;
    let space = strides.last().copied().unwrap_or(1);
    let window = window_bits(n);
    let code_of = |x: u64| -> u128 {
        maps.iter()
            .zip(&strides)
            .map(|(m, &s)| u128::from(m.class_of(x)) * s)
            .sum()
    };
    let passes = space.div_ceil(window);
    let mut duplicate = false;
    for pass in 0..passes {
        let lo = pass * window;
        let hi = (lo + window).min(space);
        if any_duplicate_in_window(n, lo, hi, &code_of) {
            duplicate = true;
            break;
        }
    }
    let desc = scheme.describe();
    if !duplicate {
        return Ok(Verdict {
            complementary: true,
            method: Method::Exhaustive,
            reason: format!(
                "{desc}: enumerated all {n} ids; their class tuples are pairwise distinct"
            ),
            counterexample: None,
        });
    }
    let (a, b) = first_collision(n, window, space, &code_of);
    Ok(Verdict {
        complementary: false,
        method: Method::Exhaustive,
        reason: format!("{desc}: enumerated the ids; {a} and {b} have the same class tuple"),
        counterexample: Some(Counterexample {
            a,
            b,
            classes: class_tuple(&maps, a),
        }),
    })
}

/// Place values of the tables' classes in the code, with the code-space size last.
fn strides(rows: &[u64]) -> Result<Vec<u128>> {
    let mut out = Vec::with_capacity(rows.len() + 1);
    let mut acc: u128 = 1;
    out.push(acc);
    for &r in rows {
        acc = acc.checked_mul(u128::from(r.max(1))).ok_or_else(|| {
            anyhow::anyhow!(
                "the class-tuple space exceeds 2^128 codes; exhaustive enumeration is not possible"
            )
        })?;
        out.push(acc);
    }
    Ok(out)
}

/// Marks the codes in `[lo, hi)` of every id, in parallel; true if some code is marked twice.
fn any_duplicate_in_window(
    n: u64,
    lo: u128,
    hi: u128,
    code_of: &(dyn Fn(u64) -> u128 + Sync),
) -> bool {
    let words = usize::try_from((hi - lo).div_ceil(64)).expect("window fits in memory");
    let bits: Vec<AtomicU64> = (0..words).map(|_| AtomicU64::new(0)).collect();
    let chunks = n.div_ceil(CHUNK);
    (0..chunks).into_par_iter().any(|c| {
        let start = c * CHUNK;
        let end = (start + CHUNK).min(n);
        (start..end).any(|x| {
            let code = code_of(x);
            if code < lo || code >= hi {
                return false;
            }
            let off = (code - lo) as usize;
            let mask = 1u64 << (off % 64);
            bits[off / 64].fetch_or(mask, Ordering::Relaxed) & mask != 0
        })
    })
}

/// The smallest b whose code an earlier id already has, and that earlier id a.
fn first_collision(n: u64, window: u128, space: u128, code_of: &dyn Fn(u64) -> u128) -> (u64, u64) {
    // Ids are scanned in order; a window-limited bitset would miss cross-window codes, so
    // mark codes of every window in turn and keep the smallest b over all windows.
    let mut best: Option<u64> = None;
    let mut lo = 0u128;
    while lo < space {
        let hi = (lo + window).min(space);
        let words = usize::try_from((hi - lo).div_ceil(64)).expect("window fits in memory");
        let mut bits = vec![0u64; words];
        let limit = best.unwrap_or(n);
        for x in 0..limit {
            let code = code_of(x);
            if code < lo || code >= hi {
                continue;
            }
            let off = (code - lo) as usize;
            let mask = 1u64 << (off % 64);
            if bits[off / 64] & mask != 0 {
                best = Some(x);
                break;
            }
            bits[off / 64] |= mask;
        }
        lo = hi;
    }
    let b = best.expect("a duplicate was seen in the parallel pass");
    let code = code_of(b);
    let a = (0..b)
        .find(|&x| code_of(x) == code)
        .expect("b collides with an earlier id");
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::ExplicitPartitions;
    use proptest::prelude::*;
    use std::path::Path;
    use std::sync::Arc;

    fn both(scheme: &Scheme, n: u64) -> (Verdict, Verdict) {
        (
            prove(scheme, n).unwrap(),
            check_exhaustive(scheme, n).unwrap(),
        )
    }

    fn assert_collides(scheme: &Scheme, c: &Counterexample) {
        let maps = scheme.table_maps();
        assert_ne!(c.a, c.b);
        assert_eq!(class_tuple(&maps, c.a), class_tuple(&maps, c.b));
        assert_eq!(class_tuple(&maps, c.a), c.classes);
    }

    #[test]
    fn paper_five_element_example() {
        // {{0},{1,3,4},{2}}, {{0,1,3},{2,4}}, {{0,3},{1,2,4}}
        let text = "0 0 0\n1 0 1\n2 1 1\n1 0 0\n1 1 1\n";
        let p = ExplicitPartitions::parse(Path::new("paper.txt"), text).unwrap();
        let scheme = Scheme::Explicit(Arc::new(p));
        let v = prove(&scheme, 5).unwrap();
        assert!(v.complementary, "{v:?}");
        assert_eq!(v.method, Method::Exhaustive);
        // Dropping the third partition makes 1 and 3 collide.
        let text = "0 0\n1 0\n2 1\n1 0\n1 1\n";
        let p = ExplicitPartitions::parse(Path::new("two.txt"), text).unwrap();
        let v = prove(&Scheme::Explicit(Arc::new(p)), 5).unwrap();
        let c = v.counterexample.unwrap();
        assert_eq!((c.a, c.b, c.classes), (1, 3, vec![1, 0]));
    }

    #[test]
    fn qr_with_different_divisor_and_modulus_collides() {
        // DeepRec's pitfall: divide by 100 and take mod 5: 7 and 12 both map to (0, 2).
        let text: String = (0..200u64)
            .map(|x| format!("{} {}\n", x / 100, x % 5))
            .collect();
        let p = ExplicitPartitions::parse(Path::new("bad-qr.txt"), &text).unwrap();
        let v = prove(&Scheme::Explicit(Arc::new(p)), 200).unwrap();
        assert!(!v.complementary);
        let c = v.counterexample.unwrap();
        assert_eq!((c.a, c.b, c.classes), (0, 5, vec![0, 0]));
        let maps = [
            TableMap::Arith {
                divisor: 100,
                modulus: None,
            },
            TableMap::Arith {
                divisor: 1,
                modulus: Some(5),
            },
        ];
        assert_eq!(class_tuple(&maps, 7), class_tuple(&maps, 12));
        assert_eq!(class_tuple(&maps, 7), vec![0, 2]);
    }

    #[test]
    fn crt_with_shared_factor_but_large_lcm() {
        // lcm(6, 10, 15) = 30 although the moduli share factors.
        let s = Scheme::Crt {
            moduli: vec![6, 10, 15],
        };
        let (p, e) = both(&s, 30);
        assert!(p.complementary && e.complementary);
        let (p, e) = both(&s, 31);
        assert!(!p.complementary && !e.complementary);
        assert_eq!(p.counterexample.as_ref().map(|c| (c.a, c.b)), Some((0, 30)));
        assert_eq!(e.counterexample.as_ref().map(|c| (c.a, c.b)), Some((0, 30)));
    }

    #[test]
    fn proofs_answer_for_huge_n() {
        let n = 1u64 << 63;
        assert!(
            prove(&Scheme::Qr { m: 3_037_000_500 }, n)
                .unwrap()
                .complementary
        );
        let v = prove(
            &Scheme::MixedRadix {
                radices: vec![1 << 21, 1 << 21, 1 << 20],
            },
            n,
        )
        .unwrap();
        assert!(!v.complementary);
        assert_eq!(v.counterexample.unwrap().b, 1 << 62);
        assert!(
            prove(
                &Scheme::Crt {
                    moduli: vec![u64::MAX, u64::MAX - 1]
                },
                u64::MAX
            )
            .unwrap()
            .complementary
        );
        assert!(
            prove(
                &Scheme::MixedRadix {
                    radices: vec![u64::MAX; 3]
                },
                u64::MAX
            )
            .unwrap()
            .complementary
        );
    }

    #[test]
    fn large_code_space_uses_several_passes() {
        // Code space 2^20 · 2^20 = 2^40 bits would not fit; the windows cover it.
        let s = Scheme::Crt {
            moduli: vec![(1 << 20) + 1, 1 << 20],
        };
        let v = check_exhaustive(&s, 1000).unwrap();
        assert!(v.complementary);
    }

    fn small_scheme() -> impl Strategy<Value = Scheme> {
        let list = prop::collection::vec(1u64..12, 1..4);
        prop_oneof![
            Just(Scheme::Full),
            (1u64..40).prop_map(|m| Scheme::Hash { m }),
            (1u64..40).prop_map(|m| Scheme::Qr { m }),
            list.clone()
                .prop_map(|radices| Scheme::MixedRadix { radices }),
            list.prop_map(|moduli| Scheme::Crt { moduli }),
        ]
    }

    proptest! {
        #[test]
        fn proof_agrees_with_enumeration(scheme in small_scheme(), n in 1u64..400) {
            let (p, e) = both(&scheme, n);
            prop_assert_eq!(p.complementary, e.complementary, "{:?} n={}", scheme, n);
            for v in [&p, &e] {
                match &v.counterexample {
                    Some(c) => {
                        prop_assert!(!v.complementary);
                        prop_assert!(c.a < n && c.b < n);
                        assert_collides(&scheme, c);
                    }
                    None => prop_assert!(v.complementary),
                }
            }
        }
    }
}
