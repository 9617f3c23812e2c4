//! `cargo bench --bench train`: embplan's trainer on the reference peer's data and
//! configuration (D 16, batch 256, Adagrad lr 0.05, 2 threads, 2 epochs), for the peer's
//! choices, plus a step-time check of a 10,000,000-row full table against a 10,000-row one.
//!
//! Run the peer in the same session for the ratio (see ../shared/bench/README.md):
//! `/tmp/torchvenv/bin/python torch_ref.py --dataset tsv --tsv-prefix ../data/synthetic
//!  --epochs 2 --threads 2 --choices full,hash:4,qr-mult:4,qr-add:4,qr-concat:4`
//! Environment: `EMBPLAN_BENCH_DATA` (TSV prefix, default /work/shared/data/synthetic),
//! `EMBPLAN_BENCH_CHOICES` (comma list), `EMBPLAN_BENCH_EPOCHS`, `EMBPLAN_BENCH_THREADS`,
//! `EMBPLAN_BENCH_NO_STEP` (skip the step-time check).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use embplan::init::InitMode;
use embplan::partition::{Combiner, Scheme};
use embplan::plan::{Plan, PlannedFeature};
use embplan::schema::{Dtype, Optimizer};
use embplan::train::data::{TableOptions, read_table};
use embplan::train::{self, Dataset, FeatureSpec, Model, TrainConfig};

/// Features with at most this many categories keep full tables (the peer's --threshold).
const THRESHOLD: u64 = 200;

/// A plan for one of the peer's choices: full, hash:c, qr-OP:c.
fn choice_plan(choice: &str, cards: &[u64], dim: u32) -> Result<(Plan, InitMode)> {
    let (kind, c) = match choice.split_once(':') {
        Some((k, c)) => (k, c.parse::<u64>().context("collision count")?),
        None => (choice, 1),
    };
    let mut init = InitMode::Standard;
    let features = cards
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let name = format!("c{i}");
            let (scheme, combiner) = match kind {
                _ if n <= THRESHOLD || kind == "full" => (Scheme::Full, None),
                "hash" => (Scheme::Hash { m: n.div_ceil(c) }, None),
                qr => {
                    let op = qr.strip_prefix("qr-").context("unknown choice")?;
                    // The peer initialises QR tables as DLRM does.
                    init = InitMode::Dlrm;
                    (Scheme::Qr { m: c }, Some(Combiner::parse(op)?))
                }
            };
            PlannedFeature::new(&name, n, dim, scheme, combiner)
        })
        .collect::<Result<_>>()?;
    let plan = Plan {
        name: Some(choice.into()),
        dtype: Dtype::F32,
        optimizer: Optimizer::Adagrad,
        features,
        planner: None,
    };
    Ok((plan, init))
}

fn load(prefix: &str, cards: &[u64]) -> Result<Dataset> {
    let specs: Vec<FeatureSpec> = cards
        .iter()
        .enumerate()
        .map(|(i, &n)| FeatureSpec {
            name: format!("c{i}"),
            cardinality: n,
        })
        .collect();
    let read = |split: &str| {
        let path = PathBuf::from(format!("{prefix}_{split}.tsv"));
        read_table(&path, &specs, TableOptions::for_path(&path, false, false))
    };
    Ok(Dataset {
        name: prefix.into(),
        n_features: cards.len(),
        n_dense: 0,
        train: read("train")?,
        valid: read("valid")?,
        teacher_valid: None,
    })
}

/// Median time of a training step (batch 256, 2 threads) of the reference model whose first
/// feature has a full table of `rows` rows; every id uniformly random (the worst case for
/// memory: no row is reused between steps).
fn step_time(rows: u64) -> Result<f64> {
    let cards = [rows, 50_000, 10_000, 5_000, 1_000, 500, 100, 10];
    let (plan, _) = choice_plan("full", &cards, 16)?;
    let cfg = TrainConfig::default();
    let mut model = Model::new(&plan, 0, &cfg.model, 0)?;
    let (batch, steps, warmup) = (256, 300, 50);
    let n = steps * batch;
    let mut split = train::Split::default();
    let mut x: u64 = 12345;
    for i in 0..n {
        for &c in &cards {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            split.ids.push(((x >> 33) % c) as u32);
        }
        split.labels.push((i % 2) as f32);
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;
    pool.install(|| {
        let mut stepper = train::model::Stepper::new(&model, batch);
        let mut logits = vec![0f32; batch];
        let idx: Vec<u32> = (0..n as u32).collect();
        let mut times = Vec::new();
        for s in 0..steps {
            let b = &idx[s * batch..(s + 1) * batch];
            let t = Instant::now();
            stepper.compute(&model, &split, b, &mut logits);
            stepper.apply(&mut model, 0.05);
            if s >= warmup {
                times.push(t.elapsed().as_secs_f64());
            }
        }
        times.sort_by(f64::total_cmp);
        Ok(times[times.len() / 2] * 1e3)
    })
}

fn main() -> Result<()> {
    // `cargo bench` passes --bench; any other argument filters nothing here.
    let prefix = std::env::var("EMBPLAN_BENCH_DATA")
        .unwrap_or_else(|_| "/work/shared/data/synthetic".into());
    let choices = std::env::var("EMBPLAN_BENCH_CHOICES")
        .unwrap_or_else(|_| "full,hash:4,qr-mult:4,qr-add:4,qr-concat:4".into());
    let epochs: usize = std::env::var("EMBPLAN_BENCH_EPOCHS")
        .ok()
        .map(|e| e.parse())
        .transpose()?
        .unwrap_or(2);
    let threads: usize = std::env::var("EMBPLAN_BENCH_THREADS")
        .ok()
        .map(|e| e.parse())
        .transpose()?
        .unwrap_or(2);
    let cards = [100_000, 50_000, 10_000, 5_000, 1_000, 500, 100, 10];
    if !PathBuf::from(format!("{prefix}_train.tsv")).exists() {
        bail!("{prefix}_train.tsv not found: set EMBPLAN_BENCH_DATA to the peer's TSV prefix");
    }
    let t = Instant::now();
    let data = load(&prefix, &cards)?;
    println!(
        "# data {prefix}: {} train, {} valid, read in {:.1}s",
        data.train.len(),
        data.valid.len(),
        t.elapsed().as_secs_f64()
    );
    println!(
        "| choice | emb params | examples/s | ex/s (median step) | val logloss | val AUC | val logloss by epoch |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for choice in choices.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let (plan, init) = choice_plan(choice, &cards, 16)?;
        let mut cfg = TrainConfig {
            epochs,
            threads,
            ..TrainConfig::default()
        };
        cfg.model.init = init;
        let r = train::train(&plan, &data, &cfg)?;
        let last = r.epochs.last().context("no epochs")?;
        let ex_s: f64 = r.train_examples as f64 * r.epochs.len() as f64
            / r.epochs.iter().map(|e| e.train_seconds).sum::<f64>();
        // The epochs' median-step figures, averaged.
        let median = r
            .epochs
            .iter()
            .map(|e| e.examples_per_s_median_step)
            .sum::<f64>()
            / r.epochs.len() as f64;
        let by_epoch: Vec<String> = r
            .epochs
            .iter()
            .map(|e| format!("{:.4}", e.valid.logloss))
            .collect();
        println!(
            "| {choice} | {} | {ex_s:.0} | {median:.0} | {:.4} | {:.4} | {} |",
            plan.costs()?.total.params,
            last.valid.logloss,
            last.valid.auc,
            by_epoch.join(" ")
        );
    }
    if std::env::var_os("EMBPLAN_BENCH_NO_STEP").is_some() {
        return Ok(());
    }
    let small = step_time(10_000)?;
    let big = step_time(10_000_000)?;
    println!(
        "\nstep time of the reference model with a full first table, uniform random ids (batch 256, median of 250 steps, 2 threads): 10,000 rows {small:.3} ms, 10,000,000 rows {big:.3} ms (ratio {:.2})",
        big / small
    );
    Ok(())
}
