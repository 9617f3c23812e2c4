//! Tests of candidate generation: grids, crt moduli, concat splits, pricing and fronts.

use super::*;
use crate::proof::prove;

fn feature(n: u64, dim: u32) -> Feature {
    Feature {
        name: "f".into(),
        cardinality: n,
        dim,
        weight: 1.0,
        zipf: None,
        profile: None,
    }
}

#[test]
fn grid_is_geometric_and_inclusive() {
    assert_eq!(geometric_grid(2, 2, 4), vec![2]);
    assert!(geometric_grid(3, 2, 4).is_empty());
    let g = geometric_grid(2, 3162, 8);
    assert_eq!((g[0], *g.last().unwrap()), (2, 3162));
    assert!(g.windows(2).all(|w| w[0] < w[1]));
    assert!(g.len() > 60 && g.len() < 100, "{}", g.len());
}

#[test]
fn crt_moduli_are_coprime_and_cover_n() {
    for n in [2u64, 10, 1000, 10_131_227, u64::MAX] {
        for k in [2usize, 3] {
            for c in geometric_grid(2, iroot(n, k as u32), 4) {
                let m = crt_moduli(n, k, c);
                assert_eq!(m.len(), k);
                let s = Scheme::Crt { moduli: m.clone() };
                assert!(prove(&s, n).unwrap().complementary, "{n} {k} {m:?}");
            }
        }
    }
}

#[test]
fn every_candidate_is_complementary_and_smaller_than_full() {
    let space = SearchSpace::default();
    let model = QualityModel::default();
    for n in [1u64, 2, 3, 5, 100, 1460, 10_131_227] {
        let f = feature(n, 16);
        let cands = evaluate(&f, &space, &model, Dtype::F32, Optimizer::Adagrad).unwrap();
        let full = Cost::of_table(n, 16, Dtype::F32, Optimizer::Adagrad).unwrap();
        for c in &cands {
            let s = c.key.scheme(n);
            assert!(prove(&s, n).unwrap().complementary, "{}", s.describe());
            assert!(c.bytes <= full.bytes);
        }
    }
    // n = 1: only the full table.
    let one = evaluate(
        &feature(1, 16),
        &space,
        &model,
        Dtype::F32,
        Optimizer::Adagrad,
    );
    assert_eq!(one.unwrap().len(), 1);
}

#[test]
fn hull_is_convex_and_starts_cheapest() {
    let f = feature(10_131_227, 16);
    let cands = evaluate(
        &f,
        &SearchSpace::default(),
        &QualityModel::default(),
        Dtype::F32,
        Optimizer::Adagrad,
    )
    .unwrap();
    let cheapest = cands.iter().map(|c| c.bytes).min().unwrap();
    let front = pareto(cands);
    assert!(
        front
            .windows(2)
            .all(|w| w[0].bytes < w[1].bytes && w[0].loss > w[1].loss)
    );
    let hull = lower_hull(&front);
    assert_eq!(hull[0].bytes, cheapest);
    assert_eq!(hull.last().unwrap().key, CandidateKey::FULL);
    for w in hull.windows(3) {
        assert_eq!(
            steeper(&w[0], &w[1], &w[1], &w[2]),
            std::cmp::Ordering::Greater
        );
    }
}

#[test]
fn dim_multiple_restricts_concat() {
    let space = SearchSpace {
        families: vec![Family::MixedRadix],
        combiners: vec![Combiner::Concat],
        dim_multiple: 4,
        hot: true,
        only_measured: false,
    };
    let cands = evaluate(
        &feature(1_000_000, 8),
        &space,
        &QualityModel::default(),
        Dtype::F32,
        Optimizer::None,
    )
    .unwrap();
    // dim 8 in units of 4 splits into at most 2 tables: no 3- or 4-table concat.
    assert_eq!(cands.len(), 1);
}
