use proptest::prelude::*;

use super::*;

fn hll_of(precision: u8, keys: impl IntoIterator<Item = u64>) -> Hll {
    let mut hll = Hll::new(precision).unwrap();
    for key in keys {
        hll.insert_hash(hash64(u128::from(key)));
    }
    hll
}

#[test]
fn hll_estimates_within_three_standard_errors() {
    for n in [0_u64, 1, 10, 1000, 100_000, 2_000_000] {
        let hll = hll_of(14, 0..n);
        let estimate = hll.estimate();
        let tolerance = 3.0 * hll.relative_standard_error() * n as f64;
        assert!(
            (estimate - n as f64).abs() <= tolerance,
            "n = {n}: estimate {estimate}"
        );
    }
}

#[test]
fn hll_is_unbiased_at_every_precision() {
    // One sketch's error is heavy-tailed at small m (a 2.3x estimate at p = 4 is no bug), so
    // check the mean and spread of the relative error over independent key sets instead.
    let (n, trials) = (5_000_u64, 60_u64);
    for precision in Hll::MIN_PRECISION..=Hll::MAX_PRECISION {
        let errors: Vec<f64> = (0..trials)
            .map(|trial| {
                let mut hll = Hll::new(precision).unwrap();
                for i in 0..n {
                    hll.insert_hash(hash64((u128::from(trial) << 64) | u128::from(i)));
                }
                hll.estimate() / n as f64 - 1.0
            })
            .collect();
        let mean = errors.iter().sum::<f64>() / trials as f64;
        let spread =
            (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / trials as f64).sqrt();
        let rse = Hll::new(precision).unwrap().relative_standard_error();
        // The documented small-m bias: a few percent high at p = 4 and 5.
        let known_bias = if precision < 6 { 0.1 } else { 0.0 };
        let tolerance = known_bias + 3.0 * rse / (trials as f64).sqrt();
        assert!(mean.abs() <= tolerance, "p = {precision}: bias {mean}");
        assert!(
            spread <= 1.5 * rse,
            "p = {precision}: spread {spread}, expected ~{rse}"
        );
    }
}

#[test]
fn hll_ignores_repeats_and_handles_extreme_hashes() {
    let mut hll = Hll::default();
    assert_eq!(hll.precision(), 14);
    assert_eq!(hll.num_registers(), 16384);
    assert_eq!(hll.estimate(), 0.0);
    for _ in 0..5 {
        hll.insert_hash(hash64(42));
    }
    assert!((hll.estimate() - 1.0).abs() < 0.01, "{}", hll.estimate());
    // Low q bits all zero: the largest rank, q + 1; all ones: rank 1.
    let mut extreme = Hll::new(4).unwrap();
    extreme.insert_hash(0);
    extreme.insert_hash(u64::MAX);
    assert_eq!(extreme.registers[0], 61);
    assert_eq!(extreme.registers[15], 1);
    assert!(extreme.estimate().is_finite());
    // Every register saturated (only crafted state reaches it): beyond any estimate.
    let saturated = Hll::from_hex(4, &"3d".repeat(16)).unwrap();
    assert_eq!(saturated.estimate(), f64::INFINITY);
}

#[test]
fn hll_merge_of_split_data_equals_whole() {
    // Overlapping halves: the merge is the sketch of the union.
    let a = hll_of(14, 0..60_000);
    let b = hll_of(14, 40_000..100_000);
    let whole = hll_of(14, 0..100_000);
    let mut merged = a.clone();
    merged.merge(&b).unwrap();
    assert_eq!(merged, whole);
    let mut other_way = b;
    other_way.merge(&a).unwrap();
    assert_eq!(other_way, whole);
}

#[test]
fn hll_merge_rejects_other_precisions() {
    let mut a = Hll::new(12).unwrap();
    let b = Hll::new(13).unwrap();
    assert_eq!(
        a.merge(&b),
        Err(SketchError::PrecisionMismatch {
            left: 12,
            right: 13
        })
    );
}

#[test]
fn hll_rejects_invalid_precisions() {
    for precision in [0, 3, 19, 64, 255] {
        assert_eq!(
            Hll::new(precision),
            Err(SketchError::InvalidPrecision { precision })
        );
        assert_eq!(
            Hll::from_hex(precision, ""),
            Err(SketchError::InvalidPrecision { precision })
        );
    }
}

#[test]
fn hll_hex_and_serde_round_trip() {
    /// A manifest that holds a sketch, as the profiler writes it.
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Manifest {
        distinct: Hll,
    }
    let hll = hll_of(10, 0..5000);
    let hex = hll.to_hex();
    assert_eq!(hex.len(), 2048);
    assert_eq!(Hll::from_hex(10, &hex).unwrap(), hll);
    assert_eq!(Hll::from_hex(10, &hex.to_uppercase()).unwrap(), hll);

    let json = serde_json::to_string(&hll).unwrap();
    assert!(
        json.starts_with(r#"{"precision":10,"registers":""#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Hll>(&json).unwrap(), hll);

    let manifest = Manifest { distinct: hll };
    let toml = toml::to_string(&manifest).unwrap();
    assert_eq!(toml::from_str::<Manifest>(&toml).unwrap(), manifest);
}

#[test]
fn hll_rejects_malformed_hex() {
    let good = "00".repeat(16);
    let malformed = |hex: &str| match Hll::from_hex(4, hex) {
        Err(SketchError::Malformed { expected, found }) => format!("{expected} / {found}"),
        other => panic!("{hex:?} gave {other:?}"),
    };
    assert_eq!(
        malformed(&good[1..]),
        "32 hex digits (two per register at precision 4) / 31 bytes"
    );
    assert_eq!(
        malformed(""),
        "32 hex digits (two per register at precision 4) / 0 bytes"
    );
    assert_eq!(
        malformed(&format!("0g{}", &good[2..])),
        "a hex digit at byte 1 / 'g'"
    );
    // A two-byte character where a digit should be, at an even and an odd byte.
    assert_eq!(
        malformed(&format!("é{}", &good[2..])),
        "a hex digit at byte 0 / 'é'"
    );
    assert_eq!(
        malformed(&format!("0é{}", &good[3..])),
        "a hex digit at byte 1 / 'é'"
    );
    assert_eq!(
        malformed(&format!("{}+0", &good[2..])),
        "a hex digit at byte 30 / '+'"
    );
    // Precision 4 allows register values up to 65 - 4 = 61 (0x3d).
    assert!(Hll::from_hex(4, &format!("3d{}", &good[2..])).is_ok());
    assert_eq!(
        malformed(&format!("{}3e", &good[2..])),
        "register values 0..=61 at precision 4 / 62 in register 15"
    );
    assert_eq!(
        malformed(&format!("ff{}", &good[2..])),
        "register values 0..=61 at precision 4 / 255 in register 0"
    );

    let json = format!(r#"{{"precision":4,"registers":"{}"}}"#, &good[1..]);
    let error = serde_json::from_str::<Hll>(&json).unwrap_err().to_string();
    assert!(
        error.starts_with("malformed HyperLogLog state: expected 32 hex digits"),
        "{error}"
    );
    let error = serde_json::from_str::<Hll>(r#"{"precision":30,"registers":""}"#).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("precision 30 is invalid: expected 4..=18"),
        "{error}"
    );
}

#[test]
fn hash64_mixes_both_halves() {
    assert_ne!(hash64(0), 0);
    let mut seen = std::collections::HashSet::new();
    let mut ones = 0_u64;
    for i in 1..20_000_u128 {
        for key in [i, i << 64, (i << 64) | 1, u128::MAX - i] {
            let h = hash64(key);
            ones += u64::from(h.count_ones());
            assert!(seen.insert(h), "collision at {key:#x}");
        }
    }
    // Each output bit is set half the time: 32 of 64 on average.
    let mean = ones as f64 / seen.len() as f64;
    assert!((mean - 32.0).abs() < 0.1, "{mean}");
}

proptest! {
    #[test]
    fn hll_from_hex_never_panics(precision in 0_u8..=20, hex in "[0-9a-fA-F3dé+]{0,40}") {
        if let Ok(hll) = Hll::from_hex(precision, &hex) {
            prop_assert_eq!(hll.to_hex(), hex.to_lowercase());
        }
    }
}
