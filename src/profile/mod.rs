//! Measuring categorical data: counts, sketches, vocabularies.
//!
//! `profile` reads raw training files (TSV, CSV, Criteo text, npy, Parquet; gzip or zstd
//! text), counts every categorical value exactly and returns, per feature, a compact
//! [`stats::FeatureProfile`] for the schema and the full ranked counts a vocabulary is
//! written from. Counting runs in parallel over blocks of the input (see [`scan`]).

pub mod columnar;
pub mod counts;
pub mod input;
pub mod scan;
pub mod schema;
pub mod sketch;
pub mod sketched;
pub mod stats;
pub mod table;
pub mod text;
pub mod value;
pub mod vocab;

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Result, bail};
use rayon::prelude::*;

use counts::{Counts, Scratch, Tally};
pub use input::{Input, RawFormat};
pub use schema::SchemaOrigin;
use stats::FeatureProfile;
use value::Value;

/// How to profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Values seen fewer times than this share the out-of-vocabulary id.
    pub min_count: u64,
    /// Bytes exact counting may hold.
    pub memory: u64,
    /// Worker threads.
    pub threads: usize,
}

/// The measured profile of one feature, with its values ranked for the vocabulary.
#[derive(Debug, Clone)]
pub struct ProfiledFeature {
    /// Column name.
    pub name: String,
    /// The compact profile kept in the schema.
    pub profile: FeatureProfile,
    /// Every value with its counts, most frequent first (id = position; values past
    /// `profile.kept` are folded into the out-of-vocabulary id).
    pub ranked: Vec<(Value, Tally)>,
}

impl ProfiledFeature {
    /// Ids the feature needs: one per kept value plus the out-of-vocabulary id.
    pub fn cardinality(&self) -> u64 {
        self.profile.kept + 1
    }
}

/// A whole data set's profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Features in column order.
    pub features: Vec<ProfiledFeature>,
    /// Rows read.
    pub rows: u64,
    /// Rows with label 1.
    pub positives: u64,
    /// The minimum count a value needs for an id of its own.
    pub min_count: u64,
}

/// Exact counting would need more memory than allowed.
#[derive(Debug, thiserror::Error)]
#[error(
    "exact counting needs more than --memory {} ({limit} bytes): raise --memory, or profile the files in shards (each with --vocab) and combine them with --merge",
    crate::size::format_iec(*limit)
)]
pub struct OverMemory {
    /// The allowed bytes.
    pub limit: u64,
    /// Categorical columns being counted.
    pub features: usize,
}

/// Profiles `input`: exactly while the counts fit in `opts.memory`, else again from the
/// start with sketches sized to it (see [`sketched`]; every figure then says whether it is
/// exact).
pub fn profile(input: &Input, opts: &Options) -> Result<Profile> {
    match profile_exact(input, opts) {
        Err(e) => match e.downcast_ref::<OverMemory>() {
            Some(over) => sketched::profile(input, opts, over.features),
            None => Err(e),
        },
        ok => ok,
    }
}

/// Profiles `input` exactly, or fails with [`OverMemory`].
pub fn profile_exact(input: &Input, opts: &Options) -> Result<Profile> {
    let held = AtomicU64::new(0);
    let limit = opts.memory;
    let (states, columns) = scan::scan(
        input,
        opts.threads,
        || (Vec::<Counts>::new(), 0u64, Scratch::default()),
        |(counts, bytes, scratch), batch| {
            let nf = if batch.is_empty() {
                0
            } else {
                batch.keys.len() / batch.len()
            };
            if counts.len() < nf {
                counts.resize_with(nf, Counts::default);
            }
            // Feature by feature: one hash map is hot at a time.
            for (f, c) in counts.iter_mut().enumerate() {
                let keys = batch.keys.iter().skip(f).step_by(nf).copied();
                c.add_column(keys, &batch.labels, &batch.arena, scratch);
            }
            let now: u64 = counts
                .iter()
                .map(|c| c.distinct() * counts::BYTES_PER_VALUE)
                .sum();
            let total = held.fetch_add(now - *bytes, Ordering::Relaxed) + (now - *bytes);
            *bytes = now;
            if total > limit {
                return Err(OverMemory {
                    limit,
                    features: nf,
                }
                .into());
            }
            Ok(())
        },
    )?;
    let nf = columns.names.len();
    let mut merged: Vec<Counts> = (0..nf).map(|_| Counts::default()).collect();
    for (worker, _, _) in states {
        for (m, c) in merged.iter_mut().zip(worker) {
            m.merge(c);
        }
    }
    let rows = merged.first().map_or(0, |c| c.rows);
    if rows == 0 {
        bail!(
            "{}: no rows: expected at least one data line",
            describe_files(input)
        );
    }
    let positives = merged[0].positives;
    Ok(finish(
        columns.names,
        merged,
        rows,
        positives,
        opts.min_count,
    ))
}

/// Ranks each feature's counts and computes its profile.
pub fn finish(
    names: Vec<String>,
    counts: Vec<Counts>,
    rows: u64,
    positives: u64,
    min_count: u64,
) -> Profile {
    let features = names
        .into_par_iter()
        .zip(counts)
        .map(|(name, c)| {
            let ranked = c.ranked();
            let profile = stats::exact_profile(&ranked, rows, positives, min_count);
            ProfiledFeature {
                name,
                profile,
                ranked,
            }
        })
        .collect();
    Profile {
        features,
        rows,
        positives,
        min_count,
    }
}

/// The input files for messages: one name, or the first and a count.
pub fn describe_files(input: &Input) -> String {
    match input.files.as_slice() {
        [one] => format!("'{}'", one.display()),
        [first, rest @ ..] => format!("'{}' and {} more files", first.display(), rest.len()),
        [] => "no files".to_string(),
    }
}
