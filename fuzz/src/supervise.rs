//! One child process per target, so that an abort, a stack overflow, a hang or a runaway
//! allocation is caught and the input that caused it is named.
//!
//! The child runs [`crate::runner::fuzz`] and, before each input, writes the input's index
//! and bytes to a small file (one `write` at offset 0, a few microseconds; the bytes are
//! in the kernel when the write returns, so they survive the process dying). A watchdog
//! thread ends the child with [`HANG_EXIT`] when one input runs past the time limit; a
//! caught panic ends it with [`PANIC_EXIT`]; the capped allocator turns a runaway
//! allocation into an abort. The parent reads the child's exit, takes the last input from
//! that file, saves it under the crashes directory with a note, and reports. After a clean
//! run, each target's slowest input is kept there as `TARGET-slowest`.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::runner::{Options, Stats, fuzz};
use crate::targets::Target;

/// The child's exit code after a caught panic.
pub const PANIC_EXIT: i32 = 85;
/// The child's exit code when an input ran past the time limit.
pub const HANG_EXIT: i32 = 86;
/// Marks the child's stderr line that explains a finding.
pub const MARK: &str = "embplan-fuzz finding:";

/// What the child needs beyond [`Options`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// An input running longer than this is a hang.
    pub time_limit: Duration,
    /// Live heap bytes past this are an out-of-memory finding.
    pub max_memory: usize,
}

/// Runs in the child: fuzzes, recording each input in `current` first, and prints the
/// counts on stdout. Returns the process exit code.
pub fn child(
    target: &Target,
    seeds: &[Vec<u8>],
    opts: &Options,
    limits: &Limits,
    current: &Path,
) -> std::io::Result<i32> {
    static STARTED_NS: AtomicU64 = AtomicU64::new(0);
    static INDEX: AtomicU64 = AtomicU64::new(0);
    let mut file = File::create(current)?;
    let epoch = Instant::now();
    let limit = limits.time_limit;
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(
                (limit / 10).clamp(Duration::from_millis(5), Duration::from_millis(100)),
            );
            let started = STARTED_NS.load(Ordering::SeqCst);
            if started == 0 {
                continue;
            }
            let now = epoch.elapsed().as_nanos() as u64;
            if now.saturating_sub(started) > limit.as_nanos() as u64 {
                let index = INDEX.load(Ordering::SeqCst);
                eprintln!("{MARK} hang: input #{index} ran for more than {limit:?}");
                std::process::exit(HANG_EXIT);
            }
        }
    });
    crate::alloc::set_cap(limits.max_memory);
    let mut record = Vec::new();
    let report = fuzz(target, seeds, opts, |index, input| {
        record.clear();
        record.extend_from_slice(&index.to_le_bytes());
        record.extend_from_slice(&(input.len() as u64).to_le_bytes());
        record.extend_from_slice(input);
        let written = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&record));
        written.expect("cannot record the current input");
        INDEX.store(index, Ordering::SeqCst);
        STARTED_NS.store((epoch.elapsed().as_nanos() as u64).max(1), Ordering::SeqCst);
    });
    STARTED_NS.store(0, Ordering::SeqCst);
    crate::alloc::set_cap(usize::MAX);
    if let Some(p) = report.panic {
        eprintln!("{MARK} panic: input #{}: {}", p.index, p.message);
        return Ok(PANIC_EXIT);
    }
    std::fs::write(slowest_path(current), &report.slowest_input)?;
    let s = &report.stats;
    println!(
        "stats {} {} {} {} {} {} {} {}",
        s.execs,
        s.ok,
        s.err,
        s.distinct_errors,
        s.pool,
        s.elapsed.as_nanos(),
        s.slowest.as_nanos(),
        s.slowest_index
    );
    Ok(0)
}

/// A panic, abort, hang or out-of-memory in one target, with the input saved.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The target's name.
    pub target: String,
    /// `panic`, `hang`, `out-of-memory`, `abort` or `crash`.
    pub kind: String,
    /// The saved input.
    pub path: PathBuf,
    /// The input's index in the run.
    pub index: u64,
    /// The child's line that explains it (or its stderr's last lines).
    pub detail: String,
}

/// Runs `target` in a child process (`child_args` select the child mode of this binary)
/// and returns its counts, or the finding that ended it.
pub fn supervise(
    target: &Target,
    child_args: &[String],
    crashes: &Path,
    seed: u64,
) -> anyhow::Result<Result<Stats, Finding>> {
    std::fs::create_dir_all(crashes)?;
    let current = crashes.join(format!(".current-{}-{}", target.name, std::process::id()));
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args(child_args)
        .arg("--current")
        .arg(&current)
        .stdin(Stdio::null())
        // anyhow captures a backtrace per error when RUST_BACKTRACE is set, which would make
        // every rejected input 20× slower; panics still get theirs.
        .env("RUST_LIB_BACKTRACE", "0")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success()
        && let Some(stats) = stdout.lines().find_map(parse_stats)
    {
        std::fs::remove_file(&current).ok();
        std::fs::rename(
            slowest_path(&current),
            crashes.join(format!("{}-slowest", target.name)),
        )?;
        return Ok(Ok(stats));
    }
    let recorded = read_current(&current);
    std::fs::remove_file(&current).ok();
    let Some((index, input)) = recorded else {
        anyhow::bail!(
            "target {}: the fuzzing process stopped ({}) before running an input:\n{stderr}",
            target.name,
            out.status
        );
    };
    let kind = classify(out.status, &stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(60)..].join("\n");
    let key = [MARK, "memory allocation of", "has overflowed its stack"];
    let detail = lines
        .iter()
        .find(|l| key.iter().any(|k| l.contains(k)))
        .map_or_else(
            || lines[lines.len().saturating_sub(5)..].join("\n"),
            |l| l.to_string(),
        );
    let path = crashes.join(format!("{}-{kind}-{:016x}", target.name, fnv(&input)));
    std::fs::write(&path, &input)?;
    let note = format!(
        "target: {}\nkind: {kind}\nseed: {seed}\ninput: #{index} ({} bytes)\nchild: {}\nreplay: cargo run --profile fuzz -p embplan-fuzz -- {} --replay {}\n\n{tail}\n",
        target.name,
        input.len(),
        out.status,
        target.name,
        path.display()
    );
    std::fs::write(path.with_extension("txt"), note)?;
    Ok(Err(Finding {
        target: target.name.into(),
        kind,
        path,
        index,
        detail,
    }))
}

fn parse_stats(line: &str) -> Option<Stats> {
    let v: Vec<u64> = line
        .strip_prefix("stats ")?
        .split(' ')
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    let &[
        execs,
        ok,
        err,
        distinct_errors,
        pool,
        elapsed,
        slowest,
        slowest_index,
    ] = v.as_slice()
    else {
        return None;
    };
    Some(Stats {
        execs,
        ok,
        err,
        distinct_errors,
        pool,
        elapsed: Duration::from_nanos(elapsed),
        slowest: Duration::from_nanos(slowest),
        slowest_index,
    })
}

/// Where the child leaves its slowest input.
fn slowest_path(current: &Path) -> PathBuf {
    let mut name = current.as_os_str().to_owned();
    name.push(".slowest");
    PathBuf::from(name)
}

/// The index and bytes of the last input the child recorded, if it recorded one.
fn read_current(path: &Path) -> Option<(u64, Vec<u8>)> {
    let bytes = std::fs::read(path).ok()?;
    let word = |at: usize| {
        let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(b))
    };
    let (index, len) = (word(0)?, word(8)?);
    let input = bytes.get(16..16usize.checked_add(usize::try_from(len).ok()?)?)?;
    Some((index, input.to_vec()))
}

fn classify(status: ExitStatus, stderr: &str) -> String {
    match status.code() {
        Some(PANIC_EXIT) => "panic".into(),
        Some(HANG_EXIT) => "hang".into(),
        _ if stderr.contains("memory allocation of") => "out-of-memory".into(),
        _ if stderr.contains("has overflowed its stack") => "stack-overflow".into(),
        None => "abort".into(),
        Some(_) => "crash".into(),
    }
}

/// FNV-1a, to name saved inputs by their content.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
