//! `embplan sweep`: plan and train methods across budgets, recording memory against loss.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;

use super::data_args::{DataArgs, ModelArgs};
use crate::cli::report::{align_right, metric4, new_table};
use embplan::plan::quality::QualityModel;
use embplan::plan::{Plan, SearchOptions, SearchSpace};
use embplan::results::Results;
use embplan::schema::Schema;
use embplan::size::{format_iec, group_thousands};
use embplan::sweep::{Event, Method, SweepConfig, budgets_from_compressions, sweep};

/// Arguments of `embplan sweep`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
embplan sweep schemas/synthetic.toml --data synthetic --compressions 2,4,8,16 --epochs 1 -o results.json --plot memory_vs_loss.png\n  \
embplan sweep schemas/synthetic.toml --data synthetic --budgets 1MiB,4MiB --repeats 3 -o results.json\n\
Runs already in the results file are skipped, so rerunning an interrupted sweep resumes it.\n\nExit codes: 0 success, 2 bad input or error.")]
pub struct Args {
    /// The schema to plan and train (ids of synthetic data follow its features).
    #[arg(value_name = "SCHEMA")]
    pub schema: PathBuf,

    /// Where the data come from.
    #[command(flatten)]
    pub data: DataArgs,

    /// Training hyper-parameters and architecture.
    #[command(flatten)]
    pub model: ModelArgs,

    /// Budgets (weights + optimizer state), comma-separated, e.g. 64MiB,128MiB.
    #[arg(
        long,
        value_name = "SIZE,…",
        value_delimiter = ',',
        required_unless_present = "compressions",
        conflicts_with = "compressions",
        value_parser = super::values::byte_size
    )]
    pub budgets: Vec<u64>,

    /// Budgets as compression ratios of the full model, e.g. 2,4,8,16.
    #[arg(long, value_name = "RATIO,…", value_delimiter = ',', value_parser = super::values::number)]
    pub compressions: Vec<f64>,

    /// Methods to run at every budget: searched, searched-no-hot (no hot rows: the planner
    /// blind to frequencies), qr-mult, hash, or only-FAMILY-COMBINER (the planner restricted
    /// to one pair, e.g. only-crt-add); the full model always runs.
    #[arg(
        long,
        value_name = "METHOD,…",
        value_delimiter = ',',
        default_value = "searched,qr-mult,hash",
        value_parser = |s: &str| Method::parse_compared(s).map_err(|e| e.to_string())
    )]
    pub methods: Vec<Method>,

    /// Runs per (method, budget), with seeds SEED, SEED+1, … for initialisation and shuffling.
    #[arg(long, default_value = "1", value_name = "N", value_parser = super::values::count_u64)]
    pub repeats: std::num::NonZeroU64,

    /// The first seed; the data are generated with it too.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = super::values::whole::<u64>)]
    pub seed: u64,

    /// Uniform baselines keep features with cardinality ≤ THRESHOLD full (DLRM's --qr-threshold).
    #[arg(long, default_value_t = 200, value_name = "N", value_parser = super::values::whole::<u64>)]
    pub threshold: u64,

    /// Quality-model coefficients for the searched plans (from `embplan calibrate`); only
    /// the (family, combiner) pairs it measured are chosen.
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,

    /// Results file (JSON), rewritten atomically after every run; existing runs are kept.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Print the summary as JSON instead of tables.
    #[arg(long)]
    pub json: bool,

    /// Also draw memory against loss to this .png or .svg at the end.
    #[arg(long, value_name = "IMAGE")]
    pub plot: Option<PathBuf>,
}

/// Runs `embplan sweep`.
pub fn run(args: &Args) -> Result<ExitCode> {
    let mut inputs = vec![args.schema.as_path()];
    inputs.extend(args.calibration.as_deref());
    inputs.extend(args.data.input_files());
    embplan::output::check_output(&args.output, &inputs, &["json"], "results")?;
    if let Some(plot) = &args.plot {
        inputs.push(&args.output);
        embplan::output::check_output(plot, &inputs, &["png", "svg"], "plot")?;
    }
    let (schema, full, train) = sweep_inputs(&args.schema, &args.data, &args.model, args.seed)?;
    let full_bytes = full.costs()?.total.bytes;
    let budgets = if args.compressions.is_empty() {
        args.budgets.clone()
    } else {
        budgets_from_compressions(full_bytes, &args.compressions)?
    };
    let methods = args.methods.clone();
    let model = match &args.calibration {
        Some(path) => QualityModel::load(path)?,
        None => QualityModel::default(),
    };
    let cfg = SweepConfig {
        budgets,
        methods,
        repeats: args.repeats.get(),
        seed: args.seed,
        threshold: args.threshold,
        search: SearchOptions {
            // As in `plan`: a calibration's unmeasured pairs are not chosen.
            space: SearchSpace {
                only_measured: args.calibration.is_some(),
                ..SearchSpace::default()
            },
            model,
        },
        train,
    };
    let source = args.data.source(args.seed, args.model.threads);
    let data_name = source.describe();
    let settings = embplan::sweep::settings(&schema, &source.settings(), &cfg)?;
    let mut results = load_or_start(&args.output, schema.display_name(), &data_name, settings)?;
    let data = source
        .load(&full, Some(&schema))
        .context("cannot load the sweep's data")?;
    let bar = crate::cli::report::progress_bar("run {pos}/{len} [{bar:30}] {msg} ({eta})");
    sweep(&schema, &data, &cfg, &mut results, &args.output, |event| {
        report_event(&bar, &event);
    })?;
    bar.finish_and_clear();
    if let Some(path) = &args.plot {
        embplan::plot::plot_results(&results, path)?;
    }
    print_results(args, &results)?;
    crate::cli::say!(
        "wrote {} ({} runs)",
        args.output.display(),
        results.runs.len()
    );
    if let Some(path) = &args.plot {
        crate::cli::say!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The schema (its vocabulary checked), its full-table plan and the training settings of a
/// sweep, whose largest run (the full model) must fit in memory.
pub(crate) fn sweep_inputs(
    schema: &std::path::Path,
    data: &DataArgs,
    model: &ModelArgs,
    seed: u64,
) -> Result<(Schema, Plan, embplan::train::TrainConfig)> {
    let schema = Schema::load(schema)?;
    if let Some(dir) = &data.vocab {
        embplan::profile::vocab::check_schema(&schema, dir)?;
    }
    let full = Plan::full_from_schema(&schema)?;
    let mut notes = Vec::new();
    let train = model.config(&full, seed, &mut notes)?;
    embplan::train::check_table_memory(&full, train.model.optimizer)?;
    for note in &notes {
        crate::cli::say!("note: {note}");
    }
    Ok((schema, full, train))
}

/// The summary table and headline (or their `--json` form) on stdout.
fn print_results(args: &Args, results: &Results) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::json!({
            "results": args.output.display().to_string(),
            "runs": results.runs.len(),
            "summary": summary_rows(results),
            "headline": headline(results),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
    } else {
        writeln!(out, "{}", summary_table(results))?;
        writeln!(out, "{}", headline(results))?;
    }
    Ok(())
}

/// The existing results (to resume), or a new set; refuses to mix schemas or data.
pub(crate) fn load_or_start(
    path: &std::path::Path,
    schema: &str,
    data: &str,
    settings: BTreeMap<String, String>,
) -> Result<Results> {
    if !path.exists() {
        let mut fresh = Results::new(schema, data);
        fresh.settings = settings;
        return Ok(fresh);
    }
    let existing = Results::load(path)?;
    if existing.schema != schema || existing.data != data {
        bail!(
            "'{}' holds runs of schema '{}' on {}, not of '{schema}' on {data}; choose another -o file",
            path.display(),
            existing.schema,
            existing.data
        );
    }
    if existing.settings.is_empty() && !existing.runs.is_empty() {
        bail!(
            "'{}' was written without its sweep settings (by an earlier embplan), so its runs cannot be matched to these; choose another -o file",
            path.display()
        );
    }
    // An empty file (no runs) takes on these settings.
    let differences = existing.settings_differences(&settings);
    if existing.runs.is_empty() {
        let mut fresh = existing;
        fresh.settings = settings;
        return Ok(fresh);
    }
    if !differences.is_empty() {
        bail!(
            "'{}' holds runs made under other settings, so they cannot be resumed or mixed with these: {}; rerun with the same settings or choose another -o file",
            path.display(),
            differences.join("; ")
        );
    }
    Ok(existing)
}

pub(crate) fn report_event(bar: &ProgressBar, event: &Event) {
    match event {
        Event::Start {
            index,
            total,
            method,
            budget,
            seed,
        } => {
            bar.set_length(*total as u64);
            bar.set_position(*index as u64);
            let budget = budget.map_or_else(|| "reference".to_string(), format_iec);
            bar.set_message(format!("{method} @ {budget}, seed {seed}"));
        }
        Event::Skipped => {}
        Event::Infeasible { method, budget } => bar.suspend(|| {
            crate::cli::say!(
                "note: no {method} plan fits {} (skipped)",
                format_iec(*budget)
            );
        }),
        Event::Finished(run) => bar.suspend(|| {
            crate::cli::say!(
                "{:>9} {:>11} seed {}: valid logloss {:.5}, AUC {}, {} ex/s",
                run.method,
                format_iec(run.bytes),
                run.seed,
                run.valid_logloss,
                metric4(run.valid_auc),
                group_thousands(run.examples_per_sec as u64)
            );
        }),
    }
}

/// Mean, min and max of a list.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, min, max)
}

/// Runs grouped by (budget, method), in budget order.
fn grouped(results: &Results) -> BTreeMap<(u64, String), Vec<&embplan::results::Run>> {
    let mut groups: BTreeMap<(u64, String), Vec<&embplan::results::Run>> = BTreeMap::new();
    for r in &results.runs {
        groups
            .entry((r.budget_bytes.unwrap_or(u64::MAX), r.method.to_string()))
            .or_default()
            .push(r);
    }
    groups
}

/// One (budget, method) point of a sweep, averaged over its repeats (`--json`).
#[derive(Debug, serde::Serialize)]
struct SummaryRow {
    /// None for the full reference model.
    budget_bytes: Option<u64>,
    method: String,
    bytes: u64,
    params: u64,
    valid_logloss_mean: f64,
    valid_logloss_min: f64,
    valid_logloss_max: f64,
    /// Mean loss minus the full model's mean loss.
    delta_vs_full: Option<f64>,
    /// Mean AUC over the runs that have one.
    valid_auc_mean: Option<f64>,
    examples_per_sec_mean: f64,
    runs: usize,
}

fn summary_rows(results: &Results) -> Vec<SummaryRow> {
    let full_loss = full_mean(results);
    grouped(results)
        .into_iter()
        .map(|((budget, method), runs)| {
            let losses: Vec<f64> = runs.iter().map(|r| r.valid_logloss).collect();
            let (mean, min, max) = spread(&losses);
            let aucs: Vec<f64> = runs.iter().filter_map(|r| r.valid_auc).collect();
            let eps: Vec<f64> = runs.iter().map(|r| r.examples_per_sec).collect();
            SummaryRow {
                budget_bytes: (budget != u64::MAX).then_some(budget),
                method,
                bytes: runs[0].bytes,
                params: runs[0].params,
                valid_logloss_mean: mean,
                valid_logloss_min: min,
                valid_logloss_max: max,
                delta_vs_full: full_loss.map(|f| mean - f),
                valid_auc_mean: (!aucs.is_empty()).then(|| spread(&aucs).0),
                examples_per_sec_mean: spread(&eps).0,
                runs: runs.len(),
            }
        })
        .collect()
}

/// One row per (budget, method): bytes, params and measured metrics (mean over repeats).
pub fn summary_table(results: &Results) -> comfy_table::Table {
    let mut table = new_table(&[
        "budget",
        "method",
        "bytes",
        "params",
        "valid logloss",
        "Δ vs full",
        "valid AUC",
        "examples/s",
        "runs",
    ]);
    for row in summary_rows(results) {
        let loss = if row.runs > 1 {
            format!(
                "{:.5} [{:.5}, {:.5}]",
                row.valid_logloss_mean, row.valid_logloss_min, row.valid_logloss_max
            )
        } else {
            format!("{:.5}", row.valid_logloss_mean)
        };
        table.add_row(vec![
            row.budget_bytes.map_or_else(|| "—".to_string(), format_iec),
            row.method,
            format_iec(row.bytes),
            group_thousands(row.params),
            loss,
            row.delta_vs_full
                .map_or_else(|| "—".into(), |d| format!("{d:+.5}")),
            metric4(row.valid_auc_mean),
            group_thousands(row.examples_per_sec_mean as u64),
            row.runs.to_string(),
        ]);
    }
    align_right(&mut table, &[0, 2, 3, 4, 5, 6, 7, 8]);
    table
}

fn full_mean(results: &Results) -> Option<f64> {
    let full: Vec<f64> = results
        .runs
        .iter()
        .filter(|r| r.method == Method::Full)
        .map(|r| r.valid_logloss)
        .collect();
    (!full.is_empty()).then(|| spread(&full).0)
}

/// One line per budget naming the best method and each method's loss increase over full.
pub fn headline(results: &Results) -> String {
    let Some(full) = full_mean(results) else {
        return "no full-model run: nothing to compare against".to_string();
    };
    let mut by_budget: BTreeMap<u64, Vec<(String, f64)>> = BTreeMap::new();
    for ((budget, method), runs) in grouped(results) {
        if budget == u64::MAX {
            continue;
        }
        let mean = spread(&runs.iter().map(|r| r.valid_logloss).collect::<Vec<_>>()).0;
        by_budget
            .entry(budget)
            .or_default()
            .push((method, mean - full));
    }
    let mut lines = vec![format!("full model: valid logloss {full:.5}")];
    for (budget, mut methods) in by_budget {
        methods.sort_by(|a, b| a.1.total_cmp(&b.1));
        let parts: Vec<String> = methods
            .iter()
            .map(|(m, d)| format!("{m} {d:+.5}"))
            .collect();
        lines.push(format!(
            "at {}: best {} — loss vs full: {}",
            format_iec(budget),
            methods[0].0,
            parts.join(", ")
        ));
    }
    lines.join("\n")
}
