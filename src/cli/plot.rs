//! `embplan plot`: draw a sweep's memory-versus-loss plot, a plan's planned-against-full bytes
//! per feature, or a profiled schema's coverage curves (with a plan's hot rows marked).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use embplan::plan::Plan;
use embplan::results::Results;
use embplan::schema::Schema;

/// Arguments of `embplan plot`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  embplan plot results.json -o memory_vs_loss.png\n  embplan plot results.json -o memory_vs_loss.svg\n  embplan plot plan.toml -o plan_bytes.png\n  embplan plot profiled.toml -o coverage.png\n  embplan plot plan.toml --profile profiled.toml -o coverage.png\n\nExit codes: 0 success, 2 bad input or error."
)]
pub struct Args {
    /// A sweep's results (.json with `runs`), a plan file (.toml or .json), or a profiled
    /// schema (.toml, as `embplan profile -o` writes it).
    #[arg(value_name = "FILE")]
    pub input: PathBuf,

    /// With a plan: draw this profiled schema's coverage curves instead, marking the plan's
    /// hot-row counts on them.
    #[arg(long, value_name = "SCHEMA")]
    pub profile: Option<PathBuf>,

    /// Output image: .png or .svg (written atomically).
    #[arg(short, long, value_name = "IMAGE")]
    pub output: PathBuf,
}

/// Runs `embplan plot`.
pub fn run(args: &Args) -> Result<ExitCode> {
    let mut inputs = vec![args.input.as_path()];
    inputs.extend(args.profile.as_deref());
    embplan::output::check_output(&args.output, &inputs, &["png", "svg"], "plot")?;
    if is_results_file(&args.input)? {
        if args.profile.is_some() {
            bail!("--profile goes with a plan file, not with sweep results");
        }
        let results = Results::load(&args.input)?;
        embplan::plot::plot_results(&results, &args.output)?;
    } else if is_schema_file(&args.input)? {
        if args.profile.is_some() {
            bail!(
                "--profile goes with a plan file; '{}' is a schema (plot it alone for its coverage curves)",
                args.input.display()
            );
        }
        let schema = Schema::load(&args.input)?;
        embplan::plot::plot_profile(&schema, None, &args.output)?;
    } else {
        let plan = Plan::load(&args.input)?;
        match &args.profile {
            Some(path) => {
                let schema = Schema::load(path)?;
                embplan::plot::plot_profile(&schema, Some(&plan), &args.output)?;
            }
            None => embplan::plot::plot_plan(&plan, &args.output)?,
        }
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

/// A schema is a TOML file without the plan's `version` key.
fn is_schema_file(path: &Path) -> Result<bool> {
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if !is_toml {
        return Ok(false);
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read '{}'", path.display()))?;
    Ok(toml::from_str::<toml::Table>(&text).is_ok_and(|t| !t.contains_key("version")))
}
