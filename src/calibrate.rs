//! Calibration: fit the planner's quality-model coefficients to measured losses.
//!
//! Each compressed run of a sweep gives one equation. Its measured loss increase over the
//! full model trained with the same seed,
//!
//! ```text
//! Δloss(run) = valid_logloss(run) − valid_logloss(full, same seed)
//! ```
//!
//! is modelled as the planner predicts it, summed over the run's compressed features:
//!
//! ```text
//! Δloss(run) ≈ Σ_f weight_f × share_f × alpha(family_f, combiner_f) × ln(compression_f)
//! ```
//!
//! where for a hot scheme share_f is the share of rows its tail ids take and compression_f
//! the tail's (the hot rows are predicted free), and otherwise share_f = 1.
//!
//! which is linear in the alphas, so they are fitted by non-negative least squares (more
//! compression never predicts a lower loss). The per-table term beta is set to 0 for
//! measured pairs: with alphas measured per family and combiner it has nothing left to
//! separate. An alpha the data drives to 0 (the compressed runs were no worse than full,
//! e.g. because the full model overfits) is floored at [`MIN_ALPHA`] so the planner still
//! prefers less compression at equal measured cost. Pairs no run used keep their defaults.

use anyhow::{Result, bail};
use serde::Serialize;

use crate::fit::nonnegative_least_squares;
use crate::partition::Combiner;
use crate::plan::quality::{Coefficients, Family, Measured, QualityModel};
use crate::results::{FullLosses, Method, Results, Run};

/// The smallest alpha a calibration writes (loss per unit of ln(compression)).
pub const MIN_ALPHA: f64 = 1e-7;

/// A (family, combiner) pair's fitted coefficient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairFit {
    /// The family.
    pub family: Family,
    /// The combiner, if the family has several tables.
    pub combiner: Option<Combiner>,
    /// Fitted alpha (after the floor).
    pub alpha: f64,
    /// The provisional (pre-measurement) alpha, for comparison.
    pub default_alpha: f64,
    /// Runs that used this pair.
    pub runs: usize,
}

/// One run's measured and fitted loss increase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Residual {
    /// The run's method.
    pub method: Method,
    /// The run's budget.
    pub budget_bytes: Option<u64>,
    /// The run's seed.
    pub seed: u64,
    /// Measured loss increase over full.
    pub measured: f64,
    /// The calibrated model's prediction.
    pub fitted: f64,
}

/// The result of a calibration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// Fitted pairs, in a fixed order.
    pub pairs: Vec<PairFit>,
    /// Per run, measured against fitted.
    pub residuals: Vec<Residual>,
    /// Root mean squared residual.
    pub rmse: f64,
    /// Fraction of the measured increases' sum of squares the model explains.
    pub r_squared: f64,
    /// Where the data came from (recorded in the calibration file).
    pub source: String,
}

type PairKey = (Family, Option<Combiner>);

/// The pair a feature's choice is fitted under; none for the families the planner does not
/// compress (full tables, explicit partitions).
fn pair_key(family: Family, combiner: Option<Combiner>) -> Option<PairKey> {
    family.is_searched().then_some((family, combiner))
}

/// The full model's validation loss per seed (the mean over seeds for seeds without one).
fn full_losses(results: &Results) -> Result<FullLosses> {
    results.full_losses().ok_or_else(|| {
        anyhow::anyhow!(
            "the results hold no run of the full model; calibration measures loss increases against it (run the sweep with the full reference)"
        )
    })
}

/// The design row of one run: Σ weight × ln(compression) per pair.
fn design_row(run: &Run, pairs: &[PairKey]) -> Vec<f64> {
    let mut row = vec![0.0; pairs.len()];
    for f in &run.features {
        if let Some(key) = pair_key(f.family, f.combiner) {
            let j = pairs
                .iter()
                .position(|p| *p == key)
                .expect("pairs collected from runs");
            row[j] += f.weight * f.tail_share * f.compression.max(1.0).ln();
        }
    }
    row
}

/// Fits alphas per (family, combiner) to a sweep's results.
pub fn calibrate(results: &Results) -> Result<Calibration> {
    let full = full_losses(results)?;
    let runs: Vec<&Run> = results
        .runs
        .iter()
        .filter(|r| r.method != Method::Full && !r.features.is_empty())
        .collect();
    let mut pairs: Vec<PairKey> = Vec::new();
    for r in &runs {
        for f in &r.features {
            if let Some(key) = pair_key(f.family, f.combiner)
                && !pairs.contains(&key)
            {
                pairs.push(key);
            }
        }
    }
    pairs.sort();
    if pairs.is_empty() {
        bail!("the results hold no run with compressed features to calibrate from");
    }
    let rows: Vec<Vec<f64>> = runs.iter().map(|r| design_row(r, &pairs)).collect();
    let y: Vec<f64> = runs.iter().map(|r| full.increase(r)).collect();
    let fit = nonnegative_least_squares(&rows, &y);
    let defaults = QualityModel::provisional();
    let pair_fits = pairs
        .iter()
        .enumerate()
        .map(|(j, &(family, combiner))| {
            Ok(PairFit {
                family,
                combiner,
                alpha: fit.coefficients[j].max(MIN_ALPHA),
                default_alpha: defaults.coefficients(family, combiner)?.alpha,
                runs: rows.iter().filter(|r| r[j] > 0.0).count(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let residuals = runs
        .iter()
        .zip(&y)
        .zip(&fit.residuals)
        .map(|((r, &measured), &res)| Residual {
            method: r.method,
            budget_bytes: r.budget_bytes,
            seed: r.seed,
            measured,
            fitted: measured - res,
        })
        .collect();
    Ok(Calibration {
        pairs: pair_fits,
        residuals,
        rmse: fit.rmse,
        r_squared: fit.r_squared,
        source: format!(
            "{} runs of schema {} on {}",
            runs.len(),
            results.schema,
            results.data
        ),
    })
}

impl Calibration {
    /// The calibration file text the planner's `--calibration` reads.
    pub fn to_toml(&self) -> Result<String> {
        let measured = self
            .pairs
            .iter()
            .map(|p| Measured {
                family: p.family,
                combiner: p.combiner,
                coefficients: Coefficients {
                    alpha: p.alpha,
                    beta: 0.0,
                },
            })
            .collect::<Vec<_>>();
        QualityModel::calibration_toml(&self.source, &measured)
    }
}

/// Compression ratios a calibration sweep measures, in the order they are added as time
/// allows: two far apart first (the fit is a slope in ln(compression)), then between and
/// beyond them.
pub const CALIBRATION_COMPRESSIONS: [f64; 6] = [4.0, 16.0, 64.0, 2.0, 8.0, 32.0];

/// The methods of a calibration sweep: the planner restricted to each (family, combiner)
/// pair it searches, so every pair a plan may choose gets measured.
pub fn calibration_methods() -> Vec<Method> {
    let mut out = Vec::new();
    for family in Family::SEARCHED {
        if family == Family::Hash {
            continue; // not complementary: the planner takes it only with --allow-hash
        }
        for combiner in Combiner::ALL {
            out.push(Method::Only(family, combiner));
        }
    }
    out
}

/// The compressions a calibration sweep can afford: as many of
/// [`CALIBRATION_COMPRESSIONS`] as `seconds_left` holds runs of `seconds_per_run` for every
/// method, or an error saying how many runs fit and how many one compression needs.
pub fn affordable_compressions(
    methods: usize,
    seconds_per_run: f64,
    seconds_left: f64,
) -> Result<Vec<f64>> {
    let runs = if seconds_per_run > 0.0 {
        (seconds_left.max(0.0) / seconds_per_run).floor()
    } else {
        f64::INFINITY
    };
    let per_compression = methods.max(1) as f64;
    let k = (runs / per_compression)
        .floor()
        .min(CALIBRATION_COMPRESSIONS.len() as f64);
    if k < 1.0 {
        bail!(
            "the time budget leaves room for {runs} more run(s) of about {seconds_per_run:.1} s (the full model's time); a calibration needs {methods} (one per family and combiner): raise --time, train on fewer rows, or give --compressions"
        );
    }
    Ok(CALIBRATION_COMPRESSIONS[..k as usize].to_vec())
}

#[cfg(test)]
mod tests {

    #[test]
    fn calibration_sweeps_measure_every_searched_pair_as_time_allows() {
        let methods = calibration_methods();
        assert_eq!(methods.len(), 9);
        assert!(
            methods
                .iter()
                .all(|m| matches!(m, Method::Only(f, _) if *f != Family::Hash))
        );
        // 10 s a run, 9 pairs: 100 s holds one compression, 185 s two, a day all six.
        assert_eq!(affordable_compressions(9, 10.0, 100.0).unwrap(), vec![4.0]);
        assert_eq!(
            affordable_compressions(9, 10.0, 185.0).unwrap(),
            vec![4.0, 16.0]
        );
        assert_eq!(affordable_compressions(9, 10.0, 86_400.0).unwrap().len(), 6);
        let e = affordable_compressions(9, 10.0, 50.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("room for 5 more run(s)"), "{e}");
        assert!(affordable_compressions(9, 10.0, -5.0).is_err());
    }

    use super::*;
    use crate::results::RunFeature;

    fn feature(family: &str, combiner: Option<&str>, compression: f64) -> RunFeature {
        RunFeature {
            name: "f".into(),
            family: Family::parse(family).unwrap(),
            combiner: combiner.map(|c| Combiner::parse(c).unwrap()),
            tables: if family == "hash" { 1 } else { 2 },
            compression,
            weight: 1.0,
            hot: 0,
            tail_share: 1.0,
        }
    }

    fn run(method: &str, seed: u64, loss: f64, features: Vec<RunFeature>) -> Run {
        Run {
            method: Method::parse(method).unwrap(),
            budget_bytes: (method != "full").then_some(1000),
            bytes: 1000,
            params: 100,
            valid_logloss: loss,
            valid_accuracy: 0.7,
            valid_auc: Some(0.7),
            epoch: None,
            predicted_loss: None,
            examples_per_sec: 1.0,
            seed,
            features,
        }
    }

    #[test]
    fn recovers_planted_coefficients_and_round_trips() {
        let (a_qr, a_hash) = (0.002, 0.006);
        let mut r = Results::new("s", "synthetic");
        for seed in 0..2 {
            let base = 0.5 + seed as f64 * 0.01;
            r.runs.push(run("full", seed, base, vec![]));
            for c in [2.0f64, 4.0, 8.0] {
                let f = vec![feature("qr", Some("mult"), c), feature("full", None, 1.0)];
                r.runs.push(run("qr-mult", seed, base + a_qr * c.ln(), f));
                let f = vec![feature("hash", None, c), feature("hash", None, c)];
                r.runs
                    .push(run("hash", seed, base + 2.0 * a_hash * c.ln(), f));
            }
        }
        let cal = calibrate(&r).unwrap();
        let alpha = |fam| cal.pairs.iter().find(|p| p.family == fam).unwrap().alpha;
        assert!((alpha(Family::Qr) - a_qr).abs() < 1e-9, "{cal:?}");
        assert!((alpha(Family::Hash) - a_hash).abs() < 1e-9, "{cal:?}");
        assert!(cal.rmse < 1e-9);
        let text = cal.to_toml().unwrap();
        let model = QualityModel::from_toml(&crate::source::Source::new("c.toml", &text)).unwrap();
        let qr = model
            .coefficients(Family::Qr, Some(Combiner::Mult))
            .unwrap();
        assert!((qr.alpha - a_qr).abs() < 1e-9);
        assert_eq!(qr.beta, 0.0);
    }

    #[test]
    fn hot_features_count_only_their_tail_share() {
        // Hot qr features whose tails take 20% of the rows: the loss is a quarter of what
        // the same compression on every id would cost, and the fit must see through it.
        let a_qr = 0.004;
        let mut r = Results::new("s", "synthetic");
        r.runs.push(run("full", 0, 0.5, vec![]));
        for c in [2.0f64, 4.0, 8.0, 16.0] {
            let mut hot = feature("qr", Some("add"), c);
            hot.hot = 64;
            hot.tail_share = 0.2;
            let plain = feature("qr", Some("add"), c);
            let loss = 0.5 + a_qr * 0.2 * c.ln() + a_qr * c.ln();
            r.runs.push(run("searched", 0, loss, vec![hot, plain]));
        }
        let cal = calibrate(&r).unwrap();
        assert!((cal.pairs[0].alpha - a_qr).abs() < 1e-9, "{cal:?}");
    }

    #[test]
    fn needs_a_full_reference_and_floors_negative_gains() {
        let mut r = Results::new("s", "d");
        r.runs.push(run(
            "qr-mult",
            0,
            0.5,
            vec![feature("qr", Some("mult"), 4.0)],
        ));
        assert!(
            calibrate(&r)
                .unwrap_err()
                .to_string()
                .contains("no run of the full model")
        );
        r.runs.push(run("full", 0, 0.6, vec![]));
        let cal = calibrate(&r).unwrap();
        assert_eq!(cal.pairs[0].alpha, MIN_ALPHA);
    }
}
