//! `embplan export`: a plan as a plan file, a PyTorch module, TorchRec configs or DLRM flags.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use embplan::export::{Format, export, torchrec_package};
use embplan::plan::Plan;

/// Arguments of `embplan export`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Formats:\n  json, toml  the plan file itself, normalised\n  pytorch     a self-contained nn.Module (tables, index maps, combiners, init)\n  torchrec    EmbeddingBagConfigs per sub-table, id remapping, the combined module and the\n              plan's optimizer; -o DIR writes a package with DIR/train.py for torchrun\n  dlrm        dlrm_s_pytorch.py flags, when the plan is expressible in them\n\nExamples:\n  embplan export plan.toml --format pytorch -o plan_embedding.py\n  embplan export plan.toml --format torchrec -o tables.py\n  embplan export plan.toml --format torchrec -o pkg && torchrun --nproc_per_node 2 pkg/train.py --steps 100\n  python dlrm_s_pytorch.py $(embplan export plan.toml --format dlrm) ...\n\nExit codes: 0 success, 2 bad input or error."
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

    /// Write to FILE (atomically: all or nothing) instead of standard output; with torchrec,
    /// a path not ending in .py is a package directory (tables module, train.py, __init__.py).
    #[arg(long, short = 'o', value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
}

/// Runs `embplan export`.
pub fn run(args: &Args) -> Result<ExitCode> {
    if let Some(dir) = package_dir(args) {
        return write_package(args, dir);
    }
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

/// The package directory of `--format torchrec -o DIR` (any output not ending in `.py`).
fn package_dir(args: &Args) -> Option<&Path> {
    let path = args.output.as_deref()?;
    let module = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("py"));
    (args.format == Format::Torchrec && !module).then_some(path)
}

/// Writes the TorchRec package (tables module, train.py, __init__.py) into `dir`, creating it
/// when its parent exists; each file is written atomically after all are generated.
fn write_package(args: &Args, dir: &Path) -> Result<ExitCode> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "torchrec package directory '{}' is a file: give a directory (or a .py path for the tables module alone)",
            dir.display()
        );
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent
        && !parent.is_dir()
    {
        bail!(
            "cannot write torchrec package '{}': directory '{}' does not exist",
            dir.display(),
            parent.display()
        );
    }
    let plan = Plan::load(&args.plan)?;
    super::warn_not_complementary(&plan)?;
    let package = torchrec_package(&plan)?;
    let mut stderr = std::io::stderr().lock();
    for warning in &package.warnings {
        writeln!(stderr, "warning: {warning}")?;
    }
    if dir.is_dir() {
        for (name, _) in &package.files {
            embplan::output::check_output(&dir.join(name), &[&args.plan], &[], "package file")?;
        }
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory '{}'", dir.display()))?;
    for (name, text) in &package.files {
        embplan::output::write_atomic(&dir.join(name), text.as_bytes())?;
    }
    let names: Vec<&str> = package.files.iter().map(|(n, _)| *n).collect();
    crate::cli::say!("wrote {} ({})", dir.display(), names.join(", "));
    Ok(ExitCode::SUCCESS)
}
