//! Training data read from raw files through a profile's vocabulary: any strings, empty
//! fields and integers, encoded on the fly; values the vocabulary lacks get the
//! out-of-vocabulary id and are counted, never an error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Result, bail};

use super::data::{Dataset, FeatureSpec, Split};
use crate::profile::input::{Input, RawFormat};
use crate::profile::scan::{self, Batch};
use crate::profile::vocab::{self, Encoder, Manifest};

/// How many of a feature's values were not in the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OovCount {
    /// Feature name.
    pub feature: String,
    /// Which split (`train` or `valid`).
    pub split: &'static str,
    /// Values given the out-of-vocabulary id.
    pub oov: u64,
    /// Values read.
    pub total: u64,
}

/// Raw files to encode with a vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSource {
    /// Training files.
    pub train: Vec<PathBuf>,
    /// Validation files; without them, `holdout` of the training rows.
    pub valid: Vec<PathBuf>,
    /// Share of the training rows held out when there are no validation files.
    pub holdout: super::data::Holdout,
    /// Their format (by the first file's name if `None`).
    pub format: Option<RawFormat>,
    /// TSV/CSV/Parquet: the label column.
    pub label: String,
    /// The vocabulary directory written by `embplan profile --vocab`.
    pub vocab: PathBuf,
    /// Worker threads.
    pub threads: usize,
}

/// Loads the encoders of `features` from `dir`, checking names and id counts.
pub fn encoders(features: &[FeatureSpec], dir: &Path) -> Result<Vec<Encoder>> {
    let manifest = Manifest::load(dir)?;
    super::data::check_cardinalities(features)?;
    features
        .iter()
        .map(|f| {
            let Some(m) = manifest.features.iter().find(|m| m.name == f.name) else {
                let names: Vec<&str> = manifest.features.iter().map(|m| m.name.as_str()).collect();
                bail!(
                    "feature '{}' of the plan has no vocabulary in '{}' (it has {}): plan from the schema profiled with this vocabulary",
                    f.name,
                    dir.display(),
                    names.join(", ")
                );
            };
            if m.ids != f.cardinality {
                bail!(
                    "feature '{}': the plan's cardinality is {} but its vocabulary in '{}' has {} ids: plan from the schema profiled with this vocabulary",
                    f.name,
                    f.cardinality,
                    dir.display(),
                    m.ids
                );
            }
            Encoder::new(&vocab::read_feature(dir, m)?)
        })
        .collect()
}

/// Reads and encodes a data set for `features`.
pub fn load(features: &[FeatureSpec], src: &RawSource) -> Result<Dataset> {
    let enc = encoders(features, &src.vocab)?;
    let (mut train, n_dense, mut oov) = read(features, &enc, &src.train, src, "train")?;
    let valid = if src.valid.is_empty() {
        train.split_off_fraction(&src.holdout, features.len(), n_dense)?
    } else {
        let (valid, valid_dense, valid_oov) = read(features, &enc, &src.valid, src, "valid")?;
        if valid_dense != n_dense {
            bail!(
                "the validation files have {valid_dense} dense columns but the training files {n_dense}"
            );
        }
        oov.extend(valid_oov);
        valid
    };
    let name = src
        .train
        .first()
        .map_or_else(String::new, |p| p.display().to_string());
    Ok(Dataset {
        name,
        n_features: features.len(),
        n_dense,
        train,
        valid,
        teacher_valid: None,
        oov,
    })
}

type Piece = (u64, Split, Vec<u64>);

/// Reads `files` into one split in file order; returns it, its dense width and OOV counts.
fn read(
    features: &[FeatureSpec],
    enc: &[Encoder],
    files: &[PathBuf],
    src: &RawSource,
    split: &'static str,
) -> Result<(Split, usize, Vec<OovCount>)> {
    let mut input = Input::new(files.to_vec(), src.format);
    input.label.clone_from(&src.label);
    input.categorical = Some(features.iter().map(|f| f.name.clone()).collect());
    input.dense = true;
    let nf = features.len();
    let limit = u32::MAX as usize;
    let rows_so_far = AtomicUsize::new(0);
    let (pieces, columns) = scan::scan(
        &input,
        src.threads,
        Vec::<Piece>::new,
        |pieces, batch: &Batch| {
            let rows = rows_so_far.fetch_add(batch.len(), Ordering::Relaxed) + batch.len();
            if rows > limit {
                bail!(
                    "{}: more than {limit} rows: the trainer holds at most {limit} examples",
                    crate::profile::describe_files(&input)
                );
            }
            let mut misses = vec![0u64; nf];
            let mut ids = Vec::with_capacity(batch.keys.len());
            for row in batch.keys.chunks_exact(nf) {
                for (f, (&key, e)) in row.iter().zip(enc).enumerate() {
                    let id = e.id(key, &batch.arena);
                    misses[f] += u64::from(id == e.oov);
                    ids.push(id);
                }
            }
            pieces.push((
                batch.seq,
                Split {
                    ids,
                    dense: batch.dense.clone(),
                    labels: batch.labels.clone(),
                },
                misses,
            ));
            Ok(())
        },
    )?;
    let mut all: Vec<Piece> = pieces.into_iter().flatten().collect();
    all.sort_unstable_by_key(|p| p.0);
    let rows: usize = all.iter().map(|p| p.1.len()).sum();
    let mut out = Split::default();
    out.ids.reserve_exact(rows * nf);
    out.dense.reserve_exact(rows * columns.dense);
    out.labels.reserve_exact(rows);
    let mut misses = vec![0u64; nf];
    for (_, piece, m) in all {
        out.ids.extend_from_slice(&piece.ids);
        out.dense.extend_from_slice(&piece.dense);
        out.labels.extend_from_slice(&piece.labels);
        for (a, b) in misses.iter_mut().zip(m) {
            *a += b;
        }
    }
    let oov = features
        .iter()
        .zip(misses)
        .map(|(f, oov)| OovCount {
            feature: f.name.clone(),
            split,
            oov,
            total: rows as u64,
        })
        .collect();
    Ok((out, columns.dense, oov))
}
