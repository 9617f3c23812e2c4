//! One split of a data set in memory (row-major ids, dense values, labels), and how
//! validation rows are held out of a training file.

use anyhow::{Result, bail};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt as _, SeedableRng};
use serde::Serialize;

/// Which rows of a file are held out for validation when no validation file is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ValidSplit {
    /// The file's last rows: the future of a time-ordered log, as production models meet it.
    #[default]
    Tail,
    /// Rows drawn uniformly at random (seeded): the same distribution as training.
    Random,
}

impl ValidSplit {
    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            ValidSplit::Tail => "tail",
            ValidSplit::Random => "random",
        }
    }
}

/// How validation rows are taken from the training file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Holdout {
    /// Share of the rows held out, in (0, 1).
    pub frac: f64,
    /// Which rows.
    pub split: ValidSplit,
    /// Seed of a random split.
    pub seed: u64,
}

/// The random stream of a random holdout (apart from every other use of the seed).
const HOLDOUT_STREAM: u64 = 1 << 41;

/// One split (train or validation) of a data set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// Categorical ids, `len() × n_features`, row-major.
    pub ids: Vec<u32>,
    /// Dense values, `len() × n_dense`, row-major.
    pub dense: Vec<f32>,
    /// Labels in [0, 1].
    pub labels: Vec<f32>,
}

impl Split {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split has no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Replaces `out` by the examples `order` (indices into this split), in that order.
    pub fn gather_into(&self, order: &[u32], n_features: usize, n_dense: usize, out: &mut Split) {
        out.ids.clear();
        out.dense.clear();
        out.labels.clear();
        for &i in order {
            let i = i as usize;
            out.ids
                .extend_from_slice(&self.ids[i * n_features..(i + 1) * n_features]);
            out.dense
                .extend_from_slice(&self.dense[i * n_dense..(i + 1) * n_dense]);
            out.labels.push(self.labels[i]);
        }
    }

    /// Moves the held-out share of the examples (rounded up) into a new split: the
    /// validation rows when no validation file is given. Both splits keep file order.
    pub fn split_off_fraction(
        &mut self,
        holdout: &Holdout,
        n_features: usize,
        n_dense: usize,
    ) -> Result<Split> {
        let frac = holdout.frac;
        if !(frac > 0.0 && frac < 1.0) {
            bail!(
                "validation fraction: expected a number between 0 and 1 (exclusive), found {frac}"
            );
        }
        let count = ((self.len() as f64) * frac).ceil() as usize;
        Ok(match holdout.split {
            ValidSplit::Tail => self.split_off_tail(count, n_features, n_dense),
            ValidSplit::Random => self.split_off_random(count, holdout.seed, n_features, n_dense),
        })
    }

    /// Moves `count` examples drawn uniformly at random (seeded) into a new split, keeping
    /// the order of both; the rows left are compacted in place, so no second copy of the
    /// training data is made.
    #[must_use]
    pub fn split_off_random(
        &mut self,
        count: usize,
        seed: u64,
        n_features: usize,
        n_dense: usize,
    ) -> Split {
        let n = self.len();
        let count = count.min(n);
        let mut held = vec![false; n];
        // Floyd's algorithm: `count` distinct indices in O(count) draws.
        let mut rng =
            Xoshiro256PlusPlus::seed_from_u64(super::synthetic::derive_seed(seed, HOLDOUT_STREAM));
        for j in n - count..n {
            let t = rng.random_range(0..=j);
            let pick = if held[t] { j } else { t };
            held[pick] = true;
        }
        let mut out = Split {
            ids: Vec::with_capacity(count * n_features),
            dense: Vec::with_capacity(count * n_dense),
            labels: Vec::with_capacity(count),
        };
        let mut keep = 0;
        for (i, &h) in held.iter().enumerate() {
            let (f, d) = (
                i * n_features..(i + 1) * n_features,
                i * n_dense..(i + 1) * n_dense,
            );
            if h {
                out.ids.extend_from_slice(&self.ids[f]);
                out.dense.extend_from_slice(&self.dense[d]);
                out.labels.push(self.labels[i]);
            } else {
                self.ids.copy_within(f, keep * n_features);
                self.dense.copy_within(d, keep * n_dense);
                self.labels[keep] = self.labels[i];
                keep += 1;
            }
        }
        self.ids.truncate(keep * n_features);
        self.dense.truncate(keep * n_dense);
        self.labels.truncate(keep);
        out
    }

    /// Moves the last `count` examples into a new split (a tail split keeps file order, as
    /// a time-ordered log would be split).
    #[must_use]
    pub fn split_off_tail(&mut self, count: usize, n_features: usize, n_dense: usize) -> Split {
        let keep = self.len() - count.min(self.len());
        Split {
            ids: self.ids.split_off(keep * n_features),
            dense: self.dense.split_off(keep * n_dense),
            labels: self.labels.split_off(keep),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A split of `n` rows whose ids, dense values and label all encode the row number.
    fn numbered(n: usize) -> Split {
        Split {
            ids: (0..n as u32).flat_map(|i| [i, i + 1000]).collect(),
            dense: (0..n).map(|i| i as f32).collect(),
            labels: (0..n).map(|i| (i % 2) as f32).collect(),
        }
    }

    #[test]
    fn a_random_holdout_is_exact_seeded_and_keeps_order() {
        let holdout = |split, seed| Holdout {
            frac: 0.25,
            split,
            seed,
        };
        let draw = |split, seed| {
            let mut train = numbered(101);
            let valid = train
                .split_off_fraction(&holdout(split, seed), 2, 1)
                .unwrap();
            (train, valid)
        };
        let (train, valid) = draw(ValidSplit::Random, 7);
        assert_eq!((train.len(), valid.len()), (75, 26));
        let rows = |s: &Split| s.dense.iter().map(|&x| x as u32).collect::<Vec<_>>();
        for s in [&train, &valid] {
            let r = rows(s);
            assert!(r.windows(2).all(|w| w[0] < w[1]), "file order kept");
            for (k, &i) in r.iter().enumerate() {
                assert_eq!(s.ids[2 * k..2 * k + 2], [i, i + 1000]);
                assert_eq!(s.labels[k], (i % 2) as f32);
            }
        }
        let mut all = [rows(&train), rows(&valid)].concat();
        all.sort_unstable();
        assert_eq!(all, (0..101).collect::<Vec<_>>(), "every row in one split");
        assert_eq!(draw(ValidSplit::Random, 7), (train.clone(), valid.clone()));
        assert_ne!(
            draw(ValidSplit::Random, 8).1,
            valid,
            "another seed, other rows"
        );
        assert!(rows(&valid).iter().any(|&i| i < 75), "not the tail");
        let (_, tail) = draw(ValidSplit::Tail, 7);
        assert_eq!(rows(&tail), (75..101).collect::<Vec<_>>());
    }
}
