//! Synthetic click data from a hidden teacher, fully determined by a seed.
//!
//! Per feature, frequency ranks are drawn from a finite Zipf law and scattered over [0, n) by
//! a random permutation (frequent ids are spread over the id space, as real ids are). The
//! teacher gives every category a weight ~ N(0, scale²); an example's logit is the sum of its
//! categories' weights plus N(0, noise²), and its label is Bernoulli(sigmoid(logit)). The
//! same construction as the reference peer's generator (not the same random stream).

use anyhow::{Result, bail};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal, Zipf};

use super::data::{Dataset, FeatureSpec, Split};
use super::metrics::{Metrics, sigmoid};

/// Settings of the generator.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// Training examples.
    pub train_rows: usize,
    /// Validation examples.
    pub valid_rows: usize,
    /// Zipf exponent per feature (plan order).
    pub zipf: Vec<f64>,
    /// Standard deviation of the teacher's per-category weights.
    pub teacher_scale: f64,
    /// Standard deviation of the teacher's logit noise.
    pub teacher_noise: f64,
    /// Seed of every random draw.
    pub seed: u64,
}

/// Categories per feature above which the generator refuses (it keeps a permutation and a
/// teacher weight per category: 8 bytes each).
pub const MAX_SYNTHETIC_CARDINALITY: u64 = 1 << 30;

/// A seed for stream `stream` derived from the user's seed (splitmix64), so each feature's
/// draws do not depend on the others.
pub(crate) fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Errors if some feature has more categories than the generator keeps a teacher for.
pub fn check_cardinalities(features: &[FeatureSpec]) -> Result<()> {
    if let Some(f) = features
        .iter()
        .find(|f| f.cardinality > MAX_SYNTHETIC_CARDINALITY)
    {
        bail!(
            "feature '{}' has cardinality {}: synthetic data supports at most {MAX_SYNTHETIC_CARDINALITY} categories per feature (it keeps a teacher weight per category)",
            f.name,
            f.cardinality
        );
    }
    Ok(())
}

/// Generates train and validation splits for `features`.
pub fn generate(features: &[FeatureSpec], cfg: &SyntheticConfig) -> Result<Dataset> {
    if cfg.zipf.len() != features.len() {
        bail!(
            "{} Zipf exponents for {} features",
            cfg.zipf.len(),
            features.len()
        );
    }
    check_cardinalities(features)?;
    let nf = features.len();
    let rows = cfg
        .train_rows
        .checked_add(cfg.valid_rows)
        .filter(|&r| u32::try_from(r).is_ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} training plus {} validation rows: synthetic data holds at most {} rows in all (--train-rows, --valid-rows)",
                cfg.train_rows,
                cfg.valid_rows,
                u32::MAX
            )
        })?;
    // Per row: ids (4 bytes a feature) and a teacher logit (8), label (4), and the split
    // copies of ids and labels.
    let per_row = (nf as u64).saturating_mul(8).saturating_add(16);
    crate::memory::check_fits(
        (rows as u64).checked_mul(per_row),
        &format!("{rows} synthetic rows of {nf} features"),
        "lower --train-rows / --valid-rows",
    )?;
    let mut ids: Vec<u32> = crate::memory::try_filled(rows as u64 * nf as u64, "synthetic ids")?;
    let mut logit: Vec<f64> = crate::memory::try_filled(rows as u64, "synthetic teacher logits")?;
    let weight = Normal::new(0.0, cfg.teacher_scale)
        .map_err(|e| anyhow::anyhow!("teacher scale {}: {e}", cfg.teacher_scale))?;
    for (f, (spec, &s)) in features.iter().zip(&cfg.zipf).enumerate() {
        let (teacher, mut rng) = TeacherFeature::new(spec, s, &weight, cfg.seed, f)?;
        for r in 0..rows {
            let id = teacher.sample(&mut rng);
            ids[r * nf + f] = id;
            logit[r] += teacher.weight[id as usize];
        }
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(cfg.seed, 0));
    let noise = Normal::new(0.0, cfg.teacher_noise)
        .map_err(|e| anyhow::anyhow!("teacher noise {}: {e}", cfg.teacher_noise))?;
    let labels: Vec<f32> = logit
        .iter()
        .map(|&z| {
            let p = sigmoid(z + noise.sample(&mut rng));
            f32::from(u8::from(rng.random::<f64>() < p))
        })
        .collect();
    let teacher_p: Vec<f64> = logit[cfg.train_rows..]
        .iter()
        .map(|&z| expected_sigmoid(z, cfg.teacher_noise))
        .collect();
    let teacher = Metrics::from_probabilities(&teacher_p, &labels[cfg.train_rows..]);
    let mut train = Split {
        ids,
        dense: Vec::new(),
        labels,
    };
    let valid = train.split_off_tail(cfg.valid_rows, nf, 0);
    Ok(Dataset {
        name: "synthetic".into(),
        n_features: nf,
        n_dense: 0,
        train,
        valid,
        teacher_valid: Some(teacher),
        oov: Vec::new(),
    })
}

/// The hidden teacher of one feature: which id each frequency rank is, and each id's weight.
#[derive(Debug, Clone)]
pub struct TeacherFeature {
    id_of_rank: Vec<u32>,
    /// The teacher's weight of each id.
    pub weight: Vec<f64>,
    zipf: Zipf<f64>,
    n: usize,
}

impl TeacherFeature {
    /// Draws feature `f`'s teacher from its own stream of `seed`; returns it with that
    /// stream, positioned where `train --data synthetic` starts drawing the feature's ids.
    pub fn new(
        spec: &FeatureSpec,
        s: f64,
        weight: &Normal<f64>,
        seed: u64,
        f: usize,
    ) -> Result<(TeacherFeature, Xoshiro256PlusPlus)> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(seed, f as u64 + 1));
        let n = spec.cardinality as usize;
        let zipf = Zipf::new(n as f64, s)
            .map_err(|e| anyhow::anyhow!("feature '{}': Zipf exponent {s}: {e}", spec.name))?;
        let mut id_of_rank: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            id_of_rank.swap(i, j);
        }
        let weight: Vec<f64> = (0..n).map(|_| weight.sample(&mut rng)).collect();
        Ok((
            TeacherFeature {
                id_of_rank,
                weight,
                zipf,
                n,
            },
            rng,
        ))
    }

    /// One id: a Zipf rank, mapped to its id.
    #[inline]
    pub fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> u32 {
        let rank = (self.zipf.sample(rng) as usize).clamp(1, self.n) - 1;
        self.id_of_rank[rank]
    }
}

/// E[sigmoid(z + ε)] for ε ~ N(0, σ²): the Bayes-optimal click probability given the ids.
///
/// Midpoint rule over ±8σ with 400 cells: the error is far below what metrics print.
fn expected_sigmoid(z: f64, sigma: f64) -> f64 {
    const CELLS: usize = 400;
    if sigma == 0.0 {
        return sigmoid(z);
    }
    let width = 16.0 / CELLS as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..CELLS {
        let t = -8.0 + (i as f64 + 0.5) * width;
        let density = (-0.5 * t * t).exp();
        num += density * sigmoid(z + sigma * t);
        den += density;
    }
    num / den
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_and_ids_in_range() {
        let specs = vec![
            FeatureSpec {
                name: "a".into(),
                cardinality: 1000,
            },
            FeatureSpec {
                name: "b".into(),
                cardinality: 7,
            },
        ];
        let cfg = SyntheticConfig {
            train_rows: 300,
            valid_rows: 100,
            zipf: vec![1.1, 1.1],
            teacher_scale: 0.5,
            teacher_noise: 0.5,
            seed: 3,
        };
        let a = generate(&specs, &cfg).unwrap();
        let b = generate(&specs, &cfg).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.train.len(), a.valid.len()), (300, 100));
        assert!(a.train.ids.chunks(2).all(|r| r[0] < 1000 && r[1] < 7));
        let teacher = a.teacher_valid.unwrap();
        assert!(teacher.logloss < 0.69, "{teacher:?}");
        assert!((expected_sigmoid(0.0, 1.0) - 0.5).abs() < 1e-12);
    }
}
