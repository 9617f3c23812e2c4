//! CLI tests for `sweep` and `calibrate`: resume, atomic results, calibration round trip.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use embplan::results::Results;
use predicates::prelude::*;
use predicates::str::contains;

const SCHEMA: &str = "name = \"tiny\"\ndim = 8\noptimizer = \"adagrad\"\n\n[[feature]]\nname = \"a\"\ncardinality = 3000\n\n[[feature]]\nname = \"b\"\ncardinality = 800\n\n[[feature]]\nname = \"c\"\ncardinality = 20\n";

fn sweep(dir: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    cargo_bin_cmd!("embplan")
        .current_dir(dir)
        .args([
            "sweep",
            "s.toml",
            "--data",
            "synthetic",
            "--train-rows",
            "3000",
            "--valid-rows",
            "1000",
            "--epochs",
            "1",
            "--threads",
            "1",
        ])
        .args(extra)
        .args(if extra.contains(&"-o") {
            &[][..]
        } else {
            &["-o", "results.json"][..]
        })
        .assert()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.toml"), SCHEMA).unwrap();
    dir
}

#[test]
fn sweep_records_every_method_and_resumes_without_redoing_runs() {
    let dir = setup();
    sweep(dir.path(), &["--compressions", "3,8", "--repeats", "2"])
        .success()
        .stdout(contains("Δ vs full"))
        .stdout(contains("at "));
    let path = dir.path().join("results.json");
    let first = Results::load(&path).unwrap();
    // Two seeds × (full + 2 budgets × 3 methods).
    assert_eq!(first.runs.len(), 14, "{first:#?}");
    for m in ["full", "searched", "qr-mult", "hash"] {
        assert!(first.runs.iter().any(|r| r.method.name() == m), "{m}");
    }
    assert!(
        first
            .runs
            .iter()
            .all(|r| r.budget_bytes.is_none_or(|b| r.bytes <= b))
    );
    // Rerunning does nothing new: same file, byte for byte.
    let before = std::fs::read(&path).unwrap();
    sweep(dir.path(), &["--compressions", "3,8", "--repeats", "2"]).success();
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // An interrupted sweep (runs missing from the file) is completed, keeping what it had.
    let mut partial = first.clone();
    partial.runs.truncate(5);
    partial.save(&path).unwrap();
    sweep(dir.path(), &["--compressions", "3,8", "--repeats", "2"]).success();
    let resumed = Results::load(&path).unwrap();
    assert_eq!(resumed.runs.len(), 14);
    assert_eq!(&resumed.runs[..5], &first.runs[..5]);
    // Deterministic: the redone runs measure the same losses.
    let key = |r: &embplan::results::Run| (r.method, r.budget_bytes, r.seed);
    for r in &resumed.runs {
        let original = first.runs.iter().find(|o| key(o) == key(r)).unwrap();
        assert_eq!(original.valid_logloss, r.valid_logloss);
    }
    // Nothing but the results file and the schema is left behind (no temp files).
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn calibration_round_trips_into_the_planner() {
    let dir = setup();
    sweep(dir.path(), &["--compressions", "2,6", "--plot", "plot.svg"]).success();
    assert!(dir.path().join("plot.svg").exists());
    cargo_bin_cmd!("embplan")
        .current_dir(dir.path())
        .args(["calibrate", "results.json", "-o", "calibration.toml"])
        .assert()
        .success()
        .stdout(contains("alpha (fitted)"))
        .stdout(contains("RMSE"));
    let text = std::fs::read_to_string(dir.path().join("calibration.toml")).unwrap();
    assert!(
        text.contains("[[coefficient]]") && text.contains("family = \"hash\""),
        "{text}"
    );
    cargo_bin_cmd!("embplan")
        .current_dir(dir.path())
        .args([
            "plan",
            "--budget",
            "20KiB",
            "s.toml",
            "--calibration",
            "calibration.toml",
            "--json",
        ])
        .assert()
        .success()
        .stdout(contains("calibrated: "));
}

#[test]
fn sweep_refuses_mixing_and_bad_input() {
    let dir = setup();
    let mut other = Results::new("another-schema", "somewhere");
    other.runs.clear();
    other.save(&dir.path().join("results.json")).unwrap();
    sweep(dir.path(), &["--compressions", "4"])
        .code(2)
        .stderr(contains("holds runs of schema 'another-schema'"));
    sweep(dir.path(), &["--budgets", "4G"])
        .code(2)
        .stderr(contains("ambiguous"));
    sweep(dir.path(), &["--compressions", "0.5", "-o", "r2.json"])
        .code(2)
        .stderr(contains("compression ratios must be numbers ≥ 1"));
    sweep(
        dir.path(),
        &[
            "--compressions",
            "4",
            "--methods",
            "serched",
            "-o",
            "r3.json",
        ],
    )
    .code(2)
    .stderr(contains("did you mean 'searched'"));
    cargo_bin_cmd!("embplan")
        .current_dir(dir.path())
        .args(["calibrate", "results.json"])
        .assert()
        .code(2)
        .stderr(contains("no run of the full model"));
    assert!(!dir.path().join("r2.json").exists() && !dir.path().join("r3.json").exists());
}

fn calibrate_sweep(dir: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    cargo_bin_cmd!("embplan")
        .current_dir(dir)
        .args([
            "calibrate",
            "cal-runs.json",
            "--schema",
            "s.toml",
            "--data",
            "synthetic",
            "--train-rows",
            "3000",
            "--valid-rows",
            "1000",
            "--epochs",
            "1",
            "--threads",
            "1",
        ])
        .args(extra)
        .assert()
}

#[test]
fn calibrate_runs_the_sweep_it_needs_and_resumes_it() {
    let dir = setup();
    calibrate_sweep(dir.path(), &["--compressions", "4", "-o", "cal.toml"])
        .success()
        .stderr(predicate::str::contains("calibration sweep: 9 pairs at 4×"));
    let runs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cal-runs.json")).unwrap())
            .unwrap();
    let methods: Vec<&str> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods.len(), 10, "{methods:?}");
    assert_eq!(methods[0], "full");
    for pair in ["only-qr-mult", "only-mixed-radix-add", "only-crt-concat"] {
        assert!(methods.contains(&pair), "{methods:?}");
    }
    // Every pair the planner searches was measured: plans with it choose among all nine.
    let cal = std::fs::read_to_string(dir.path().join("cal.toml")).unwrap();
    assert_eq!(cal.matches("[[coefficient]]").count(), 9, "{cal}");
    // Rerunning skips every recorded run and fits the same coefficients.
    calibrate_sweep(dir.path(), &["--compressions", "4", "-o", "cal2.toml"]).success();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("cal2.toml")).unwrap(),
        cal
    );
}

#[test]
fn a_calibration_time_too_short_for_every_pair_is_refused() {
    let dir = setup();
    calibrate_sweep(dir.path(), &["--time", "1s"])
        .code(2)
        .stderr(predicate::str::contains(
            "a calibration needs 9 (one per family and combiner)",
        ));
    for (time, expected) in [
        ("10", "expected a duration"),
        ("0.5s", "at least 1s"),
        ("5d", "expected a duration"),
    ] {
        calibrate_sweep(dir.path(), &["--time", time])
            .code(2)
            .stderr(predicate::str::contains(expected));
    }
    cargo_bin_cmd!("embplan")
        .current_dir(dir.path())
        .args(["calibrate", "r.json", "--data", "synthetic"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("give the schema with --schema"));
}
