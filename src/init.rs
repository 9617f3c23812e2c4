//! Initialisation of embedding tables: the one rule the trainer and every export share.
//!
//! The paper's advice: initialise so the *composed* vector has the scale of the standard
//! full-table init U(±sqrt(1/n)). Per combiner, with n the cardinality and k tables:
//! - one table (full, hash, single partition): U(±sqrt(1/rows)) (TorchRec's default);
//! - concat: every table U(±sqrt(1/n)), so each output component is distributed as in a full table;
//! - add: every table U(±sqrt(1/(k·n))), so the sum of k draws has the full table's variance;
//! - mult: the first table U(±sqrt(1/n)) and the others U(1 − b, 1 + b) with
//!   b = min(1/2, sqrt(1/rows)), so the product keeps the first table's scale and sign
//!   symmetry while every factor stays away from 0 (a zero factor would kill its gradient).
//!
//! [`InitMode::Dlrm`] reproduces DLRM's QR init U(sqrt(1/n), 1) for every table of a
//! multi-table feature (all positive; its `add` diverges easily, dlrm issue #326).

use serde::{Deserialize, Serialize};

use crate::partition::Combiner;
use crate::plan::PlannedFeature;

/// Which initialisation rule to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum InitMode {
    /// Scale-matched to U(±sqrt(1/n)) per combiner (see the module docs).
    #[default]
    Standard,
    /// DLRM's reference: U(sqrt(1/n), 1) for every table of a multi-table feature.
    Dlrm,
}

impl InitMode {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            InitMode::Standard => "standard",
            InitMode::Dlrm => "dlrm",
        }
    }
}

/// A uniform distribution U(low, high) for one table's weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Uniform {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Uniform {
    fn symmetric(a: f64) -> Uniform {
        Uniform { low: -a, high: a }
    }
}

/// The init distribution of every table of a planned feature, in partition order.
pub fn table_inits(feature: &PlannedFeature, mode: InitMode) -> Vec<Uniform> {
    let n = feature.cardinality() as f64;
    let tables = feature.tables();
    let k = tables.len();
    if k == 1 {
        return vec![Uniform::symmetric((1.0 / tables[0].rows as f64).sqrt())];
    }
    if mode == InitMode::Dlrm {
        return vec![
            Uniform {
                low: (1.0 / n).sqrt(),
                high: 1.0,
            };
            k
        ];
    }
    match feature.combiner() {
        Some(Combiner::Add) => vec![Uniform::symmetric((1.0 / (k as f64 * n)).sqrt()); k],
        Some(Combiner::Mult) => tables
            .iter()
            .enumerate()
            .map(|(j, t)| {
                if j == 0 {
                    Uniform::symmetric((1.0 / n).sqrt())
                } else {
                    let b = (1.0 / t.rows as f64).sqrt().min(0.5);
                    Uniform {
                        low: 1.0 - b,
                        high: 1.0 + b,
                    }
                }
            })
            .collect(),
        Some(Combiner::Concat) | None => vec![Uniform::symmetric((1.0 / n).sqrt()); k],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::Scheme;

    #[test]
    fn per_combiner_scales() {
        let f = |c| PlannedFeature::new("x", 10_000, 16, Scheme::Qr { m: 100 }, Some(c)).unwrap();
        let add = table_inits(&f(Combiner::Add), InitMode::Standard);
        assert!((add[0].high - (1.0f64 / 20_000.0).sqrt()).abs() < 1e-12);
        let mult = table_inits(&f(Combiner::Mult), InitMode::Standard);
        assert_eq!(mult[1].low, 0.9);
        let dlrm = table_inits(&f(Combiner::Mult), InitMode::Dlrm);
        assert_eq!((dlrm[1].low, dlrm[1].high), (0.01, 1.0));
        let full = PlannedFeature::new("y", 400, 16, Scheme::Full, None).unwrap();
        assert_eq!(table_inits(&full, InitMode::Dlrm)[0].high, 0.05);
    }
}
