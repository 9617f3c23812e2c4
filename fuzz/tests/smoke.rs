//! Every target for a few thousand inputs, in process: the harness keeps compiling and
//! running, each seed corpus is accepted, and mutations are rejected without a panic.

use std::path::Path;

use embplan_fuzz::runner::{Options, fuzz};
use embplan_fuzz::targets::find;

fn smoke(name: &str) {
    let target = find(name).unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let seeds = embplan_fuzz::load_seeds(&corpus, target).unwrap();
    let opts = Options {
        runs: 3_000,
        seed: 0,
        max_len: 16_384,
    };
    // The CLI and the fuzzer's child run parsers on the main thread (8 MiB of stack).
    let report = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || fuzz(target, &seeds, &opts, |_, _| {}))
        .unwrap()
        .join()
        .unwrap();
    if let Some(p) = &report.panic {
        panic!(
            "{name}: input #{} {:?} panicked: {}",
            p.index,
            String::from_utf8_lossy(&p.input),
            p.message
        );
    }
    let s = report.stats;
    assert_eq!(s.execs, 3_000);
    assert!(s.ok >= 2 && s.err > 100, "{name}: {s:?}");
}

macro_rules! smoke_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { smoke($name); })*

        #[test]
        fn every_target_has_a_smoke_test() {
            let tested = [$($name),*];
            for t in embplan_fuzz::targets::TARGETS.iter().filter(|t| !t.selftest) {
                assert!(tested.contains(&t.name), "no smoke test for {}", t.name);
            }
        }
    };
}

smoke_tests! {
    schema => "schema",
    plan_toml => "plan-toml",
    plan_json => "plan-json",
    partitions => "partitions",
    bytes => "bytes",
    calibration => "calibration",
    results => "results",
    tsv => "tsv",
    csv => "csv",
    criteo => "criteo",
    raw_table => "raw-table",
    vocab => "vocab",
    npy => "npy",
    parquet => "parquet",
    cli_values => "cli-values",
}
