//! `embplan export`: a plan as a plan file, a PyTorch module, TorchRec configs or DLRM flags.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use embplan::export::{Format, export};
use embplan::plan::Plan;

/// Arguments of `embplan export`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Formats:\n  json, toml  the plan file itself, normalised\n  pytorch     a self-contained nn.Module (tables, index maps, combiners, init)\n  torchrec    EmbeddingBagConfigs per sub-table plus id remapping and combiner modules\n  dlrm        dlrm_s_pytorch.py flags, when the plan is expressible in them\n\nExamples:\n  embplan export plan.toml --format pytorch -o plan_embedding.py\n  embplan export plan.toml --format torchrec -o tables.py\n  python dlrm_s_pytorch.py $(embplan export plan.toml --format dlrm) ...\n\nExit codes: 0 success, 2 bad input or error."
)]
pub struct Args {
    /// The plan file (.toml or .json).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    /// Output format: json, toml, pytorch, torchrec or dlrm.
    #[arg(
        long,
        short = 'f',
        value_name = "FORMAT",
        value_enum,
        ignore_case = true
    )]
    pub format: Format,

    /// Write to FILE (atomically: all or nothing) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `embplan export`.
pub fn run(args: &Args) -> Result<ExitCode> {
    if let Some(path) = &args.output {
        let what = format!("{} export", args.format);
        embplan::output::check_output(path, &[&args.plan], args.format.extensions(), &what)?;
    }
    let plan = Plan::load(&args.plan)?;
    super::warn_not_complementary(&plan)?;
    let exported = export(&plan, args.format)?;
    let mut stderr = std::io::stderr().lock();
    for warning in &exported.warnings {
        writeln!(stderr, "warning: {warning}")?;
    }
    match &args.output {
        Some(path) => {
            embplan::output::write_atomic(path, exported.text.as_bytes())?;
            crate::cli::say!("wrote {}", path.display());
        }
        None => std::io::stdout()
            .lock()
            .write_all(exported.text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
