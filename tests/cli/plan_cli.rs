//! `embplan plan` end to end: happy paths, baselines and bad inputs.

use crate::common::json;
use std::fmt::Write as _;

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;

fn kaggle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/criteo-kaggle.toml")
}

const SMALL: &str = r#"name = "small"
dim = 16
dtype = "f32"
optimizer = "adagrad"

[[feature]]
name = "user"
cardinality = 1000000

[[feature]]
name = "item"
cardinality = 250000
weight = 2.0

[[feature]]
name = "country"
cardinality = 200
"#;

fn small(dir: &Path) -> PathBuf {
    let path = dir.join("small.toml");
    std::fs::write(&path, SMALL).unwrap();
    path
}

#[test]
fn plans_kaggle_in_4gib_and_the_plan_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    cargo_bin_cmd!("embplan")
        .args(["plan", "--budget", "4GiB"])
        .arg(kaggle())
        .arg("-o")
        .arg(&plan)
        .assert()
        .success()
        .stdout(predicate::str::contains("of the budget 4.00 GiB"))
        .stdout(predicate::str::contains(
            "quality model: bundled calibration: 88 runs",
        ))
        .stdout(predicate::str::contains(
            "proved complementary (26 features)",
        ))
        .stdout(predicate::str::contains(
            "optimal in the search space under the quality model",
        ));
    cargo_bin_cmd!("embplan")
        .arg("verify")
        .arg(&plan)
        .assert()
        .success();
    let est = json(&["estimate", "--json", plan.to_str().unwrap()]);
    let total = est["total"]["bytes"].as_u64().unwrap();
    assert!(total <= 4 << 30, "{total}");
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(
        text.contains("quality_model = \"bundled calibration: 88 runs"),
        "{text}"
    );
    assert!(text.contains("budget_bytes = 4294967296"), "{text}");
}

#[test]
fn json_reports_the_solver_figures() {
    let v = json(&[
        "plan",
        "--budget",
        "1GiB",
        "--json",
        kaggle().to_str().unwrap(),
    ]);
    assert_eq!(v["budget_bytes"], 1u64 << 30);
    assert!(v["total_bytes"].as_u64().unwrap() <= 1 << 30);
    assert_eq!(v["fits"], true);
    assert_eq!(v["provisional"], false);
    let (loss, bound) = (
        v["predicted_loss"].as_f64().unwrap(),
        v["lower_bound"].as_f64().unwrap(),
    );
    assert!(bound <= loss && loss > 0.0);
    assert_eq!(v["plan"]["feature"].as_array().unwrap().len(), 26);
    assert_eq!(v["not_complementary"].as_array().unwrap().len(), 0);
}

#[test]
fn dtype_and_optimizer_overrides_change_the_count() {
    let k = kaggle();
    let k = k.to_str().unwrap();
    let base = json(&["plan", "--budget", "1GiB", "--json", k]);
    let half = json(&["plan", "--budget", "1GiB", "--json", "--dtype", "f16", k]);
    assert_eq!(half["plan"]["dtype"], "f16");
    assert_eq!(
        half["full_bytes"].as_u64().unwrap() * 2,
        base["full_bytes"].as_u64().unwrap()
    );
    let sgd = json(&[
        "plan",
        "--budget",
        "1GiB",
        "--json",
        "--optimizer",
        "sgd",
        k,
    ]);
    assert_eq!(sgd["plan"]["optimizer"], "sgd");
    assert!(sgd["predicted_loss"].as_f64() < base["predicted_loss"].as_f64());
}

#[test]
fn full_budget_keeps_full_tables() {
    cargo_bin_cmd!("embplan")
        .args(["plan", "--budget", "5GiB"])
        .arg(kaggle())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "the budget holds the full model: every table stays full",
        ));
}

#[test]
fn infeasible_budget_names_the_minimum() {
    cargo_bin_cmd!("embplan")
        .args(["plan", "--budget", "1KiB"])
        .arg(kaggle())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the minimum feasible budget is 50.77 KiB (51,992 bytes)",
        ));
}

#[test]
fn bad_inputs_exit_2_with_clear_errors() {
    let k = kaggle();
    let k = k.to_str().unwrap();
    for (args, expect) in [
        (vec!["--budget", "4G", k], "ambiguous"),
        (vec!["--budget", "lots", k], "does not start with a number"),
        (
            vec!["--budget", "4GiB", "--families", "qrr", k],
            "a similar value exists: 'qr'",
        ),
        (
            vec!["--budget", "4GiB", "--families", "hash", k],
            "--allow-hash",
        ),
        (
            vec!["--budget", "4GiB", "--combiners", "mul", k],
            "a similar value exists: 'mult'",
        ),
        (vec!["--budget", "4GiB", "--dim-multiple", "0", k], "0"),
        (
            vec!["--budget", "4GiB", "--dim-multiple", "5", k],
            "not a multiple of",
        ),
        (vec!["--uniform", "qr:x", k], "collision count"),
        (
            vec!["--uniform", "hash:4:add", k],
            "only qr:C takes a combiner",
        ),
        (vec!["--budget", "4GiB", "--threshold", "5", k], "--uniform"),
        (vec![k], "--budget"),
        (vec!["--budget", "4GiB", "missing.toml"], "missing.toml"),
    ] {
        cargo_bin_cmd!("embplan")
            .arg("plan")
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(expect));
    }
}

#[test]
fn unwritable_output_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let schema = small(dir.path());
    let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    for out in [
        dir.path().join("no-such-dir/plan.toml"),
        dir.path().join("plan.txt"),
    ] {
        cargo_bin_cmd!("embplan")
            .args(["plan", "--budget", "10MiB"])
            .arg(&schema)
            .arg("-o")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                out.file_name().unwrap().to_str().unwrap(),
            ));
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), before.len());
}

#[test]
fn uniform_baselines_follow_dlrm() {
    let k = kaggle();
    let v = json(&[
        "plan",
        "--uniform",
        "qr:4:mult",
        "--threshold",
        "200",
        "--json",
        k.to_str().unwrap(),
    ]);
    let features = v["plan"]["feature"].as_array().unwrap();
    let c3 = &features[2];
    assert_eq!(
        (c3["scheme"].as_str(), c3["m"].as_u64()),
        (Some("qr"), Some(4))
    );
    assert_eq!(c3["combiner"], "mult");
    assert_eq!(c3["table"][1]["rows"], 2_532_807);
    let c6 = &features[5]; // cardinality 24 ≤ 200
    assert_eq!(c6["scheme"], "full");
    assert_eq!(
        v["plan"]["planner"]["method"],
        "uniform qr:4 mult threshold 200"
    );

    cargo_bin_cmd!("embplan")
        .args(["plan", "--uniform", "hash:4"])
        .arg(&k)
        .assert()
        .success()
        .stdout(predicate::str::contains("NOT complementary"));
    let full = json(&["plan", "--uniform", "full", "--json", k.to_str().unwrap()]);
    assert_eq!(full["total_bytes"], full["full_bytes"]);
}

#[test]
fn calibration_file_replaces_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let cal = dir.path().join("cal.toml");
    std::fs::write(
        &cal,
        "version = 1\nsource = \"test sweep\"\n[[coefficient]]\nfamily = \"qr\"\ncombiner = \"mult\"\nalpha = 0.002\n",
    )
    .unwrap();
    let v = json(&[
        "plan",
        "--budget",
        "1GiB",
        "--json",
        "--calibration",
        cal.to_str().unwrap(),
        kaggle().to_str().unwrap(),
    ]);
    assert_eq!(v["provisional"], false);
    assert!(v["quality_model"].as_str().unwrap().contains("test sweep"));
    // Only the measured pair is chosen; --extrapolate allows the others, and says which.
    let features = v["plan"]["feature"].as_array().unwrap();
    let compressed: Vec<_> = features.iter().filter(|f| f["scheme"] != "full").collect();
    assert!(!compressed.is_empty());
    assert!(
        compressed
            .iter()
            .all(|f| f["scheme"] == "qr" && f["combiner"] == "mult")
    );
    assert!(v.get("extrapolated").is_none());
    let out = cargo_bin_cmd!("embplan")
        .args([
            "plan",
            "--budget",
            "1GiB",
            "--json",
            "--extrapolate",
            "--calibration",
        ])
        .arg(&cal)
        .arg(kaggle())
        .output()
        .unwrap();
    assert!(out.status.success());
    let x: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = x["extrapolated"].as_array().unwrap();
    assert!(!listed.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: the calibration did not measure the pairs of"),
        "{stderr}"
    );
    std::fs::write(
        &cal,
        "version = 1\n[[coefficient]]\nfamily = \"qr\"\nalpha = 1\n",
    )
    .unwrap();
    cargo_bin_cmd!("embplan")
        .args(["plan", "--budget", "1GiB", "--calibration"])
        .arg(&cal)
        .arg(kaggle())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs a combiner"));
}

#[test]
fn summary_table_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let schema = small(dir.path());
    // A calibration of its own, so refitting the bundled one does not change the snapshot.
    let mut calibration = String::from("version = 1\nsource = \"snapshot test\"\n");
    for family in ["qr", "mixed-radix", "crt"] {
        for (combiner, alpha) in [("mult", 1e-3), ("add", 1.2e-3), ("concat", 0.9e-3)] {
            let _ = write!(
                calibration,
                "[[coefficient]]\nfamily = \"{family}\"\ncombiner = \"{combiner}\"\nalpha = {alpha}\nbeta = 1e-5\n"
            );
        }
    }
    calibration.push_str("[[coefficient]]\nfamily = \"hash\"\nalpha = 3e-3\n");
    let calibration_path = dir.path().join("calibration.toml");
    std::fs::write(&calibration_path, calibration).unwrap();
    let out = cargo_bin_cmd!("embplan")
        .args([
            "plan",
            "--budget",
            "20MiB",
            "--dim-multiple",
            "4",
            "--calibration",
        ])
        .arg(&calibration_path)
        .arg(&schema)
        .output()
        .unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn plans_are_byte_identical_across_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut texts = Vec::new();
    for threads in ["1", "2", "3"] {
        let out = dir.path().join(format!("plan-{threads}.json"));
        cargo_bin_cmd!("embplan")
            .env("RAYON_NUM_THREADS", threads)
            .args(["plan", "--budget", "300MiB", "--allow-hash"])
            .arg(kaggle())
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        texts.push(std::fs::read(&out).unwrap());
    }
    assert!(texts.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn a_misspelt_combiner_gets_exactly_one_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let out = cargo_bin_cmd!("embplan")
        .args(["plan", "--uniform", "qr:4:mul"])
        .arg(small(dir.path()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("did you mean 'mult'").count(), 1, "{stderr}");
}

#[test]
fn target_torchrec_keeps_table_dims_in_units_of_four_and_names_gpu_only_choices() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.toml");
    // Three-way concat of a 16-dim feature is 6, 5, 5 without a target; 8, 4, 4 with it.
    cargo_bin_cmd!("embplan")
        .args([
            "plan",
            "--budget",
            "64MiB",
            "--target",
            "torchrec",
            "--combiners",
            "concat",
        ])
        .args(["--dtype", "bf16", "--optimizer", "adam", "-q", "-o"])
        .arg(&out)
        .arg(kaggle())
        .assert()
        .success()
        .stdout(predicate::str::contains("dim multiple 4"))
        .stderr(
            predicate::str::contains("warning: FBGEMM has no bf16")
                .and(predicate::str::contains("warning: FBGEMM has no Adam")),
        );
    let plan = embplan::plan::Plan::load(&out).unwrap();
    let dims: Vec<u32> = plan
        .features
        .iter()
        .flat_map(|f| f.table_dims().to_vec())
        .collect();
    assert!(dims.iter().all(|d| d % 4 == 0), "{dims:?}");
    assert!(plan.features.iter().any(|f| f.table_dims().len() > 1));
}
