//! CLI regression tests for hostile input: outputs never overwrite inputs, output paths are
//! checked before any work, interrupted runs leave no temp files, verdicts never wrap.

use std::path::Path;
use std::time::{Duration, Instant};

use predicates::str::contains;

use crate::common::{embplan, write};

const SCHEMA: &str = "dim = 8\noptimizer = \"adagrad\"\n\n[[feature]]\nname = \"a\"\ncardinality = 1000\n\n[[feature]]\nname = \"b\"\ncardinality = 10\n";

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn plan_refuses_to_overwrite_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(dir.path(), "s.toml", SCHEMA);
    embplan()
        .current_dir(dir.path())
        .args(["plan", "--budget", "64KiB", "s.toml", "-o", "./s.toml"])
        .assert()
        .code(2)
        .stderr(contains("refusing to overwrite an input"));
    assert_eq!(std::fs::read_to_string(s).unwrap(), SCHEMA);
}

#[test]
fn export_refuses_to_overwrite_its_plan_and_checks_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", SCHEMA);
    embplan()
        .current_dir(dir.path())
        .args(["plan", "--budget", "64KiB", "s.toml", "-o", "p.toml"])
        .assert()
        .success()
        .stderr(contains("wrote p.toml"));
    let plan = std::fs::read_to_string(dir.path().join("p.toml")).unwrap();
    embplan()
        .current_dir(dir.path())
        .args(["export", "p.toml", "-f", "json", "-o", "p.toml"])
        .assert()
        .code(2)
        .stderr(contains("must end in .json"));
    embplan()
        .current_dir(dir.path())
        .args(["export", "p.toml", "-f", "toml", "-o", "p.toml"])
        .assert()
        .code(2)
        .stderr(contains("refusing to overwrite an input"));
    embplan()
        .current_dir(dir.path())
        .args(["export", "p.toml", "-f", "pytorch", "-o", "m.json"])
        .assert()
        .code(2)
        .stderr(contains("must end in .py"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("p.toml")).unwrap(),
        plan
    );
    assert_eq!(files_in(dir.path()), ["p.toml", "s.toml"]);
}

#[test]
fn train_refuses_to_overwrite_its_data() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", SCHEMA);
    let data = "label\ta\tb\n1\t3\t4\n0\t5\t6\n1\t7\t8\n0\t9\t1\n";
    write(dir.path(), "d.tsv", data);
    embplan()
        .current_dir(dir.path())
        .args(["train", "s.toml", "--data", "d.tsv", "-o", "d.tsv"])
        .assert()
        .code(2)
        .stderr(contains("must end in .json"));
    write(dir.path(), "d.json", data);
    embplan()
        .current_dir(dir.path())
        .args(["train", "s.toml", "--data", "d.json", "--out", "d.json"])
        .assert()
        .code(2)
        .stderr(contains("refusing to overwrite an input"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("d.json")).unwrap(),
        data
    );
}

#[test]
fn train_checks_its_output_directory_before_training() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", SCHEMA);
    let start = Instant::now();
    embplan()
        .current_dir(dir.path())
        .args([
            "train",
            "s.toml",
            "--data",
            "synthetic",
            "--train-rows",
            "2000000",
        ])
        .args(["--output", "nodir/report.json"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(contains("directory 'nodir' does not exist"));
    // Two million rows take seconds to train; the refusal comes first.
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn sweep_checks_its_plot_path_before_any_run() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", SCHEMA);
    for (plot, error) in [
        ("nodir/p.png", "directory 'nodir' does not exist"),
        ("p.pdf", "must end in .png or .svg"),
    ] {
        embplan()
            .current_dir(dir.path())
            .args([
                "sweep",
                "s.toml",
                "--data",
                "synthetic",
                "--compressions",
                "2",
            ])
            .args(["-o", "r.json", "--plot", plot])
            .assert()
            .code(2)
            .stderr(contains(error));
    }
    assert_eq!(files_in(dir.path()), ["s.toml"]);
}

#[test]
fn calibrate_and_plot_check_their_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let results = write(dir.path(), "r.json", "{}");
    embplan()
        .args(["calibrate", results.to_str().unwrap(), "-o"])
        .arg(dir.path().join("c.json"))
        .assert()
        .code(2)
        .stderr(contains("must end in .toml"));
    embplan()
        .args(["plot", results.to_str().unwrap(), "-o"])
        .arg(dir.path().join("r.txt"))
        .assert()
        .code(2)
        .stderr(contains("must end in .png or .svg"));
}

#[cfg(unix)]
#[test]
fn interrupted_sweep_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", SCHEMA);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("embplan"))
        .current_dir(dir.path())
        .args([
            "sweep",
            "s.toml",
            "--data",
            "synthetic",
            "--train-rows",
            "20000",
        ])
        .args([
            "--compressions",
            "2,4,8,16",
            "--repeats",
            "50",
            "-o",
            "r.json",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first saved results, then interrupt between or during writes.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.path().join("r.json").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_eq!(files_in(dir.path()), ["r.json", "s.toml"]);
    let text = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).expect("the results file is whole");
}

#[test]
fn verify_refuses_huge_exhaustive_enumeration_at_once() {
    for args in [
        ["-n", "18446744073709551615", "--qr", "1"],
        ["-n", "9223372036854775808", "--qr", "3037000500"],
    ] {
        embplan()
            .arg("verify")
            .args(args)
            .arg("--exhaustive")
            .timeout(Duration::from_secs(10))
            .assert()
            .code(2)
            .stderr(contains("refused"))
            .stderr(contains("of memory"));
    }
}

#[test]
fn verify_exhaustive_of_a_sparse_code_space_finishes() {
    // Regression: 10^18 codes for 10^6 ids made the windowed check run for hours.
    embplan()
        .args(["verify", "-n", "1000000", "--crt", "999999,999998,999997"])
        .arg("--exhaustive")
        .timeout(Duration::from_secs(60))
        .assert()
        .success()
        .stdout(contains("complementary (exhaustive)"));
}

#[test]
fn verify_partitions_with_the_largest_class_id_are_an_error() {
    // Regression: 1 + u64::MAX wrapped to 0 rows and the file passed as complementary.
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.txt",
        "18446744073709551615 0\n18446744073709551615 0\n",
    );
    embplan()
        .args(["verify", "-n", "2", "--partitions"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(contains(
            "p.txt:1:1: class id 18446744073709551615 is too large",
        ));
}

#[test]
fn train_refuses_sizes_it_cannot_allocate_without_aborting() {
    let dir = tempfile::tempdir().unwrap();
    let small = write(dir.path(), "s.toml", SCHEMA);
    let huge = write(
        dir.path(),
        "huge.toml",
        "dim = 100000000\n[[feature]]\nname = \"a\"\ncardinality = 100000000\n",
    );
    let cases: [(&Path, &[&str], &str); 4] = [
        (&small, &["--train-rows", "1000000000000"], "--train-rows"),
        (
            &small,
            &["--train-rows", "18446744073709551615", "--valid-rows", "1"],
            "--valid-rows",
        ),
        (&huge, &["--train-rows", "100"], "of memory"),
        (
            &small,
            &["--threads", "100000"],
            "--threads 100000: at most",
        ),
    ];
    for (schema, extra, message) in cases {
        embplan()
            .arg("train")
            .arg(schema)
            .args(["--data", "synthetic"])
            .args(extra)
            .timeout(Duration::from_secs(10))
            .assert()
            .code(2)
            .stderr(contains(message));
    }
}

#[test]
fn a_batch_larger_than_the_data_trains_in_one_step() {
    // Regression: --batch 10^11 sized every buffer by the batch and aborted.
    let dir = tempfile::tempdir().unwrap();
    let small = write(dir.path(), "s.toml", SCHEMA);
    embplan()
        .arg("train")
        .arg(&small)
        .args([
            "--data",
            "synthetic",
            "--train-rows",
            "500",
            "--valid-rows",
            "100",
        ])
        .args(["--batch", "100000000000", "--epochs", "1"])
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
}

/// A tiny sweep's arguments (the full model and three methods at one budget).
const SWEEP: [&str; 9] = [
    "sweep",
    "s.toml",
    "--data",
    "synthetic",
    "--train-rows",
    "3000",
    "--valid-rows",
    "500",
    "--epochs=1",
];

#[test]
fn sweep_resumes_only_runs_made_under_the_same_settings() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", SCHEMA);
    let run = |extra: &[&str]| {
        embplan()
            .current_dir(dir.path())
            .args(SWEEP)
            .args(["--compressions", "2", "-o", "r.json"])
            .args(extra)
            .assert()
    };
    run(&[]).success();
    let first = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    // The same settings resume (nothing to do); other training settings are refused.
    run(&[]).success();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("r.json")).unwrap(),
        first
    );
    run(&["--lr", "0.5", "--init", "dlrm", "--threshold", "0"])
        .code(2)
        .stderr(contains("lr: 0.05 → 0.5"))
        .stderr(contains("init: standard → dlrm"))
        .stderr(contains("threshold: 200 → 0"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("r.json")).unwrap(),
        first
    );
}

#[test]
fn undefined_auc_is_stored_as_null_and_read_back_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", SCHEMA);
    embplan()
        .current_dir(dir.path())
        .args(SWEEP)
        .args(["--compressions", "2", "-o", "r.json"])
        .assert()
        .success();
    let path = dir.path().join("r.json");
    let mut results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for run in results["runs"].as_array_mut().unwrap() {
        run["valid_auc"] = serde_json::Value::Null;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&results).unwrap()).unwrap();
    embplan()
        .current_dir(dir.path())
        .args(["plot", "r.json", "-o", "p.svg"])
        .assert()
        .success();
    embplan()
        .current_dir(dir.path())
        .args(["calibrate", "r.json"])
        .assert()
        .success();
    embplan()
        .current_dir(dir.path())
        .args(SWEEP)
        .args(["--compressions", "2", "-o", "r.json"])
        .assert()
        .success()
        .stdout(contains("n/a"));
}

#[test]
fn over_budget_and_nothing_to_run_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", SCHEMA);
    embplan()
        .current_dir(dir.path())
        .args(["plan", "--budget", "1KiB", "--uniform", "full", "s.toml"])
        .args(["-o", "p.toml"])
        .assert()
        .code(2)
        .stderr(contains(
            "more than the budget of 1.00 KiB; nothing written",
        ));
    embplan()
        .current_dir(dir.path())
        .args(["plan", "--budget", "1KiB", "--uniform", "full", "s.toml"])
        .args(["--allow-over-budget", "-o", "p.toml"])
        .assert()
        .success()
        .stdout(contains("DOES NOT FIT"));
    embplan()
        .current_dir(dir.path())
        .args(SWEEP)
        .args(["--budgets", "1B", "-o", "r.json"])
        .assert()
        .code(2)
        .stderr(contains(
            "no plan of any method fits any of the budgets (1 B)",
        ));
    assert!(!dir.path().join("r.json").exists());
}

#[test]
fn plans_beyond_i64_are_read_back() {
    // Regression: cardinalities and moduli above 2^63 − 1 were written as TOML integers,
    // which `estimate` and `train` could not read.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "h.toml",
        "dim = 4\n[[feature]]\nname = \"huge\"\ncardinality = \"18446744073709551615\"\n",
    );
    for out in ["p.toml", "p.json"] {
        embplan()
            .current_dir(dir.path())
            .args(["plan", "--budget", "1GiB", "h.toml", "-o", out])
            .assert()
            .success();
        embplan()
            .current_dir(dir.path())
            .args(["estimate", out])
            .assert()
            .success()
            .stdout(contains("18,446,744,073,709,551,615"));
    }
    let text = std::fs::read_to_string(dir.path().join("p.toml")).unwrap();
    assert!(
        text.contains("cardinality = \"18446744073709551615\""),
        "{text}"
    );
}

#[test]
fn plans_that_are_not_complementary_say_so() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", SCHEMA);
    embplan()
        .current_dir(dir.path())
        .args(["plan", "--budget", "20KiB", "--uniform", "hash:4", "s.toml"])
        .args(["-o", "h.toml"])
        .assert()
        .success();
    let warning = "warning: not complementary (colliding ids share every row";
    let out = embplan()
        .current_dir(dir.path())
        .args(["estimate", "h.toml", "--json"])
        .assert()
        .success()
        .stderr(contains(warning))
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["not_complementary"], serde_json::json!(["a"]));
    embplan()
        .current_dir(dir.path())
        .args(["export", "h.toml", "-f", "pytorch", "-o", "m.py"])
        .assert()
        .success()
        .stderr(contains(warning));
    embplan()
        .current_dir(dir.path())
        .args([
            "train",
            "h.toml",
            "--data",
            "synthetic",
            "--train-rows",
            "500",
        ])
        .args(["--valid-rows", "100", "--epochs", "1"])
        .assert()
        .success()
        .stderr(contains(warning));
}

#[cfg(unix)]
#[test]
fn a_partition_file_that_is_a_device_is_refused() {
    // Regression: a plan naming /dev/zero as its partitions would read forever.
    embplan()
        .args(["verify", "--partitions", "/dev/zero"])
        .timeout(Duration::from_secs(10))
        .assert()
        .code(2)
        .stderr(contains("is not a regular file"));
}
