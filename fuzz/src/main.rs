//! `embplan-fuzz`: fuzz embplan's parsers (see the library docs for the design).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Parser;
use embplan::size::group_thousands;
use embplan_fuzz::alloc::CappedAlloc;
use embplan_fuzz::runner::Options;
use embplan_fuzz::supervise::{Limits, child, supervise};
use embplan_fuzz::targets::{TARGETS, Target, find};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

/// Fuzz embplan's parsers with a seeded mutation loop; exits non-zero on any panic, abort,
/// hang or out-of-memory, naming the target and the saved input.
#[derive(Parser, Debug)]
#[command(
    name = "embplan-fuzz",
    after_help = "Example: cargo run --profile fuzz -p embplan-fuzz -- all --runs 1000000"
)]
struct Args {
    /// Targets to fuzz, or `all` (see --list).
    #[arg(default_value = "all")]
    targets: Vec<String>,
    /// Inputs per target, seed files included.
    #[arg(long, default_value_t = 100_000)]
    runs: u64,
    /// The seed every random choice derives from: the same seed gives the same inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Longest mutated input, in bytes.
    #[arg(long, default_value_t = 65_536)]
    max_len: usize,
    /// An input running longer than this (milliseconds) is a hang.
    #[arg(long, default_value_t = 1_000)]
    time_limit_ms: u64,
    /// Live heap past this many MiB is an out-of-memory finding.
    #[arg(long, default_value_t = 1_024)]
    max_memory_mib: usize,
    /// Seed corpus: one directory of files per target.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus"))]
    corpus: PathBuf,
    /// Where findings are saved (input, plus a `.txt` note).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/crashes"))]
    crashes: PathBuf,
    /// Run this file through the targets once, in this process, with panics shown.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// List the targets.
    #[arg(long)]
    list: bool,
    /// Internal: run as the child of a supervising process.
    #[arg(long, hide = true)]
    child: bool,
    /// Internal: the child records the current input here.
    #[arg(long, hide = true)]
    current: Option<PathBuf>,
}

fn selected(names: &[String]) -> Result<Vec<&'static Target>> {
    let mut out = Vec::new();
    for name in names {
        if name == "all" {
            out.extend(TARGETS.iter().filter(|t| !t.selftest));
        } else if let Some(t) = find(name) {
            out.push(t);
        } else {
            let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
            let hint = embplan::source::did_you_mean(name, names.iter().copied());
            bail!(
                "unknown target '{name}'{hint}: expected all or one of {}",
                names.join(", ")
            );
        }
    }
    Ok(out)
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("embplan-fuzz: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<ExitCode> {
    if args.list {
        for t in TARGETS {
            let note = if t.selftest {
                " (self-test, not in all)"
            } else {
                ""
            };
            println!("{:<16} {}{note}", t.name, t.about);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let targets = selected(&args.targets)?;
    let opts = Options {
        runs: args.runs,
        seed: args.seed,
        max_len: args.max_len,
    };
    if args.child {
        let (&[target], Some(current)) = (targets.as_slice(), &args.current) else {
            bail!("--child takes one target and --current");
        };
        let seeds = embplan_fuzz::load_seeds(&args.corpus, target)?;
        let limits = Limits {
            time_limit: Duration::from_millis(args.time_limit_ms),
            max_memory: args.max_memory_mib.saturating_mul(1 << 20),
        };
        let code = child(target, &seeds, &opts, &limits, current)?;
        return Ok(ExitCode::from(code as u8));
    }
    if let Some(file) = &args.replay {
        let input = std::fs::read(file)?;
        for t in targets {
            println!("{}: {:?}", t.name, (t.run)(&input));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut findings = Vec::new();
    for target in targets {
        let child_args: Vec<String> = [
            target.name.to_string(),
            "--child".into(),
            format!("--runs={}", args.runs),
            format!("--seed={}", args.seed),
            format!("--max-len={}", args.max_len),
            format!("--time-limit-ms={}", args.time_limit_ms),
            format!("--max-memory-mib={}", args.max_memory_mib),
            format!("--corpus={}", args.corpus.display()),
        ]
        .into();
        match supervise(target, &child_args, &args.crashes, args.seed)? {
            Ok(s) => println!(
                "{:<12} {:>11} execs  ok {:>9}  error {:>11} ({} kinds)  pool {:>4}  {:>7.1} s  {:>9} exec/s  slowest {:.1} ms (#{})",
                target.name,
                group_thousands(s.execs),
                group_thousands(s.ok),
                group_thousands(s.err),
                s.distinct_errors,
                s.pool,
                s.elapsed.as_secs_f64(),
                group_thousands(s.per_second() as u64),
                s.slowest.as_secs_f64() * 1e3,
                s.slowest_index
            ),
            Err(f) => {
                println!(
                    "{:<12} FOUND {} at input #{}: saved {} (note beside it)\n{}",
                    f.target,
                    f.kind,
                    f.index,
                    f.path.display(),
                    f.detail
                );
                findings.push(f);
            }
        }
    }
    if findings.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("embplan-fuzz: {} finding(s):", findings.len());
    for f in &findings {
        eprintln!("  {}: {} in {}", f.target, f.kind, f.path.display());
    }
    Ok(ExitCode::FAILURE)
}
