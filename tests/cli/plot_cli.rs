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
        // A quality model that predicts 80% of the measured increase, for the second panel.
        predicted_loss: (method != "full").then_some((loss - 0.58) * 0.8),
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
    assert!(text.contains("Memory vs log-loss"));
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

/// Every axis label of `svg` that reads as a byte size (`N UNIT`): each must be a power of two
/// in IEC units. Returns how many there were.
fn assert_byte_ticks_are_iec_powers_of_two(svg: &str) -> usize {
    let mut ticks = 0;
    for piece in svg.split("</text>") {
        let Some(start) = piece.rfind('>') else {
            continue;
        };
        let label = piece[start + 1..].trim();
        let Some((number, unit)) = label.split_once(' ') else {
            continue;
        };
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if !units.contains(&unit) || !number.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let n: u64 = number.parse().unwrap();
        assert!(n.is_power_of_two() && n < 1024, "tick label '{label}'");
        ticks += 1;
    }
    ticks
}

fn plot(input: &Path, extra: &[&str], out: &Path) {
    cargo_bin_cmd!("embplan")
        .arg("plot")
        .arg(input)
        .args(extra)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
}

#[test]
fn plan_plot_draws_planned_against_full_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/criteo-kaggle.toml");
    cargo_bin_cmd!("embplan")
        .args(["plan", "--budget", "1GiB", "-q", "-o"])
        .arg(&plan)
        .arg(&schema)
        .assert()
        .success();
    let svg = dir.path().join("plan.svg");
    plot(&plan, &[], &svg);
    let first = std::fs::read_to_string(&svg).unwrap();
    plot(&plan, &[], &svg);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(first, text, "deterministic");
    assert!(text.contains("Planned vs full bytes per feature"));
    assert!(text.contains("budget 1.00 GiB") && text.contains("qr(5) concat"));
    assert!(assert_byte_ticks_are_iec_powers_of_two(&text) >= 3);
    insta::assert_snapshot!(text);
}

#[test]
fn sweep_plot_ticks_are_iec_and_never_negative_zero() {
    let dir = tempfile::tempdir().unwrap();
    let results = sample_results(dir.path());
    let svg = dir.path().join("plot.svg");
    plot(&results, &[], &svg);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(assert_byte_ticks_are_iec_powers_of_two(&text) >= 2);
    assert!(!text.contains("-0.0000") && !text.contains("−0.0000"));
    assert!(text.contains("predicted vs measured"));
}

#[test]
fn profile_plot_draws_coverage_and_marks_hot_rows() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("s.toml");
    std::fs::write(
        &schema,
        "dim = 16\nzipf = 1.2\n[[feature]]\nname = \"user\"\ncardinality = 20000\n[[feature]]\nname = \"item\"\ncardinality = 5000\n[[feature]]\nname = \"city\"\ncardinality = 40\n",
    )
    .unwrap();
    let data = dir.path().join("d.tsv");
    cargo_bin_cmd!("embplan")
        .args(["synth", "--rows", "30000", "--seed", "3", "-q", "-o"])
        .arg(&data)
        .arg(&schema)
        .assert()
        .success();
    let profiled = dir.path().join("p.toml");
    cargo_bin_cmd!("embplan")
        .args(["profile", "-q", "-o"])
        .arg(&profiled)
        .arg(&data)
        .assert()
        .success();
    let svg = dir.path().join("coverage.svg");
    plot(&profiled, &[], &svg);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Coverage of the most frequent values"));
    assert!(text.contains("user") && text.contains("1K"));
    insta::assert_snapshot!(text);
    let plan = dir.path().join("plan.toml");
    cargo_bin_cmd!("embplan")
        .args(["plan", "--budget", "256KiB", "-q", "-o"])
        .arg(&plan)
        .arg(&profiled)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&plan).unwrap().contains("hot = "));
    let marked = dir.path().join("marked.svg");
    plot(&plan, &["--profile", profiled.to_str().unwrap()], &marked);
    let text = std::fs::read_to_string(&marked).unwrap();
    assert!(text.contains("the plan&apos;s hot rows K") || text.contains("the plan's hot rows K"));
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
