//! CLI tests for `verify` and `estimate`: verdicts, exit codes, JSON, and bad inputs.

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{embplan, write};

const SMALL_SCHEMA: &str = "name = \"small\"\ndim = 8\noptimizer = \"adagrad\"\n\n[[feature]]\nname = \"a\"\ncardinality = 1000\n\n[[feature]]\nname = \"b\"\ncardinality = 10\ndim = 4\n";

#[test]
fn verify_qr_is_complementary_by_proof() {
    embplan()
        .args(["verify", "--cardinality", "10000000", "--qr", "3163"])
        .assert()
        .success()
        .stdout(contains("complementary (proof)"))
        .stdout(contains("mult"));
}

#[test]
fn verify_prints_counterexample_and_exits_one() {
    embplan()
        .args(["verify", "-n", "1000", "--radix", "10,10,9"])
        .assert()
        .code(1)
        .stdout(contains("NOT complementary"))
        .stdout(contains("ids 0 and 900 both have classes [0, 0, 0]"));
}

#[test]
fn verify_json_has_the_documented_fields() {
    let out = embplan()
        .args([
            "verify",
            "-n",
            "31",
            "--crt",
            "6,10,15",
            "--exhaustive",
            "--json",
        ])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["complementary"], false);
    assert_eq!(v["method"], "exhaustive");
    assert_eq!(v["counterexample"], serde_json::json!([0, 30]));
    assert!(v["reason"].as_str().unwrap().contains("the proof agrees"));
}

#[test]
fn verify_paper_example_from_partition_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "paper.txt",
        "0 0 0\n1 0 1\n2 1 1\n1 0 0\n1 1 1\n",
    );
    embplan()
        .args(["verify", "-n", "5", "--partitions"])
        .arg(&p)
        .assert()
        .success()
        .stdout(contains("complementary (exhaustive)"));
}

#[test]
fn verify_and_estimate_a_plan_file() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write(dir.path(), "plan.toml", &small_plan_toml());
    let out = embplan()
        .arg("verify")
        .arg(&plan)
        .arg("--json")
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["feature"], "a");
    embplan()
        .arg("estimate")
        .arg(&plan)
        .arg("--exact")
        .assert()
        .success()
        .stdout(contains("qr(40) mult"))
        .stdout(contains("Not counted"));
}

fn small_plan_toml() -> String {
    use embplan::partition::{Combiner, Scheme};
    use embplan::plan::{Plan, PlannedFeature};
    use embplan::schema::{Dtype, Optimizer};
    Plan {
        name: Some("small".into()),
        dtype: Dtype::F32,
        optimizer: Optimizer::Adagrad,
        features: vec![
            PlannedFeature::new("a", 1000, 8, Scheme::Qr { m: 40 }, Some(Combiner::Mult)).unwrap(),
            PlannedFeature::new("b", 10, 4, Scheme::Full, None).unwrap(),
        ],
        planner: None,
        placement: None,
    }
    .to_toml_string()
    .unwrap()
}

#[test]
fn estimate_json_counts_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(dir.path(), "s.toml", SMALL_SCHEMA);
    let out = embplan()
        .arg("estimate")
        .arg(&s)
        .args(["--json", "--optimizer", "rowwise-adagrad", "--dtype", "f16"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    // a: 1000×8 f16 = 16,000 B + 4,000 B row-wise state; b: 10×4 f16 = 80 B + 40 B.
    assert_eq!(v["total"]["params"], 8040);
    assert_eq!(v["total"]["weight_bytes"], 16_080);
    assert_eq!(v["total"]["optimizer_bytes"], 4_040);
    assert_eq!(v["total"]["bytes"], 20_120);
    assert_eq!(v["kind"], "schema");
}

#[test]
fn estimate_table_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(dir.path(), "s.toml", SMALL_SCHEMA);
    let out = embplan().arg("estimate").arg(&s).assert().success();
    insta::assert_snapshot!(String::from_utf8_lossy(&out.get_output().stdout));
}

#[test]
fn help_snapshots() {
    for args in [
        &["--help"][..],
        &["profile", "--help"],
        &["synth", "--help"],
        &["plan", "--help"],
        &["verify", "--help"],
        &["estimate", "--help"],
        &["export", "--help"],
        &["train", "--help"],
        &["sweep", "--help"],
        &["calibrate", "--help"],
        &["plot", "--help"],
    ] {
        let out = embplan().args(args).assert().success();
        insta::assert_snapshot!(
            format!("help_{}", args[0].trim_start_matches('-')),
            String::from_utf8_lossy(&out.get_output().stdout)
        );
    }
}

/// Each bad input: the file text, the command tail, and a fragment of the expected error.
#[test]
#[allow(clippy::too_many_lines)] // a table of cases, one per line
fn bad_inputs_give_clear_errors_and_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let feature = "[[feature]]\nname = \"a\"\ncardinality = 10\n";
    let schema_cases: &[(&str, String, &str)] = &[
        (
            "unknown key",
            format!("dimm = 4\n{feature}"),
            "s.toml:1:1: unknown field `dimm`",
        ),
        (
            "misspelt key hint",
            "[[feature]]\nname = \"a\"\ncardnality = 1\n".into(),
            "did you mean 'cardinality'",
        ),
        (
            "missing cardinality",
            "[[feature]]\nname = \"a\"\n".into(),
            "missing field `cardinality`",
        ),
        (
            "missing name",
            "[[feature]]\ncardinality = 3\n".into(),
            "missing field `name`",
        ),
        (
            "zero cardinality",
            "[[feature]]\nname = \"a\"\ncardinality = 0\n".into(),
            "s.toml:3:15: feature 'a': cardinality must be at least 1, found 0",
        ),
        (
            "negative cardinality",
            "[[feature]]\nname = \"a\"\ncardinality = -5\n".into(),
            "expected a non-negative integer, found -5",
        ),
        (
            "cardinality too large",
            "[[feature]]\nname = \"a\"\ncardinality = \"18446744073709551616\"\n".into(),
            "up to 18446744073709551615",
        ),
        (
            "wrong type",
            "[[feature]]\nname = \"a\"\ncardinality = 1.5\n".into(),
            "s.toml:3:15",
        ),
        (
            "zero dim",
            format!("dim = 0\n{feature}"),
            "s.toml:1:7: dim must be at least 1, found 0",
        ),
        (
            "zero feature dim",
            format!("{feature}dim = 0\n"),
            "s.toml:4:7: dim must be at least 1",
        ),
        (
            "duplicate name",
            format!("{feature}{feature}"),
            "duplicate feature name 'a' (first defined on line 2)",
        ),
        (
            "unknown dtype",
            format!("dtype = \"f33\"\n{feature}"),
            "did you mean 'f32'",
        ),
        (
            "unknown optimizer",
            format!("optimizer = \"adagard\"\n{feature}"),
            "did you mean 'adagrad'",
        ),
        ("no features", "dim = 4\n".into(), "no features"),
        ("bad toml", "dim = = 4\n".into(), "s.toml:1:"),
        (
            "negative weight",
            format!("{feature}weight = -1.0\n"),
            "weight must be a positive finite number",
        ),
        (
            "empty name",
            "[[feature]]\nname = \" \"\ncardinality = 3\n".into(),
            "feature name is empty",
        ),
    ];
    for (what, text, expected) in schema_cases {
        let s = write(dir.path(), "s.toml", text);
        let assert = embplan()
            .current_dir(dir.path())
            .arg("estimate")
            .arg("s.toml")
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(stderr.contains(expected), "{what}: {stderr}");
        assert!(stderr.starts_with("error: "), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        let _ = s;
    }
    let cli_cases: &[(&[&str], &str)] = &[
        (&["verify", "-n", "10"], "give a scheme with --qr"),
        (
            &["verify", "-n", "10", "--qr", "0"],
            "'--qr <M>': expected a whole number from 1 to 18446744073709551615, found 0",
        ),
        (
            &["verify", "-n", "0", "--qr", "3"],
            "expected a whole number from 1 to 18446744073709551615, found 0",
        ),
        (
            &["verify", "-n", "10", "--radix", "3,x"],
            "invalid value 'x' for '--radix <M1,M2,…>': expected a whole number from 1",
        ),
        (
            &["verify", "-n", "10", "--crt", "4,0"],
            "invalid value '0' for '--crt <M1,M2,…>'",
        ),
        (
            &["verify", "-n", "10", "--qr", "3", "--crt", "4"],
            "cannot be used with",
        ),
        (
            &["verify", "-n", "10", "--qr", "3", "--combiner", "mul"],
            "a similar value exists: 'mult'",
        ),
        (
            &["verify", "-n", "18446744073709551616", "--qr", "3"],
            "found 18446744073709551616, which is too large",
        ),
        (
            &["verify", "-n", "4", "--partitions", "nope.txt"],
            "cannot read partition file 'nope.txt'",
        ),
        (&["verify", "plan.yaml"], "must end in .toml or .json"),
        (&["estimate", "missing.toml"], "cannot read 'missing.toml'"),
        (
            &["estimate", "s.toml", "--optimizer", "adamw"],
            "invalid value 'adamw' for '--optimizer <OPT>'",
        ),
    ];
    write(dir.path(), "s.toml", SMALL_SCHEMA);
    write(dir.path(), "plan.yaml", "x");
    for (args, expected) in cli_cases {
        let assert = embplan()
            .current_dir(dir.path())
            .args(*args)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        // Regression: Rust's own parse errors leaked to users.
        for internal in [
            "invalid digit",
            "too large to fit",
            "expected u",
            "float literal",
        ] {
            assert!(!stderr.contains(internal), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn bad_partition_and_plan_files_are_located() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p.txt", "0 1\n1 z\n");
    embplan()
        .current_dir(dir.path())
        .args(["verify", "-n", "2", "--partitions", "p.txt"])
        .assert()
        .code(2)
        .stderr(contains(
            "p.txt:2:3: expected a class id (an integer from 0 to 18446744073709551614), found 'z'",
        ));
    write(dir.path(), "short.txt", "0 1\n1 0\n");
    embplan()
        .current_dir(dir.path())
        .args(["verify", "-n", "3", "--partitions", "short.txt"])
        .assert()
        .code(2)
        .stderr(contains(
            "has 2 categories (lines) but the feature's cardinality is 3",
        ));
    let good = small_plan_toml();
    for (what, bad, expected) in [
        (
            "rows",
            good.replacen("rows = 40", "rows = 41", 1),
            "table 1 stores 41 rows but qr(40) needs 40",
        ),
        (
            "scheme",
            good.replacen("scheme = \"qr\"", "scheme = \"qrr\"", 1),
            "did you mean 'qr'",
        ),
        (
            "version",
            good.replacen("version = 1", "version = 9", 1),
            "plan version 9 is not supported",
        ),
        (
            "totals",
            good.replacen("[totals]\nparams = ", "[totals]\nparams = 1", 1),
            "totals stores params",
        ),
        (
            "combiner",
            good.replacen("combiner = \"mult\"\n", "", 1),
            "needs a combiner",
        ),
    ] {
        write(dir.path(), "bad.toml", &bad);
        let assert = embplan()
            .current_dir(dir.path())
            .args(["verify", "bad.toml"])
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(stderr.contains(expected), "{what}: {stderr}");
        assert!(stderr.contains("bad.toml"), "{what}: {stderr}");
    }
    write(dir.path(), "bad.json", "{\"version\": 1,\n \"dtype\": 3}");
    embplan()
        .current_dir(dir.path())
        .args(["estimate", "bad.json"])
        .assert()
        .code(2)
        .stderr(contains("bad.json:2:"));
    let _ = predicate::always();
}
