//! Complementarity: algebraic proofs per family, and an independent exhaustive check.
//!
//! Partitions P1..Pk of [0, n) are complementary when no two distinct ids share every class.
//! [`prove`] decides it from the family's algebra in O(k) arithmetic; [`check_exhaustive`]
//! enumerates every id and marks its class tuple in a bitset, without using any algebra.

mod exhaustive;

use anyhow::Result;
use num_integer::Integer;
use serde::Serialize;

pub use exhaustive::{
    Cost as ExhaustiveCost, Enumeration, Limits, MAX_ENUMERATED_IDS, check_exhaustive,
    check_exhaustive_with, cost as exhaustive_cost,
};

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
        Scheme::Hot { hot, tail } => prove_hot(scheme, *hot, tail, n)?,
    })
}

/// A hot scheme is complementary exactly when its tail is on the n − K tail ids: table 0
/// separates the hot ids from each other, every table separates them from the tail (their
/// shared row 0 or own rows below K are never a tail id's row), and a tail pair collides in
/// every table exactly when it collides in the tail scheme.
fn prove_hot(scheme: &Scheme, hot: u64, tail: &Scheme, n: u64) -> Result<Verdict> {
    let inner = prove(tail, n - hot)?;
    let reason = format!(
        "hot({hot}): ids 0 to {} have rows of their own in table 0 and a row no tail id uses in every other table; \
         the other {} ids are x − {hot} through {}: {}",
        hot - 1,
        n - hot,
        tail.describe(),
        inner.reason
    );
    Ok(match inner.counterexample {
        Some(c) => Verdict::refuted(scheme, reason, c.a + hot, c.b + hot),
        None => Verdict { reason, ..inner },
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

#[cfg(test)]
#[allow(clippy::format_collect, clippy::items_after_statements)] // test fixtures
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

    /// Limits that force the sparse strategy into several passes even for tiny n.
    fn tiny(memory: u64) -> Limits {
        Limits {
            memory,
            max_ids: MAX_ENUMERATED_IDS,
        }
    }

    fn explicit(text: &str) -> Scheme {
        Scheme::Explicit(Arc::new(
            ExplicitPartitions::parse(Path::new("p.txt"), text).unwrap(),
        ))
    }

    #[test]
    fn sparse_space_runs_several_real_passes() {
        // Rows 2^20 + 1 and 2^20 for n = 5000: a 2^40-code space, far above 64 bits an id.
        let s = Scheme::Crt {
            moduli: vec![(1 << 20) + 1, 1 << 20],
        };
        let limits = tiny(8 * 1000);
        let c = exhaustive_cost(&s, 5000, &limits).unwrap();
        assert_eq!(c.strategy, Enumeration::Sparse { passes: 5 });
        let v = check_exhaustive_with(&s, 5000, &limits).unwrap();
        assert!(v.complementary, "{v:?}");
        // lcm(6, 10) = 30 with rows capped at n: collisions found across passes.
        let s = Scheme::Crt {
            moduli: vec![1 << 12, 6 * (1 << 12)],
        };
        let n = 50_000;
        assert!(matches!(
            exhaustive_cost(&s, n, &tiny(8 * 7000)).unwrap().strategy,
            Enumeration::Sparse { passes: 8 }
        ));
        let sparse = check_exhaustive_with(&s, n, &tiny(8 * 7000)).unwrap();
        let proved = prove(&s, n).unwrap();
        assert!(!sparse.complementary && !proved.complementary);
        assert_eq!(
            sparse.counterexample.map(|c| (c.a, c.b)),
            proved.counterexample.map(|c| (c.a, c.b))
        );
    }

    #[test]
    fn code_space_beyond_64_bits_is_hashed_then_checked_exactly() {
        // Three partitions with class ids near 2^40: a space of about 2^120 codes.
        let big = 1u64 << 40;
        let rows: String = (0..300u64)
            .map(|x| format!("{} {} {}\n", big + x % 7, big - x % 11, big + x / 77))
            .collect();
        let v = check_exhaustive_with(&explicit(&rows), 300, &tiny(8 * 64)).unwrap();
        // x mod 7, x mod 11 and x div 77 separate all 300 ids (77 = 7·11).
        assert!(v.complementary, "{v:?}");
        let rows: String = (0..300u64)
            .map(|x| format!("{} {} {}\n", big + x % 7, big - x % 11, big + x / 200))
            .collect();
        let v = check_exhaustive_with(&explicit(&rows), 300, &tiny(8 * 64)).unwrap();
        assert_eq!(v.counterexample.map(|c| (c.a, c.b)), Some((0, 77)));
    }

    #[test]
    fn largest_class_id_is_refused_not_wrapped() {
        // Regression: 1 + u64::MAX used to wrap to 0 rows and pass as complementary.
        let e = ExplicitPartitions::parse(
            Path::new("p.txt"),
            "18446744073709551615 0\n18446744073709551615 0\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("p.txt:1:1: class id 18446744073709551615 is too large")
        );
        let s = explicit("18446744073709551614 0\n18446744073709551614 0\n");
        let v = check_exhaustive(&s, 2).unwrap();
        assert_eq!(v.counterexample.map(|c| (c.a, c.b)), Some((0, 1)));
    }

    #[test]
    fn huge_class_ids_finish_at_once() {
        // Regression: a class id of 10^12 made the old windowed check take hours.
        let s = explicit("1000000000000 0\n0 1\n");
        assert!(check_exhaustive(&s, 2).unwrap().complementary);
    }

    #[test]
    fn enumeration_beyond_the_limit_is_refused_up_front() {
        // Regression: these aborted with "memory allocation failed" or ran for hours.
        for (scheme, n) in [
            (Scheme::Qr { m: 1 }, u64::MAX),
            (Scheme::Qr { m: 3_037_000_500 }, 1 << 63),
        ] {
            let e = check_exhaustive(&scheme, n).unwrap_err().to_string();
            assert!(e.contains("refused") && e.contains("of memory"), "{e}");
        }
        let limits = Limits {
            memory: 1 << 20,
            max_ids: 1000,
        };
        let e = check_exhaustive_with(&Scheme::Full, 1001, &limits).unwrap_err();
        assert!(e.to_string().contains("at most 1000 ids"), "{e}");
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

        #[test]
        fn sparse_strategy_agrees_with_dense(scheme in small_scheme(), n in 1u64..400, mem in 8u64..800) {
            let dense = check_exhaustive(&scheme, n).unwrap();
            let sparse = check_exhaustive_with(&scheme, n, &tiny(mem)).unwrap();
            prop_assert_eq!(dense.complementary, sparse.complementary);
            prop_assert_eq!(
                dense.counterexample.map(|c| (c.a, c.b)),
                sparse.counterexample.map(|c| (c.a, c.b))
            );
        }

        #[test]
        fn exhaustive_check_agrees_with_brute_force_in_huge_code_spaces(
            classes in prop::collection::vec((0u64..6, 0u64..5, 0u64..4), 1..200),
            offsets in (0u64..1 << 62, 0u64..1 << 62, 0u64..1 << 62),
            mem in 8u64..4000,
        ) {
            // Class ids near 2^62 make a code space of ~2^186 (hashed fingerprints) while
            // only a few classes are used, so collisions are frequent.
            let text: String = classes
                .iter()
                .map(|&(a, b, c)| format!("{} {} {}\n", a + offsets.0, b + offsets.1, c + offsets.2))
                .collect();
            let n = classes.len() as u64;
            let v = check_exhaustive_with(&explicit(&text), n, &tiny(mem)).unwrap();
            // The oracle: the first id whose tuple an earlier id has, and that earlier id.
            let mut first = std::collections::HashMap::new();
            let mut expected = None;
            for (x, t) in classes.iter().enumerate() {
                if let Some(&a) = first.get(t) {
                    expected = Some((a, x as u64));
                    break;
                }
                first.insert(*t, x as u64);
            }
            prop_assert_eq!(v.complementary, expected.is_none());
            prop_assert_eq!(v.counterexample.map(|c| (c.a, c.b)), expected);
        }

        #[test]
        fn hot_schemes_are_proved_like_their_tail_and_fit_their_tables(
            tail in small_scheme().prop_filter("an arithmetic tail", |s| *s != Scheme::Full),
            hot in 1u64..40,
            extra in 1u64..300,
        ) {
            let n = hot + extra;
            let scheme = Scheme::Hot { hot, tail: Box::new(tail.clone()) };
            let (p, e) = both(&scheme, n);
            prop_assert_eq!(p.complementary, e.complementary, "{:?} n={}", scheme, n);
            prop_assert_eq!(p.complementary, prove(&tail, extra).unwrap().complementary);
            if let Some(c) = &p.counterexample {
                prop_assert!(c.a >= hot && c.b < n);
                assert_collides(&scheme, c);
            }
            let rows = scheme.table_rows(n);
            let maps = scheme.table_maps();
            let tail_rows = tail.table_rows(extra);
            prop_assert_eq!(rows[0], hot + tail_rows[0]);
            for x in 0..n {
                for (j, (map, &r)) in maps.iter().zip(&rows).enumerate() {
                    let class = map.class_of(x);
                    prop_assert!(class < r, "{:?} x={} n={}", scheme, x, n);
                    // Hot ids: own rows in table 0, the shared row 0 elsewhere; tail ids
                    // never land on a hot row.
                    match (x < hot, j) {
                        (true, 0) => prop_assert_eq!(class, x),
                        (true, _) => prop_assert_eq!(class, 0),
                        (false, 0) => prop_assert!(class >= hot),
                        (false, _) => prop_assert!(class >= 1),
                    }
                }
            }
        }

        #[test]
        fn every_class_is_inside_its_table(scheme in small_scheme(), n in 1u64..400) {
            let rows = scheme.table_rows(n);
            let maps = scheme.table_maps();
            prop_assert_eq!(rows.len(), maps.len());
            for x in 0..n {
                for (map, &r) in maps.iter().zip(&rows) {
                    prop_assert!(map.class_of(x) < r, "{:?} x={} n={}", scheme, x, n);
                }
            }
        }
    }
}
