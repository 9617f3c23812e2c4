//! Speed of complementarity checks (issue 2 targets): the algebraic proof answers in under
//! 1 ms for n up to 2^63; the exhaustive enumeration of n = 10^8 ids finishes in under 10 s
//! with O(n) bits of memory. Run: `cargo bench --bench proof`.

use std::time::{Duration, Instant};

use embplan::partition::Scheme;
use embplan::proof::{check_exhaustive, prove};

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

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

    println!("\n## exhaustive enumeration, n = 10^8 (bitset of the class-tuple space)");
    println!("| scheme | verdict | seconds | bitset |");
    println!("|---|---|---:|---:|");
    let n = 100_000_000u64;
    let exhaustive_cases = [
        Scheme::Qr { m: 10_000 },
        Scheme::MixedRadix {
            radices: vec![100, 100, 10_000],
        },
        Scheme::Crt {
            moduli: vec![463, 464, 467],
        },
        Scheme::Crt {
            moduli: vec![463, 464, 465],
        },
        Scheme::Hash { m: n },
    ];
    for scheme in &exhaustive_cases {
        let (verdict, t) = time(|| check_exhaustive(scheme, n).expect("valid scheme"));
        let space: u128 = scheme
            .table_rows(n)
            .iter()
            .map(|&r| u128::from(r))
            .product();
        let bits = space.min((u128::from(n) * 2).max(1 << 27));
        println!(
            "| {} | {} | {:.2} | {:.1} MiB |",
            scheme.describe(),
            if verdict.complementary {
                "complementary"
            } else {
                "collides"
            },
            t.as_secs_f64(),
            bits as f64 / 8.0 / 1024.0 / 1024.0
        );
    }
}
