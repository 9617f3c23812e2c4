//! A plan and its counts: the domain types every command shares, apart from how they are
//! stored ([`crate::plan::file`]).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::cost::Cost;
use crate::partition::Scheme;
use crate::placement::Placement;
use crate::plan::PlannedFeature;
use crate::schema::{Dtype, Optimizer, Schema};

/// What the planner recorded about how a plan was made (informational, not re-derived).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PlannerInfo {
    /// The budget the plan was made for, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_bytes: Option<u64>,
    /// How the plan was made, e.g. `searched` or `uniform qr:4 mult threshold 200`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Sum of the features' predicted loss increases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_loss: Option<f64>,
    /// A lower bound on the predicted loss any plan within the budget can reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_bound: Option<f64>,
    /// Where the quality model's coefficients came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_model: Option<String>,
}

/// A plan: every feature's scheme, combiner and table shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Dataset / schema name.
    pub name: Option<String>,
    /// Weight dtype.
    pub dtype: Dtype,
    /// Optimizer whose state is counted.
    pub optimizer: Optimizer,
    /// Features, in schema order.
    pub features: Vec<PlannedFeature>,
    /// How the plan was made, if a planner made it.
    pub planner: Option<PlannerInfo>,
    /// Where its tables go on devices, if it was planned for them.
    pub placement: Option<Placement>,
}

/// Counts of a whole plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanCosts {
    /// Per feature, per table.
    pub tables: Vec<Vec<Cost>>,
    /// Per feature.
    pub features: Vec<Cost>,
    /// Per feature, the full-table counts (`None` if they overflow u64).
    pub full_features: Vec<Option<Cost>>,
    /// The plan's total.
    pub total: Cost,
    /// The total with full tables (`None` if it overflows u64).
    pub full_total: Option<Cost>,
}

impl Plan {
    /// The plain plan: one full table per feature of the schema.
    pub fn full_from_schema(schema: &Schema) -> Result<Plan> {
        let features = schema
            .features
            .iter()
            .map(|f| PlannedFeature::new(&f.name, f.cardinality, f.dim, Scheme::Full, None))
            .collect::<Result<_>>()?;
        Ok(Plan {
            name: schema.name.clone(),
            dtype: schema.dtype,
            optimizer: schema.optimizer,
            features,
            planner: None,
            placement: None,
        })
    }

    /// Names of the features whose partitions are not complementary (some ids share every
    /// row, e.g. the hashing trick), by the same proofs `verify` runs.
    pub fn not_complementary(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for f in &self.features {
            if !crate::proof::prove(f.scheme(), f.cardinality())?.complementary {
                out.push(f.name().to_string());
            }
        }
        Ok(out)
    }

    /// Exact counts per table, per feature and in total.
    pub fn costs(&self) -> Result<PlanCosts> {
        let (dtype, opt) = (self.dtype, self.optimizer);
        let tables = self
            .features
            .iter()
            .map(|f| f.table_costs(dtype, opt))
            .collect::<Result<Vec<_>>>()?;
        let features = tables
            .iter()
            .zip(&self.features)
            .map(|(t, f)| {
                Cost::sum(t.iter().copied()).with_context(|| format!("feature '{}'", f.name()))
            })
            .collect::<Result<Vec<_>>>()?;
        let total = Cost::sum(features.iter().copied()).context("plan total")?;
        let full_features: Vec<Option<Cost>> = self
            .features
            .iter()
            .map(|f| f.full_cost(dtype, opt).ok())
            .collect();
        let full_total = full_features
            .iter()
            .copied()
            .collect::<Option<Vec<Cost>>>()
            .and_then(|all| Cost::sum(all).ok());
        Ok(PlanCosts {
            tables,
            features,
            full_features,
            total,
            full_total,
        })
    }
}
