//! The quality model: a predicted loss increase for each candidate scheme of a feature.
//!
//! For a feature of weight w (schema `weight`, default 1), cardinality n and dim D, a
//! candidate with `params` weight elements over k tables is predicted to raise the loss by
//!
//! ```text
//! Δloss = w × (alpha(family, combiner) × ln(compression) + beta(family, combiner) × (k − 1))
//! compression = n × D / params          (≥ 1 for every candidate the planner considers)
//! ```
//!
//! and a full table by 0. A `hot(K)` scheme (its K most frequent ids in rows of their own)
//! is predicted as its tail scheme at the tail's compression, (n − K) × D / (params − K × D),
//! times the share of rows the tail ids take, 1 − coverage(K) from the feature's profile:
//! the hot rows themselves are predicted free. `ln(compression)` makes every halving of a table cost the same,
//! which is how the paper's results read: QR at 4 collisions is within a fraction of a
//! percent of the full model, and QR at ~60 collisions matches hashing at 4 — so hashing's
//! alpha is about ln(60)/ln(4) ≈ 3× QR's. Compression counts parameters, not bytes, so the
//! prediction does not change with dtype or optimizer. The beta term charges each extra
//! table a little (more rows shared per id), which separates families of equal size.
//!
//! **The default coefficients are measured**: [`QualityModel::default`] is the bundled
//! calibration `data/calibration/synthetic.toml`, fitted by `embplan calibrate` to a 90-run
//! sweep of embplan's trainer on the reference synthetic data (the README gives the
//! commands). [`QualityModel::provisional`] keeps the coefficients set from the paper's
//! headline numbers before any measurement (alpha(qr, mult) = 1e-4 of log loss per unit of
//! ln(compression), which puts DLRM's `--uniform qr:4` on criteo-kaggle at +2.6e-3); plans made with them record
//! `quality_model = "provisional defaults"`. A calibration file (below) replaces the
//! defaults with values measured on your data; the `calibrate` command writes such files.
//!
//! ```toml
//! # embplan quality-model calibration
//! version = 1
//! source = "sweep of criteo-kaggle, 1 epoch"   # optional; recorded in plans
//!
//! [[coefficient]]
//! family = "qr"          # qr | mixed-radix | crt | hash
//! combiner = "mult"      # concat | add | mult; omit for hash (one table)
//! alpha = 0.0012         # loss increase per unit of ln(compression)
//! beta = 0.0             # optional (default 0): loss increase per extra table
//! ```
//!
//! Pairs a file does not list keep their bundled default, and the plan says so.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::partition::Combiner;
pub use crate::partition::Family;
use crate::source::Source;

/// Losses are summed and compared as integers in units of 10^-12 (exact, deterministic,
/// and monotone in the budget without floating-point ties).
pub const LOSS_SCALE: f64 = 1e12;

/// The coefficients of one (family, combiner) pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    /// Loss increase per unit of ln(compression).
    pub alpha: f64,
    /// Loss increase per table beyond the first.
    pub beta: f64,
}

/// Coefficients for every (family, combiner) pair, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityModel {
    /// Indexed by [`slot`]: qr, mixed-radix, crt × mult, add, concat; then hash.
    coefficients: [Coefficients; 10],
    /// Which slots were measured (from a calibration file).
    measured: [bool; 10],
    /// Human description, recorded in plans as `quality_model`.
    pub source: String,
}

/// The label of plans made with the default coefficients.
pub const PROVISIONAL: &str = "provisional defaults";

fn slot(family: Family, combiner: Option<Combiner>) -> Result<usize> {
    let c = |c: Option<Combiner>| match c {
        Some(Combiner::Mult) => Ok(0),
        Some(Combiner::Add) => Ok(1),
        Some(Combiner::Concat) => Ok(2),
        None => Err(anyhow!(
            "family '{}' has several tables and needs a combiner (mult, add or concat)",
            family.name()
        )),
    };
    match family {
        Family::Qr => Ok(c(combiner)?),
        Family::MixedRadix => Ok(3 + c(combiner)?),
        Family::Crt => Ok(6 + c(combiner)?),
        Family::Hash => match combiner {
            None => Ok(9),
            Some(c) => bail!("family 'hash' has one table, so combiner '{c}' does not apply"),
        },
        Family::Full | Family::Explicit => {
            bail!("family '{family}' is not compressed by the planner and has no coefficients")
        }
    }
}

/// The bundled calibration, measured on the reference synthetic data.
const BUNDLED_CALIBRATION: &str = include_str!("../../data/calibration/synthetic.toml");

impl Default for QualityModel {
    /// The bundled calibration (see the module docs for how it was measured).
    fn default() -> Self {
        let src = Source::new("data/calibration/synthetic.toml", BUNDLED_CALIBRATION);
        let mut model = QualityModel::from_toml_over(QualityModel::provisional(), &src)
            .expect("the bundled calibration is valid: a unit test loads it");
        model.source = model
            .source
            .replacen("calibrated:", "bundled calibration:", 1);
        model
    }
}

impl QualityModel {
    /// Its source and a hash of its coefficients, so a results file can tell two apart.
    pub fn fingerprint(&self) -> String {
        format!(
            "{} #{:016x}",
            self.source,
            crate::source::fnv1a(format!("{:?}", self.coefficients).as_bytes())
        )
    }

    /// The provisional coefficients set from the paper's headline numbers, before any
    /// measurement (kept for comparison and for pairs no calibration lists).
    pub fn provisional() -> Self {
        // Base rate: QR with mult. Per ln-unit of compression; ~1e-4 of log loss puts QR at
        // 4 collisions on Criteo's large tables near the paper's sub-percent gaps.
        const BASE: f64 = 1e-4;
        let k = |alpha: f64, beta: f64| Coefficients {
            alpha: alpha * BASE,
            beta: beta * BASE,
        };
        // mult best in the paper, concat close, add worst (it trained least stably).
        let coefficients = [
            k(1.00, 0.05), // qr mult
            k(1.15, 0.05), // qr add
            k(1.05, 0.05), // qr concat
            k(1.10, 0.05), // mixed-radix mult
            k(1.25, 0.05), // mixed-radix add
            k(1.15, 0.05), // mixed-radix concat
            k(1.05, 0.05), // crt mult
            k(1.20, 0.05), // crt add
            k(1.10, 0.05), // crt concat
            k(2.95, 0.00), // hash: ln(60)/ln(4) × qr, from "QR at 60 ≈ hashing at 4"
        ];
        QualityModel {
            coefficients,
            measured: [false; 10],
            source: PROVISIONAL.to_string(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibration {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, rename = "coefficient")]
    coefficients: Vec<RawCoefficient>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCoefficient {
    family: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    combiner: Option<String>,
    alpha: f64,
    #[serde(default)]
    beta: f64,
}

/// One measured (family, combiner) pair, as the `calibrate` command reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// The family.
    pub family: Family,
    /// The combiner; `None` for hash.
    pub combiner: Option<Combiner>,
    /// The fitted coefficients.
    pub coefficients: Coefficients,
}

impl QualityModel {
    /// The text of a calibration file holding `measured` (what `calibrate` writes);
    /// [`QualityModel::load`] reads it back. Errors on invalid or repeated pairs.
    pub fn calibration_toml(source: &str, measured: &[Measured]) -> Result<String> {
        let raw = RawCalibration {
            version: 1,
            source: Some(source.to_string()),
            coefficients: measured
                .iter()
                .map(|m| RawCoefficient {
                    family: m.family.name().to_string(),
                    combiner: m.combiner.map(|c| c.name().to_string()),
                    alpha: m.coefficients.alpha,
                    beta: m.coefficients.beta,
                })
                .collect(),
        };
        let text = toml::to_string(&raw).context("cannot serialize calibration")?;
        // Validate by reading it back, so a written file always loads.
        Self::from_toml(&Source::new("<calibration>", &text))?;
        Ok(format!("# embplan quality-model calibration\n{text}"))
    }

    /// Reads a calibration file (format in the module docs).
    pub fn load(path: &Path) -> Result<QualityModel> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read calibration '{}'", path.display()))?;
        let origin = path.display().to_string();
        Self::from_toml(&Source::new(&origin, &text))
    }

    /// Parses calibration TOML; errors name the file.
    pub fn from_toml(src: &Source) -> Result<QualityModel> {
        Self::from_toml_over(QualityModel::default(), src)
    }

    /// Reads a calibration over `base`: pairs the file does not list keep `base`'s values.
    fn from_toml_over(base: QualityModel, src: &Source) -> Result<QualityModel> {
        let raw: RawCalibration = toml::from_str(src.text).map_err(|e| src.toml_error(&e))?;
        let origin = src.origin;
        if raw.version != 1 {
            bail!(
                "{origin}: calibration version {} is not supported (this embplan reads version 1)",
                raw.version
            );
        }
        if raw.coefficients.is_empty() {
            bail!("{origin}: no [[coefficient]] entries");
        }
        let mut model = base;
        model.measured = [false; 10];
        for (i, c) in raw.coefficients.iter().enumerate() {
            let at = || format!("{origin}: coefficient #{}", i + 1);
            let family = Family::parse_searched(&c.family).with_context(at)?;
            let combiner = c
                .combiner
                .as_deref()
                .map(Combiner::parse)
                .transpose()
                .with_context(at)?;
            let s = slot(family, combiner).with_context(at)?;
            for (name, v) in [("alpha", c.alpha), ("beta", c.beta)] {
                if !(v.is_finite() && v >= 0.0) {
                    bail!("{}: {name} must be a finite number ≥ 0, found {v}", at());
                }
            }
            if model.measured[s] {
                bail!("{}: {} is listed twice", at(), pair_name(family, combiner));
            }
            model.measured[s] = true;
            model.coefficients[s] = Coefficients {
                alpha: c.alpha,
                beta: c.beta,
            };
        }
        let what = raw.source.unwrap_or_else(|| origin.to_string());
        model.source = if model.measured.iter().all(|&m| m) {
            format!("calibrated: {what}")
        } else {
            format!("calibrated: {what} (bundled defaults for unlisted pairs)")
        };
        Ok(model)
    }

    /// Whether every (family, combiner) pair's coefficients were measured.
    pub fn measures_every_pair(&self) -> bool {
        self.measured.iter().all(|&m| m)
    }

    /// Whether a (family, combiner) pair's coefficients were measured (the bundled
    /// calibration measured every pair; a calibration file only the pairs it lists).
    pub fn is_measured(&self, family: Family, combiner: Option<Combiner>) -> Result<bool> {
        Ok(self.measured[slot(family, combiner)?])
    }

    /// The coefficients of a (family, combiner) pair.
    pub fn coefficients(&self, family: Family, combiner: Option<Combiner>) -> Result<Coefficients> {
        Ok(self.coefficients[slot(family, combiner)?])
    }

    /// Predicted loss increase of a candidate with `params` elements over `tables` tables,
    /// for a feature whose full table has `full_params` elements.
    pub fn predict(
        &self,
        weight: f64,
        full_params: f64,
        coefficients: Coefficients,
        params: u64,
        tables: usize,
    ) -> f64 {
        let compression = (full_params / params.max(1) as f64).max(1.0);
        weight
            * (coefficients.alpha * compression.ln()
                + coefficients.beta * tables.saturating_sub(1) as f64)
    }
}

fn pair_name(family: Family, combiner: Option<Combiner>) -> String {
    match combiner {
        Some(c) => format!("({}, {c})", family.name()),
        None => format!("({})", family.name()),
    }
}

/// A predicted loss in fixed point ([`LOSS_SCALE`] units), or an error when it is too large.
pub fn to_fixed(loss: f64) -> Result<u64> {
    let scaled = (loss * LOSS_SCALE).round();
    // Leave headroom so that summing a million features in u128 and reporting stays exact.
    if !(scaled.is_finite() && scaled >= 0.0 && scaled < 2f64.powi(62)) {
        bail!(
            "predicted loss {loss:.3e} is out of range (0 to {:.3e}); lower the feature weights or the calibration coefficients",
            2f64.powi(62) / LOSS_SCALE
        );
    }
    Ok(scaled as u64)
}

/// A fixed-point loss back as a float.
pub fn from_fixed(fixed: u128) -> f64 {
    fixed as f64 / LOSS_SCALE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_bundled_measurements() {
        let m = QualityModel::default();
        assert!(m.source.starts_with("bundled calibration"), "{}", m.source);
        assert!(m.measured.iter().all(|&x| x), "every pair is measured");
        let qr = m.coefficients(Family::Qr, Some(Combiner::Concat)).unwrap();
        let hash = m.coefficients(Family::Hash, None).unwrap();
        assert!(
            hash.alpha > 2.0 * qr.alpha,
            "hashing costs more per halving"
        );
    }

    #[test]
    fn provisional_coefficients_are_ordered() {
        let m = QualityModel::provisional();
        assert_eq!(m.source, PROVISIONAL);
        let qr = m.coefficients(Family::Qr, Some(Combiner::Mult)).unwrap();
        let hash = m.coefficients(Family::Hash, None).unwrap();
        assert!(hash.alpha > 2.0 * qr.alpha);
        // Compression 1 costs only the table term; more compression costs more.
        let a = m.predict(1.0, 1000.0, qr, 1000, 2);
        let b = m.predict(1.0, 1000.0, qr, 100, 2);
        assert!(a < b);
        assert!((m.predict(2.0, 1000.0, qr, 100, 2) - 2.0 * b).abs() < 1e-15);
    }

    #[test]
    fn calibration_overrides_and_says_so() {
        let text = "version = 1\nsource = \"sweep A\"\n[[coefficient]]\nfamily = \"qr\"\ncombiner = \"mult\"\nalpha = 0.5\n";
        let m = QualityModel::from_toml(&Source::new("c.toml", text)).unwrap();
        let c = m.coefficients(Family::Qr, Some(Combiner::Mult)).unwrap();
        assert_eq!((c.alpha, c.beta), (0.5, 0.0));
        assert!(m.source.contains("sweep A") && m.source.contains("unlisted"));
    }

    #[test]
    fn calibration_errors_name_the_problem() {
        let bad = |text: &str| {
            format!(
                "{:#}",
                QualityModel::from_toml(&Source::new("c.toml", text)).unwrap_err()
            )
        };
        let e =
            bad("version = 1\n[[coefficient]]\nfamily = \"qrr\"\ncombiner = \"mult\"\nalpha = 1\n");
        assert!(e.contains("did you mean 'qr'"), "{e}");
        let e = bad(
            "version = 1\n[[coefficient]]\nfamily = \"hash\"\ncombiner = \"mult\"\nalpha = 1\n",
        );
        assert!(e.contains("does not apply"), "{e}");
        let e =
            bad("version = 1\n[[coefficient]]\nfamily = \"qr\"\ncombiner = \"add\"\nalpha = -1\n");
        assert!(e.contains("alpha must be"), "{e}");
        let e = bad("version = 2\n");
        assert!(e.contains("version 2"), "{e}");
        let e = bad("version = 1\n[[coefficient]]\nfamly = \"qr\"\n");
        assert!(e.starts_with("c.toml:3:1"), "{e}");
    }

    #[test]
    fn written_calibration_loads_back() {
        let measured = [
            Measured {
                family: Family::Qr,
                combiner: Some(Combiner::Mult),
                coefficients: Coefficients {
                    alpha: 0.25,
                    beta: 0.5,
                },
            },
            Measured {
                family: Family::Hash,
                combiner: None,
                coefficients: Coefficients {
                    alpha: 1.0,
                    beta: 0.0,
                },
            },
        ];
        let text = QualityModel::calibration_toml("sweep B", &measured).unwrap();
        let m = QualityModel::from_toml(&Source::new("c.toml", &text)).unwrap();
        for x in measured {
            assert_eq!(
                m.coefficients(x.family, x.combiner).unwrap(),
                x.coefficients
            );
        }
        let twice = [measured[0], measured[0]];
        assert!(QualityModel::calibration_toml("x", &twice).is_err());
    }

    #[test]
    fn fixed_point_round_trips_and_rejects_huge() {
        assert_eq!(to_fixed(1.5e-4).unwrap(), 150_000_000);
        assert!((from_fixed(150_000_000) - 1.5e-4).abs() < 1e-18);
        assert!(to_fixed(1e300).is_err());
        assert!(to_fixed(f64::NAN).is_err());
    }
}
