//! `embplan export` on the command line: output to stdout or a file, and clear errors that
//! leave nothing behind.

use std::path::{Path, PathBuf};

use embplan::partition::{Combiner, Scheme};
use embplan::plan::{Plan, PlannedFeature};
use embplan::schema::{Dtype, Optimizer};
use predicates::prelude::*;

use crate::common::embplan;

/// Writes a small plan (a full feature and a qr(40) concat one with 2-wide tables).
fn write_plan(dir: &Path) -> PathBuf {
    let plan = Plan {
        name: Some("cli".into()),
        dtype: Dtype::F32,
        optimizer: Optimizer::Sgd,
        features: vec![
            PlannedFeature::new("a", 100, 4, Scheme::Full, None).unwrap(),
            PlannedFeature::new("b", 1000, 4, Scheme::Qr { m: 40 }, Some(Combiner::Concat))
                .unwrap(),
        ],
        planner: None,
        placement: None,
    };
    let path = dir.join("plan.toml");
    plan.write(&path).unwrap();
    path
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_the_same_text_to_stdout_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path());
    let stdout = embplan()
        .args(["export", plan.to_str().unwrap(), "--format", "torchrec"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: FBGEMM's table-batched embeddings need embedding_dim % 4 == 0; these tables do not have it: b__r (2), b__q (2)",
        ))
        .get_output()
        .stdout
        .clone();
    let out = dir.path().join("tables.py");
    embplan()
        .args(["export", plan.to_str().unwrap(), "-f", "torchrec", "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout("");
    assert_eq!(std::fs::read(&out).unwrap(), stdout);
    let text = String::from_utf8(stdout).unwrap();
    assert!(
        text.contains("name=\"b__q\",\n        num_embeddings=25,"),
        "{text}"
    );
}

#[test]
fn unknown_format_suggests_the_closest() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path());
    embplan()
        .args(["export", plan.to_str().unwrap(), "--format", "pytroch"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid value 'pytroch' for '--format <FORMAT>'\n  [possible values: json, toml, pytorch, torchrec, dlrm]\n\n  tip: a similar value exists: 'pytorch'",
        ));
}

#[test]
fn invalid_plan_is_rejected_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path());
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(&plan, text.replacen("rows = 40\n", "rows = 41\n", 1)).unwrap();
    let before = files_in(dir.path());
    embplan()
        .args(["export", plan.to_str().unwrap(), "-f", "json", "-o"])
        .arg(dir.path().join("out.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "feature #2 'b': table 1 stores 41 rows but qr(40) needs 40 rows",
        ));
    assert_eq!(files_in(dir.path()), before);
}

#[test]
fn unwritable_output_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path());
    let before = files_in(dir.path());
    let out = dir.path().join("missing-dir").join("model.py");
    embplan()
        .args(["export", plan.to_str().unwrap(), "-f", "pytorch", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("error: cannot write")
                .and(predicate::str::contains("model.py")),
        );
    assert_eq!(files_in(dir.path()), before);
}

#[test]
fn inexpressible_dlrm_names_the_features() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path());
    let out = dir.path().join("flags.txt");
    embplan()
        .args(["export", plan.to_str().unwrap(), "-f", "dlrm", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: the plan cannot be expressed as dlrm_s_pytorch.py flags:\n  - DLRM has one --arch-sparse-feature-size, but the table dims differ: 2 ('b'), 4 ('a')",
        ).and(predicate::str::contains("full features: 'a'")));
    assert!(!out.exists());
}

#[test]
fn torchrec_to_a_directory_writes_a_package() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path());
    let pkg = dir.path().join("pkg");
    embplan()
        .args(["export", "--format", "torchrec", "-o"])
        .arg(&pkg)
        .arg(&plan)
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("wrote").and(predicate::str::contains("train.py")));
    assert_eq!(
        files_in(&pkg),
        ["__init__.py", "embplan_tables.py", "train.py"]
    );
    let module = std::fs::read_to_string(pkg.join("embplan_tables.py")).unwrap();
    assert!(module.contains("OPTIMIZER = \"sgd\""), "{module}");
    assert!(module.contains("class CompositionalEmbeddings"), "{module}");
    // A second export into the same directory replaces the package; warnings (the 2-wide
    // concat tables FBGEMM rejects) survive --quiet, `wrote` does not.
    embplan()
        .args(["export", "--format", "torchrec", "-q", "-o"])
        .arg(&pkg)
        .arg(&plan)
        .assert()
        .success()
        .stderr(
            predicate::str::contains("embedding_dim % 4")
                .and(predicate::str::contains("wrote").not()),
        );
    // A file where the directory should be, or a missing parent, is refused.
    let file = dir.path().join("taken");
    std::fs::write(&file, "x").unwrap();
    embplan()
        .args(["export", "--format", "torchrec", "-o"])
        .arg(&file)
        .arg(&plan)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a file: give a directory"));
    embplan()
        .args(["export", "--format", "torchrec", "-o"])
        .arg(dir.path().join("missing/pkg"))
        .arg(&plan)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not exist"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}
