//! What `embplan plan` reports beside the plan: the summary's figures and their rendering
//! as a table and lines (the `--json` form serializes [`Summary`]).

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::placement_report::{device_table, placement_line};
use crate::cli::report::{align_right, new_table, table_shapes};
use embplan::cost::{NOT_COUNTED, compression_ratio};
use embplan::plan::{Choice, Plan, PlanCosts};
use embplan::schema::Schema;
use embplan::size::{format_iec, group_thousands};

/// What the solver proved about a searched plan; a `--uniform` baseline has none.
#[derive(Debug, Clone, Serialize)]
pub struct SearchFigures {
    /// The smallest plan the search space allows.
    pub min_bytes: u64,
    /// A lower bound on the predicted loss of any plan within the budget.
    pub lower_bound: f64,
    /// The Lagrangian relaxation's bound alone (before branch and bound).
    pub relaxation_bound: f64,
    /// The predicted loss above the lower bound (≤ 0: proved optimal).
    pub gap: f64,
    /// The Lagrange multiplier: predicted loss saved per extra GiB at the margin.
    pub loss_per_gib: Option<f64>,
}

/// What the solver (or the baseline) reports beside the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The budget, if one was given.
    pub budget_bytes: Option<u64>,
    /// The plan's bytes (weights + optimizer state).
    pub total_bytes: u64,
    /// The full model's bytes; `None` beyond 2^64.
    pub full_bytes: Option<u64>,
    /// Whether the plan fits the budget (`None` without one).
    pub fits: Option<bool>,
    /// Whether every table stays full.
    pub at_full: bool,
    /// The plan's predicted loss increase.
    pub predicted_loss: f64,
    /// The solver's figures (searched plans only; flattened into the JSON).
    #[serde(flatten)]
    pub search: Option<SearchFigures>,
    /// Where the quality model's coefficients came from.
    pub quality_model: String,
    /// Whether they are the bundled, unmeasured defaults.
    pub provisional: bool,
    /// Features whose partitions are not complementary.
    pub not_complementary: Vec<String>,
    /// Features whose (family, combiner) the calibration did not measure (`--extrapolate`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extrapolated: Vec<String>,
    /// How the plan was made (`searched …` or the baseline's description).
    pub method: String,
    /// With --devices: the budgets tried until the plan placed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement_tries: Option<u32>,
}

impl Summary {
    /// A summary of a plan of `total_bytes` made by `method`; the rest is filled in later.
    pub fn new(budget_bytes: Option<u64>, total_bytes: u64, method: String) -> Summary {
        Summary {
            budget_bytes,
            total_bytes,
            full_bytes: None,
            fits: budget_bytes.map(|b| total_bytes <= b),
            at_full: false,
            predicted_loss: 0.0,
            search: None,
            quality_model: String::new(),
            provisional: false,
            not_complementary: Vec::new(),
            extrapolated: Vec::new(),
            method,
            placement_tries: None,
        }
    }
}

/// A predicted loss for people: 0, or three significant digits.
pub fn format_loss(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else {
        format!("{x:.3e}")
    }
}

/// The plan as people read it: the feature table, why each compressed feature got its
/// scheme, and the summary lines.
pub fn render(
    schema: &Schema,
    plan: &Plan,
    costs: &PlanCosts,
    s: &Summary,
    choices: &[Choice],
) -> String {
    let mut lines = vec![feature_table(plan, costs, s).to_string()];
    // Only compressed features need a reason; full tables speak for themselves.
    lines.extend(
        choices
            .iter()
            .filter(|c| c.compression.is_none_or(|r| r > 1.0 + 1e-9))
            .map(|c| c.line.clone()),
    );
    if let Some(p) = &plan.placement {
        lines.push(device_table(p).to_string());
        lines.push(placement_line(p));
    }
    lines.push(header_line(schema, plan, s));
    lines.push(budget_line(s));
    lines.push(full_model_line(s));
    if s.at_full && s.budget_bytes.is_some() && s.search.is_some() {
        lines.push("the budget holds the full model: every table stays full".into());
    }
    lines.push(loss_line(s));
    lines.extend(margin_line(s));
    lines.extend(quality_lines(s));
    lines.push(complementarity_line(plan, s));
    lines.push(NOT_COUNTED.to_string());
    lines.join("\n")
}

/// One row per feature (scheme, tables, bytes, compression, predicted Δloss) and the total.
fn feature_table(plan: &Plan, costs: &PlanCosts, s: &Summary) -> comfy_table::Table {
    let mut table = new_table(&[
        "feature",
        "cardinality",
        "scheme",
        "tables (rows×dim)",
        "bytes",
        "compression",
        "Δloss (predicted)",
    ]);
    for (i, f) in plan.features.iter().enumerate() {
        let bytes = costs.features[i].bytes;
        let ratio = costs.full_features[i].map_or_else(
            || "—".into(),
            |full| format!("{:.2}×", compression_ratio(full.bytes, bytes)),
        );
        table.add_row(vec![
            f.name().to_string(),
            group_thousands(f.cardinality()),
            f.scheme_label(),
            table_shapes(f),
            format_iec(bytes),
            ratio,
            format_loss(f.predicted_loss.unwrap_or(0.0)),
        ]);
    }
    let total_ratio = s.full_bytes.map_or_else(
        || "—".into(),
        |full| format!("{:.2}×", compression_ratio(full, s.total_bytes)),
    );
    table.add_row(vec![
        "total".to_string(),
        String::new(),
        String::new(),
        String::new(),
        format_iec(s.total_bytes),
        total_ratio,
        format_loss(s.predicted_loss),
    ]);
    align_right(&mut table, &[1, 4, 5, 6]);
    table
}

/// The schema, its size, dtype and optimizer, and how the plan was made.
fn header_line(schema: &Schema, plan: &Plan, s: &Summary) -> String {
    format!(
        "{} ({} features), dtype {}, optimizer {}: {}",
        schema.display_name(),
        schema.features.len(),
        plan.dtype,
        plan.optimizer,
        s.method
    )
}

/// The plan's bytes, and its share of the budget when there is one.
fn budget_line(s: &Summary) -> String {
    let plan = format!(
        "plan {} ({} bytes)",
        format_iec(s.total_bytes),
        group_thousands(s.total_bytes)
    );
    let Some(b) = s.budget_bytes else {
        return plan;
    };
    let share = s.total_bytes as f64 / b.max(1) as f64 * 100.0;
    let verdict = if s.fits == Some(false) {
        " — DOES NOT FIT"
    } else {
        ""
    };
    let fitted = s.placement_tries.map_or_else(String::new, |n| {
        let searches = if n == 1 { "search" } else { "searches" };
        format!(", the largest whose plan places on the devices ({n} {searches})")
    });
    format!(
        "{plan} = {share:.1}% of the budget {} ({} bytes){fitted}{verdict}",
        format_iec(b),
        group_thousands(b)
    )
}

/// The full model's bytes and, for searched plans, the smallest plan possible.
fn full_model_line(s: &Summary) -> String {
    let full = s.full_bytes.map_or_else(
        || "more than 2^64 bytes".into(),
        |f| format!("{} ({} bytes)", format_iec(f), group_thousands(f)),
    );
    let mut line = format!("full model {full}");
    if let Some(search) = &s.search {
        let m = search.min_bytes;
        let _ = write!(
            line,
            "; smallest possible plan {} ({} bytes)",
            format_iec(m),
            group_thousands(m)
        );
    }
    line
}

/// The predicted loss and, for searched plans, its lower bound and the gap.
fn loss_line(s: &Summary) -> String {
    let mut line = format!("predicted loss increase {}", format_loss(s.predicted_loss));
    let Some(f) = &s.search else {
        return line;
    };
    let (lb, lp) = (format_loss(f.lower_bound), format_loss(f.relaxation_bound));
    if f.gap <= 0.0 {
        let _ = write!(
            line,
            ": optimal in the search space under the quality model (lower bound {lb}; Lagrangian relaxation alone {lp})"
        );
    } else {
        let rel = if s.predicted_loss > 0.0 {
            format!(" ({:.2}% of this plan's)", f.gap / s.predicted_loss * 100.0)
        } else {
            String::new()
        };
        let _ = write!(
            line,
            "; lower bound {lb} (Lagrangian relaxation {lp}, tightened by branch and bound), so the gap to the best plan in the search space is at most {}{rel}",
            format_loss(f.gap)
        );
    }
    line
}

/// The Lagrange multiplier, scaled to 1% of the budget so the figure is scale-free.
fn margin_line(s: &Summary) -> Option<String> {
    let rate = s.search.as_ref()?.loss_per_gib.filter(|r| *r > 0.0)?;
    let step = s.budget_bytes? / 100;
    Some(format!(
        "at the margin, 1% more budget ({}) would save about {} of predicted loss (the Lagrange multiplier)",
        format_iec(step),
        format_loss(rate * step as f64 / (1u64 << 30) as f64)
    ))
}

/// Where the quality model came from, and the pairs it extrapolates.
fn quality_lines(s: &Summary) -> Vec<String> {
    let mut lines = vec![if s.provisional {
        "quality model: provisional defaults — its coefficients are not yet measured with the trainer; pass --calibration FILE for measured ones"
            .to_string()
    } else {
        format!("quality model: {}", s.quality_model)
    }];
    if !s.extrapolated.is_empty() {
        lines.push(format!(
            "EXTRAPOLATED: the calibration did not measure the pairs of {}",
            s.extrapolated.join(", ")
        ));
    }
    lines
}

/// The complementarity verdict over every feature.
fn complementarity_line(plan: &Plan, s: &Summary) -> String {
    if s.not_complementary.is_empty() {
        format!(
            "every feature's partitions are proved complementary ({} features)",
            plan.features.len()
        )
    } else {
        format!(
            "NOT complementary (hash, colliding ids share a row): {}",
            s.not_complementary.join(", ")
        )
    }
}
