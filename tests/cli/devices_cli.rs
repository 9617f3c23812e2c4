//! `embplan plan --devices N --device-memory SIZE`: plans fitted so their tables place on
//! devices, the placement in the plan file, checked on load, and bad device inputs.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use embplan::placement::Sharding;
use embplan::plan::Plan;
use predicates::prelude::*;

fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name)
}

fn plan_for(devices: &str, memory: &str, schema_name: &str, dir: &Path) -> Plan {
    let out = dir.join(format!("plan-{devices}-{memory}.toml"));
    cargo_bin_cmd!("embplan")
        .args([
            "plan",
            "--target",
            "torchrec",
            "--devices",
            devices,
            "--device-memory",
            memory,
            "-o",
        ])
        .arg(&out)
        .arg(schema(schema_name))
        .assert()
        .success()
        .stdout(predicate::str::contains("placement: "))
        .stdout(predicate::str::contains("lookups/step"));
    Plan::load(&out).unwrap()
}

#[test]
fn kaggle_on_two_devices_fits_each_device() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_for("2", "640MiB", "criteo-kaggle.toml", dir.path());
    let p = plan.placement.as_ref().expect("a placement");
    assert_eq!(p.topology.devices, 2);
    assert_eq!(p.topology.batch, 512);
    assert!(p.fits(), "{:?}", p.loads);
    // Every table is placed once; the devices hold all of the plan's bytes.
    let tables: usize = plan.features.iter().map(|f| f.tables().len()).sum();
    assert_eq!(p.tables.len(), tables);
    let held: u64 = p.loads.iter().map(|l| l.table_bytes).sum();
    assert_eq!(held, plan.costs().unwrap().total.bytes);
    // Capacity is used: the plan is not far below what two devices hold.
    assert!(held > 2 * (640 << 20) * 9 / 10, "{held}");
}

#[test]
fn a_table_larger_than_any_device_goes_row_wise() {
    let dir = tempfile::tempdir().unwrap();
    // Criteo 1TB's largest features at full size exceed one 2 GiB device by far.
    let plan = plan_for("8", "2GiB", "criteo-1tb.toml", dir.path());
    let p = plan.placement.as_ref().unwrap();
    assert!(p.fits());
    assert!(
        p.tables.iter().any(|t| t.sharding == Sharding::RowWise),
        "{:?}",
        p.tables
    );
}

#[test]
fn budget_and_devices_take_the_smaller() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.toml");
    cargo_bin_cmd!("embplan")
        .args([
            "plan",
            "--budget",
            "256MiB",
            "--devices",
            "2",
            "--device-memory",
            "1GiB",
            "-q",
            "-o",
        ])
        .arg(&out)
        .arg(schema("criteo-kaggle.toml"))
        .assert()
        .success();
    let plan = Plan::load(&out).unwrap();
    assert!(plan.costs().unwrap().total.bytes <= 256 << 20);
    assert!(plan.placement.unwrap().fits());
}

#[test]
fn bad_device_inputs_exit_2() {
    let kaggle = schema("criteo-kaggle.toml");
    for (args, expected) in [
        (vec!["--devices", "2"], "--device-memory"),
        (
            vec!["--devices", "0", "--device-memory", "1GiB"],
            "--devices",
        ),
        (vec!["--device-memory", "1GiB"], "--devices"),
        (vec!["--devices", "2", "--device-memory", "lots"], "lots"),
        (
            vec!["--devices", "2", "--device-memory", "40KiB"],
            "no plan places on 2 device(s)",
        ),
        (
            vec!["--devices", "2", "--device-memory", "1GiB", "--batch", "0"],
            "--batch",
        ),
    ] {
        cargo_bin_cmd!("embplan")
            .arg("plan")
            .args(&args)
            .arg(&kaggle)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(expected));
    }
}

#[test]
fn a_baseline_that_does_not_place_is_refused() {
    cargo_bin_cmd!("embplan")
        .args([
            "plan",
            "--uniform",
            "full",
            "--devices",
            "2",
            "--device-memory",
            "1GiB",
        ])
        .arg(schema("criteo-kaggle.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not place on the devices"));
}

#[test]
fn a_tampered_placement_is_refused_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_for("2", "64MiB", "synthetic.toml", dir.path());
    let path = dir.path().join("plan.toml");
    plan.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let first_rank = text.find("rank = ").unwrap();
    let tampered = format!("{}rank = 7{}", &text[..first_rank], &text[first_rank + 8..]);
    std::fs::write(&path, tampered).unwrap();
    cargo_bin_cmd!("embplan")
        .args(["estimate"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("placement").and(predicate::str::contains("rank below 2")),
        );
}

#[test]
fn estimate_recounts_the_devices_of_a_placed_plan() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_for("2", "640MiB", "criteo-kaggle.toml", dir.path());
    let path = dir.path().join("placed.toml");
    plan.write(&path).unwrap();
    let json = |extra: &[&str]| -> serde_json::Value {
        let out = cargo_bin_cmd!("embplan")
            .arg("estimate")
            .arg(&path)
            .args(extra)
            .arg("--json")
            .output()
            .unwrap();
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let stored = plan.placement.as_ref().unwrap();
    let same = json(&[]);
    for (rank, load) in stored.loads.iter().enumerate() {
        assert_eq!(
            same["placement"]["device"][rank]["table_bytes"],
            load.table_bytes
        );
    }
    // f16 weights and state: half the table bytes on every device.
    let half = json(&["--dtype", "f16"]);
    for (rank, load) in stored.loads.iter().enumerate() {
        assert_eq!(
            half["placement"]["device"][rank]["table_bytes"],
            load.table_bytes / 2
        );
    }
    cargo_bin_cmd!("embplan")
        .arg("estimate")
        .arg(&path)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("of capacity")
                .and(predicate::str::contains("placement: 2 device(s)")),
        );
}
