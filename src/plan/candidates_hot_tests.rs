//! Tests of hot candidates: they need a profile, their bytes are exact, and their predicted
//! loss is the tail's share of the traffic.

use super::*;
use crate::plan::PlannedFeature;
use crate::profile::stats::FeatureProfile;

/// A feature of n ids whose top 2^i ids cover 1 − 0.8^(i+1) of the rows.
fn profiled(n: u64) -> Feature {
    let levels = 64 - n.leading_zeros() as usize;
    let coverage = (0..=levels)
        .map(|i| (1.0 - 0.8f64.powi(i as i32 + 1)).min(1.0))
        .chain([1.0])
        .collect();
    Feature {
        name: "f".into(),
        cardinality: n,
        dim: 16,
        weight: 1.0,
        zipf: None,
        profile: Some(FeatureProfile {
            rows: 10 * n,
            distinct: n,
            missing: 0,
            singletons: 0,
            coverage,
            entropy_bits: 10.0,
            label_information_bits: 0.1,
            label_information_bias_bits: 0.01,
            positive_rate: 0.3,
            kept: n,
            folded_values: 0,
            folded_share: 0.0,
            exact: true,
            distinct_error: None,
            count_error: None,
        }),
    }
}

fn candidates(f: &Feature, hot: bool) -> Vec<Candidate> {
    let space = SearchSpace {
        hot,
        ..SearchSpace::default()
    };
    evaluate(
        f,
        &space,
        &QualityModel::default(),
        Dtype::F32,
        Optimizer::Adagrad,
    )
    .unwrap()
}

#[test]
fn hot_candidates_need_a_profile_and_count_their_rows_exactly() {
    let n = 1_000_000;
    let mut plain = profiled(n);
    plain.profile = None;
    assert!(candidates(&plain, true).iter().all(|c| c.key.hot == 0));
    assert!(
        candidates(&profiled(n), false)
            .iter()
            .all(|c| c.key.hot == 0)
    );

    let all = candidates(&profiled(n), true);
    let hot: Vec<&Candidate> = all.iter().filter(|c| c.key.hot > 0).collect();
    assert!(hot.len() > 100, "{} hot candidates", hot.len());
    let levels: Vec<u64> = hot_levels(&profiled(n)).iter().map(|l| l.0).collect();
    assert_eq!(levels, [64, 256, 1024, 4096, 16_384, 65_536], "up to n / 4");
    for c in hot {
        assert!(levels.contains(&c.key.hot));
        assert_ne!(c.key.combiner, Some(Combiner::Concat));
        let f = PlannedFeature::new("f", n, 16, c.key.scheme(n), c.key.combiner).unwrap();
        assert_eq!(
            f.cost(Dtype::F32, Optimizer::Adagrad).unwrap().bytes,
            c.bytes
        );
    }
}

#[test]
fn hot_rows_cut_the_predicted_loss_by_the_traffic_they_cover() {
    let n = 1_000_000;
    let all = candidates(&profiled(n), true);
    // The same qr(m) tail with and without 4096 hot ids: the hot one costs 4096 rows more
    // and covers 1 − 0.8^13 of the traffic.
    let qr_mult = |hot: u64, param: Option<u64>| {
        all.iter()
            .find(|c| {
                c.key.hot == hot
                    && c.key.family == Some(Family::Qr)
                    && c.key.combiner == Some(Combiner::Mult)
                    && param.is_none_or(|p| c.key.param == p)
            })
            .unwrap()
    };
    let plain = qr_mult(0, None);
    let hot = qr_mult(4096, Some(plain.key.param));
    let share = 0.8f64.powi(13);
    let ratio = hot.loss as f64 / plain.loss as f64;
    assert!(
        (ratio - share).abs() < 0.01 * share,
        "ratio {ratio} vs tail share {share}"
    );
    // On the front at a fifth of the full table, hot schemes win.
    let front = pareto(all);
    let budget = Cost::of_table(n, 16, Dtype::F32, Optimizer::Adagrad)
        .unwrap()
        .bytes
        / 5;
    let best = front
        .iter()
        .filter(|c| c.bytes <= budget)
        .min_by_key(|c| c.loss)
        .unwrap();
    assert!(best.key.hot > 0, "{best:?}");
}
