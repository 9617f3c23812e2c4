//! Profiling with bounded memory when exact counts do not fit: per feature, a HyperLogLog
//! for the distinct count and a SpaceSaving summary for the most frequent values.
//!
//! What is exact and what is estimated (each figure in the schema says so):
//! - rows, missing values and the positive rate are exact;
//! - `distinct` is the HyperLogLog estimate, relative standard error `distinct_error`;
//! - the vocabulary's counts over-count by at most `count_error` rows each (SpaceSaving's
//!   bound, ≤ rows / capacity);
//! - the reliable head is the tracked values whose count is known within 10%; the coverage
//!   curve uses their guaranteed counts (lower bounds) and stops where the head ends;
//! - the entropy and the label information treat everything past the reliable head as
//!   values of equal frequency that tell nothing of the label (so the information is a lower
//!   estimate);
//! - `singletons` is estimated as distinct values not known to occur twice.
//!
//! The vocabulary keeps the tracked values whose guaranteed count reaches `min_count`.

use std::num::NonZeroUsize;

use anyhow::Result;
use rayon::prelude::*;

use super::counts::Tally;
use super::input::Input;
use super::scan;
use super::sketch::{Hll, SpaceSaving, hash64};
use super::stats::{
    FeatureProfile, binary_entropy, coverage_curve, entropy_term, miller_madow_bias,
};
use super::value::{self, Value};
use super::{Options, Profile, ProfiledFeature, describe_files};

/// Bytes one tracked value may take in a summary (key, counts, bucket links, map entry).
const BYTES_PER_TRACKED: u64 = 160;
/// The HyperLogLog precision: 2^14 registers, 0.81% relative standard error.
const PRECISION: u8 = 14;

/// One feature's sketches in one worker.
struct FeatureSketch {
    hll: Hll,
    head: SpaceSaving<Value>,
    missing: u64,
}

/// Profiles `input` with sketches sized to `opts.memory`.
///
/// One worker counts (the reading thread still reads and decompresses ahead): a SpaceSaving
/// summary depends on the order it sees values in, and one worker taking the blocks in file
/// order makes the result the same for any `--threads`.
pub fn profile(input: &Input, opts: &Options, features_hint: usize) -> Result<Profile> {
    let per_summary = opts.memory / (features_hint.max(1) as u64 * BYTES_PER_TRACKED);
    let capacity =
        NonZeroUsize::new(usize::try_from(per_summary.clamp(1024, 1 << 24)).unwrap_or(1 << 24))
            .expect("at least 1024");
    let (states, columns) = scan::scan(
        input,
        1,
        || (Vec::<FeatureSketch>::new(), 0u64, 0u64),
        |(sketches, rows, positives), batch| {
            let nf = if batch.is_empty() {
                return Ok(());
            } else {
                batch.keys.len() / batch.len()
            };
            if sketches.len() < nf {
                sketches.resize_with(nf, || FeatureSketch {
                    hll: Hll::new(PRECISION).expect("a valid precision"),
                    head: SpaceSaving::new(capacity),
                    missing: 0,
                });
            }
            *rows += batch.len() as u64;
            *positives += batch.labels.iter().filter(|&&y| y > 0.5).count() as u64;
            for (f, s) in sketches.iter_mut().enumerate() {
                for (&key, &label) in batch.keys.iter().skip(f).step_by(nf).zip(&batch.labels) {
                    let value = if value::tag(key) == value::LONG_TAG {
                        Value::Long(batch.arena[value::long_range(key)].into())
                    } else {
                        Value::Packed(key)
                    };
                    let hashed = match &value {
                        Value::Packed(k) => hash64(*k),
                        Value::Long(b) => hash64(u128::from(crate::source::fnv1a(b)) | (1 << 127)),
                    };
                    s.hll.insert_hash(hashed);
                    s.missing += u64::from(value::is_missing(key));
                    s.head.insert(value, label > 0.5);
                }
            }
            Ok(())
        },
    )?;
    let rows: u64 = states.iter().map(|s| s.1).sum();
    let positives: u64 = states.iter().map(|s| s.2).sum();
    if rows == 0 {
        anyhow::bail!(
            "{}: no rows: expected at least one data line",
            describe_files(input)
        );
    }
    let mut merged: Vec<Option<FeatureSketch>> = (0..columns.names.len()).map(|_| None).collect();
    for (sketches, _, _) in states {
        for (m, s) in merged.iter_mut().zip(sketches) {
            match m {
                None => *m = Some(s),
                Some(m) => {
                    m.hll.merge(&s.hll)?;
                    m.head.merge(&s.head)?;
                    m.missing += s.missing;
                }
            }
        }
    }
    let features = columns
        .names
        .into_par_iter()
        .zip(merged)
        .map(|(name, s)| {
            let s = s.expect("every feature has a sketch when there are rows");
            feature(name, &s, rows, positives, opts.min_count)
        })
        .collect();
    Ok(Profile {
        features,
        rows,
        positives,
        min_count: opts.min_count,
    })
}

fn feature(
    name: String,
    s: &FeatureSketch,
    rows: u64,
    positives: u64,
    min_count: u64,
) -> ProfiledFeature {
    let mut head: Vec<(Value, Tally, u64)> = s
        .head
        .entries()
        .into_iter()
        .map(|h| {
            (
                h.key,
                Tally {
                    count: h.count,
                    positives: h.positives.min(h.count),
                },
                h.error,
            )
        })
        .collect();
    head.sort_by(|a, b| {
        b.1.count
            .cmp(&a.1.count)
            .then_with(|| value::value_order(&a.0, &b.0))
    });
    let error = s.head.error_bound();
    let tracked = head.len() as u64;
    let distinct = (s.hll.estimate().round() as u64).max(tracked);
    // The reliable head: values whose count is known within 10% (a value tracked from its
    // first occurrence has error 0). Everything else counts as the tail.
    let reliable: Vec<&(Value, Tally, u64)> = head
        .iter()
        .take_while(|x| x.2.saturating_mul(10) <= x.1.count)
        .collect();
    let share = |c: u64| c as f64 / rows as f64;
    let (entropy_bits, conditional) = information(&reliable, distinct, rows, positives);
    let kept_values: Vec<(Value, Tally)> = head
        .iter()
        .filter(|x| x.1.count.saturating_sub(x.2) >= min_count)
        .map(|x| (x.0.clone(), x.1))
        .collect();
    let kept = kept_values.len() as u64;
    let kept_rows: u64 = head
        .iter()
        .filter(|x| x.1.count.saturating_sub(x.2) >= min_count)
        .map(|x| x.1.count - x.2)
        .sum::<u64>()
        .min(rows);
    let twice = head
        .iter()
        .filter(|x| x.1.count.saturating_sub(x.2) >= 2)
        .count() as u64;
    let profile = FeatureProfile {
        rows,
        distinct,
        missing: s.missing,
        singletons: distinct.saturating_sub(twice),
        coverage: coverage_curve(reliable.iter().map(|x| x.1.count - x.2), rows, false),
        entropy_bits,
        label_information_bits: (binary_entropy(positives, rows) - conditional).max(0.0),
        label_information_bias_bits: miller_madow_bias(reliable.len() as u64 + 1, rows),
        positive_rate: share(positives),
        kept,
        folded_values: distinct.saturating_sub(kept),
        folded_share: share(rows - kept_rows),
        exact: false,
        distinct_error: Some(s.hll.relative_standard_error()),
        count_error: Some(error),
    };
    ProfiledFeature {
        name,
        profile,
        ranked: kept_values,
    }
}

/// The feature's entropy and the label's conditional entropy given it, in bits, from the
/// reliable head (counts less their error) and a tail spread evenly over the other values.
fn information(
    reliable: &[&(Value, Tally, u64)],
    distinct: u64,
    rows: u64,
    positives: u64,
) -> (f64, f64) {
    let head_rows: u64 = reliable
        .iter()
        .map(|h| h.1.count - h.2)
        .sum::<u64>()
        .min(rows);
    let tail_rows = rows - head_rows;
    let tail_values = distinct
        .saturating_sub(reliable.len() as u64)
        .max(u64::from(tail_rows > 0));
    let share = |c: u64| c as f64 / rows as f64;
    let tail_entropy = if tail_rows > 0 {
        share(tail_rows) * (tail_values as f64 * rows as f64 / tail_rows as f64).log2()
    } else {
        0.0
    };
    let entropy_bits = reliable
        .iter()
        .map(|x| entropy_term(x.1.count - x.2, rows))
        .sum::<f64>()
        + tail_entropy;
    let head_positives: u64 = reliable
        .iter()
        .map(|x| x.1.positives.saturating_sub(x.2))
        .sum::<u64>()
        .min(positives);
    let conditional = reliable
        .iter()
        .map(|x| {
            let n = x.1.count - x.2;
            share(n) * binary_entropy(x.1.positives.saturating_sub(x.2).min(n), n)
        })
        .sum::<f64>()
        + share(tail_rows) * binary_entropy((positives - head_positives).min(tail_rows), tail_rows);
    (entropy_bits, conditional)
}
