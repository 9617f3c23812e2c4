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
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::partition::{Combiner, Family};
use crate::source::Source;

/// A way of making a plan for a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Method {
    /// The full model, one row per id: every sweep's reference, once per seed.
    Full,
    /// The planner's search over every complementary family and combiner.
    Searched,
    /// The same search without hot rows (`searched-no-hot`): the planner as it was before
    /// it read profiles, to measure what frequency-aware schemes add.
    SearchedNoHot,
    /// Uniform QR with mult (DLRM's `--qr-flag`).
    QrMult,
    /// The hashing trick with one collision count.
    Hash,
    /// The planner's search restricted to one family and combiner (`only-crt-add`, …):
    /// measures that pair alone, which is what calibration needs.
    Only(Family, Combiner),
}

impl Method {
    /// The default methods of a sweep, in run order.
    pub const DEFAULT: [Method; 3] = [Method::Searched, Method::QrMult, Method::Hash];

    /// The name recorded in results.
    pub fn name(self) -> String {
        match self {
            Method::Full => "full".into(),
            Method::Searched => "searched".into(),
            Method::SearchedNoHot => "searched-no-hot".into(),
            Method::QrMult => "qr-mult".into(),
            Method::Hash => "hash".into(),
            Method::Only(f, c) => format!("only-{}-{c}", f.name()),
        }
    }

    /// Every method name a sweep accepts in `--methods` (`full` always runs).
    pub fn all_names() -> Vec<String> {
        let mut names: Vec<String> = Method::DEFAULT.iter().map(|m| m.name()).collect();
        names.push(Method::SearchedNoHot.name());
        for f in [Family::Qr, Family::MixedRadix, Family::Crt] {
            for c in Combiner::ALL {
                names.push(Method::Only(f, c).name());
            }
        }
        names
    }

    /// Parses a method name as results record it (`full` included), with a suggestion on
    /// a typo.
    pub fn parse(s: &str) -> Result<Method> {
        let t = s.trim().to_ascii_lowercase();
        if let Some(&m) = Method::DEFAULT.iter().find(|m| m.name() == t) {
            return Ok(m);
        }
        if t == Method::Full.name() {
            return Ok(Method::Full);
        }
        if t == Method::SearchedNoHot.name() {
            return Ok(Method::SearchedNoHot);
        }
        if let Some(rest) = t.strip_prefix("only-")
            && let Some((family, combiner)) = rest.rsplit_once('-')
            && let (Ok(f), Ok(c)) = (Family::parse(family), Combiner::parse(combiner))
            && f != Family::Hash
            && f.is_searched()
        {
            return Ok(Method::Only(f, c));
        }
        let names = Method::all_names();
        let hint = crate::source::did_you_mean(&t, names.iter().map(String::as_str));
        bail!(
            "unknown method '{s}'{hint}: expected full, searched, searched-no-hot, qr-mult, hash or only-FAMILY-COMBINER (e.g. only-crt-add)"
        )
    }

    /// Parses a method a sweep compares with the full model (`--methods`): any but `full`,
    /// which always runs once per seed as the reference.
    pub fn parse_compared(s: &str) -> Result<Method> {
        match Method::parse(s)? {
            Method::Full => bail!(
                "'full' always runs once per seed as the reference; list only the methods to compare with it"
            ),
            m => Ok(m),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl TryFrom<String> for Method {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Method, String> {
        Method::parse(&s).map_err(|e| e.to_string())
    }
}

impl From<Method> for String {
    fn from(m: Method) -> String {
        m.name()
    }
}

/// The results file format version.
pub const RESULTS_VERSION: u32 = 1;

/// One trained plan's measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// `searched`, `hash`, `qr-mult`, `full`, … (the plan's making).
    pub method: Method,
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
    /// The planner's predicted loss increase over the full model (its quality model);
    /// absent for the full model and in results written before embplan recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_loss: Option<f64>,
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
    /// Scheme family (`full`, `qr`, …; a hot scheme's tail's).
    pub family: Family,
    /// Combiner, if several tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combiner: Option<Combiner>,
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

/// The full model's validation loss per seed, and their mean.
#[derive(Debug, Clone, PartialEq)]
pub struct FullLosses {
    /// Loss of the full model trained with each seed.
    pub by_seed: BTreeMap<u64, f64>,
    /// Their mean, the reference for seeds without a full run.
    pub mean: f64,
}

impl FullLosses {
    /// A run's loss increase over the full model of its seed (or the mean over seeds).
    pub fn increase(&self, run: &Run) -> f64 {
        run.valid_logloss - self.by_seed.get(&run.seed).copied().unwrap_or(self.mean)
    }
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

    /// The full model's validation losses, the reference of every loss increase; `None`
    /// when no full model ran.
    pub fn full_losses(&self) -> Option<FullLosses> {
        let by_seed: BTreeMap<u64, f64> = self
            .runs
            .iter()
            .filter(|r| r.method == Method::Full)
            .map(|r| (r.seed, r.valid_logloss))
            .collect();
        if by_seed.is_empty() {
            return None;
        }
        let mean = by_seed.values().sum::<f64>() / by_seed.len() as f64;
        Some(FullLosses { by_seed, mean })
    }

    /// Whether a run with this identity is already recorded.
    pub fn contains(&self, method: Method, budget_bytes: Option<u64>, seed: u64) -> bool {
        self.runs
            .iter()
            .any(|r| r.method == method && r.budget_bytes == budget_bytes && r.seed == seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for name in Method::all_names() {
            assert_eq!(Method::parse(&name).unwrap().name(), name);
        }
        assert!(Method::parse("only-hash-mult").is_err());
        assert!(Method::parse("only-full-add").is_err());
        assert_eq!(Method::parse("full").unwrap(), Method::Full);
        assert!(Method::parse_compared("full").is_err());
        let e = Method::parse("only-crt-ad").unwrap_err().to_string();
        assert!(e.contains("did you mean 'only-crt-add'"), "{e}");
    }

    #[test]
    fn round_trips_and_finds_runs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        let mut r = Results::new("s", "synthetic");
        r.runs.push(Run {
            method: Method::Hash,
            budget_bytes: Some(100),
            bytes: 96,
            params: 12,
            valid_logloss: 0.6,
            valid_accuracy: 0.7,
            valid_auc: Some(0.75),
            epoch: Some(2),
            predicted_loss: Some(0.01),
            examples_per_sec: 1e6,
            seed: 3,
            features: vec![RunFeature {
                name: "c".into(),
                family: Family::Qr,
                combiner: Some(Combiner::Add),
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
        assert!(back.contains(Method::Hash, Some(100), 3));
        assert!(!back.contains(Method::Hash, Some(100), 4));
    }
}
