//! Where training data comes from: synthetic generation or TSV/CSV/Criteo files.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::data::{self, FileSource, Format, Holdout, ValidSplit};
use super::raw::{self, RawSource};
use super::synthetic::{self, SyntheticConfig};
use super::{Dataset, feature_specs};
use crate::plan::Plan;
use crate::profile::RawFormat;
use crate::schema::Schema;

/// Where the examples come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// Generated from a hidden teacher model.
    Synthetic,
    /// A training file (TSV, CSV or Criteo).
    File(PathBuf),
}

impl Data {
    /// `synthetic` is generated data; anything else is a file path.
    pub fn parse(s: &str) -> Data {
        if s == "synthetic" {
            Data::Synthetic
        } else {
            Data::File(PathBuf::from(s))
        }
    }
}

impl std::fmt::Display for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Data::Synthetic => f.write_str("synthetic"),
            Data::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A data source, validated and ready to load for a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    /// Synthetic data, or the training file.
    pub data: Data,
    /// Validation file (file data only).
    pub valid: Option<PathBuf>,
    /// Share of the training file's rows held out when there is no validation file.
    pub valid_frac: Option<f64>,
    /// Which rows are held out: the last ones (the default), or a random draw seeded by `seed`.
    pub split: Option<ValidSplit>,
    /// File format; `None` guesses from the extension (.csv → csv, else tsv).
    pub format: Option<RawFormat>,
    /// Raw files encoded through this vocabulary (from `embplan profile --vocab`).
    pub vocab: Option<PathBuf>,
    /// Raw TSV/CSV/Parquet with a vocabulary: the label column.
    pub label: String,
    /// Worker threads reading raw files.
    pub threads: usize,
    /// TSV/CSV without a header line.
    pub no_header: bool,
    /// Skip header columns that are neither `label` nor a feature.
    pub ignore_extra_columns: bool,
    /// Synthetic: training examples.
    pub train_rows: usize,
    /// Synthetic: validation examples.
    pub valid_rows: usize,
    /// Synthetic: one Zipf exponent for every feature (else the schema's, else 1.1).
    pub zipf: Option<f64>,
    /// Synthetic: the generator's seed.
    pub seed: u64,
}

/// The Zipf exponent of synthetic ids when neither flag nor schema sets one.
pub const DEFAULT_ZIPF: f64 = 1.1;

impl DataSource {
    /// Whether the data is generated.
    pub fn is_synthetic(&self) -> bool {
        self.data == Data::Synthetic
    }

    /// A short description for reports, e.g. `synthetic (seed 0, 500000 + 100000 rows)`.
    pub fn describe(&self) -> String {
        if self.is_synthetic() {
            format!(
                "synthetic (seed {}, {} + {} rows)",
                self.seed, self.train_rows, self.valid_rows
            )
        } else {
            match &self.valid {
                Some(v) => format!("{} + {}", self.data, v.display()),
                None => self.data.to_string(),
            }
        }
    }

    /// Every setting that decides which examples are loaded, by name (for results files).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("source", self.data.to_string())];
        if self.is_synthetic() {
            out.push(("seed", self.seed.to_string()));
            out.push(("train_rows", self.train_rows.to_string()));
            out.push(("valid_rows", self.valid_rows.to_string()));
            out.push(("zipf", self.zipf.map_or("schema".into(), |z| z.to_string())));
            return out;
        }
        let valid = self.valid.as_ref().map_or_else(
            || {
                let frac = self.valid_frac.unwrap_or(0.1);
                match self.split.unwrap_or_default() {
                    ValidSplit::Tail => format!("last {frac} of the data"),
                    ValidSplit::Random => {
                        format!("random {frac} of the data (seed {})", self.seed)
                    }
                }
            },
            |v| v.display().to_string(),
        );
        out.push(("valid", valid));
        let format = self
            .format
            .map_or("by extension".to_string(), |f| format!("{f:?}"));
        out.push(("format", format.to_lowercase()));
        if let Some(v) = &self.vocab {
            out.push(("vocab", v.display().to_string()));
            out.push(("label", self.label.clone()));
        }
        out.push(("header", (!self.no_header).to_string()));
        out.push((
            "ignore_extra_columns",
            self.ignore_extra_columns.to_string(),
        ));
        out
    }

    /// Loads the data for `plan`; `schema` supplies per-feature Zipf exponents if given.
    pub fn load(&self, plan: &Plan, schema: Option<&Schema>) -> Result<Dataset> {
        let specs = feature_specs(plan);
        if self.is_synthetic() {
            return self.generate(plan, schema);
        }
        if let Some(frac) = self.valid_frac.filter(|f| !(*f > 0.0 && *f < 1.0)) {
            bail!("--valid-frac: expected a fraction between 0 and 1 (exclusive), found {frac}");
        }
        let Data::File(path) = self.data.clone() else {
            unreachable!("synthetic data returned above");
        };
        if let Some(vocab) = &self.vocab {
            return raw::load(
                &specs,
                &RawSource {
                    train: vec![path],
                    valid: self.valid.iter().cloned().collect(),
                    holdout: self.holdout(),
                    format: self.format,
                    label: self.label.clone(),
                    vocab: vocab.clone(),
                    threads: self.threads,
                },
            );
        }
        let format = match self.format.unwrap_or_else(|| RawFormat::for_path(&path)) {
            RawFormat::Tsv => Format::Tsv,
            RawFormat::Csv => Format::Csv,
            RawFormat::Criteo => Format::Criteo,
            other => bail!(
                "{} files hold raw values: read them through a vocabulary with --vocab DIR (written by `embplan profile --vocab DIR`)",
                other.name()
            ),
        };
        data::load_files(
            &specs,
            &FileSource {
                format,
                train: path,
                valid: self.valid.clone(),
                holdout: self.holdout(),
                header: !self.no_header,
                ignore_extra_columns: self.ignore_extra_columns,
            },
        )
    }

    /// Which rows of the training file are held out.
    fn holdout(&self) -> Holdout {
        Holdout {
            frac: self.valid_frac.unwrap_or(0.1),
            split: self.split.unwrap_or_default(),
            seed: self.seed,
        }
    }

    fn generate(&self, plan: &Plan, schema: Option<&Schema>) -> Result<Dataset> {
        if self.valid.is_some() || self.valid_frac.is_some() || self.split.is_some() {
            bail!(
                "--valid, --valid-frac and --split apply to file data; synthetic data sets its validation rows with --valid-rows"
            );
        }
        let specs = feature_specs(plan);
        let zipf: Vec<f64> = match (self.zipf, schema) {
            (Some(z), _) => vec![z; specs.len()],
            (None, Some(schema)) if schema.features.len() == specs.len() => schema
                .features
                .iter()
                .map(|f| f.zipf.unwrap_or(DEFAULT_ZIPF))
                .collect(),
            (None, _) => vec![DEFAULT_ZIPF; specs.len()],
        };
        if let Some(z) = zipf.iter().find(|z| !(z.is_finite() && **z > 0.0)) {
            bail!("--zipf: expected a positive exponent such as 1.1, found {z}");
        }
        synthetic::generate(
            &specs,
            &SyntheticConfig {
                train_rows: self.train_rows,
                valid_rows: self.valid_rows,
                zipf,
                teacher_scale: 0.5,
                teacher_noise: 0.5,
                seed: self.seed,
            },
        )
    }
}
