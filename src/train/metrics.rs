//! Click-model metrics: log-loss, accuracy and AUC, computed from logits.

use serde::{Deserialize, Serialize};

/// Log-loss, accuracy and AUC of a set of predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean binary cross-entropy (natural log).
    pub logloss: f64,
    /// Share of examples with (logit > 0) == (label > 0.5).
    pub accuracy: f64,
    /// Area under the ROC curve (ties averaged); `None` (null in JSON) when one class is
    /// absent and the AUC is undefined.
    pub auc: Option<f64>,
}

/// The numerically stable logistic loss of one logit: max(z,0) − z·y + ln(1 + e^−|z|).
#[inline]
pub fn logistic_loss(z: f64, y: f64) -> f64 {
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

/// The logistic sigmoid.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Metrics {
    /// Metrics of `logits` against `labels` (same length).
    pub fn from_logits(logits: &[f32], labels: &[f32]) -> Metrics {
        let n = logits.len().max(1) as f64;
        let mut loss = 0.0;
        let mut correct = 0usize;
        for (&z, &y) in logits.iter().zip(labels) {
            loss += logistic_loss(f64::from(z), f64::from(y));
            correct += usize::from((z > 0.0) == (y > 0.5));
        }
        Metrics {
            logloss: loss / n,
            accuracy: correct as f64 / n,
            auc: auc(logits, labels),
        }
    }

    /// Metrics of probabilities (clipped to [1e-12, 1 − 1e-12]).
    pub fn from_probabilities(p: &[f64], labels: &[f32]) -> Metrics {
        let logits: Vec<f32> = p
            .iter()
            .map(|&p| {
                let p = p.clamp(1e-12, 1.0 - 1e-12);
                (p.ln() - (-p).ln_1p()) as f32
            })
            .collect();
        Metrics::from_logits(&logits, labels)
    }
}

/// AUC by the Mann–Whitney rank statistic, tied scores getting their average rank; `None`
/// when the labels hold one class only.
pub fn auc(scores: &[f32], labels: &[f32]) -> Option<f64> {
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]));
    let positives = labels.iter().filter(|&&y| y > 0.5).count() as f64;
    let negatives = scores.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        let s = scores[order[i] as usize];
        while j < order.len() && scores[order[j] as usize] == s {
            j += 1;
        }
        // 1-based ranks i+1..=j share their mean.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        let pos_in_group = order[i..j]
            .iter()
            .filter(|&&k| labels[k as usize] > 0.5)
            .count();
        rank_sum += mean_rank * pos_in_group as f64;
        i = j;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// The validation log-loss of always predicting the training set's positive rate.
pub fn constant_logloss(train_labels: &[f32], valid_labels: &[f32]) -> f64 {
    let n = train_labels.len().max(1) as f64;
    let rate = train_labels.iter().map(|&y| f64::from(y)).sum::<f64>() / n;
    let p = vec![rate; valid_labels.len()];
    Metrics::from_probabilities(&p, valid_labels).logloss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(
            auc(&[0.1, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0]),
            Some(0.75)
        );
        assert_eq!(auc(&[0.5, 0.5], &[0.0, 1.0]), Some(0.5));
        assert_eq!(auc(&[0.5], &[1.0]), None);
    }

    #[test]
    fn logloss_is_stable_for_large_logits() {
        assert!((logistic_loss(1000.0, 1.0)).abs() < 1e-12);
        assert!((logistic_loss(-1000.0, 1.0) - 1000.0).abs() < 1e-9);
        let m = Metrics::from_logits(&[0.0, 0.0], &[0.0, 1.0]);
        assert!((m.logloss - 2f64.ln()).abs() < 1e-12);
    }
}
