//! Helpers shared by the CLI test files.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;

/// The `embplan` binary, ready for arguments.
pub fn embplan() -> assert_cmd::Command {
    cargo_bin_cmd!("embplan")
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

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
