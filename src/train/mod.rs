//! The built-in trainer: validates a plan by training a DLRM-style click model with it.
//!
//! [`data`] reads TSV/CSV/Criteo files, [`synthetic`] generates data from a hidden teacher,
//! [`model`] is the model with sparse row updates, [`optim`] the optimizers and [`metrics`]
//! log-loss / accuracy / AUC. [`train`] runs the loop; it knows nothing of terminals: progress
//! goes to an [`Observer`].

pub mod data;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod raw;
pub mod source;
pub mod split;
pub mod synthetic;
pub mod table;
#[cfg(test)]
mod tests;

use std::time::Instant;

use anyhow::{Context, Result, bail};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::cost::Cost;
use crate::init::InitMode;
use crate::plan::Plan;
use crate::schema::Dtype;
pub use data::{Dataset, FeatureSpec, Holdout, Split, ValidSplit};
pub use metrics::Metrics;
pub use model::{Interaction, Model, ModelConfig};
pub use optim::TrainOptimizer;

/// Everything a training run needs besides the plan and the data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batch: usize,
    /// Learning rate (embeddings and dense layers).
    pub lr: f32,
    /// Worker threads (results do not depend on it).
    pub threads: usize,
    /// Seed of initialisation and shuffling.
    pub seed: u64,
    /// Early stopping: stop when the validation log-loss has not improved for this many
    /// epochs; `None` runs every epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Architecture, init and optimizer.
    pub model: ModelConfig,
}

impl Default for TrainConfig {
    /// The reference peer's configuration (D from the plan, batch 256, Adagrad lr 0.05).
    fn default() -> TrainConfig {
        TrainConfig {
            epochs: 2,
            batch: 256,
            lr: 0.05,
            threads: 2,
            seed: 0,
            patience: None,
            model: ModelConfig {
                interaction: Interaction::Dot,
                top_mlp: vec![64, 32],
                bottom_mlp: vec![64],
                init: InitMode::Standard,
                optimizer: TrainOptimizer::Adagrad,
            },
        }
    }
}

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Progressive training metrics: each example scored just before the step that learns it.
    pub train: Metrics,
    /// Validation metrics after the epoch.
    pub valid: Metrics,
    /// Training examples per second over the steps (each gathering its batch, computing and
    /// updating); the epoch's shuffle of example indices and evaluation are excluded.
    pub examples_per_s: f64,
    /// Batch size over the median step time: robust to other processes on a shared machine
    /// (the reference peer reports the same figure).
    pub examples_per_s_median_step: f64,
    /// Seconds spent in training steps.
    pub train_seconds: f64,
    /// Seconds spent evaluating.
    pub eval_seconds: f64,
}

/// Memory the trainer allocated for embeddings, next to the plan's count for the same
/// optimizer in f32.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllocatedBytes {
    /// Bytes of embedding weights allocated (f32).
    pub weight_bytes: u64,
    /// Bytes of embedding optimizer state allocated.
    pub optimizer_bytes: u64,
    /// The sum.
    pub bytes: u64,
    /// The plan's count (`estimate`) with dtype f32 and the training optimizer.
    pub estimate: Cost,
    /// Whether allocation and estimate agree exactly.
    pub matches_estimate: bool,
    /// Dense (MLP / constant) parameters, not part of the estimate.
    pub dense_params: usize,
}

/// Reference points for reading the validation log-loss.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baselines {
    /// Validation log-loss of predicting the training positive rate for everyone.
    pub constant_valid_logloss: f64,
    /// The hidden teacher's validation metrics (synthetic data only): the best achievable.
    pub teacher_valid: Option<Metrics>,
}

/// The result of a training run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    /// The data set's name.
    pub data: String,
    /// Training examples.
    pub train_examples: usize,
    /// Validation examples.
    pub valid_examples: usize,
    /// Weights are trained in f32 whatever the plan's dtype (bytes compare against f32).
    pub dtype: Dtype,
    /// The configuration used.
    pub config: TrainConfig,
    /// Per-epoch figures.
    pub epochs: Vec<EpochReport>,
    /// The epoch with the lowest validation log-loss (1-based): the one to compare plans by,
    /// since a model that overfits in later epochs would otherwise look worse than it is.
    pub best_epoch: usize,
    /// Whether early stopping ended the run before `config.epochs`.
    pub stopped_early: bool,
    /// Embedding memory actually allocated.
    pub allocated: AllocatedBytes,
    /// Constant-predictor and teacher baselines.
    pub baselines: Baselines,
    /// Features whose partitions are not complementary (colliding ids share every row).
    pub not_complementary: Vec<String>,
    /// Raw data read through a vocabulary: values that got the out-of-vocabulary id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub oov: Vec<raw::OovCount>,
}

/// Receives progress during [`train`].
pub trait Observer {
    /// Called after each step with the steps done in this epoch and the epoch's total.
    fn step(&mut self, _epoch: usize, _done: usize, _total: usize) {}
    /// Called after each epoch.
    fn epoch(&mut self, _report: &EpochReport) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// The plan's features as the data readers see them.
pub fn feature_specs(plan: &Plan) -> Vec<FeatureSpec> {
    plan.features
        .iter()
        .map(|f| FeatureSpec {
            name: f.name().to_string(),
            cardinality: f.cardinality(),
        })
        .collect()
}

/// Trains a model for `plan` on `data`; see [`train_observed`].
pub fn train(plan: &Plan, data: &Dataset, cfg: &TrainConfig) -> Result<TrainReport> {
    train_observed(plan, data, cfg, &mut Quiet)
}

fn check_config(plan: &Plan, data: &Dataset, cfg: &TrainConfig) -> Result<()> {
    if cfg.epochs == 0 || cfg.batch == 0 || cfg.threads == 0 {
        bail!("epochs, batch size and threads must each be at least 1");
    }
    let max_threads = max_threads();
    if cfg.threads > max_threads {
        bail!(
            "{} worker threads requested: at most {max_threads} (64, or 4 per core if more); results do not depend on the thread count",
            cfg.threads
        );
    }
    // Example indices are u32 in the shuffled order and the batch gather.
    if data.train.len() > u32::MAX as usize || data.valid.len() > u32::MAX as usize {
        bail!(
            "the data set '{}' has more than {} examples in one split, the trainer's limit",
            data.name,
            u32::MAX
        );
    }
    if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
        bail!(
            "learning rate must be a positive finite number, found {}",
            cfg.lr
        );
    }
    if data.n_features != plan.features.len() {
        bail!(
            "the data has {} categorical features but the plan has {}",
            data.n_features,
            plan.features.len()
        );
    }
    if data.train.is_empty() {
        bail!("the training set '{}' has no examples", data.name);
    }
    if data.valid.is_empty() {
        bail!("the validation set of '{}' has no examples", data.name);
    }
    for (what, split) in [("training", &data.train), ("validation", &data.valid)] {
        check_split(plan, data, split).with_context(|| format!("{what} set of '{}'", data.name))?;
    }
    Ok(())
}

/// Errors, before anything is allocated, when the plan's tables and optimizer state in f32
/// exceed the memory available (their bytes are known exactly from the plan).
pub fn check_table_memory(plan: &Plan, optimizer: TrainOptimizer) -> Result<()> {
    let mut counted = plan.clone();
    counted.dtype = Dtype::F32;
    counted.optimizer = optimizer.counted();
    crate::memory::check_fits(
        Some(counted.costs()?.total.bytes),
        "the plan's embedding tables and optimizer state in f32",
        "plan to a smaller budget (embplan plan --budget) or train a smaller schema",
    )
}

/// The most worker threads a run may ask for: 64, or 4 per core on larger machines.
pub fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    cores.saturating_mul(4).max(64)
}

/// Checks a split built by a library caller as the readers would (the model indexes tables
/// with these ids, so a bad one must be an error here, not a panic later).
fn check_split(plan: &Plan, data: &Dataset, split: &Split) -> Result<()> {
    let (n, nf) = (split.len(), data.n_features);
    if split.ids.len() != n * nf || split.dense.len() != n * data.n_dense {
        bail!(
            "{n} labels need {} ids and {} dense values, found {} and {}",
            n * nf,
            n * data.n_dense,
            split.ids.len(),
            split.dense.len()
        );
    }
    if let Some(i) = split.labels.iter().position(|y| !(0.0..=1.0).contains(y)) {
        bail!(
            "example {}: label {} is not in [0, 1]",
            i + 1,
            split.labels[i]
        );
    }
    if let Some(i) = split.dense.iter().position(|x| !x.is_finite()) {
        bail!(
            "example {}: dense value {} is not finite",
            i / data.n_dense + 1,
            split.dense[i]
        );
    }
    for (i, row) in split.ids.chunks_exact(nf.max(1)).enumerate() {
        for (f, &id) in plan.features.iter().zip(row) {
            if u64::from(id) >= f.cardinality() {
                bail!(
                    "example {}: id {id} of feature '{}' is out of range: expected [0, {})",
                    i + 1,
                    f.name(),
                    f.cardinality()
                );
            }
        }
    }
    Ok(())
}

/// Trains a model for `plan` on `data`, reporting progress to `observer`.
///
/// Deterministic for `cfg.seed` whatever `cfg.threads`. A NaN or infinite loss stops the run
/// with an error naming the epoch and step.
pub fn train_observed(
    plan: &Plan,
    data: &Dataset,
    cfg: &TrainConfig,
    observer: &mut (dyn Observer + Send),
) -> Result<TrainReport> {
    check_config(plan, data, cfg)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .context("cannot start worker threads")?;
    pool.install(|| run(plan, data, cfg, observer))
}

/// The state of the passes over the training set: the shuffled order (one seeded shuffle
/// per epoch), one batch's buffers, and the epoch's logits for the training metrics.
struct Pass {
    n: usize,
    /// Buffers hold one batch, and no batch is larger than the training set.
    batch_cap: usize,
    steps: usize,
    order: Vec<u32>,
    rng: Xoshiro256PlusPlus,
    logits: Vec<f32>,
    labels: Vec<f32>,
    identity: Vec<u32>,
    batch: Split,
}

impl Pass {
    fn new(n: usize, cfg: &TrainConfig) -> Pass {
        let batch_cap = cfg.batch.min(n);
        Pass {
            n,
            batch_cap,
            steps: n.div_ceil(batch_cap),
            order: (0..n).map(|i| i as u32).collect(),
            rng: Xoshiro256PlusPlus::seed_from_u64(synthetic::derive_seed(cfg.seed, 1 << 40)),
            logits: vec![0f32; n],
            labels: vec![0f32; n],
            identity: (0..batch_cap).map(|i| i as u32).collect(),
            batch: Split::default(),
        }
    }

    /// One epoch: shuffle, train every batch, evaluate on validation.
    fn epoch(
        &mut self,
        epoch: usize,
        model: &mut Model,
        stepper: &mut model::Stepper,
        data: &Dataset,
        cfg: &TrainConfig,
        observer: &mut (dyn Observer + Send),
    ) -> Result<EpochReport> {
        let (n, steps) = (self.n, self.steps);
        for i in (1..n).rev() {
            let j = self.rng.random_range(0..=i);
            self.order.swap(i, j);
        }
        let mut step_seconds = Vec::with_capacity(steps);
        let start = Instant::now();
        for step in 0..steps {
            let step_start = Instant::now();
            let lo = step * self.batch_cap;
            let hi = (lo + self.batch_cap).min(n);
            // A tight copy loop overlaps the batch's cache misses; the model then reads the
            // examples in order (reading them in shuffled order cost 16% of a step).
            data.train.gather_into(
                &self.order[lo..hi],
                data.n_features,
                data.n_dense,
                &mut self.batch,
            );
            self.labels[lo..hi].copy_from_slice(&self.batch.labels);
            let loss = stepper.compute(
                model,
                &self.batch,
                &self.identity[..hi - lo],
                &mut self.logits[lo..hi],
            );
            if !loss.is_finite() {
                bail!(
                    "training diverged: the loss became {} at epoch {epoch}, step {} of {steps}; try a lower learning rate than {}",
                    if loss.is_nan() { "NaN" } else { "infinite" },
                    step + 1,
                    show_lr(cfg.lr)
                );
            }
            stepper.apply(model, cfg.lr);
            step_seconds.push(step_start.elapsed().as_secs_f64());
            observer.step(epoch, step + 1, steps);
        }
        let train_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let valid_logits = model.predict(&data.valid);
        let valid = Metrics::from_logits(&valid_logits, &data.valid.labels);
        if !valid.logloss.is_finite() {
            bail!(
                "training diverged: the validation loss became {} after epoch {epoch}; try a lower learning rate than {}",
                valid.logloss,
                show_lr(cfg.lr)
            );
        }
        Ok(EpochReport {
            epoch,
            train: Metrics::from_logits(&self.logits, &self.labels),
            valid,
            examples_per_s: n as f64 / train_seconds.max(1e-9),
            examples_per_s_median_step: self.batch_cap as f64 / median(&mut step_seconds),
            train_seconds,
            eval_seconds: start.elapsed().as_secs_f64(),
        })
    }
}

fn run(
    plan: &Plan,
    data: &Dataset,
    cfg: &TrainConfig,
    observer: &mut (dyn Observer + Send),
) -> Result<TrainReport> {
    check_table_memory(plan, cfg.model.optimizer)?;
    let mut model = Model::new(plan, data.n_dense, &cfg.model, cfg.seed)?;
    let allocated = allocated_bytes(plan, &model, cfg.model.optimizer)?;
    let n = data.train.len();
    let mut pass = Pass::new(n, cfg);
    let mut stepper = model::Stepper::new(&model, pass.batch_cap);
    let mut epochs = Vec::new();
    for epoch in 1..=cfg.epochs {
        let report = pass.epoch(epoch, &mut model, &mut stepper, data, cfg, observer)?;
        observer.epoch(&report);
        epochs.push(report);
        if cfg
            .patience
            .is_some_and(|p| epoch - best_epoch(&epochs) >= p && epoch < cfg.epochs)
        {
            break;
        }
    }
    let best = best_epoch(&epochs);
    Ok(TrainReport {
        data: data.name.clone(),
        train_examples: n,
        valid_examples: data.valid.len(),
        dtype: Dtype::F32,
        config: cfg.clone(),
        stopped_early: epochs.len() < cfg.epochs,
        epochs,
        best_epoch: best,
        allocated,
        baselines: Baselines {
            constant_valid_logloss: metrics::constant_logloss(
                &data.train.labels,
                &data.valid.labels,
            ),
            teacher_valid: data.teacher_valid,
        },
        not_complementary: plan.not_complementary()?,
        oov: data.oov.clone(),
    })
}

/// The epoch (1-based) with the lowest validation log-loss; the earliest on a tie.
fn best_epoch(epochs: &[EpochReport]) -> usize {
    epochs
        .iter()
        .min_by(|a, b| a.valid.logloss.total_cmp(&b.valid.logloss))
        .map_or(0, |e| e.epoch)
}

impl TrainReport {
    /// The figures of [`TrainReport::best_epoch`].
    pub fn best(&self) -> &EpochReport {
        &self.epochs[self.best_epoch - 1]
    }
}

/// The median of `xs` (reordered in place), at least a nanosecond.
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_unstable_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0).max(1e-9)
}

/// A learning rate as people write it: 0.05, or 1e30 rather than thirty zeros.
fn show_lr(lr: f32) -> String {
    if (1e-4..1e4).contains(&lr) {
        lr.to_string()
    } else {
        format!("{lr:e}")
    }
}

fn allocated_bytes(plan: &Plan, model: &Model, opt: TrainOptimizer) -> Result<AllocatedBytes> {
    let mut counted = plan.clone();
    counted.dtype = Dtype::F32;
    counted.optimizer = opt.counted();
    let estimate = counted.costs()?.total;
    let (weight_bytes, optimizer_bytes) = model.embedding_bytes();
    Ok(AllocatedBytes {
        weight_bytes,
        optimizer_bytes,
        bytes: weight_bytes + optimizer_bytes,
        estimate,
        matches_estimate: estimate.weight_bytes == weight_bytes
            && estimate.optimizer_bytes == optimizer_bytes,
        dense_params: model.dense_params(),
    })
}
