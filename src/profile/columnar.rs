//! Scanning npy days and Parquet tables into batches of packed values.
//!
//! npy: each file is a TorchRec Criteo day (`day_N_sparse.npy` or its `day_N` prefix);
//! memory-mapped, cut into row ranges that workers convert in parallel. Integer ids are
//! integer values (the same as their decimal spelling in text); dense floats are used as
//! stored (TorchRec's preprocessing has already transformed them).
//!
//! Parquet: the label column and the categorical columns by name; integer columns are
//! integer values, string columns strings, nulls the missing value. Row groups are decoded
//! on the reading thread and handed to the workers.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use anyhow::{Result, anyhow, bail};

use super::input::{Input, RawFormat, criteo_names};
use super::scan::{Batch, Columns, pipeline};
use super::value;
use crate::columnar::npy::CriteoNpyDay;
use crate::columnar::parquet_io::{ColumnBatch, ParquetTable, Values};

/// Rows per job.
const ROWS: usize = 1 << 16;

/// Reads npy or Parquet inputs (see [`super::scan::scan`]).
pub fn scan<S: Send>(
    input: &Input,
    threads: usize,
    init: &(impl Fn() -> S + Sync),
    fold: &(impl Fn(&mut S, &Batch) -> Result<()> + Sync),
) -> Result<(Vec<S>, Columns)> {
    match input.format {
        RawFormat::Parquet => scan_parquet(input, threads, init, fold),
        _ => scan_npy(input, threads, init, fold),
    }
}

/// Which sparse columns to read, in batch order, and their names.
fn select(
    path: &Path,
    available: &[String],
    wanted: Option<&[String]>,
) -> Result<(Vec<usize>, Vec<String>)> {
    let names = wanted.map_or_else(|| available.to_vec(), <[String]>::to_vec);
    let cols = names
        .iter()
        .map(|n| {
            available.iter().position(|a| a == n).ok_or_else(|| {
                let hint = crate::source::did_you_mean(n, available.iter().map(String::as_str));
                anyhow!(
                    "{}: no column '{n}'{hint}: it has {}",
                    path.display(),
                    available.join(", ")
                )
            })
        })
        .collect::<Result<_>>()?;
    Ok((cols, names))
}

fn scan_npy<S: Send>(
    input: &Input,
    threads: usize,
    init: &(impl Fn() -> S + Sync),
    fold: &(impl Fn(&mut S, &Batch) -> Result<()> + Sync),
) -> Result<(Vec<S>, Columns)> {
    let days = input
        .files
        .iter()
        .map(CriteoNpyDay::open)
        .collect::<Result<Vec<_>, _>>()?;
    let available = criteo_names(days[0].sparse.cols());
    let (cols, names) = select(&input.files[0], &available, input.categorical.as_deref())?;
    for (day, path) in days.iter().zip(&input.files).skip(1) {
        if day.sparse.cols() != available.len() {
            bail!(
                "{}: {} sparse columns, but the first day has {}",
                path.display(),
                day.sparse.cols(),
                available.len()
            );
        }
    }
    let dense = if input.dense { days[0].dense.cols() } else { 0 };
    let states = pipeline(
        threads,
        |tx: &mpsc::SyncSender<(u64, (usize, Range<usize>))>, failed: &AtomicBool| {
            let mut seq = 0;
            for (d, day) in days.iter().enumerate() {
                for start in (0..day.rows()).step_by(ROWS) {
                    if failed.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    let _ = tx.send((seq, (d, start..(start + ROWS).min(day.rows()))));
                    seq += 1;
                }
            }
            Ok(())
        },
        |(d, rows): (usize, Range<usize>), batch: &mut Batch| {
            let day = &days[d];
            day.labels.labels(rows.clone(), &mut batch.labels)?;
            let mut ids = Vec::new();
            day.sparse.ints(rows.clone(), &mut ids)?;
            let width = day.sparse.cols();
            batch.keys.reserve(rows.len() * cols.len());
            for row in ids.chunks_exact(width) {
                batch
                    .keys
                    .extend(cols.iter().map(|&c| value::pack_i64(row[c])));
            }
            if dense > 0 {
                if day.dense.cols() != dense {
                    bail!(
                        "{}: {} dense columns, but the first day has {dense}",
                        day.dense.path().display(),
                        day.dense.cols()
                    );
                }
                day.dense.floats(rows, &mut batch.dense)?;
            }
            Ok(())
        },
        init,
        fold,
    )?;
    Ok((states, Columns { names, dense }))
}

fn scan_parquet<S: Send>(
    input: &Input,
    threads: usize,
    init: &(impl Fn() -> S + Sync),
    fold: &(impl Fn(&mut S, &Batch) -> Result<()> + Sync),
) -> Result<(Vec<S>, Columns)> {
    let tables = input
        .files
        .iter()
        .map(ParquetTable::open)
        .collect::<Result<Vec<_>>>()?;
    let first = &input.files[0];
    let available: Vec<String> = tables[0].columns().iter().map(|c| c.name.clone()).collect();
    if !available.contains(&input.label) {
        let hint = crate::source::did_you_mean(&input.label, available.iter().map(String::as_str));
        bail!(
            "{}: no label column '{}'{hint}: it has {}; name the label column with --label",
            first.display(),
            input.label,
            available.join(", ")
        );
    }
    let others: Vec<String> = available
        .iter()
        .filter(|a| **a != input.label)
        .cloned()
        .collect();
    let (_, names) = select(first, &others, input.categorical.as_deref())?;
    let mut wanted: Vec<&str> = vec![input.label.as_str()];
    wanted.extend(names.iter().map(String::as_str));
    let states = pipeline(
        threads,
        |tx: &mpsc::SyncSender<(u64, Batch)>, failed: &AtomicBool| {
            let mut seq = 0;
            for (table, path) in tables.iter().zip(&input.files) {
                table.read_columns(&wanted, ROWS, |cb| {
                    if failed.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    let batch = convert(path, cb, names.len())?;
                    let _ = tx.send((seq, batch));
                    seq += 1;
                    Ok(())
                })?;
            }
            Ok(())
        },
        |converted: Batch, batch: &mut Batch| {
            let seq = batch.seq;
            *batch = converted;
            batch.seq = seq;
            Ok(())
        },
        init,
        fold,
    )?;
    Ok((states, Columns { names, dense: 0 }))
}

/// A Parquet batch (label first, then the categorical columns) as packed values.
fn convert(path: &Path, cb: &ColumnBatch, n_cat: usize) -> Result<Batch> {
    let row_of = |r: usize| cb.first_row + r as u64 + 1;
    let mut batch = Batch::default();
    let label = &cb.columns[0];
    batch.labels.reserve(cb.rows);
    for r in 0..cb.rows {
        if label.nulls.as_ref().is_some_and(|n| n[r]) {
            bail!(
                "{}: row {}: the label is null: expected 0 or 1",
                path.display(),
                row_of(r)
            );
        }
        let y = match &label.values {
            Values::Ints(v) => v[r] as f64,
            Values::Floats(v) => v[r],
            Values::Strings { .. } => bail!(
                "{}: the label column '{}' holds strings: expected 0 or 1",
                path.display(),
                cb.names[0]
            ),
        };
        if y != 0.0 && y != 1.0 {
            bail!(
                "{}: row {}: expected a label 0 or 1, found {y}",
                path.display(),
                row_of(r)
            );
        }
        batch.labels.push(y as f32);
    }
    batch.keys.resize(cb.rows * n_cat, 0);
    for (c, col) in cb.columns[1..].iter().enumerate() {
        for r in 0..cb.rows {
            if col.nulls.as_ref().is_some_and(|n| n[r]) {
                continue; // the missing value: key 0, the empty string
            }
            batch.keys[r * n_cat + c] = match &col.values {
                Values::Ints(v) => value::pack_i64(v[r]),
                Values::Strings { .. } => {
                    value::pack_text(col.values.string(r).unwrap_or_default(), &mut batch.arena)
                }
                Values::Floats(_) => bail!(
                    "{}: column '{}' holds floating-point numbers: expected integer or string categorical values",
                    path.display(),
                    cb.names[c + 1]
                ),
            };
        }
    }
    Ok(batch)
}
