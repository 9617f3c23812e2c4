//! `embplan train`: validate a plan by training a click model with it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use indicatif::ProgressBar;

use super::data_args::{DataArgs, ModelArgs};
use crate::cli::report::{align_right, metric4, new_table};
use embplan::plan::{InputKind, Plan};
use embplan::schema::Schema;
use embplan::size::{format_iec, group_thousands};
use embplan::train::{EpochReport, Observer, TrainReport};

/// Arguments of `embplan train`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
embplan train schemas/synthetic.toml --data synthetic --train-rows 100000\n  \
embplan train plan.toml --data ../shared/data/synthetic_train.tsv --valid ../shared/data/synthetic_valid.tsv --no-header\n  \
embplan train criteo-plan.toml --data day_0.txt --data-format criteo --valid-frac 0.1 --json\n\nExit codes: 0 success, 2 bad input or error.")]
pub struct Args {
    /// The plan (.toml with `version`, or .json), or a schema (trained with full tables).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    /// Where the training and validation data come from.
    #[command(flatten)]
    pub data: DataArgs,

    /// Training hyper-parameters and architecture.
    #[command(flatten)]
    pub model: ModelArgs,

    /// Seed of data generation, initialisation and shuffling.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = super::values::whole::<u64>)]
    pub seed: u64,

    /// Print the full report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,

    /// Also write the JSON report to FILE (atomically: whole or not at all).
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "out",
        value_name = "FILE"
    )]
    pub output: Option<PathBuf>,
}

/// Runs `embplan train`.
pub fn run(args: &Args) -> Result<ExitCode> {
    if let Some(path) = &args.output {
        let mut inputs = vec![args.plan.as_path()];
        inputs.extend(args.data.input_files());
        embplan::output::check_output(path, &inputs, &["json"], "training report")?;
    }
    let (plan, kind) = Plan::load_plan_or_schema(&args.plan)?;
    super::warn_not_complementary(&plan)?;
    let mut notes = Vec::new();
    let cfg = args.model.config(&plan, args.seed, &mut notes)?;
    embplan::train::check_table_memory(&plan, cfg.model.optimizer)?;
    let schema = match kind {
        InputKind::Schema => Some(Schema::load(&args.plan)?),
        InputKind::Plan => None,
    };
    if let (Some(schema), Some(dir)) = (&schema, &args.data.vocab) {
        embplan::profile::vocab::check_schema(schema, dir)?;
    }
    let data = args
        .data
        .source(args.seed, args.model.threads)
        .load(&plan, schema.as_ref())?;
    for note in &notes {
        crate::cli::say!("note: {note}");
    }
    report_oov(&data.oov);
    let mut progress = Progress::new(!args.json);
    let report = embplan::train::train_observed(&plan, &data, &cfg, &mut progress)?;
    progress.bar.finish_and_clear();
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.output {
        embplan::output::write_atomic(path, format!("{json}\n").as_bytes())?;
        crate::cli::say!("wrote {}", path.display());
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{json}")?;
    } else {
        render(&mut out, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Notes, per feature and split, the values the vocabulary did not know.
pub fn report_oov(oov: &[embplan::train::raw::OovCount]) {
    for c in oov.iter().filter(|c| c.oov > 0) {
        crate::cli::say!(
            "note: {} {}: {} of {} values ({:.2}%) got the out-of-vocabulary id (folded by --min-count, or not in the vocabulary)",
            c.split,
            c.feature,
            c.oov,
            c.total,
            100.0 * c.oov as f64 / c.total.max(1) as f64
        );
    }
}

/// A progress bar on a terminal (hidden otherwise) and per-epoch lines on stderr.
struct Progress {
    bar: ProgressBar,
    lines: bool,
}

impl Progress {
    fn new(lines: bool) -> Progress {
        let bar =
            crate::cli::report::progress_bar("epoch {msg} [{bar:30}] {pos}/{len} steps ({eta})");
        Progress { bar, lines }
    }
}

impl Observer for Progress {
    fn step(&mut self, epoch: usize, done: usize, total: usize) {
        if done == 1 {
            self.bar.set_length(total as u64);
            self.bar.set_message(epoch.to_string());
        }
        if done.is_multiple_of(16) || done == total {
            self.bar.set_position(done as u64);
        }
    }

    fn epoch(&mut self, e: &EpochReport) {
        if self.lines {
            self.bar.suspend(|| {
                crate::cli::say!(
                    "epoch {}: train logloss {:.4}, valid logloss {:.4} auc {}, {} examples/s",
                    e.epoch,
                    e.train.logloss,
                    e.valid.logloss,
                    metric4(e.valid.auc),
                    group_thousands(e.examples_per_s.round() as u64)
                );
            });
        }
    }
}

fn render(out: &mut impl Write, r: &TrainReport) -> Result<()> {
    let mut table = new_table(&[
        "epoch",
        "train logloss",
        "train acc",
        "train AUC",
        "valid logloss",
        "valid acc",
        "valid AUC",
        "examples/s",
    ]);
    for e in &r.epochs {
        let mark = if e.epoch == r.best_epoch {
            " (best)"
        } else {
            ""
        };
        table.add_row(vec![
            format!("{}{mark}", e.epoch),
            format!("{:.4}", e.train.logloss),
            format!("{:.4}", e.train.accuracy),
            metric4(e.train.auc),
            format!("{:.4}", e.valid.logloss),
            format!("{:.4}", e.valid.accuracy),
            metric4(e.valid.auc),
            group_thousands(e.examples_per_s.round() as u64),
        ]);
    }
    align_right(&mut table, &[0, 1, 2, 3, 4, 5, 6, 7]);
    writeln!(out, "{table}")?;
    render_notes(out, r)
}

/// The lines under the epoch table: best epoch, data, baselines and allocated bytes.
fn render_notes(out: &mut impl Write, r: &TrainReport) -> Result<()> {
    let stop = if r.stopped_early {
        format!(
            "; stopped early after epoch {} (--patience {})",
            r.epochs.len(),
            r.config.patience.unwrap_or_default()
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "best epoch on validation: {} (valid logloss {:.4}){stop}",
        r.best_epoch,
        r.best().valid.logloss
    )?;
    writeln!(
        out,
        "data {}: {} training, {} validation examples; train metrics are progressive (each example scored before the step that learns it)",
        r.data,
        group_thousands(r.train_examples as u64),
        group_thousands(r.valid_examples as u64)
    )?;
    let b = &r.baselines;
    match &b.teacher_valid {
        Some(t) => writeln!(
            out,
            "baselines (valid logloss): constant predictor {:.4}, hidden teacher (best achievable) {:.4} (AUC {})",
            b.constant_valid_logloss,
            t.logloss,
            metric4(t.auc)
        )?,
        None => writeln!(
            out,
            "baseline (valid logloss): constant predictor {:.4}",
            b.constant_valid_logloss
        )?,
    }
    let a = &r.allocated;
    writeln!(
        out,
        "embeddings allocated (f32, {}): weights {}, optimizer state {}, total {} ({} bytes) — {} the plan's estimate",
        r.config.model.optimizer.name(),
        format_iec(a.weight_bytes),
        format_iec(a.optimizer_bytes),
        format_iec(a.bytes),
        group_thousands(a.bytes),
        if a.matches_estimate {
            "equal to"
        } else {
            "DIFFERENT from"
        }
    )?;
    Ok(())
}
