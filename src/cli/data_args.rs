//! Data options shared by `train` and `sweep`.

use std::path::PathBuf;

use anyhow::{Result, bail};

use embplan::init::InitMode;
use embplan::plan::Plan;
use embplan::schema::{Dtype, Optimizer};
use embplan::train::{Interaction, ModelConfig, TrainConfig, TrainOptimizer, ValidSplit};

use embplan::profile::RawFormat;
use embplan::train::source::{Data, DataSource};

/// Where the training and validation data come from.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// `synthetic` (generated from a hidden teacher), or a TSV/CSV/Criteo file of training data.
    #[arg(long, value_name = "synthetic|FILE")]
    #[arg(value_parser = |s: &str| Ok::<Data, String>(Data::parse(s)))]
    pub data: Data,

    /// Validation file in the same format as --data.
    #[arg(long, value_name = "FILE", conflicts_with = "valid_frac")]
    pub valid: Option<PathBuf>,

    /// Without --valid: the share of --data's rows held out for validation [default: 0.1].
    #[arg(long, value_name = "FRACTION", value_parser = super::values::number)]
    pub valid_frac: Option<f64>,

    /// Without --valid: which rows are held out: the file's last ones (a time-ordered log's
    /// future) or a random draw seeded by --seed [default: tail].
    #[arg(
        long,
        value_name = "ROWS",
        value_enum,
        ignore_case = true,
        conflicts_with = "valid"
    )]
    pub split: Option<ValidSplit>,

    /// Input data format: tsv, csv, criteo, or (with --vocab) npy or parquet; by default
    /// csv for names ending in .csv, npy for .npy, parquet for .parquet, else tsv.
    #[arg(long, value_name = "FORMAT", value_enum, ignore_case = true)]
    pub data_format: Option<RawFormat>,

    /// Read raw values (any strings, empty fields, any integers) and encode them through the
    /// vocabulary `embplan profile --vocab DIR` wrote; unknown values get the
    /// out-of-vocabulary id and are counted, never an error.
    #[arg(long, value_name = "DIR")]
    pub vocab: Option<PathBuf>,

    /// With --vocab, TSV/CSV/Parquet: the label column (values 0 or 1).
    #[arg(
        long,
        value_name = "COLUMN",
        default_value = "label",
        requires = "vocab"
    )]
    pub label: String,

    /// TSV/CSV without a header: each line is the label then one id per feature in plan order.
    #[arg(long, conflicts_with = "vocab")]
    pub no_header: bool,

    /// Skip header columns that are neither `label` nor a feature of the plan (else an error).
    #[arg(long, conflicts_with = "vocab")]
    pub ignore_extra_columns: bool,

    /// Synthetic data: training examples.
    #[arg(long, default_value = "500000", value_name = "N", value_parser = super::values::count)]
    pub train_rows: std::num::NonZeroUsize,

    /// Synthetic data: validation examples.
    #[arg(long, default_value = "100000", value_name = "N", value_parser = super::values::count)]
    pub valid_rows: std::num::NonZeroUsize,

    /// Synthetic data: Zipf exponent of every feature's ids; default: the schema's, else 1.1.
    #[arg(long, value_name = "S", value_parser = super::values::number)]
    pub zipf: Option<f64>,
}

impl DataArgs {
    /// The data files read (none for synthetic data), so outputs can be checked against them.
    pub fn input_files(&self) -> Vec<&std::path::Path> {
        let mut files = Vec::new();
        if let Data::File(path) = &self.data {
            files.push(path.as_path());
        }
        files.extend(self.valid.as_deref());
        files
    }

    /// The library's data source; `seed` seeds synthetic generation, `threads` read raw files.
    pub fn source(&self, seed: u64, threads: Option<std::num::NonZeroUsize>) -> DataSource {
        DataSource {
            vocab: self.vocab.clone(),
            label: self.label.clone(),
            threads: threads
                .or_else(|| std::thread::available_parallelism().ok())
                .map_or(1, std::num::NonZeroUsize::get),
            data: self.data.clone(),
            valid: self.valid.clone(),
            valid_frac: self.valid_frac,
            split: self.split,
            format: self.data_format,
            no_header: self.no_header,
            ignore_extra_columns: self.ignore_extra_columns,
            train_rows: self.train_rows.get(),
            valid_rows: self.valid_rows.get(),
            zipf: self.zipf,
            seed,
        }
    }
}

/// Training hyper-parameters and architecture.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Passes over the training data.
    #[arg(long, default_value = "2", value_name = "N", value_parser = super::values::count)]
    pub epochs: std::num::NonZeroUsize,

    /// Stop early when the validation log-loss has not improved for N epochs (results are
    /// compared at the best epoch either way).
    #[arg(long, value_name = "N", value_parser = super::values::count)]
    pub patience: Option<std::num::NonZeroUsize>,

    /// Examples per step.
    #[arg(long, default_value = "256", value_name = "N", value_parser = super::values::count)]
    pub batch: std::num::NonZeroUsize,

    /// Learning rate of embeddings and MLPs, e.g. 0.05.
    #[arg(long, default_value_t = 0.05, value_name = "RATE", value_parser = super::values::number_f32)]
    pub lr: f32,

    /// The optimizer (the trainer implements sgd, adagrad and rowwise-adagrad); by default
    /// the plan's if it is one of these, else adagrad.
    #[arg(long, value_name = "OPT", value_enum, ignore_case = true)]
    pub optimizer: Option<Optimizer>,

    /// Worker threads (results are identical for any count); default: all cores.
    #[arg(long, value_name = "N", value_parser = super::values::count)]
    pub threads: Option<std::num::NonZeroUsize>,

    /// Embedding init: standard (composed vector scaled like U(±sqrt(1/n))) or dlrm
    /// (DLRM's U(sqrt(1/n), 1) for every table of a multi-table feature).
    #[arg(
        long,
        default_value = "standard",
        value_name = "MODE",
        value_enum,
        ignore_case = true
    )]
    pub init: InitMode,

    /// dot (pairwise dot products, DLRM) or cat (concatenated vectors).
    #[arg(
        long,
        default_value = "dot",
        value_name = "KIND",
        value_enum,
        ignore_case = true
    )]
    pub interaction: Interaction,

    /// Hidden widths of the top MLP, comma-separated (the output 1 is added).
    #[arg(long, default_value = "64,32", value_name = "W,W,…", value_parser = super::values::widths)]
    pub top_mlp: super::values::Widths,

    /// Hidden widths of the bottom MLP for dense features (output: the embedding dim).
    #[arg(long, default_value = "64", value_name = "W,W,…", value_parser = super::values::widths)]
    pub bottom_mlp: super::values::Widths,
}

impl ModelArgs {
    /// The training configuration for `plan`; notes for the user are pushed to `notes`.
    pub fn config(&self, plan: &Plan, seed: u64, notes: &mut Vec<String>) -> Result<TrainConfig> {
        let optimizer = match self.optimizer {
            Some(o) => TrainOptimizer::from_counted(o).ok_or_else(|| {
                anyhow::anyhow!(
                    "--optimizer {o}: the trainer implements sgd, adagrad and rowwise-adagrad; {o} can be planned for and counted (plan, estimate) but not trained here"
                )
            })?,
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
        if let Some(t) = self.threads.map(std::num::NonZeroUsize::get)
            && t > embplan::train::max_threads()
        {
            bail!(
                "--threads {t}: at most {} (64, or 4 per core if more); results do not depend on the thread count",
                embplan::train::max_threads()
            );
        }
        Ok(TrainConfig {
            epochs: self.epochs.get(),
            batch: self.batch.get(),
            lr: self.lr,
            threads: self
                .threads
                .or_else(|| std::thread::available_parallelism().ok())
                .map_or(1, std::num::NonZeroUsize::get),
            seed,
            patience: self.patience.map(std::num::NonZeroUsize::get),
            model: ModelConfig {
                interaction: self.interaction,
                top_mlp: self.top_mlp.0.clone(),
                bottom_mlp: self.bottom_mlp.0.clone(),
                init: self.init,
                optimizer,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::values::{Widths, widths};

    #[test]
    fn widths_parse_and_reject_zero() {
        assert_eq!(widths("64, 32"), Ok(Widths(vec![64, 32])));
        assert_eq!(widths(""), Ok(Widths(vec![])));
        assert!(widths("64,0").unwrap_err().contains("from 1"));
    }
}
