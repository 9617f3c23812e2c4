//! CLI tests for `embplan plot`: SVG snapshots, PNG size, and bad inputs.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use embplan::results::{Results, Run};
use predicates::str::contains;

fn run(method: &str, budget: Option<u64>, bytes: u64, loss: f64, seed: u64) -> Run {
    Run {
        method: embplan::results::Method::parse(method).unwrap(),
        budget_bytes: budget,
        bytes,
        params: bytes / 8,
        valid_logloss: loss,
        valid_accuracy: 0.7,
        valid_auc: Some(0.75),
        epoch: Some(1),
        examples_per_sec: 1e6,
        seed,
        features: vec![],
    }
}

fn sample_results(dir: &Path) -> std::path::PathBuf {
    let mut r = Results::new("tiny", "synthetic seed 0");
    r.runs.push(run("full", None, 8 << 20, 0.58, 0));
    for (i, budget) in [1u64 << 20, 2 << 20, 4 << 20].into_iter().enumerate() {
        let i = i as f64;
        for seed in 0..2 {
            let jitter = seed as f64 * 0.002;
            r.runs.push(run(
                "hash",
                Some(budget),
                budget - 100,
                0.62 - 0.01 * i + jitter,
                seed,
            ));
            r.runs.push(run(
                "qr-mult",
                Some(budget),
                budget - 300,
                0.60 - 0.008 * i + jitter,
                seed,
            ));
        }
    }
    let p = dir.join("results.json");
    r.save(&p).unwrap();
    p
}

#[test]
fn svg_is_deterministic_and_matches_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let results = sample_results(dir.path());
    let svg = dir.path().join("plot.svg");
    for _ in 0..2 {
        cargo_bin_cmd!("embplan")
            .arg("plot")
            .arg(&results)
            .arg("-o")
            .arg(&svg)
            .assert()
            .success();
    }
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Memory vs validation log-loss"));
    assert!(text.contains("qr-mult") && text.contains("Pareto frontier"));
    assert!(text.contains("2 MiB"), "IEC tick labels");
    insta::assert_snapshot!(text);
}

#[test]
fn png_decodes_with_the_right_size() {
    let dir = tempfile::tempdir().unwrap();
    let results = sample_results(dir.path());
    let out = dir.path().join("plot.png");
    cargo_bin_cmd!("embplan")
        .arg("plot")
        .arg(&results)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap()));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!(
        (info.width, info.height),
        (embplan::plot::WIDTH, embplan::plot::HEIGHT)
    );
}

#[test]
fn plan_plot_draws_per_feature_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/criteo-kaggle.toml");
    let p = embplan::plan::Plan::full_from_schema(&embplan::schema::Schema::load(&schema).unwrap())
        .unwrap();
    p.write(&plan).unwrap();
    let svg = dir.path().join("plan.svg");
    cargo_bin_cmd!("embplan")
        .arg("plot")
        .arg(&plan)
        .arg("-o")
        .arg(&svg)
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Per-feature bytes vs cardinality"));
}

#[test]
fn bad_plot_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let results = sample_results(dir.path());
    cargo_bin_cmd!("embplan")
        .arg("plot")
        .arg(&results)
        .args(["-o", "plot.gif"])
        .current_dir(dir.path())
        .assert()
        .code(2)
        .stderr(contains("must end in .png or .svg"));
    cargo_bin_cmd!("embplan")
        .arg("plot")
        .arg(&results)
        .arg("-o")
        .arg(dir.path().join("no-such-dir/plot.png"))
        .assert()
        .code(2)
        .stderr(contains("cannot write"));
    std::fs::write(
        dir.path().join("broken.json"),
        "{\"version\": 1, \"runs\": [1]}",
    )
    .unwrap();
    cargo_bin_cmd!("embplan")
        .args(["plot", "broken.json", "-o", "x.png"])
        .current_dir(dir.path())
        .assert()
        .code(2)
        .stderr(contains("broken.json:1:"));
    assert!(!dir.path().join("x.png").exists());
}
