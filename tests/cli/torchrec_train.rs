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
    let pkg = dir.path().join("pkg");
    cargo_bin_cmd!("embplan")
        .args(["export", "--format", "torchrec", "-q", "-o"])
        .arg(&pkg)
        .arg(&plan_path)
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
        .args(["--steps", &steps.to_string(), "--batch", "128"])
        .args(data.iter().flat_map(|d| [Path::new("--data"), d]))
        .output()
        .expect("cannot run torchrun");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}: {stdout}{}",
        plan.name.as_deref().unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr)
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
    for (dtype, optimizer) in [
        (Dtype::F32, Optimizer::Adagrad),
        (Dtype::F16, Optimizer::Sgd),
        (Dtype::F32, Optimizer::RowwiseAdagrad),
    ] {
        let plan = plan(dtype, optimizer);
        let run = train(&python, &plan, steps, None);
        let name = plan.name.as_deref().unwrap();
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
    let plan = plan(Dtype::F32, Optimizer::Adagrad);
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
    assert_eq!(run.losses.len(), steps, "{}", run.stdout);
    let last = run.losses[steps - 4..].iter().sum::<f64>() / 4.0;
    assert!(
        last < run.losses[0],
        "the loss did not fall: {:?}",
        run.losses
    );
}
