//! `cargo bench --bench train`: embplan's trainer on the reference peer's data and
//! configuration (D 16, batch 256, Adagrad lr 0.05, 2 threads, 2 epochs), for the peer's
//! choices, plus a step-time check of a 10,000,000-row full table against a 10,000-row one.
//!
//! When the PyTorch reference peer is installed (its script from ../shared/bench/, its Python the
//! torch venv of `.ci/python-envs` or `EMBPLAN_BENCH_PEER_PYTHON`), each choice
//! runs on it first and then on embplan, and a ratio row follows: on a shared machine only
//! figures measured side by side compare.
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
use embplan::train::data::{FileSource, Format, Holdout, ValidSplit, load_files};
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
        placement: None,
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
    let source = FileSource {
        train: format!("{prefix}_train.tsv").into(),
        valid: Some(format!("{prefix}_valid.tsv").into()),
        holdout: Holdout {
            frac: 0.1,
            split: ValidSplit::Tail,
            seed: 0,
        },
        format: Format::Tsv,
        header: false,
        ignore_extra_columns: false,
    };
    load_files(&specs, &source)
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
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
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

/// One program's figures for one choice.
struct Figures {
    params: u64,
    examples_per_s: f64,
    median_step: f64,
    logloss: Vec<f64>,
    auc: f64,
}

impl Figures {
    fn last_logloss(&self) -> f64 {
        self.logloss.last().copied().unwrap_or(f64::NAN)
    }

    fn row(&self, choice: &str, program: &str) -> String {
        let by_epoch: Vec<String> = self.logloss.iter().map(|l| format!("{l:.4}")).collect();
        format!(
            "| {choice} | {program} | {} | {:.0} | {:.0} | {:.4} | {:.4} | {} |",
            self.params,
            self.examples_per_s,
            self.median_step,
            self.last_logloss(),
            self.auc,
            by_epoch.join(" ")
        )
    }
}

/// The torch environment `.ci/python-envs` creates:
/// `${EMBPLAN_CACHE:-$HOME/.cache/embplan}/venv-torch/bin/python`.
fn cached_torch_python() -> String {
    let cache = std::env::var("EMBPLAN_CACHE").unwrap_or_else(|_| {
        format!(
            "{}/.cache/embplan",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    format!("{cache}/venv-torch/bin/python")
}

/// The reference peer's command line, when its Python is there (`EMBPLAN_BENCH_PEER_PYTHON`,
/// default the torch venv of `.ci/python-envs`; `EMBPLAN_BENCH_PEER_SCRIPT`, default
/// /work/shared/bench/torch_ref.py; `EMBPLAN_BENCH_NO_PEER` skips it).
fn peer_command(prefix: &str, epochs: usize, threads: usize) -> Option<Vec<String>> {
    if std::env::var_os("EMBPLAN_BENCH_NO_PEER").is_some() {
        return None;
    }
    let python =
        std::env::var("EMBPLAN_BENCH_PEER_PYTHON").unwrap_or_else(|_| cached_torch_python());
    let script = std::env::var("EMBPLAN_BENCH_PEER_SCRIPT")
        .unwrap_or_else(|_| "/work/shared/bench/torch_ref.py".into());
    if !PathBuf::from(&python).exists() || !PathBuf::from(&script).exists() {
        println!(
            "# peer not run: {python} or {script} missing (run .ci/python-envs for the former)"
        );
        return None;
    }
    Some(
        [
            python.as_str(),
            &script,
            "--dataset",
            "tsv",
            "--tsv-prefix",
            prefix,
            "--epochs",
            &epochs.to_string(),
            "--threads",
            &threads.to_string(),
        ]
        .map(String::from)
        .to_vec(),
    )
}

/// Runs the peer on one choice and reads its JSON results.
fn run_peer(cmd: &[String], choice: &str) -> Result<Figures> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("peer.json");
    let status = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .args(["--choices", choice, "--json-out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", cmd[0]))?;
    if !status.success() {
        bail!("the peer failed on {choice}: {status}");
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
    let r = &json["results"][0];
    let num = |v: &serde_json::Value| v.as_f64().context("peer JSON: expected a number");
    Ok(Figures {
        params: r["emb_params"].as_u64().context("peer JSON: emb_params")?,
        examples_per_s: num(&r["examples_per_s"])?,
        median_step: num(&r["examples_per_s_median_step"])?,
        logloss: r["epochs"]
            .as_array()
            .context("peer JSON: epochs")?
            .iter()
            .map(|e| num(&e["val_logloss"]))
            .collect::<Result<_>>()?,
        auc: num(&r["val_auc"])?,
    })
}

// The benchmark's script, in order: setup, peer runs, embplan runs, the table.
#[allow(clippy::too_many_lines)]
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
    let peer = peer_command(&prefix, epochs, threads);
    println!(
        "| choice | program | emb params | examples/s | ex/s (median step) | val logloss | val AUC | val logloss by epoch |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---|");
    for choice in choices.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        // The peer first, then embplan, choice by choice: both see the same machine load.
        let theirs = match &peer {
            Some(cmd) => Some(run_peer(cmd, choice)?),
            None => None,
        };
        if let Some(t) = &theirs {
            println!("{}", t.row(choice, "torch"));
        }
        let (plan, init) = choice_plan(choice, &cards, 16)?;
        let mut cfg = TrainConfig {
            epochs,
            threads,
            ..TrainConfig::default()
        };
        cfg.model.init = init;
        let r = train::train(&plan, &data, &cfg)?;
        let ours = Figures {
            params: plan.costs()?.total.params,
            examples_per_s: r.train_examples as f64 * r.epochs.len() as f64
                / r.epochs.iter().map(|e| e.train_seconds).sum::<f64>(),
            // The epochs' median-step figures, averaged.
            median_step: r
                .epochs
                .iter()
                .map(|e| e.examples_per_s_median_step)
                .sum::<f64>()
                / r.epochs.len() as f64,
            logloss: r.epochs.iter().map(|e| e.valid.logloss).collect(),
            auc: r
                .epochs
                .last()
                .context("no epochs")?
                .valid
                .auc
                .unwrap_or(f64::NAN),
        };
        println!("{}", ours.row(choice, "embplan"));
        if let Some(t) = &theirs {
            println!(
                "| {choice} | ratio | | {:.2}× | {:.2}× | {:+.4} | {:+.4} | |",
                ours.examples_per_s / t.examples_per_s,
                ours.median_step / t.median_step,
                ours.last_logloss() - t.last_logloss(),
                ours.auc - t.auc
            );
        }
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
