//! `embplan calibrate --schema SCHEMA --data …`: the sweep a calibration needs, run first and
//! sized to a time budget.
//!
//! The full model trains first, once; its wall time is the estimate of every run's. The
//! planner restricted to each (family, combiner) pair it searches then runs at as many
//! compressions (4×, 16×, 64×, 2×, 8×, 32×, in that order) as the time left affords for all
//! pairs, or at `--compressions`. Runs go to the results file as `sweep` writes them, so an
//! interrupted calibration resumes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::data_args::{DataArgs, ModelArgs};
use super::sweep::{load_or_start, report_event, sweep_inputs};
use embplan::calibrate::{affordable_compressions, calibration_methods};
use embplan::plan::SearchOptions;
use embplan::results::{Method, Results};
use embplan::sweep::{SweepConfig, budgets_from_compressions, sweep};
use embplan::train::Dataset;

/// What the calibration sweep needs from the command line.
pub struct SweepRequest<'a> {
    /// The schema to plan and train.
    pub schema: &'a Path,
    /// Where the data come from.
    pub data: &'a DataArgs,
    /// Training settings.
    pub model: &'a ModelArgs,
    /// Wall time for the whole sweep.
    pub time: Duration,
    /// Compressions to measure instead of those `time` affords.
    pub compressions: &'a [f64],
    /// The seed of initialisation, shuffling and synthetic data.
    pub seed: u64,
    /// The results file, created or resumed.
    pub results: &'a PathBuf,
}

/// Runs (or resumes) the calibration sweep into `req.results` and returns its results.
pub fn run(req: &SweepRequest) -> Result<Results> {
    let started = Instant::now();
    let (schema, full, train) = sweep_inputs(req.schema, req.data, req.model, req.seed)?;
    let mut cfg = SweepConfig {
        budgets: Vec::new(), // the full model alone first: its time sizes the rest
        methods: calibration_methods(),
        repeats: 1,
        seed: req.seed,
        threshold: 200,
        search: SearchOptions::default(),
        train,
    };
    let source = req.data.source(req.seed, req.model.threads);
    let settings = embplan::sweep::settings(&schema, &source.settings(), &cfg)?;
    let mut results = load_or_start(
        req.results,
        schema.display_name(),
        &source.describe(),
        settings,
    )?;
    let data = source
        .load(&full, Some(&schema))
        .context("cannot load the calibration sweep's data")?;
    let bar = crate::cli::report::progress_bar("run {pos}/{len} [{bar:30}] {msg} ({eta})");
    let full_started = Instant::now();
    sweep(&schema, &data, &cfg, &mut results, req.results, |e| {
        report_event(&bar, &e);
    })?;
    let per_run = run_seconds(&results, full_started.elapsed(), &data, cfg.train.epochs);
    let compressions = if req.compressions.is_empty() {
        let left = req.time.saturating_sub(started.elapsed()).as_secs_f64();
        affordable_compressions(cfg.methods.len(), per_run, left)?
    } else {
        req.compressions.to_vec()
    };
    crate::cli::say!(
        "calibration sweep: {} pairs at {} (about {per_run:.1} s a run)",
        cfg.methods.len(),
        compressions
            .iter()
            .map(|c| format!("{c}×"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let full_bytes = full.costs()?.total.bytes;
    cfg.budgets = budgets_from_compressions(full_bytes, &compressions)?;
    sweep(&schema, &data, &cfg, &mut results, req.results, |e| {
        report_event(&bar, &e);
    })?;
    bar.finish_and_clear();
    crate::cli::say!(
        "wrote {} ({} runs)",
        req.results.display(),
        results.runs.len()
    );
    Ok(results)
}

/// Seconds a run takes: the full model's time just now, or, when it was already in the
/// results file, its recorded throughput over this data and epoch count.
fn run_seconds(results: &Results, just_now: Duration, data: &Dataset, epochs: usize) -> f64 {
    let measured = just_now.as_secs_f64();
    if measured > 0.05 {
        return measured;
    }
    results
        .runs
        .iter()
        .find(|r| r.method == Method::Full)
        .filter(|r| r.examples_per_sec > 0.0)
        .map_or(measured, |r| {
            (data.train.len() * epochs) as f64 / r.examples_per_sec
        })
}
