//! Helpers shared by the CLI test files.

use assert_cmd::cargo::cargo_bin_cmd;

/// Runs `embplan ARGS`, asserts success and parses its standard output as JSON.
pub fn json(args: &[&str]) -> serde_json::Value {
    let out = cargo_bin_cmd!("embplan").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
