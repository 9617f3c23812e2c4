//! `embplan train` end to end: bad inputs are located, divergence is reported, and the bytes
//! allocated equal `estimate`'s.

use crate::common::json;
use std::fmt::Write as _;

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A two-feature schema: a (10 ids), b (100 ids).
fn schema(dir: &Path) -> PathBuf {
    write(
        dir,
        "s.toml",
        "dim = 4\ndtype = \"f32\"\noptimizer = \"adagrad\"\n\n[[feature]]\nname = \"a\"\ncardinality = 10\n\n[[feature]]\nname = \"b\"\ncardinality = 100\n",
    )
}

fn train(args: &[&str]) -> assert_cmd::assert::Assert {
    cargo_bin_cmd!("embplan").arg("train").args(args).assert()
}

/// Runs `embplan train ARGS`, expecting exit code 2 and every `parts` in stderr.
fn fails_with(args: &[&str], parts: &[&str]) {
    let mut assert = train(args).code(2);
    for part in parts {
        assert = assert.stderr(predicate::str::contains(*part));
    }
}

#[test]
fn an_id_out_of_range_names_file_line_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(dir.path());
    let data = write(dir.path(), "d.tsv", "1\t3\t5\n0\t10\t7\n");
    let expected = format!(
        "error: {}:2:3: id 10 of feature 'a' is out of range: expected an integer in [0, 10)",
        data.display()
    );
    let args = [
        s.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--no-header",
    ];
    fails_with(&args, &[&expected]);
}

#[test]
fn a_wrong_column_count_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(dir.path());
    let data = write(dir.path(), "d.tsv", "1\t3\t5\n0\t4\n");
    let args = [
        s.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--no-header",
    ];
    fails_with(
        &args,
        &["d.tsv:2: expected 3 fields (label then 2 feature ids), found 2"],
    );
}

#[test]
fn an_unknown_header_column_is_an_error_unless_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(dir.path());
    let mut text = String::from("label,a,b,zz\n");
    for i in 0..40 {
        let _ = writeln!(text, "{},{},{},x", i % 2, i % 10, i % 7);
    }
    let data = write(dir.path(), "d.csv", &text);
    let (s, data) = (s.to_str().unwrap(), data.to_str().unwrap());
    fails_with(
        &[s, "--data", data],
        &[
            "d.csv:1:11: unknown column 'zz': expected 'label' or one of the plan's features (a, b); pass --ignore-extra-columns to skip it",
        ],
    );
    train(&[s, "--data", data, "--ignore-extra-columns", "--epochs", "1"])
        .success()
        .stdout(predicate::str::contains("equal to the plan's estimate"));
}

#[test]
fn criteo_features_beyond_their_cardinality_say_how_many_were_seen() {
    let dir = tempfile::tempdir().unwrap();
    let schema = |cardinality: u32| {
        let mut text = String::from("dim = 4\n");
        for i in 1..=26 {
            let _ = write!(
                text,
                "[[feature]]\nname = \"C{i}\"\ncardinality = {cardinality}\n"
            );
        }
        write(dir.path(), &format!("criteo{cardinality}.toml"), &text)
    };
    let line = |c1: &str| {
        let dense = ["1", "", "-3", "40"].repeat(4)[..13].join("\t");
        let cats: Vec<&str> = std::iter::once(c1)
            .chain(std::iter::repeat_n("", 25))
            .collect();
        format!("1\t{dense}\t{}\n", cats.join("\t"))
    };
    let text = [line("aa"), line("bb"), line("cc"), line("aa")].concat();
    let data = write(dir.path(), "day.txt", &text);
    let (s2, s3) = (schema(2), schema(3));
    let args = |s: &Path| {
        [
            s.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--data-format",
            "criteo",
        ]
        .map(String::from)
    };
    let a2 = args(&s2);
    fails_with(
        &a2.each_ref().map(String::as_str),
        &[
            "feature 'C1' has 3 distinct values in",
            "but the plan's cardinality is 2: plan it with a cardinality of at least 3",
        ],
    );
    // With room for every value it trains: 13 dense inputs through the bottom MLP.
    let a3 = args(&s3);
    train(&a3.each_ref().map(String::as_str))
        .success()
        .stdout(predicate::str::contains(
            "3 training, 1 validation examples",
        ));
}

#[test]
fn divergence_names_epoch_and_step_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(dir.path());
    let out = dir.path().join("report.json");
    train(&[
        s.to_str().unwrap(),
        "--data",
        "synthetic",
        "--train-rows",
        "2000",
        "--valid-rows",
        "100",
        "--optimizer",
        "sgd",
        "--lr",
        "1e30",
        "--out",
        out.to_str().unwrap(),
    ])
    .code(2)
    .stderr(predicate::str::is_match("training diverged: the loss became (NaN|infinite) at epoch 1, step [0-9]+ of 8; try a lower learning rate than 1e30").unwrap());
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn allocated_bytes_equal_estimate_for_every_optimizer() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(dir.path());
    let s = s.to_str().unwrap();
    for opt in ["sgd", "adagrad", "rowwise-adagrad"] {
        let trained = json(&[
            "train",
            s,
            "--data",
            "synthetic",
            "--train-rows",
            "500",
            "--valid-rows",
            "100",
            "--epochs",
            "1",
            "--optimizer",
            opt,
            "--json",
        ]);
        let estimated = json(&[
            "estimate",
            s,
            "--dtype",
            "f32",
            "--optimizer",
            opt,
            "--json",
        ]);
        let a = &trained["allocated"];
        assert_eq!(a["bytes"], estimated["total"]["bytes"], "{opt}");
        assert_eq!(
            a["weight_bytes"], estimated["total"]["weight_bytes"],
            "{opt}"
        );
        assert_eq!(
            a["optimizer_bytes"], estimated["total"]["optimizer_bytes"],
            "{opt}"
        );
        assert_eq!(a["matches_estimate"], true);
        let teacher = trained["baselines"]["teacher_valid"]["logloss"]
            .as_f64()
            .unwrap();
        assert!(teacher > 0.0 && teacher < 0.7);
    }
}

#[test]
fn a_random_split_holds_out_the_same_share_and_reports_the_best_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(dir.path());
    let mut text = String::from("label,a,b\n");
    for i in 0..200 {
        let _ = writeln!(text, "{},{},{}", i % 2, i % 10, (i * 7) % 100);
    }
    let data = write(dir.path(), "d.csv", &text);
    let (s, data) = (s.to_str().unwrap(), data.to_str().unwrap());
    let report = |split: &str| {
        json(&[
            "train", s, "--data", data, "--split", split, "--epochs", "3", "--json",
        ])
    };
    let random = report("random");
    let tail = report("tail");
    for r in [&random, &tail] {
        assert_eq!(r["valid_examples"], 20);
        assert_eq!(r["train_examples"], 180);
        let best = r["best_epoch"].as_u64().unwrap();
        assert!((1..=3).contains(&best));
        let logloss = |e: &serde_json::Value| e["valid"]["logloss"].as_f64().unwrap();
        let epochs = r["epochs"].as_array().unwrap();
        let least = epochs.iter().map(logloss).fold(f64::INFINITY, f64::min);
        assert_eq!(logloss(&epochs[best as usize - 1]), least);
    }
    assert_ne!(
        random["epochs"][0]["valid"], tail["epochs"][0]["valid"],
        "other rows held out"
    );
    fails_with(
        &["--data", "synthetic", s, "--split", "random"],
        &["--split apply to file data"],
    );
}
