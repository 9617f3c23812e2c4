//! Command-line definitions (clap) and one handler per subcommand.
//!
//! Each subcommand lives in its own file with an `Args` struct and a `run` function that
//! validates the raw arguments, calls the library and prints. Nothing here is used by the
//! library's core modules.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub mod calibrate;
pub mod calibrate_sweep;
pub mod data_args;
pub mod estimate;
pub mod export;
pub mod placement_report;
pub mod plan;
pub mod plan_summary;
pub mod plot;
pub mod profile;
pub mod report;
pub mod sweep;
pub mod synth;
pub mod train;
pub mod values;
pub mod verify;

/// Exit code for a successful run (and for "complementary").
pub const EXIT_OK: u8 = 0;
/// Exit code for a negative verdict (e.g. "not complementary").
pub const EXIT_VERDICT_NO: u8 = 1;
/// Exit code for bad input or any other error.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Plan memory-efficient embedding tables from complementary partitions.
#[derive(Debug, Parser)]
#[command(
    name = "embplan",
    version,
    about = "Plan memory-efficient embedding tables for recommendation models",
    long_about = "embplan replaces n×D embedding tables by small tables over complementary \
partitions of the category set (Shi et al., KDD 2020): it plans schemes per feature to fit a \
memory budget, proves them complementary, counts bytes exactly, exports table configs and \
validates plans by training.",
    after_help = "Exit codes: 0 success, 1 negative verdict (verify: not complementary), 2 bad input or error."
)]
pub struct Cli {
    /// No notes, progress or "wrote FILE" lines on standard error (errors and warnings stay).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line, exiting with clap's message on bad arguments.
    ///
    /// `calibrate` shares `--data` and its companions with `train` and `sweep`, where
    /// `--data` is required; in `calibrate` it is optional (without it, the command fits a
    /// results file it is given).
    pub fn parse_args() -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let command = Cli::command()
            .mut_subcommand("calibrate", |c| c.mut_arg("data", |a| a.required(false)));
        let matches = command.get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// The subcommands, in workflow order.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a synthetic data set (Zipf ids, teacher labels) in any input format.
    Synth(synth::Args),
    /// Measure raw training data: cardinalities, frequencies, vocabularies → a schema.
    Profile(profile::Args),
    /// Choose a scheme and combiner per feature to fit a memory budget (or build a baseline).
    Plan(plan::Args),
    /// Prove partitions complementary, or print a counterexample pair.
    Verify(verify::Args),
    /// Count parameters and bytes exactly for a schema (full tables) or a plan.
    Estimate(estimate::Args),
    /// Export a plan: json, toml, a PyTorch module, TorchRec configs or DLRM flags.
    Export(export::Args),
    /// Train a click model with a plan's tables, on synthetic or real data.
    Train(train::Args),
    /// Plan and train methods across budgets: memory against measured loss.
    Sweep(sweep::Args),
    /// Fit the planner's quality model to a sweep's measured losses.
    Calibrate(calibrate::Args),
    /// Draw memory against measured loss (a sweep's results) or a plan's per-feature bytes.
    Plot(plot::Args),
}

/// Set once from `--quiet` before any command runs.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Prints an informational line on standard error unless `--quiet`.
macro_rules! say {
    ($($arg:tt)*) => {
        if !$crate::cli::quiet() {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use say;

/// Warns on stderr when some of `plan`'s features are not complementary, and returns their
/// names (for `--json`): a plan made with the hashing trick must not pass without a word.
pub fn warn_not_complementary(plan: &embplan::plan::Plan) -> Result<Vec<String>> {
    let names = plan.not_complementary()?;
    if !names.is_empty() {
        eprintln!(
            "warning: not complementary (colliding ids share every row, so they get the same vector): {}",
            names.join(", ")
        );
    }
    Ok(names)
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    match cli.command {
        Command::Synth(args) => synth::run(&args),
        Command::Profile(args) => profile::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Estimate(args) => estimate::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Train(args) => train::run(&args),
    }
}
