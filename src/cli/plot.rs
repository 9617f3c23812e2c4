//! `embplan plot`: draw a sweep's memory-versus-loss plot, or a plan's per-feature bytes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use embplan::plan::Plan;
use embplan::results::Results;

/// Arguments of `embplan plot`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  embplan plot results.json -o memory_vs_loss.png\n  embplan plot results.json -o memory_vs_loss.svg\n  embplan plot plan.toml -o plan_bytes.png\n\nExit codes: 0 success, 2 bad input or error."
)]
pub struct Args {
    /// A sweep's results (.json with `runs`), or a plan file (.toml or .json).
    #[arg(value_name = "FILE")]
    pub input: PathBuf,

    /// Output image: .png or .svg (written atomically).
    #[arg(short, long, value_name = "IMAGE")]
    pub output: PathBuf,
}

/// Runs `embplan plot`.
pub fn run(args: &Args) -> Result<ExitCode> {
    embplan::output::check_output(&args.output, &[&args.input], &["png", "svg"], "plot")?;
    if is_results_file(&args.input)? {
        let results = Results::load(&args.input)?;
        embplan::plot::plot_results(&results, &args.output)?;
    } else {
        let plan = Plan::load(&args.input)?;
        embplan::plot::plot_plan(&plan, &args.output)?;
    }
    crate::cli::say!("wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}

/// A results file is JSON with a top-level `runs` array.
fn is_results_file(path: &Path) -> Result<bool> {
    if path.extension().and_then(|e| e.to_str()) != Some("json") {
        return Ok(false);
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read '{}'", path.display()))?;
    Ok(serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.get("runs").is_some()))
}
