//! Training data in memory, and the readers for TSV/CSV and Criteo files.
//!
//! Ids are stored as `u32` (row-major, one row per example): a billion-row Criteo day at
//! 26 features would not fit in memory as `u64`, and no table the trainer can allocate
//! has more than 2^32 rows anyway.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

pub use super::split::{Holdout, Split, ValidSplit};
pub use super::table::{TableOptions, read_table, read_table_from};

/// A data set ready for training: train and validation splits over a plan's features.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Where the data came from (a path, or `synthetic`).
    pub name: String,
    /// Number of categorical features (the plan's, in plan order).
    pub n_features: usize,
    /// Number of dense features (13 for Criteo, else 0).
    pub n_dense: usize,
    /// Training examples.
    pub train: Split,
    /// Validation examples.
    pub valid: Split,
    /// For synthetic data: the hidden teacher's own validation metrics (the best achievable).
    pub teacher_valid: Option<super::metrics::Metrics>,
    /// Raw data read through a vocabulary: per feature and split, values that got the
    /// out-of-vocabulary id.
    pub oov: Vec<super::raw::OovCount>,
}

/// A categorical feature as the readers need it: its name and number of ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureSpec {
    /// Feature name (a header column).
    pub name: String,
    /// Ids must lie in [0, cardinality).
    pub cardinality: u64,
}

/// 1-based character column of the byte offset `at` in `line`.
pub(super) fn char_col(line: &str, at: usize) -> usize {
    line[..at].chars().count() + 1
}

/// The fields of a line with their byte offsets.
fn fields(line: &str, delimiter: char) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    line.split(delimiter).map(move |f| {
        let at = offset;
        offset += f.len() + delimiter.len_utf8();
        (at, f)
    })
}

pub(super) fn open(path: &Path) -> Result<BufReader<File>> {
    let file =
        File::open(path).with_context(|| format!("cannot read data file '{}'", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}

fn read_line(origin: &str, line_no: usize, line: io::Result<String>) -> Result<Option<String>> {
    let mut line = line.with_context(|| format!("{origin}:{line_no}: cannot read line"))?;
    if line.ends_with('\r') {
        line.pop();
    }
    Ok(if line.trim().is_empty() {
        None
    } else {
        Some(line)
    })
}

pub(super) fn parse_label(origin: &str, line: &str, at: usize, field: &str) -> Result<f32> {
    match field.trim().parse::<f32>() {
        Ok(y) if (0.0..=1.0).contains(&y) => Ok(y),
        _ => Err(anyhow!(
            "{origin}:{}: expected a label 0 or 1 (or a probability in [0, 1]), found '{field}'",
            char_col(line, at)
        )),
    }
}

/// Errors if some feature has more ids than the trainer's `u32` ids can hold.
pub fn check_cardinalities(features: &[FeatureSpec]) -> Result<()> {
    if let Some(f) = features
        .iter()
        .find(|f| f.cardinality > u64::from(u32::MAX))
    {
        bail!(
            "feature '{}' has cardinality {}: the trainer supports at most {} ids per feature",
            f.name,
            f.cardinality,
            u32::MAX
        );
    }
    Ok(())
}

/// Layout of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// Tab-separated label and ids.
    Tsv,
    /// Comma-separated label and ids.
    Csv,
    /// Criteo: label, 13 integers, 26 hex strings, tab-separated.
    Criteo,
}

impl Format {
    /// Csv for names ending in `.csv`, else Tsv.
    pub fn for_path(path: &Path) -> Format {
        if TableOptions::for_path(path, true, false).delimiter == b',' {
            Format::Csv
        } else {
            Format::Tsv
        }
    }
}

/// Where the training and validation examples of a file data set come from.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSource {
    /// Training file.
    pub train: std::path::PathBuf,
    /// Validation file; without one, `holdout` of the training file.
    pub valid: Option<std::path::PathBuf>,
    /// Share of the training file's last lines held out when there is no validation file.
    pub holdout: Holdout,
    /// File layout.
    pub format: Format,
    /// TSV/CSV: whether the first line names the columns.
    pub header: bool,
    /// TSV/CSV: skip header columns that are neither `label` nor a feature.
    pub ignore_extra_columns: bool,
}

/// Reads a file data set for `features`.
pub fn load_files(features: &[FeatureSpec], src: &FileSource) -> Result<Dataset> {
    check_cardinalities(features)?;
    let path = &src.train;
    let (mut train, valid, n_dense) = if src.format == Format::Criteo {
        let mut dicts = CriteoDictionaries::default();
        let train = read_criteo(path, features, &mut dicts)?;
        let valid = match &src.valid {
            Some(v) => Some(read_criteo(v, features, &mut dicts)?),
            None => None,
        };
        let files = match &src.valid {
            Some(v) => format!("'{}' and '{}'", path.display(), v.display()),
            None => format!("'{}'", path.display()),
        };
        dicts.check(features, &files)?;
        (train, valid, CRITEO_DENSE)
    } else {
        let opts = |p: &Path| TableOptions {
            delimiter: if src.format == Format::Csv {
                b','
            } else {
                b'\t'
            },
            ..TableOptions::for_path(p, src.header, src.ignore_extra_columns)
        };
        let train = read_table(path, features, opts(path))?;
        let valid = match &src.valid {
            Some(v) => Some(read_table(v, features, opts(v))?),
            None => None,
        };
        (train, valid, 0)
    };
    let valid = match valid {
        Some(v) => v,
        None => train.split_off_fraction(&src.holdout, features.len(), n_dense)?,
    };
    Ok(Dataset {
        name: path.display().to_string(),
        n_features: features.len(),
        n_dense,
        train,
        valid,
        teacher_valid: None,
        oov: Vec::new(),
    })
}

/// The Criteo format's column counts: one definition, the raw reader's.
pub use crate::profile::text::{CRITEO_CATEGORICAL, CRITEO_DENSE};

/// Per-feature dictionaries of Criteo's hex strings, ids in order of first appearance.
#[derive(Debug, Default)]
pub struct CriteoDictionaries {
    maps: Vec<HashMap<Box<str>, u32>>,
}

impl CriteoDictionaries {
    /// Errors if some feature saw more distinct values than its cardinality.
    pub fn check(&self, features: &[FeatureSpec], files: &str) -> Result<()> {
        for (map, f) in self.maps.iter().zip(features) {
            let seen = map.len() as u64;
            if seen > f.cardinality {
                bail!(
                    "feature '{}' has {seen} distinct values in {files} but the plan's cardinality is {}: plan it with a cardinality of at least {seen}",
                    f.name,
                    f.cardinality
                );
            }
        }
        Ok(())
    }
}

/// Reads a Criteo-format file: label, 13 integers, 26 hex strings, tab-separated, empty
/// fields allowed.
///
/// Dense values become ln(1 + max(x, 0)) (empty is 0); categorical strings are encoded per
/// feature in order of first appearance across all files read with the same `dicts` (an
/// empty field is a value of its own). Check the counts with [`CriteoDictionaries::check`].
pub fn read_criteo(
    path: &Path,
    features: &[FeatureSpec],
    dicts: &mut CriteoDictionaries,
) -> Result<Split> {
    check_criteo_features(features)?;
    read_criteo_from(&path.display().to_string(), open(path)?, features, dicts)
}

fn check_criteo_features(features: &[FeatureSpec]) -> Result<()> {
    if features.len() != CRITEO_CATEGORICAL {
        bail!(
            "the Criteo format has {CRITEO_CATEGORICAL} categorical columns but the plan has {} features",
            features.len()
        );
    }
    Ok(())
}

/// [`read_criteo`] over any reader; errors name `origin:line:col`.
pub fn read_criteo_from(
    origin: &str,
    reader: impl BufRead,
    features: &[FeatureSpec],
    dicts: &mut CriteoDictionaries,
) -> Result<Split> {
    check_criteo_features(features)?;
    dicts.maps.resize_with(CRITEO_CATEGORICAL, Default::default);
    let expected = 1 + CRITEO_DENSE + CRITEO_CATEGORICAL;
    let mut split = Split::default();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i + 1;
        let Some(line) = read_line(origin, line_no, line)? else {
            continue;
        };
        let at = format!("{origin}:{line_no}");
        let total = fields(&line, '\t').count();
        if total != expected {
            bail!(
                "{at}: expected {expected} tab-separated fields (label, {CRITEO_DENSE} integers, {CRITEO_CATEGORICAL} categorical), found {total}"
            );
        }
        for (c, (start, field)) in fields(&line, '\t').enumerate() {
            if c == 0 {
                split.labels.push(parse_label(&at, &line, start, field)?);
            } else if c <= CRITEO_DENSE {
                let x: f64 = if field.is_empty() {
                    0.0
                } else {
                    field.trim().parse::<i64>().map_err(|_| {
                        anyhow!(
                            "{at}:{}: expected an integer (or nothing) in dense column I{c}, found '{field}'",
                            char_col(&line, start)
                        )
                    })? as f64
                };
                split.dense.push(x.max(0.0).ln_1p() as f32);
            } else {
                let map = &mut dicts.maps[c - 1 - CRITEO_DENSE];
                let next = map.len() as u32;
                let id = if let Some(&id) = map.get(field) {
                    id
                } else {
                    map.insert(field.into(), next);
                    next
                };
                split.ids.push(id);
            }
        }
    }
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str, ext: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn criteo_encodes_in_order_of_first_appearance() {
        let dense = "1\t\t3\t-1\t0\t0\t0\t0\t0\t0\t0\t0\t0";
        let cats = |first: &str| {
            std::iter::once(first)
                .chain(std::iter::repeat_n("", 25))
                .collect::<Vec<_>>()
                .join("\t")
        };
        let text = format!("1\t{dense}\t{}\n0\t{dense}\t{}\n", cats("ff"), cats("0a"));
        let f = file(&text, ".txt");
        let specs: Vec<FeatureSpec> = (1..=26)
            .map(|i| FeatureSpec {
                name: format!("C{i}"),
                cardinality: 1,
            })
            .collect();
        let mut dicts = CriteoDictionaries::default();
        let s = read_criteo(f.path(), &specs, &mut dicts).unwrap();
        assert_eq!(s.ids[0], 0);
        assert_eq!(s.ids[26], 1);
        assert_eq!(s.dense[0], 2f32.ln());
        assert_eq!(s.dense[3], 0.0);
        let e = dicts.check(&specs, "f").unwrap_err().to_string();
        assert!(
            e.starts_with("feature 'C1' has 2 distinct values in f"),
            "{e}"
        );
    }
}
