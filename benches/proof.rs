//! Speed of complementarity checks (issue 2 targets): the algebraic proof answers in under
//! 1 ms for n up to 2^63; the exhaustive enumeration of n = 10^8 ids finishes in seconds
//! with memory bounded by n, whatever the code space. Run: `cargo bench --bench proof`
//! (`EMBPLAN_BENCH_BILLION=1` adds n = 10^9).

use std::time::{Duration, Instant};

use embplan::partition::Scheme;
use embplan::proof::{Enumeration, Limits, check_exhaustive, exhaustive_cost, prove};
use embplan::size::format_iec;

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

// One table of measurements, printed in order; splitting it would only scatter the rows.
#[allow(clippy::too_many_lines)]
fn main() {
    println!("## algebraic proof (median of 1001 runs)");
    println!("| scheme | n | verdict | median | max |");
    println!("|---|---:|---|---:|---:|");
    let big = 1u64 << 63;
    let proof_cases = [
        (Scheme::Qr { m: 3_037_000_500 }, big),
        (
            Scheme::MixedRadix {
                radices: vec![2_097_152, 2_097_152, 2_097_152],
            },
            big,
        ),
        (
            Scheme::MixedRadix {
                radices: vec![1 << 21, 1 << 21, 1 << 20],
            },
            big,
        ),
        (
            Scheme::Crt {
                moduli: vec![2_097_143, 2_097_144, 2_097_145],
            },
            big,
        ),
        (
            Scheme::Crt {
                moduli: vec![u64::MAX, u64::MAX - 1, u64::MAX - 2, 1 << 40],
            },
            u64::MAX,
        ),
        (Scheme::Hash { m: 1 << 40 }, big),
    ];
    for (scheme, n) in &proof_cases {
        let mut times: Vec<Duration> = (0..1001)
            .map(|_| time(|| prove(scheme, *n).expect("valid scheme")).1)
            .collect();
        times.sort();
        let verdict = prove(scheme, *n).expect("valid scheme");
        println!(
            "| {} | {n} | {} | {:.1} µs | {:.1} µs |",
            scheme.describe(),
            if verdict.complementary {
                "complementary"
            } else {
                "collides"
            },
            times[500].as_secs_f64() * 1e6,
            times[1000].as_secs_f64() * 1e6
        );
    }

    println!("\n## exhaustive enumeration (dense bitset or sorted fingerprints)");
    println!("| scheme | n | verdict | how | seconds | memory |");
    println!("|---|---:|---|---|---:|---:|");
    let n = 100_000_000u64;
    let mut cases = vec![
        (Scheme::Qr { m: 10_000 }, n),
        (
            Scheme::MixedRadix {
                radices: vec![100, 100, 10_000],
            },
            n,
        ),
        (
            Scheme::Crt {
                moduli: vec![463, 464, 467],
            },
            n,
        ),
        (
            Scheme::Crt {
                moduli: vec![463, 464, 465],
            },
            n,
        ),
        (Scheme::Hash { m: n }, n),
        (
            Scheme::Crt {
                moduli: vec![999_999_999, 999_999_998, 999_999_997],
            },
            n,
        ),
    ];
    // The bound: any n up to 10^9 finishes. Opt in, it takes minutes on 2 cores.
    if std::env::var_os("EMBPLAN_BENCH_BILLION").is_some() {
        let billion = 1_000_000_000u64;
        cases.push((Scheme::Qr { m: 31_623 }, billion));
        cases.push((
            Scheme::Crt {
                moduli: vec![999_999_999, 999_999_998, 999_999_997],
            },
            billion,
        ));
    }
    let limits = Limits::default();
    for (scheme, n) in &cases {
        let plan = exhaustive_cost(scheme, *n, &limits).expect("valid scheme");
        let (verdict, t) = time(|| check_exhaustive(scheme, *n).expect("valid scheme"));
        let how = match plan.strategy {
            Enumeration::Dense => "dense".to_string(),
            Enumeration::Sparse { passes } => format!("sparse, {passes} pass(es)"),
        };
        println!(
            "| {} | {n} | {} | {how} | {:.2} | {} |",
            scheme.describe(),
            if verdict.complementary {
                "complementary"
            } else {
                "collides"
            },
            t.as_secs_f64(),
            format_iec(plan.memory)
        );
    }
}
