//! `embplan train`: validate a plan by training a click model with it.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::init::InitMode;
use crate::plan::{InputKind, Plan};
use crate::report::{align_right, new_table};
use crate::schema::{Dtype, Schema};
use crate::size::{format_iec, group_thousands};
use crate::train::data::{self, FileSource, Format};
use crate::train::synthetic::{self, SyntheticConfig};
use crate::train::{
    Dataset, EpochReport, Interaction, ModelConfig, Observer, TrainConfig, TrainOptimizer,
    TrainReport, feature_specs,
};

/// Arguments of `embplan train`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
embplan train schemas/synthetic.toml --data synthetic --train-rows 100000\n  \
embplan train plan.toml --data ../shared/data/synthetic_train.tsv --valid ../shared/data/synthetic_valid.tsv --no-header\n  \
embplan train criteo-plan.toml --data day_0.txt --format criteo --valid-frac 0.1 --json")]
pub struct Args {
    /// The plan (.toml with `version`, or .json), or a schema (trained with full tables).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    /// `synthetic` (generated from a hidden teacher), or a TSV/CSV/Criteo file of training data.
    #[arg(long, value_name = "synthetic|FILE")]
    pub data: String,

    /// Validation file in the same format as --data.
    #[arg(long, value_name = "FILE", conflicts_with = "valid_frac")]
    pub valid: Option<PathBuf>,

    /// Without --valid: the share of --data's last lines held out for validation [default: 0.1].
    #[arg(long, value_name = "FRACTION")]
    pub valid_frac: Option<f64>,

    /// File format: tsv (tab-separated), csv (comma-separated), criteo; by default csv for
    /// names ending in .csv, else tsv.
    #[arg(long, value_name = "FORMAT", value_parser = ["tsv", "csv", "criteo"])]
    pub format: Option<String>,

    /// TSV/CSV without a header: each line is the label then one id per feature in plan order.
    #[arg(long)]
    pub no_header: bool,

    /// Skip header columns that are neither `label` nor a feature of the plan (else an error).
    #[arg(long)]
    pub ignore_extra_columns: bool,

    /// Passes over the training data.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub epochs: usize,

    /// Examples per step.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub batch: usize,

    /// Learning rate of embeddings and MLPs, e.g. 0.05.
    #[arg(long, default_value_t = 0.05, value_name = "RATE")]
    pub lr: f32,

    /// sgd, adagrad or rowwise-adagrad; by default the plan's optimizer if it is one of
    /// these, else adagrad.
    #[arg(long, value_name = "OPT", value_parser = parse_train_optimizer)]
    pub optimizer: Option<TrainOptimizer>,

    /// Worker threads (results are identical for any count); default: all cores.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Seed of data generation, initialisation and shuffling.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed: u64,

    /// Embedding init: standard (composed vector scaled like U(±sqrt(1/n))) or dlrm
    /// (DLRM's U(sqrt(1/n), 1) for every table of a multi-table feature).
    #[arg(long, default_value = "standard", value_name = "MODE", value_parser = ["standard", "dlrm"])]
    pub init: String,

    /// dot (pairwise dot products, DLRM) or cat (concatenated vectors).
    #[arg(long, default_value = "dot", value_name = "KIND", value_parser = ["dot", "cat"])]
    pub interaction: String,

    /// Hidden widths of the top MLP, comma-separated (the output 1 is added).
    #[arg(long, default_value = "64,32", value_name = "W,W,…")]
    pub top_mlp: String,

    /// Hidden widths of the bottom MLP for dense features (output: the embedding dim).
    #[arg(long, default_value = "64", value_name = "W,W,…")]
    pub bottom_mlp: String,

    /// Synthetic data: training examples.
    #[arg(long, default_value_t = 500_000, value_name = "N")]
    pub train_rows: usize,

    /// Synthetic data: validation examples.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub valid_rows: usize,

    /// Synthetic data: Zipf exponent of every feature's ids; default: the schema's, else 1.1.
    #[arg(long, value_name = "S")]
    pub zipf: Option<f64>,

    /// Print the full report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,

    /// Also write the JSON report to FILE (atomically: whole or not at all).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Parses a trainable optimizer name for clap.
pub fn parse_train_optimizer(s: &str) -> Result<TrainOptimizer, String> {
    let lower = s.trim().to_ascii_lowercase();
    TrainOptimizer::ALL
        .into_iter()
        .find(|o| o.name() == lower)
        .ok_or_else(|| {
            format!("unknown optimizer '{s}': the trainer implements sgd, adagrad, rowwise-adagrad")
        })
}

fn parse_widths(s: &str, flag: &str) -> Result<Vec<usize>> {
    s.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| match w.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("{flag}: expected positive layer widths separated by commas, found '{w}'"),
        })
        .collect()
}

/// Runs `embplan train`.
pub fn run(args: Args) -> Result<ExitCode> {
    let (plan, kind) = Plan::load_plan_or_schema(&args.plan)?;
    let mut notes = Vec::new();
    let optimizer = match args.optimizer {
        Some(o) => o,
        None => TrainOptimizer::from_counted(plan.optimizer).unwrap_or_else(|| {
            notes.push(format!(
                "the plan counts optimizer '{}', which the trainer does not implement: training with adagrad (see --optimizer)",
                plan.optimizer
            ));
            TrainOptimizer::Adagrad
        }),
    };
    if plan.dtype != Dtype::F32 {
        notes.push(format!(
            "the plan's dtype is {}: training in f32, and bytes are compared with the plan's count in f32",
            plan.dtype
        ));
    }
    let cfg = TrainConfig {
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        seed: args.seed,
        model: ModelConfig {
            interaction: if args.interaction == "cat" {
                Interaction::Cat
            } else {
                Interaction::Dot
            },
            top_mlp: parse_widths(&args.top_mlp, "--top-mlp")?,
            bottom_mlp: parse_widths(&args.bottom_mlp, "--bottom-mlp")?,
            init: if args.init == "dlrm" {
                InitMode::Dlrm
            } else {
                InitMode::Standard
            },
            optimizer,
        },
    };
    let data = load_data(&args, &plan, kind)?;
    let mut stderr = std::io::stderr().lock();
    for note in &notes {
        writeln!(stderr, "note: {note}")?;
    }
    drop(stderr);
    let mut progress = Progress::new(!args.json);
    let report = crate::train::train_observed(&plan, &data, &cfg, &mut progress)?;
    progress.bar.finish_and_clear();
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.out {
        crate::output::write_atomic(path, format!("{json}\n").as_bytes())?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{json}")?;
    } else {
        render(&mut out, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn load_data(args: &Args, plan: &Plan, kind: InputKind) -> Result<Dataset> {
    let specs = feature_specs(plan);
    if args.data == "synthetic" {
        if args.valid.is_some() || args.valid_frac.is_some() {
            bail!(
                "--valid and --valid-frac apply to file data; synthetic data sets its validation rows with --valid-rows"
            );
        }
        let zipf = match (args.zipf, kind) {
            (Some(z), _) => vec![z; specs.len()],
            (None, InputKind::Schema) => {
                let schema = Schema::load(&args.plan)?;
                schema
                    .features
                    .iter()
                    .map(|f| f.zipf.unwrap_or(1.1))
                    .collect()
            }
            (None, InputKind::Plan) => vec![1.1; specs.len()],
        };
        if let Some(z) = zipf.iter().find(|z| !(z.is_finite() && **z > 0.0)) {
            bail!("--zipf: expected a positive exponent such as 1.1, found {z}");
        }
        return synthetic::generate(
            &specs,
            &SyntheticConfig {
                train_rows: args.train_rows,
                valid_rows: args.valid_rows,
                zipf,
                teacher_scale: 0.5,
                teacher_noise: 0.5,
                seed: args.seed,
            },
        );
    }
    let path = PathBuf::from(&args.data);
    let format = match args.format.as_deref() {
        Some("criteo") => Format::Criteo,
        Some("csv") => Format::Csv,
        Some(_) => Format::Tsv,
        None => Format::for_path(&path),
    };
    if args.valid_frac.is_some_and(|f| !(f > 0.0 && f < 1.0)) {
        bail!(
            "--valid-frac: expected a fraction between 0 and 1 (exclusive), found {}",
            args.valid_frac.unwrap_or_default()
        );
    }
    data::load_files(
        &specs,
        &FileSource {
            train: path,
            valid: args.valid.clone(),
            valid_frac: args.valid_frac.unwrap_or(0.1),
            format,
            header: !args.no_header,
            ignore_extra_columns: args.ignore_extra_columns,
        },
    )
}

/// A progress bar on a terminal (hidden otherwise) and per-epoch lines on stderr.
struct Progress {
    bar: ProgressBar,
    lines: bool,
}

impl Progress {
    fn new(lines: bool) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} steps ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
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
                eprintln!(
                    "epoch {}: train logloss {:.4}, valid logloss {:.4} auc {:.4}, {} examples/s",
                    e.epoch,
                    e.train.logloss,
                    e.valid.logloss,
                    e.valid.auc,
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
        table.add_row(vec![
            e.epoch.to_string(),
            format!("{:.4}", e.train.logloss),
            format!("{:.4}", e.train.accuracy),
            format!("{:.4}", e.train.auc),
            format!("{:.4}", e.valid.logloss),
            format!("{:.4}", e.valid.accuracy),
            format!("{:.4}", e.valid.auc),
            group_thousands(e.examples_per_s.round() as u64),
        ]);
    }
    align_right(&mut table, &[0, 1, 2, 3, 4, 5, 6, 7]);
    writeln!(out, "{table}")?;
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
            "baselines (valid logloss): constant predictor {:.4}, hidden teacher (best achievable) {:.4} (AUC {:.4})",
            b.constant_valid_logloss, t.logloss, t.auc
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_parse_and_reject_zero() {
        assert_eq!(parse_widths("64, 32", "--top-mlp").unwrap(), vec![64, 32]);
        assert!(parse_widths("64,0", "--top-mlp").is_err());
        assert!(parse_train_optimizer("adam").is_err());
    }
}
