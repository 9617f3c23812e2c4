use std::collections::HashMap;
use std::num::NonZeroUsize;

use proptest::prelude::*;

use super::*;

fn capacity(k: usize) -> NonZeroUsize {
    NonZeroUsize::new(k).expect("a positive capacity")
}

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

/// Checks the stream-summary's internal consistency.
fn check_structure<K: Hash + Eq + Clone + Ord + std::fmt::Debug>(summary: &SpaceSaving<K>) {
    let n = summary.counters.len();
    assert!(n <= summary.capacity());
    assert_eq!(summary.order.len(), n);
    assert_eq!(summary.slot_of.len(), n);
    let mut sum = 0;
    for (position, &slot) in summary.order.iter().enumerate() {
        let Counter {
            hit,
            position: at,
            bucket,
        } = &summary.counters[slot];
        sum += hit.count;
        assert_eq!(*at, position);
        assert_eq!(summary.slot_of[&hit.key], slot);
        // A counter's own occurrence is never part of its error; a taken-over one starts with
        // `min` positives, its error.
        assert!(hit.error < hit.count);
        assert!(hit.error <= hit.positives && hit.positives <= hit.count);
        let bucket = summary.buckets[*bucket];
        assert!(bucket.first <= position && position <= bucket.last);
        let count_at = |at: usize| summary.counters[summary.order[at]].hit.count;
        assert!((bucket.first..=bucket.last).all(|at| count_at(at) == hit.count));
        assert!(bucket.first == 0 || count_at(bucket.first - 1) > hit.count);
        assert!(bucket.last + 1 == n || count_at(bucket.last + 1) < hit.count);
    }
    // Every insert adds exactly 1 to the counts and a merge at most its inputs' sums.
    assert!(sum <= summary.total());
}

/// Checks Space-Saving's guarantees against exact counts of `stream`.
fn check_guarantees(summary: &SpaceSaving<u32>, stream: &[(u32, bool)]) {
    check_structure(summary);
    let mut exact: HashMap<u32, (u64, u64)> = HashMap::new();
    for &(key, positive) in stream {
        let entry = exact.entry(key).or_default();
        entry.0 += 1;
        entry.1 += u64::from(positive);
    }
    let total = stream.len() as u64;
    let k = summary.capacity() as u64;
    let bound = summary.error_bound();
    assert_eq!(summary.total(), total);
    assert!(bound <= total / k, "bound {bound} > {total}/{k}");
    let entries = summary.entries();
    assert_eq!(entries.len(), summary.len());
    assert_eq!(summary.len(), exact.len().min(summary.capacity()));
    for entry in &entries {
        let (count, positives) = exact.get(&entry.key).copied().unwrap_or_default();
        assert!(
            entry.count - entry.error <= count && count <= entry.count,
            "{entry:?}: {count}"
        );
        assert!(
            entry.positives - entry.error <= positives,
            "{entry:?}: {positives}"
        );
        assert!(positives <= entry.positives, "{entry:?}: {positives}");
        assert!(entry.error <= bound, "{entry:?}: bound {bound}");
        assert_eq!(summary.get(&entry.key), Some(entry));
    }
    for (key, &(count, _)) in &exact {
        if summary.get(key).is_none() {
            assert!(count <= bound, "untracked {key} counted {count} > {bound}");
            assert!(
                count * k <= total,
                "heavy hitter {key} ({count} of {total}) missing"
            );
        }
    }
    if exact.len() <= summary.capacity() {
        assert!(
            entries.iter().all(|entry| entry.error == 0),
            "nothing was dropped"
        );
    }
    let sorted = entries.windows(2).all(|pair| {
        pair[0].count > pair[1].count
            || (pair[0].count == pair[1].count && pair[0].key < pair[1].key)
    });
    assert!(sorted, "{entries:?}");
}

fn summary_of(k: usize, stream: &[(u32, bool)]) -> SpaceSaving<u32> {
    let mut summary = SpaceSaving::new(capacity(k));
    for &(key, positive) in stream {
        summary.insert(key, positive);
    }
    summary
}

/// A Zipf(1) stream over keys 1..=500 (key i occurs 20000/i times) in a shuffled order, with
/// positive labels on about a third of the occurrences.
fn zipf_stream() -> Vec<(u32, bool)> {
    let mut stream: Vec<(u64, u32, bool)> = Vec::new();
    for key in 1..=500_u32 {
        for occurrence in 0..20_000 / u64::from(key) {
            let h = hash64((u128::from(key) << 64) | u128::from(occurrence));
            stream.push((h, key, h.is_multiple_of(3)));
        }
    }
    stream.sort_unstable();
    stream
        .into_iter()
        .map(|(_, key, positive)| (key, positive))
        .collect()
}

#[test]
fn space_saving_keeps_zipf_heavy_hitters() {
    let stream = zipf_stream();
    let summary = summary_of(50, &stream);
    check_guarantees(&summary, &stream);
    // 20000/i > N/k = 135_618/50 for the 7 heaviest keys: all tracked, the heaviest first.
    let entries = summary.entries();
    assert_eq!(entries[0].key, 1);
    assert!((1..=7).all(|key| summary.get(&key).is_some()));
}

#[test]
fn space_saving_takes_over_the_smallest_counter() {
    let mut summary = SpaceSaving::new(capacity(2));
    assert!(summary.is_empty());
    assert_eq!(summary.error_bound(), 0);
    for (key, positive) in [("a", true), ("a", false), ("b", true), ("c", false)] {
        summary.insert(key, positive);
    }
    let hitter = |key, count, error, positives| HeavyHitter {
        key,
        count,
        error,
        positives,
    };
    // "c" replaced "b" (count 1): count 2, of which up to 1 (and its 1 positive) were b's.
    assert_eq!(
        summary.entries(),
        [hitter("a", 2, 0, 1), hitter("c", 2, 1, 1)]
    );
    assert_eq!(
        (summary.len(), summary.total(), summary.error_bound()),
        (2, 4, 2)
    );
    assert_eq!(summary.get(&"b"), None);
}

#[test]
fn space_saving_is_deterministic() {
    let stream = zipf_stream();
    let (a, b) = (summary_of(20, &stream), summary_of(20, &stream));
    assert_eq!(a.entries(), b.entries());
    assert_eq!(a.order, b.order);
    let (half_a, half_b) = stream.split_at(stream.len() / 3);
    let mut merged = summary_of(20, half_a);
    merged.merge(&summary_of(20, half_b)).unwrap();
    let mut again = summary_of(20, half_a);
    again.merge(&summary_of(20, half_b)).unwrap();
    assert_eq!(merged.entries(), again.entries());
    assert_eq!(merged.order, again.order);
    check_guarantees(&merged, &stream);
}

#[test]
fn space_saving_merge_rejects_other_capacities() {
    let mut a: SpaceSaving<u32> = SpaceSaving::new(capacity(3));
    let b = SpaceSaving::new(capacity(4));
    assert_eq!(
        a.merge(&b),
        Err(SketchError::CapacityMismatch { left: 3, right: 4 })
    );
}

/// Streams over `alphabet` keys, skewed towards small keys (density ∝ 1/√key), or uniform.
fn stream_strategy() -> impl Strategy<Value = Vec<(u32, bool)>> {
    (1_u32..40, any::<bool>()).prop_flat_map(|(alphabet, skewed)| {
        prop::collection::vec((0_u32..1000, any::<bool>()), 0..400).prop_map(move |raw| {
            raw.into_iter()
                .map(|(x, positive)| {
                    let key = if skewed {
                        x * x * alphabet / 1_000_000
                    } else {
                        x * alphabet / 1000
                    };
                    (key, positive)
                })
                .collect()
        })
    })
}

proptest! {
    #[test]
    fn space_saving_bounds_hold(k in 1_usize..12, stream in stream_strategy()) {
        check_guarantees(&summary_of(k, &stream), &stream);
    }

    #[test]
    fn space_saving_merge_bounds_hold(
        k in 1_usize..12,
        a in stream_strategy(),
        b in stream_strategy(),
        c in stream_strategy(),
    ) {
        let mut merged = summary_of(k, &a);
        merged.merge(&summary_of(k, &b)).unwrap();
        let mut other_way = summary_of(k, &b);
        other_way.merge(&summary_of(k, &a)).unwrap();
        prop_assert_eq!(merged.entries(), other_way.entries());
        let mut concatenation = [a, b].concat();
        check_guarantees(&merged, &concatenation);
        // The merged summary keeps its guarantees under more inserts and merges.
        for &(key, positive) in &c {
            merged.insert(key, positive);
        }
        concatenation.extend_from_slice(&c);
        check_guarantees(&merged, &concatenation);
        merged.merge(&summary_of(k, &c)).unwrap();
        concatenation.extend_from_slice(&c);
        check_guarantees(&merged, &concatenation);
    }
}
