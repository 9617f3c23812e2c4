//! embplan-fuzz: a fuzzer for every parser embplan users feed, on stable Rust.
//!
//! cargo-fuzz and libFuzzer need a nightly compiler, so this is a deterministic seeded
//! mutation loop instead: no coverage instrumentation, but every random choice comes from
//! one seed ([`rng`]), so a run can be repeated input for input.
//!
//! - [`targets`]: one target per parser (schema, plan TOML and JSON, partition files, byte
//!   sizes, calibration, sweep results, TSV/CSV/Criteo data, one-word option values), each
//!   with a keyword dictionary, plus self-tests that panic, abort, hang or over-allocate
//!   on purpose.
//! - [`mutate`]: stacked byte, line, word, number, token and splice edits.
//! - [`runner`]: the in-process loop; each input runs under `catch_unwind` with the panic
//!   hook silenced; inputs reaching a new kind of error join the pool.
//! - [`supervise`]: each target runs in a child process that records the current input
//!   before running it and has a watchdog for hangs; the parent turns a panic, abort, stack
//!   overflow, hang or out-of-memory into a saved input and a report.
//! - [`alloc`]: the capped allocator that makes runaway allocations findings.
//!
//! Seed inputs live in `fuzz/corpus/<target>/`; findings are saved to `fuzz/crashes/`.

pub mod alloc;
pub mod dictionaries;
pub mod mutate;
pub mod rng;
pub mod runner;
pub mod supervise;
pub mod targets;

use std::path::Path;

/// The seed inputs of `target`: its corpus directory's files in name order (self-tests
/// have one built-in seed without a trigger).
pub fn load_seeds(corpus: &Path, target: &targets::Target) -> anyhow::Result<Vec<Vec<u8>>> {
    if target.selftest {
        return Ok(vec![b"a calm input".to_vec()]);
    }
    let dir = corpus.join(target.name);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| anyhow::anyhow!("cannot read the seed corpus '{}': {e}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    if seeds.is_empty() {
        anyhow::bail!("the seed corpus '{}' is empty", dir.display());
    }
    Ok(seeds)
}
