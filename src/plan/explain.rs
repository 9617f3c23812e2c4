//! Why each feature got its scheme: one line per feature with the figures behind it (the
//! traffic its hot rows cover, the compression, the predicted loss increase).

use anyhow::Result;
use serde::Serialize;

use crate::cost::compression_ratio;
use crate::partition::Family;
use crate::plan::{Plan, PlannedFeature};
use crate::schema::{Feature, Schema};
use crate::size::group_thousands;

/// One feature's choice, explained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    /// Feature name.
    pub feature: String,
    /// The scheme and combiner, e.g. `hot(4096)+qr(4) add`.
    pub scheme: String,
    /// Ids with rows of their own among the shared ones (0 without hot rows).
    pub hot_ids: u64,
    /// The share of the profiled rows whose id is hot; `None` without hot rows or without a
    /// profile measured at that number of ids (profiles measure powers of two).
    pub hot_coverage: Option<f64>,
    /// Full-table bytes over the feature's bytes (`None` when the full table overflows).
    pub compression: Option<f64>,
    /// The planner's predicted loss increase (0 when no planner annotated it).
    pub predicted_loss: f64,
    /// The sentence shown by `embplan plan`.
    pub line: String,
}

/// The choice of every feature of `plan`; `schema` supplies the profiles (matched by name).
pub fn explain(plan: &Plan, schema: &Schema) -> Result<Vec<Choice>> {
    let costs = plan.costs()?;
    Ok(plan
        .features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let compression = costs.full_features[i]
                .map(|full| compression_ratio(full.bytes, costs.features[i].bytes));
            let profiled = schema.features.iter().find(|s| s.name == f.name());
            choice(f, profiled, compression)
        })
        .collect())
}

/// The share of rows the `k` most frequent ids cover, when the profile measured it.
pub fn coverage_of(feature: Option<&Feature>, k: u64) -> Option<f64> {
    let profile = feature?.profile.as_ref()?;
    if !k.is_power_of_two() {
        return None;
    }
    profile.coverage.get(k.trailing_zeros() as usize).copied()
}

fn choice(f: &PlannedFeature, profiled: Option<&Feature>, compression: Option<f64>) -> Choice {
    let scheme = f.scheme_label();
    let hot_ids = f.scheme().hot();
    let hot_coverage = (hot_ids > 0)
        .then(|| coverage_of(profiled, hot_ids))
        .flatten();
    let predicted_loss = f.predicted_loss.unwrap_or(0.0);
    let smaller = compression.map_or_else(
        || "full table too large to count".to_string(),
        |c| format!("{c:.2}× smaller than its full table"),
    );
    let loss = if predicted_loss == 0.0 {
        "0".to_string()
    } else {
        format!("{predicted_loss:.3e}")
    };
    let what = if hot_ids > 0 {
        let share = hot_coverage.map_or_else(String::new, |c| {
            format!(" ({:.1}% of profiled rows)", 100.0 * c)
        });
        let tail = f.scheme().tail();
        format!(
            "the {} most frequent ids{share} keep rows of their own; the other {} share {} rows",
            group_thousands(hot_ids),
            group_thousands(f.cardinality() - hot_ids),
            tail.describe()
        )
    } else if f.scheme().num_tables() == 1 && f.scheme().family() == Family::Full {
        "a full table: every id has its own row".to_string()
    } else {
        format!("every id shares {scheme} rows")
    };
    let line = format!("{}: {what}; {smaller}; predicted Δloss {loss}", f.name());
    Choice {
        feature: f.name().to_string(),
        scheme,
        hot_ids,
        hot_coverage,
        compression,
        predicted_loss,
        line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::{Combiner, Scheme};
    use crate::profile::stats::FeatureProfile;
    use crate::schema::{Dtype, Optimizer};

    #[test]
    fn a_hot_feature_names_the_traffic_its_hot_rows_cover() {
        let hot = Scheme::Hot {
            hot: 4,
            tail: Box::new(Scheme::Qr { m: 3 }),
        };
        let mut f = PlannedFeature::new("c", 20, 4, hot, Some(Combiner::Add)).unwrap();
        f.predicted_loss = Some(1.5e-4);
        let full = PlannedFeature::new("d", 5, 4, Scheme::Full, None).unwrap();
        let plan = Plan {
            name: None,
            dtype: Dtype::F32,
            optimizer: Optimizer::None,
            features: vec![f, full],
            planner: None,
            placement: None,
        };
        let text = "dim = 4\n[[feature]]\nname = \"c\"\ncardinality = 20\n[[feature]]\nname = \"d\"\ncardinality = 5\n";
        let mut schema = Schema::from_toml(&crate::source::Source::new("s.toml", text)).unwrap();
        schema.features[0].profile = Some(FeatureProfile {
            rows: 100,
            distinct: 20,
            missing: 0,
            singletons: 0,
            coverage: vec![0.3, 0.5, 0.7, 0.8, 0.9, 1.0],
            entropy_bits: 3.0,
            label_information_bits: 0.1,
            label_information_bias_bits: 0.01,
            positive_rate: 0.5,
            kept: 20,
            folded_values: 0,
            folded_share: 0.0,
            exact: true,
            distinct_error: None,
            count_error: None,
        });
        let choices = explain(&plan, &schema).unwrap();
        assert_eq!(choices[0].hot_coverage, Some(0.7));
        // 20 rows against 4 + 3 (hot and remainder) and 1 + 6 (shared and quotient) rows.
        assert_eq!(
            choices[0].line,
            "c: the 4 most frequent ids (70.0% of profiled rows) keep rows of their own; the other 16 share qr(3) rows; 1.43× smaller than its full table; predicted Δloss 1.500e-4"
        );
        assert_eq!(
            choices[1].line,
            "d: a full table: every id has its own row; 1.00× smaller than its full table; predicted Δloss 0"
        );
    }
}
