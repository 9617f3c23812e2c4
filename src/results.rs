//! Sweep results: the file `embplan sweep` writes and `plot` and `calibrate` read.
//!
//! ```json
//! {
//!   "version": 1,
//!   "schema": "synthetic",
//!   "data": "synthetic (seed 0)",
//!   "runs": [
//!     {"method": "qr-mult", "budget_bytes": 4194304, "bytes": 4100000, "params": 512500,
//!      "valid_logloss": 0.58, "valid_accuracy": 0.70, "valid_auc": 0.76,
//!      "examples_per_sec": 900000.0, "seed": 0}
//!   ]
//! }
//! ```
//! A run is identified by (method, budget, seed) under the file's `settings`: a resumed sweep
//! skips runs already present, and refuses a file whose settings differ.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::source::Source;

/// The results file format version.
pub const RESULTS_VERSION: u32 = 1;

/// One trained plan's measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// `searched`, `hash`, `qr-mult`, `full`, … (the plan's making).
    pub method: String,
    /// The budget the plan was made for (`None` for the full reference model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_bytes: Option<u64>,
    /// Bytes (weights + optimizer state) the plan actually uses.
    pub bytes: u64,
    /// Embedding parameters.
    pub params: u64,
    /// Validation log-loss at the recorded epoch.
    pub valid_logloss: f64,
    /// Validation accuracy at the recorded epoch.
    pub valid_accuracy: f64,
    /// Validation ROC AUC at the recorded epoch; null when the validation set has one class.
    #[serde(default)]
    pub valid_auc: Option<f64>,
    /// The epoch whose metrics are recorded: the best on validation; absent in results
    /// written before embplan recorded it, whose metrics are the last epoch's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<usize>,
    /// Training throughput.
    pub examples_per_sec: f64,
    /// The seed of data order and initialisation.
    pub seed: u64,
    /// Every feature's choice, for calibration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<RunFeature>,
}

/// A feature's choice in a run, as calibration needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFeature {
    /// Feature name.
    pub name: String,
    /// Scheme family (`full`, `qr`, …).
    pub family: String,
    /// Combiner, if several tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combiner: Option<String>,
    /// Number of tables.
    pub tables: usize,
    /// Compression of the ids that share rows against their full table (full params /
    /// params), as the planner's quality model measures it: the whole feature's, or for a
    /// hot scheme its tail's.
    pub compression: f64,
    /// The planner's weight for the feature.
    #[serde(default = "one")]
    pub weight: f64,
    /// Hot ids with rows of their own (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hot: u64,
    /// The share of the feature's rows whose ids share rows (1 without hot ids; for a hot
    /// scheme, 1 − the profiled coverage of its hot ids).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub tail_share: f64,
}

// serde's skip_serializing_if passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(x: &u64) -> bool {
    *x == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one(x: &f64) -> bool {
    *x == 1.0
}

fn one() -> f64 {
    1.0
}

/// A sweep's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Format version.
    pub version: u32,
    /// Schema name (for titles).
    pub schema: String,
    /// What data the runs trained on.
    pub data: String,
    /// Every setting the runs depend on (data, training, model, planner, calibration,
    /// embplan version); a sweep resumes only into a file with identical settings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// Every run so far, in the order they finished.
    pub runs: Vec<Run>,
}

impl Results {
    /// An empty results set.
    pub fn new(schema: &str, data: &str) -> Results {
        Results {
            version: RESULTS_VERSION,
            schema: schema.to_string(),
            data: data.to_string(),
            settings: BTreeMap::new(),
            runs: Vec::new(),
        }
    }

    /// Reads a results file.
    pub fn load(path: &Path) -> Result<Results> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read results '{}'", path.display()))?;
        Results::from_json(&Source::new(&path.display().to_string(), &text))
    }

    /// Parses results JSON; errors name `origin:line:col`.
    pub fn from_json(src: &Source) -> Result<Results> {
        let origin = src.origin;
        let r: Results = serde_json::from_str(src.text)
            .map_err(|e| anyhow::anyhow!("{origin}:{}:{}: {e}", e.line(), e.column()))?;
        if r.version != RESULTS_VERSION {
            bail!(
                "{origin}: results version {} is not supported (this embplan reads version {RESULTS_VERSION})",
                r.version
            );
        }
        Ok(r)
    }

    /// Writes the results atomically as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        crate::output::write_atomic(path, text.as_bytes())
    }

    /// The settings that differ between this file and `settings`, as `name: file → now`.
    pub fn settings_differences(&self, settings: &BTreeMap<String, String>) -> Vec<String> {
        let keys: std::collections::BTreeSet<&String> =
            self.settings.keys().chain(settings.keys()).collect();
        let shown = |v: Option<&String>| v.map_or("(none)", String::as_str).to_string();
        keys.into_iter()
            .filter(|k| self.settings.get(*k) != settings.get(*k))
            .map(|k| {
                format!(
                    "{k}: {} → {}",
                    shown(self.settings.get(k)),
                    shown(settings.get(k))
                )
            })
            .collect()
    }

    /// Whether a run with this identity is already recorded.
    pub fn contains(&self, method: &str, budget_bytes: Option<u64>, seed: u64) -> bool {
        self.runs
            .iter()
            .any(|r| r.method == method && r.budget_bytes == budget_bytes && r.seed == seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_finds_runs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        let mut r = Results::new("s", "synthetic");
        r.runs.push(Run {
            method: "hash".into(),
            budget_bytes: Some(100),
            bytes: 96,
            params: 12,
            valid_logloss: 0.6,
            valid_accuracy: 0.7,
            valid_auc: Some(0.75),
            epoch: Some(2),
            examples_per_sec: 1e6,
            seed: 3,
            features: vec![RunFeature {
                name: "c".into(),
                family: "qr".into(),
                combiner: Some("add".into()),
                tables: 2,
                compression: 4.0,
                weight: 1.0,
                hot: 64,
                tail_share: 0.25,
            }],
        });
        r.save(&p).unwrap();
        let back = Results::load(&p).unwrap();
        assert_eq!(back, r);
        assert!(back.contains("hash", Some(100), 3));
        assert!(!back.contains("hash", Some(100), 4));
    }
}
