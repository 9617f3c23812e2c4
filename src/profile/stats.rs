//! The compact frequency profile of one feature, kept in the schema.

use serde::{Deserialize, Serialize};

use super::counts::Tally;
use super::value::{self, Value};
use crate::schema::wide_u64;

/// What a profile knows of one feature's values: small enough to keep in a schema.
///
/// Shares are of occurrences (rows). Entropies and information are in bits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureProfile {
    /// Rows seen.
    #[serde(with = "wide_u64")]
    pub rows: u64,
    /// Distinct values seen (an estimate in sketch mode, see `distinct_error`).
    #[serde(with = "wide_u64")]
    pub distinct: u64,
    /// Rows whose value is missing (an empty field or a null).
    #[serde(with = "wide_u64")]
    pub missing: u64,
    /// Values seen exactly once.
    #[serde(with = "wide_u64")]
    pub singletons: u64,
    /// `coverage[i]`: the share of rows whose value is among the 2^i most frequent values,
    /// for i = 0, 1, 2, … until every value is covered.
    pub coverage: Vec<f64>,
    /// Empirical entropy of the value distribution.
    pub entropy_bits: f64,
    /// Plug-in mutual information between the value and the label, I(X; Y).
    pub label_information_bits: f64,
    /// The Miller–Madow estimate of the plug-in's upward bias, (distinct − 1)(2 − 1) / (2 N ln 2)
    /// bits: subtract it for an estimate of the information that generalizes.
    pub label_information_bias_bits: f64,
    /// Share of rows with label 1.
    pub positive_rate: f64,
    /// Vocabulary ids given to values (0 = most frequent); the schema's cardinality is this
    /// plus one out-of-vocabulary id.
    #[serde(with = "wide_u64")]
    pub kept: u64,
    /// Values seen fewer than `min_count` times, folded into the out-of-vocabulary id.
    #[serde(with = "wide_u64")]
    pub folded_values: u64,
    /// Share of rows whose value was folded into the out-of-vocabulary id.
    pub folded_share: f64,
    /// Whether every figure is exact; else `distinct` and the head counts are sketches.
    pub exact: bool,
    /// Sketch mode: relative standard error of `distinct` (HyperLogLog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_error: Option<f64>,
    /// Sketch mode: the most a head count (and so a coverage share, times rows) over-counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_error: Option<u64>,
}

/// −p log2 p of a share p = count / total, in bits (0 for an empty share).
pub(super) fn entropy_term(count: u64, total: u64) -> f64 {
    if count == 0 || total == 0 {
        return 0.0;
    }
    let p = count as f64 / total as f64;
    -p * p.log2()
}

/// Binary entropy of `k` positives out of `n`, in bits (k ≤ n).
pub(super) fn binary_entropy(k: u64, n: u64) -> f64 {
    entropy_term(k, n) + entropy_term(n - k, n)
}

/// Shares of rows covered by the top 1, 2, 4, … values of a count-ranked list; when the
/// list is `complete` (every value, not only a sketch's head) the curve ends at all values.
pub fn coverage_curve(
    counts_desc: impl Iterator<Item = u64>,
    rows: u64,
    complete: bool,
) -> Vec<f64> {
    let mut curve = Vec::new();
    let (mut covered, mut seen, mut next, mut last_pushed) = (0u64, 0u64, 1u64, 0u64);
    for c in counts_desc {
        covered += c;
        seen += 1;
        if seen == next {
            curve.push(share(covered, rows));
            last_pushed = seen;
            next = next.saturating_mul(2);
        }
    }
    if complete && (last_pushed != seen || curve.is_empty()) {
        curve.push(share(covered, rows));
    }
    curve
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The exact profile of a feature from its values ranked by count (most frequent first),
/// giving ids to the values seen at least `min_count` times.
pub fn exact_profile(
    ranked: &[(Value, Tally)],
    rows: u64,
    positives: u64,
    min_count: u64,
) -> FeatureProfile {
    let distinct = ranked.len() as u64;
    let missing = ranked
        .iter()
        .find(|(v, _)| matches!(v, Value::Packed(k) if value::is_missing(*k)))
        .map_or(0, |(_, t)| t.count);
    let singletons = ranked.iter().filter(|(_, t)| t.count == 1).count() as u64;
    let entropy_bits = ranked
        .iter()
        .map(|(_, t)| entropy_term(t.count, rows))
        .sum();
    let label_entropy = binary_entropy(positives, rows);
    let conditional: f64 = ranked
        .iter()
        .map(|(_, t)| share(t.count, rows) * binary_entropy(t.positives, t.count))
        .sum();
    let label_information_bits = (label_entropy - conditional).max(0.0);
    let kept = ranked
        .iter()
        .take_while(|(_, t)| t.count >= min_count)
        .count() as u64;
    let folded_rows: u64 = ranked[kept as usize..].iter().map(|(_, t)| t.count).sum();
    FeatureProfile {
        rows,
        distinct,
        missing,
        singletons,
        coverage: coverage_curve(ranked.iter().map(|(_, t)| t.count), rows, true),
        entropy_bits,
        label_information_bits,
        label_information_bias_bits: miller_madow_bias(distinct, rows),
        positive_rate: share(positives, rows),
        kept,
        folded_values: distinct - kept,
        folded_share: share(folded_rows, rows),
        exact: true,
        distinct_error: None,
        count_error: None,
    }
}

/// The Miller–Madow bias of the plug-in mutual information with a binary label, in bits.
pub fn miller_madow_bias(distinct: u64, rows: u64) -> f64 {
    if rows == 0 {
        return 0.0;
    }
    distinct.saturating_sub(1) as f64 / (2.0 * rows as f64 * std::f64::consts::LN_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(counts: &[(u64, u64)]) -> Vec<(Value, Tally)> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &(count, positives))| {
                (
                    Value::Packed(value::pack_int(i as u64)),
                    Tally { count, positives },
                )
            })
            .collect()
    }

    #[test]
    fn coverage_doubles_and_ends_at_one() {
        let r = ranked(&[(4, 0), (2, 0), (1, 0), (1, 0), (1, 0)]);
        let p = exact_profile(&r, 9, 0, 2);
        assert_eq!(p.coverage, vec![4.0 / 9.0, 6.0 / 9.0, 8.0 / 9.0, 1.0]);
        assert_eq!((p.kept, p.folded_values, p.singletons), (2, 3, 3));
        assert!((p.folded_share - 3.0 / 9.0).abs() < 1e-12);
        let p = exact_profile(&ranked(&[(3, 1), (1, 0)]), 4, 1, 1);
        assert_eq!(p.coverage, vec![0.75, 1.0]);
    }

    #[test]
    fn information_is_zero_when_values_do_not_tell_and_full_when_they_do() {
        let p = exact_profile(&ranked(&[(50, 25), (50, 25)]), 100, 50, 1);
        assert!(p.label_information_bits.abs() < 1e-12);
        assert!((p.entropy_bits - 1.0).abs() < 1e-12);
        let p = exact_profile(&ranked(&[(50, 50), (50, 0)]), 100, 50, 1);
        assert!((p.label_information_bits - 1.0).abs() < 1e-12);
        assert!(
            (p.label_information_bias_bits - 1.0 / (200.0 * std::f64::consts::LN_2)).abs() < 1e-15
        );
    }
}
