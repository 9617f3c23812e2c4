//! The in-process fuzz loop: generate an input, run it under `catch_unwind`, count the
//! outcome, and keep inputs that reach a new kind of error as material for later ones.
//!
//! Input `i` is the seed corpus file `i` for the first inputs, then a mutation drawn
//! from [`Rng::for_input`]`(seed, target, i)` of a seed file (half the time) or a pool
//! entry. The pool starts as the seed corpus and grows, up to [`POOL_CAP`], by every input
//! whose error message is of a new kind ([`signature`]: a cheap stand-in for coverage).
//! Targets are deterministic, so the same seed gives the same inputs in the same order.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use crate::mutate::mutate;
use crate::rng::Rng;
use crate::targets::{Outcome, Target};

/// The most inputs the pool holds; once full, it stops growing (replacing entries would
/// let inputs far from valid crowd out the near-valid ones).
pub const POOL_CAP: usize = 4096;

/// How a run is driven.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Inputs to run (seed files included).
    pub runs: u64,
    /// The seed all random choices derive from.
    pub seed: u64,
    /// Mutated inputs are cut to this many bytes.
    pub max_len: usize,
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Inputs run.
    pub execs: u64,
    /// Inputs the target accepted.
    pub ok: u64,
    /// Inputs the target rejected with an error.
    pub err: u64,
    /// Distinct kinds of error message (see [`signature`]; approximate, since a message
    /// echoing input with stray quotes counts apart).
    pub distinct_errors: u64,
    /// Pool size at the end.
    pub pool: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The slowest input's time.
    pub slowest: Duration,
    /// The slowest input's index.
    pub slowest_index: u64,
}

impl Stats {
    /// Executions per second.
    pub fn per_second(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// An input that made the target panic.
#[derive(Debug, Clone, PartialEq)]
pub struct Panic {
    /// Its index in the run.
    pub index: u64,
    /// The input.
    pub input: Vec<u8>,
    /// The panic message and location.
    pub message: String,
}

/// The result of a run: its counts and the panic that ended it, if one did.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Counts up to the end of the run (or the panic).
    pub stats: Stats,
    /// The first panic; the run stops there.
    pub panic: Option<Panic>,
    /// The input that took longest.
    pub slowest_input: Vec<u8>,
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that, on threads running a fuzz input, records the message
/// instead of printing it; other threads keep the previous hook.
fn install_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let payload = info.payload();
                let what = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(a panic without a message)");
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{what}{at}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs one input with panics caught: `Ok(outcome)`, or `Err(panic message)`.
pub fn run_one(target: &Target, input: &[u8]) -> Result<Outcome, String> {
    install_hook();
    QUIET.with(|q| q.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    QUIET.with(|q| q.set(false));
    result.map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "panic without a message".into())
    })
}

/// A hash of an error message's plain words (lowercase ASCII letters and `-`) outside
/// quotes, so that messages differing only in numbers, positions or quoted values (which
/// echo the input) count as one kind.
pub fn signature(message: &str) -> u64 {
    const QUOTES: [char; 3] = ['\'', '`', '"'];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut quote: Option<char> = None;
    for word in message.split_whitespace() {
        let word = word.trim_start_matches('(');
        let bare = word.trim_end_matches([',', ';', ':', '.', '?', ')', '!']);
        if let Some(q) = quote {
            if bare.ends_with(q) {
                quote = None;
            }
            continue;
        }
        if let Some(q) = bare.chars().next().filter(|c| QUOTES.contains(c)) {
            if bare.len() == 1 || !bare.ends_with(q) {
                quote = Some(q);
            }
            continue;
        }
        if bare.is_empty() || !bare.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
            continue;
        }
        for b in bare.bytes().chain([b' ']) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The input at `index`: a seed file first, else a mutation of a pool entry.
pub fn input_at(
    target: &Target,
    seeds: &[Vec<u8>],
    pool: &[Vec<u8>],
    opts: &Options,
    index: u64,
) -> Vec<u8> {
    if let Some(seed) = seeds.get(index as usize) {
        return seed.clone();
    }
    let mut rng = Rng::for_input(opts.seed, target.name, index);
    // Half the time a seed file, so that near-valid inputs stay common however large the
    // pool of already-broken ones grows.
    let base = if rng.one_in(2) {
        rng.pick(seeds)
    } else {
        rng.pick(pool)
    }
    .clone();
    mutate(&mut rng, &base, pool, target.dictionary, opts.max_len)
}

/// Fuzzes `target` for `opts.runs` inputs from `seeds` (at least one), calling
/// `before_each(index, input)` just before each runs. Stops at the first panic.
pub fn fuzz(
    target: &Target,
    seeds: &[Vec<u8>],
    opts: &Options,
    mut before_each: impl FnMut(u64, &[u8]),
) -> Report {
    assert!(!seeds.is_empty(), "a run needs at least one seed input");
    let mut pool: Vec<Vec<u8>> = seeds.to_vec();
    let mut seen = HashSet::new();
    let mut stats = Stats::default();
    let started = Instant::now();
    let mut panic = None;
    let mut slowest_input = Vec::new();
    for index in 0..opts.runs {
        let input = input_at(target, seeds, &pool, opts, index);
        before_each(index, &input);
        let t0 = Instant::now();
        let result = run_one(target, &input);
        let took = t0.elapsed();
        stats.execs += 1;
        if took > stats.slowest {
            (stats.slowest, stats.slowest_index) = (took, index);
            slowest_input.clone_from(&input);
        }
        let kind = match result {
            Ok(Ok(())) => {
                stats.ok += 1;
                signature("ok")
            }
            Ok(Err(message)) => {
                stats.err += 1;
                signature(&message)
            }
            Err(message) => {
                panic = Some(Panic {
                    index,
                    input,
                    message,
                });
                break;
            }
        };
        if seen.insert(kind) && pool.len() < POOL_CAP {
            pool.push(input);
        }
    }
    stats.distinct_errors = seen.len() as u64 - u64::from(seen.contains(&signature("ok")));
    stats.pool = pool.len() as u64;
    stats.elapsed = started.elapsed();
    Report {
        stats,
        panic,
        slowest_input,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::find;

    #[test]
    fn signatures_ignore_numbers_and_quoted_values() {
        assert_eq!(
            signature("f.toml:3:1: unknown field `x`, expected `name`"),
            signature("f.toml:12:7: unknown field `cardnality`, expected `name`")
        );
        assert_eq!(
            signature("invalid byte size '4 x y': unknown unit 'x y'; expected a number"),
            signature("invalid byte size '9 'q': unknown unit ''q'; expected a number")
        );
        assert_eq!(
            signature("fuzz:1:9: id of feature 'c' in [0, 10), found 'a b c'"),
            signature("fuzz:2:1: id of feature 'a' in [0, 99), found '7'")
        );
        assert_ne!(
            signature("dim must be at least 1"),
            signature("no features")
        );
    }

    #[test]
    fn finds_and_reports_a_panic_with_the_input_that_caused_it() {
        let target = find("selftest-panic").unwrap();
        let opts = Options {
            runs: 5_000,
            seed: 1,
            max_len: 1024,
        };
        let mut last = Vec::new();
        let report = fuzz(target, &[b"calm".to_vec()], &opts, |_, input| {
            last = input.to_vec()
        });
        let panic = report
            .panic
            .expect("BOOM is in the dictionary, so some input holds it");
        assert!(panic.input.windows(4).any(|w| w == b"BOOM"));
        assert_eq!(
            panic.input, last,
            "before_each saw the panicking input last"
        );
        assert!(
            panic
                .message
                .starts_with("selftest-panic: the input holds BOOM at "),
            "{}",
            panic.message
        );
        assert!(panic.message.contains("targets.rs"), "{}", panic.message);
        assert_eq!(report.stats.execs, panic.index + 1);
        assert_eq!(report.stats.ok + report.stats.err, panic.index);
        // Replaying the same run gives the same input at the same index.
        let again = fuzz(target, &[b"calm".to_vec()], &opts, |_, _| {})
            .panic
            .unwrap();
        assert_eq!((again.index, again.input), (panic.index, panic.input));
    }

    #[test]
    fn a_clean_run_counts_every_input() {
        let target = find("bytes").unwrap();
        let opts = Options {
            runs: 500,
            seed: 0,
            max_len: 64,
        };
        let report = fuzz(
            target,
            &[b"4GiB".to_vec(), b"1.5 TiB".to_vec()],
            &opts,
            |_, _| {},
        );
        assert_eq!(report.panic, None);
        assert_eq!(report.stats.execs, 500);
        assert_eq!(report.stats.ok + report.stats.err, 500);
        assert!(report.stats.ok >= 2 && report.stats.err > 0 && report.stats.distinct_errors > 1);
    }
}
