//! The fuzzer binary end to end: it finds each kind of failure on purpose-built targets,
//! names the target and saves the input that caused it, and exits 0 on a clean run.

use std::process::Command;

fn fuzz(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_embplan-fuzz"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn every_kind_of_failure_is_caught_and_its_input_saved() {
    for (target, kind) in [
        ("selftest-panic", "panic"),
        ("selftest-abort", "abort"),
        ("selftest-hang", "hang"),
        ("selftest-oom", "out-of-memory"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let crashes = dir.path().to_str().unwrap();
        let args = [
            target,
            "--runs",
            "5000",
            "--time-limit-ms",
            "200",
            "--crashes",
            crashes,
        ];
        let (code, stdout, stderr) = fuzz(&args);
        assert_eq!(code, 1, "{target}: {stdout}{stderr}");
        assert!(
            stdout.starts_with(&format!("{target} FOUND {kind} at input #")),
            "{stdout}"
        );
        let saved = stdout
            .split("saved ")
            .nth(1)
            .unwrap()
            .split(" (note")
            .next()
            .unwrap();
        assert!(
            stderr.contains(&format!("{target}: {kind} in {saved}")),
            "{stderr}"
        );
        let input = std::fs::read(saved).unwrap();
        assert!(
            input.windows(4).any(|w| w == b"BOOM"),
            "{target}: {input:?}"
        );
        let note = std::fs::read_to_string(format!("{saved}.txt")).unwrap();
        assert!(
            note.contains(&format!("kind: {kind}")) && note.contains("--replay"),
            "{note}"
        );
    }
}

#[test]
fn a_clean_run_prints_counts_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let crashes = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = fuzz(&["bytes", "--runs", "3000", "--crashes", crashes]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("bytes") && stdout.contains(" 3,000 execs  ok "),
        "{stdout}"
    );
    assert!(stdout.contains("exec/s"), "{stdout}");
    let slowest = std::fs::read(dir.path().join("bytes-slowest")).unwrap();
    assert!(!slowest.is_empty(), "the slowest input is kept");
}

#[test]
fn unknown_targets_are_named_with_a_suggestion() {
    let (code, _, stderr) = fuzz(&["shema"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown target 'shema' (did you mean 'schema'?)"),
        "{stderr}"
    );
    let (code, stdout, _) = fuzz(&["--list"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("plan-json") && stdout.contains("(self-test, not in all)"));
}
