//! The TorchRec package (`export --format torchrec -o DIR`) trains under torchrun: two CPU ranks
//! (gloo), every family and combiner, f32 and f16, each optimizer FBGEMM trains on CPU. The
//! loss must fall, and the tables the ranks hold must add up to the plan's weight bytes.
//! `#[ignore]`d by default (needs the pinned TorchRec environment) and failing, never skipping,
//! without it: `.ci/python-envs`, then `cargo test --test cli -- --ignored torchrec_train::`.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use embplan::partition::{Combiner, Scheme};
use embplan::plan::{Plan, PlannedFeature};
use embplan::schema::{Dtype, Optimizer};

use crate::export_formats::python_with;

/// One feature per family and combiner, every table dim a multiple of 4 (FBGEMM's unit).
fn plan(dtype: Dtype, optimizer: Optimizer) -> Plan {
    let f = |name, n, scheme, combiner| PlannedFeature::new(name, n, 16, scheme, combiner).unwrap();
    let features = vec![
        f("full", 100, Scheme::Full, None),
        f("qr_mult", 5000, Scheme::Qr { m: 71 }, Some(Combiner::Mult)),
        f(
            "qr_concat",
            4000,
            Scheme::Qr { m: 64 },
            Some(Combiner::Concat),
        ),
        f(
            "crt_add",
            3001,
            Scheme::Crt {
                moduli: vec![53, 59],
            },
            Some(Combiner::Add),
        ),
        f(
            "radix_mult",
            4000,
            Scheme::MixedRadix {
                radices: vec![16, 16, 16],
            },
            Some(Combiner::Mult),
        ),
        f("hash", 2000, Scheme::Hash { m: 300 }, None),
        f(
            "hot_qr_add",
            3000,
            Scheme::Hot {
                hot: 64,
                tail: Box::new(Scheme::Qr { m: 40 }),
            },
            Some(Combiner::Add),
        ),
    ];
    Plan {
        name: Some(format!("torchrec-{dtype}-{optimizer}")),
        dtype,
        optimizer,
        features,
        planner: None,
        placement: None,
    }
}

/// What a run printed: the losses per step and each rank's (tables, data-parallel copies).
struct Trained {
    losses: Vec<f64>,
    ranks: Vec<(u64, u64)>,
    stdout: String,
}

fn parse(stdout: &str) -> Trained {
    let mut losses = Vec::new();
    let mut ranks = Vec::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("step ") {
            let loss = rest.split_whitespace().nth(2).unwrap();
            losses.push(loss.parse().unwrap());
        } else if line.starts_with("rank ") {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = |w: &str| words.iter().position(|x| *x == w).unwrap();
            let tables = words[at("tables") + 1].parse().unwrap();
            let copies = words[at("bytes") + 1]
                .trim_start_matches('(')
                .parse()
                .unwrap();
            ranks.push((tables, copies));
        }
    }
    Trained {
        losses,
        ranks,
        stdout: stdout.to_string(),
    }
}

/// Exports `plan` as a package and trains it for `steps` on 2 CPU ranks, on synthetic data
/// or on `data`, a directory of TorchRec-style Criteo .npy days.
fn train(python: &Path, plan: &Plan, steps: usize, data: Option<&Path>) -> Trained {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.toml");
    plan.write(&plan_path).unwrap();
    let name = plan.name.as_deref().unwrap_or_default();
    let mut args = vec!["--batch".to_string(), "128".to_string()];
    if let Some(d) = data {
        args.extend(["--data".to_string(), d.display().to_string()]);
    }
    train_file(python, &plan_path, steps, &args, name)
}

/// Exports the plan file as a package and runs its train.py on 2 CPU ranks with `args`.
fn train_file(
    python: &Path,
    plan_path: &Path,
    steps: usize,
    args: &[String],
    name: &str,
) -> Trained {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    cargo_bin_cmd!("embplan")
        .args(["export", "--format", "torchrec", "-q", "-o"])
        .arg(&pkg)
        .arg(plan_path)
        .assert()
        .success();
    let out = std::process::Command::new(python)
        .args([
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
        ])
        .arg(pkg.join("train.py"))
        .args(["--steps", &steps.to_string()])
        .args(args)
        .output()
        .expect("cannot run torchrun");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Ids are remapped in the loader, so TorchRec's pipeline takes the sharded collection.
    assert!(
        stdout.contains("TrainPipelineSparseDist pipelines: ShardedEmbeddingBagCollection"),
        "{name}: {stdout}"
    );
    parse(&stdout)
}

#[test]
#[ignore = "needs TorchRec: .ci/python-envs, then cargo test --test cli -- --ignored torchrec_train:: (.ci/run does)"]
fn packages_train_on_two_cpu_ranks_for_every_family_dtype_and_optimizer() {
    let python = python_with(
        "EMBPLAN_TORCHREC_PYTHON",
        "venv-torchrec",
        "torchrec.distributed.model_parallel",
    );
    let steps = 16;
    // Every dtype and optimizer FBGEMM trains on CPU. GPU-only, refused by train.py on CPU:
    // bf16 tables and Adam; int8 tables are inference-only everywhere.
    for (dtype, optimizer) in [
        (Dtype::F32, Optimizer::Sgd),
        (Dtype::F32, Optimizer::Adagrad),
        (Dtype::F32, Optimizer::RowwiseAdagrad),
        (Dtype::F16, Optimizer::Sgd),
        (Dtype::F16, Optimizer::Adagrad),
        (Dtype::F16, Optimizer::RowwiseAdagrad),
    ] {
        let plan = plan(dtype, optimizer);
        let run = train(&python, &plan, steps, None);
        let name = plan.name.as_deref().unwrap();
        // Every feature at dim 16: TorchRec's own DLRM takes the compositional tables.
        assert!(
            run.stdout.contains("model: torchrec.models.dlrm.DLRM"),
            "{name}: {}",
            run.stdout
        );
        assert_eq!(run.losses.len(), steps, "{name}");
        assert!(
            run.losses.iter().all(|l: &f64| l.is_finite()),
            "{name}: {:?}",
            run.losses
        );
        let last = run.losses[steps - 4..].iter().sum::<f64>() / 4.0;
        assert!(
            last < run.losses[0],
            "{name}: the loss did not fall: {:?}",
            run.losses
        );
        // Sharded tables are split across ranks, data-parallel ones copied on each.
        assert_eq!(run.ranks.len(), 2, "{name}: {}", run.stdout);
        let held: u64 = run.ranks.iter().map(|(t, c)| t - c).sum::<u64>() + run.ranks[0].1;
        let weights = plan.costs().unwrap().total.weight_bytes;
        assert_eq!(
            held, weights,
            "{name}: ranks hold {held} bytes, the plan {weights}"
        );
        eprintln!(
            "ok {name}: loss {:.4} -> {last:.4}, {held} bytes",
            run.losses[0]
        );
    }
}

/// Two days of TorchRec's preprocessed Criteo layout (dense [N, 13] f32, sparse [N, F] i32 of
/// raw hashed ids, labels [N] i32) with labels planted in the first dense column.
const CRITEO_NPY: &str = r#"
import sys
import numpy as np
rng = np.random.default_rng(0)
for day in range(2):
    n = 2048
    dense = rng.integers(0, 100, (n, 13)).astype(np.float32)
    np.save(f"day_{day}_dense.npy", dense)
    np.save(f"day_{day}_sparse.npy", rng.integers(0, 2**31 - 1, (n, int(sys.argv[1]))).astype(np.int32))
    np.save(f"day_{day}_labels.npy", (dense[:, 0] > 50).astype(np.int32))
"#;

#[test]
#[ignore = "needs TorchRec: .ci/python-envs, then cargo test --test cli -- --ignored torchrec_train:: (.ci/run does)"]
fn packages_train_on_criteo_npy_days() {
    let python = python_with(
        "EMBPLAN_TORCHREC_PYTHON",
        "venv-torchrec",
        "torchrec.distributed.model_parallel",
    );
    // One feature at dim 8: TorchRec's DLRM needs one dim, so the MLP model trains this one.
    let mut plan = plan(Dtype::F32, Optimizer::Adagrad);
    plan.features[0] = PlannedFeature::new("full", 100, 8, Scheme::Full, None).unwrap();
    let data = tempfile::tempdir().unwrap();
    let features = plan.features.len().to_string();
    let out =
        crate::export_formats::run_python(&python, &["-c", CRITEO_NPY, &features], data.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps = 12;
    let run = train(&python, &plan, steps, Some(data.path()));
    assert!(
        run.stdout.contains("model: __main__.ConcatModel"),
        "{}",
        run.stdout
    );
    assert_eq!(run.losses.len(), steps, "{}", run.stdout);
    let last = run.losses[steps - 4..].iter().sum::<f64>() / 4.0;
    assert!(
        last < run.losses[0],
        "the loss did not fall: {:?}",
        run.losses
    );
}

/// Per rank, (embplan's bytes, TorchRec's planner's estimate) from train.py's placement lines.
fn placement_lines(stdout: &str) -> Vec<(u64, u64)> {
    stdout
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("rank ")?;
            let (_, rest) = rest.split_once(": embplan ")?;
            let (ours, rest) = rest.split_once(" bytes, TorchRec's planner ")?;
            let (theirs, verdict) = rest.split_once(" bytes: ")?;
            assert_eq!(verdict, "fits", "{line}");
            Some((ours.parse().unwrap(), theirs.parse().unwrap()))
        })
        .collect()
}

/// Plans `schema` for two devices of `memory` (with `extra` plan flags), trains its package
/// for 4 steps on 2 CPU ranks and checks the run against the placement: TorchRec's planner
/// prices each rank's shards as embplan does, within capacity, and DistributedModelParallel
/// put the tables where the placement says. Returns the plan.
fn check_placed_run(schema: &str, memory: &str, extra: &[&str]) -> Plan {
    let python = python_with(
        "EMBPLAN_TORCHREC_PYTHON",
        "venv-torchrec",
        "torchrec.distributed.model_parallel",
    );
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.toml");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(schema);
    cargo_bin_cmd!("embplan")
        .args([
            "plan",
            "--target",
            "torchrec",
            "--devices",
            "2",
            "--device-memory",
            memory,
            "-q",
            "-o",
        ])
        .arg(&plan_path)
        .args(extra)
        .arg(&schema)
        .assert()
        .success();
    let plan = Plan::load(&plan_path).unwrap();
    let placement = plan.placement.clone().unwrap();
    let run = train_file(&python, &plan_path, 4, &[], &schema.display().to_string());
    let lines = placement_lines(&run.stdout);
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    for (rank, ((ours, theirs), load)) in lines.iter().zip(&placement.loads).enumerate() {
        assert_eq!(*ours, load.bytes(), "rank {rank}");
        assert_eq!(ours, theirs, "rank {rank}: {}", run.stdout);
        assert!(*theirs <= placement.topology.device_memory);
    }
    // f32 + Adagrad: each rank's weights are half its table bytes; nothing data-parallel.
    for (rank, ((tables, copies), load)) in run.ranks.iter().zip(&placement.loads).enumerate() {
        assert_eq!(*copies, 0, "rank {rank}");
        assert_eq!(*tables * 2, load.table_bytes, "rank {rank}: {}", run.stdout);
    }
    assert_eq!(run.losses.len(), 4);
    assert!(run.losses.iter().all(|l| l.is_finite()), "{:?}", run.losses);
    plan
}

#[test]
#[ignore = "needs TorchRec: .ci/python-envs, then cargo test --test cli -- --ignored torchrec_train:: (.ci/run does)"]
fn kaggle_plan_for_two_devices_shards_with_its_placement() {
    // Two devices of 640 MiB: about the 1 GiB Kaggle plan of the README with its optimizer.
    let plan = check_placed_run("criteo-kaggle.toml", "640MiB", &[]);
    assert!(plan.costs().unwrap().total.bytes > 1 << 30);
}

#[test]
#[ignore = "needs TorchRec: .ci/python-envs, then cargo test --test cli -- --ignored torchrec_train:: (.ci/run does)"]
fn a_row_wise_placement_shards_and_trains() {
    // Hashed tables of the synthetic schema on devices too small for its largest one whole.
    let plan = check_placed_run(
        "synthetic.toml",
        "6MiB",
        &["--families", "hash", "--allow-hash"],
    );
    let placement = plan.placement.unwrap();
    assert!(
        placement
            .tables
            .iter()
            .any(|t| t.sharding == embplan::placement::Sharding::RowWise),
        "{:?}",
        placement.tables
    );
}

#[test]
#[ignore = "needs TorchRec: .ci/python-envs, then cargo test --test cli -- --ignored torchrec_train:: (.ci/run does)"]
fn gpu_only_and_inference_only_plans_are_refused_on_cpu_with_a_message() {
    let python = python_with(
        "EMBPLAN_TORCHREC_PYTHON",
        "venv-torchrec",
        "torchrec.distributed.model_parallel",
    );
    for (dtype, optimizer, expected) in [
        (Dtype::Bf16, Optimizer::Adagrad, "not BF16"),
        (Dtype::F32, Optimizer::Adam, "no Adam on CPU"),
        (Dtype::Int8, Optimizer::Sgd, "INT8 tables are for inference"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let plan_path = dir.path().join("plan.toml");
        plan(dtype, optimizer).write(&plan_path).unwrap();
        let pkg = dir.path().join("pkg");
        cargo_bin_cmd!("embplan")
            .args(["export", "--format", "torchrec", "-q", "-o"])
            .arg(&pkg)
            .arg(&plan_path)
            .assert()
            .success();
        let out = std::process::Command::new(&python)
            .arg(pkg.join("train.py"))
            .args(["--steps", "1"])
            .env("MASTER_PORT", "29533")
            .output()
            .expect("cannot run python");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{dtype} {optimizer} trained on CPU");
        assert!(stderr.contains(expected), "{dtype} {optimizer}: {stderr}");
    }
}
