//! `embplan calibrate`: fit the planner's quality model to a sweep's measured losses.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::report::{align_right, new_table};
use embplan::calibrate::{Calibration, calibrate};
use embplan::results::Results;
use embplan::size::format_iec;

/// Arguments of `embplan calibrate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  embplan calibrate results.json -o calibration.toml\n  embplan plan --budget 64MiB schemas/synthetic.toml --calibration calibration.toml\n\nExit codes: 0 success, 2 bad input or error."
)]
pub struct Args {
    /// A sweep's results file (from `embplan sweep`).
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,

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
        embplan::output::check_output(path, &[&args.results], &["toml"], "calibration")?;
    }
    let results = Results::load(&args.results)?;
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
