//! `embplan calibrate`: fit the planner's quality model to a sweep's measured losses.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};

use super::calibrate_sweep::SweepRequest;
use super::data_args::{DataArgs, ModelArgs};
use crate::cli::report::{align_right, new_table};
use embplan::calibrate::{Calibration, calibrate};
use embplan::results::Results;
use embplan::size::format_iec;

/// Arguments of `embplan calibrate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  embplan calibrate results.json -o calibration.toml\n  embplan calibrate sample-sweep.json --schema schema.toml --data sample.tsv --time 10m -o calibration.toml\n  embplan plan --budget 64MiB schemas/synthetic.toml --calibration calibration.toml\n\nWith --schema and --data, the sweep the fit needs runs first: the full model once (its time \
estimates every run's), then the planner restricted to each (family, combiner) pair it searches, at as many \
compressions (4, 16, 64, 2, 8, 32, in that order) as --time affords for all pairs, or at --compressions. \
Its runs go to RESULTS as `sweep` writes them, so an interrupted calibration resumes.\n\n\
Exit codes: 0 success, 2 bad input or error."
)]
pub struct Args {
    /// A sweep's results file (from `embplan sweep`); with --data, where the calibration
    /// sweep keeps its runs (created, or resumed).
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,

    /// Run the calibration sweep of this schema on --data first.
    #[arg(long, value_name = "SCHEMA", requires = "data")]
    pub schema: Option<PathBuf>,

    /// With --schema: the data to sweep on.
    #[command(flatten)]
    pub data: Option<DataArgs>,

    /// With --schema: training hyper-parameters and architecture.
    #[command(flatten)]
    pub model: ModelArgs,

    /// With --schema: wall time for the whole calibration sweep, e.g. 90s, 10m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = super::values::duration)]
    pub time: std::time::Duration,

    /// With --schema: compression ratios to measure instead of those --time affords.
    #[arg(long, value_name = "RATIO,…", value_delimiter = ',', value_parser = super::values::number)]
    pub compressions: Vec<f64>,

    /// With --schema: the seed of initialisation, shuffling and synthetic data.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = super::values::whole::<u64>)]
    pub seed: u64,

    /// Write the fitted coefficients here (TOML, read by `plan --calibration`; atomic).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print the fit as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs `embplan calibrate`.
pub fn run(args: &Args) -> Result<ExitCode> {
    if let Some(path) = &args.output {
        let mut inputs = vec![args.results.as_path()];
        inputs.extend(args.schema.as_deref());
        inputs.extend(args.data.iter().flat_map(DataArgs::input_files));
        embplan::output::check_output(path, &inputs, &["toml"], "calibration")?;
    }
    if let (Some(_), Some(data)) = (&args.schema, &args.data) {
        let mut inputs = vec![args.schema.as_deref().expect("matched")];
        inputs.extend(data.input_files());
        embplan::output::check_output(&args.results, &inputs, &["json"], "results")?;
    }
    let results = match (&args.schema, &args.data) {
        (Some(schema), Some(data)) => super::calibrate_sweep::run(&SweepRequest {
            schema,
            data,
            model: &args.model,
            time: args.time,
            compressions: &args.compressions,
            seed: args.seed,
            results: &args.results,
        })?,
        (None, Some(_)) => bail!("--data runs a calibration sweep: give the schema with --schema"),
        _ => Results::load(&args.results)?,
    };
    let cal = calibrate(&results)?;
    if let Some(path) = &args.output {
        embplan::output::write_atomic(path, cal.to_toml()?.as_bytes())?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&cal)?)?;
    } else {
        render(&mut out, &cal)?;
    }
    if let Some(path) = &args.output {
        crate::cli::say!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn render(out: &mut impl Write, cal: &Calibration) -> Result<()> {
    let mut pairs = new_table(&[
        "family",
        "combiner",
        "runs",
        "alpha (fitted)",
        "alpha (provisional)",
    ]);
    for p in &cal.pairs {
        pairs.add_row(vec![
            p.family.to_string(),
            p.combiner.map_or_else(|| "—".into(), |c| c.to_string()),
            p.runs.to_string(),
            format!("{:.3e}", p.alpha),
            format!("{:.3e}", p.default_alpha),
        ]);
    }
    align_right(&mut pairs, &[2, 3, 4]);
    writeln!(out, "{pairs}")?;
    let mut residuals = new_table(&[
        "method",
        "budget",
        "seed",
        "Δloss measured",
        "Δloss fitted",
        "residual",
    ]);
    for r in &cal.residuals {
        residuals.add_row(vec![
            r.method.to_string(),
            r.budget_bytes.map_or_else(|| "—".into(), format_iec),
            r.seed.to_string(),
            format!("{:+.5}", r.measured),
            format!("{:+.5}", r.fitted),
            format!("{:+.5}", r.measured - r.fitted),
        ]);
    }
    align_right(&mut residuals, &[1, 2, 3, 4, 5]);
    writeln!(out, "{residuals}")?;
    writeln!(
        out,
        "fit: Δloss = Σ weight × share × alpha(family, combiner) × ln(compression) (hot schemes: the tail's share of rows and compression); RMSE {:.5}, R² {:.3}; {}",
        cal.rmse, cal.r_squared, cal.source
    )?;
    Ok(())
}
