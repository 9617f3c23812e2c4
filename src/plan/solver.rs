//! The solver: a multiple-choice knapsack over features, by Lagrangian relaxation on each
//! feature's lower convex hull, then a greedy fill.
//!
//! 1. Per feature (in parallel), evaluate every candidate ([`evaluate`]), keep the Pareto
//!    front of (bytes, predicted loss) and its lower convex hull. Every feature starts at
//!    its cheapest candidate; their sum is the minimum feasible budget.
//! 2. Each hull edge is a step "pay Δbytes, save Δloss". Sorted by Δloss/Δbytes (highest
//!    first), taking steps while they fit is the Lagrangian relaxation: the multiplier λ is
//!    the ratio of the first step that does not fit, and taking that step fractionally gives
//!    the relaxation's value — a lower bound on the loss of *any* plan within the budget
//!    (the LP relaxation of a multiple-choice knapsack is solved exactly by this greedy).
//! 3. Greedy fill: the scan goes on past steps that do not fit. When a feature's step does
//!    not fit, the feature is blocked on the hull, and the hull of its Pareto points between
//!    the two hull points (which all save loss no faster than the blocked step) is merged
//!    into the scan, so leftover bytes reach non-hull candidates too. Steps 2 and 3 are the
//!    scan of [`crate::plan::greedy`].
//! 4. Schemas of up to [`MAX_FEATURES`] features also get the whole-model Pareto frontier
//!    ([`crate::plan::frontier`]); the better of its plan and the greedy one is returned.
//!    When the frontier is exact, its plan is the optimum and is the bound.
//! 5. Otherwise the relaxation's bound is tightened by a capped branch and bound
//!    ([`crate::plan::bound`]), which changes only the bound, not the plan.
//!
//! Losses are fixed-point integers and ratios are compared by exact cross-multiplication,
//! with ties broken by feature index: the plan is deterministic byte for byte. It is also
//! monotone in the budget: if budget B1 < B2 first differ at step s (taken with B2, not with
//! B1), every later step saves at most ratio(s) per byte, so with B1 the rest of the scan
//! saves at most ratio(s) × B1 < ratio(s) × Δbytes(s) = Δloss(s), which B2 alone gains.
//! The frontier is built without looking at the budget, so its best plan within B is
//! monotone too, and so is the better of the two.

use std::fmt;

use anyhow::{Result, bail};

use crate::cost::Cost;
use crate::partition::Combiner;
use crate::plan::bound::{Problem, tighten};
use crate::plan::candidates::{Candidate, CandidateKey, SearchSpace, evaluate, pareto};
use crate::plan::frontier::{Frontier, MAX_FEATURES};
use crate::plan::greedy::{self, Greedy};
use crate::plan::quality::{QualityModel, from_fixed};
use crate::plan::{Plan, PlannedFeature, PlannerInfo};
use crate::schema::Schema;
use crate::size::{format_iec, group_thousands};

/// Everything `search` needs besides the schema and the budget.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchOptions {
    /// Families, combiners and dim constraint.
    pub space: SearchSpace,
    /// Predicted-loss coefficients.
    pub model: QualityModel,
}

/// A searched plan and what the solver knows about it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutcome {
    /// The plan (with `planner` info and per-feature predicted losses filled in).
    pub plan: Plan,
    /// The budget asked for.
    pub budget_bytes: u64,
    /// The plan's bytes (weights + optimizer state).
    pub total_bytes: u64,
    /// The smallest plan the search space allows (the minimum feasible budget).
    pub min_bytes: u64,
    /// The full model's bytes (`None` if it overflows u64).
    pub full_bytes: Option<u64>,
    /// True when the budget holds the full model, so every table stays full.
    pub at_full: bool,
    /// Sum of the features' predicted loss increases.
    pub predicted_loss: f64,
    /// Lower bound on the predicted loss of any plan within the budget: the Lagrangian
    /// relaxation, tightened by branch and bound where the work limit allows.
    pub lower_bound: f64,
    /// The plain Lagrangian (LP) relaxation's bound.
    pub relaxation_bound: f64,
    /// The Lagrange multiplier: predicted loss saved per extra GiB at the margin.
    pub loss_per_gib: Option<f64>,
}

/// Why a search failed, for callers that must tell an infeasible budget (a baseline that
/// does not fit, in `sweep`) from any other error.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The budget is below the smallest plan the search space allows.
    #[error(transparent)]
    Infeasible(#[from] InfeasibleBudget),
    /// The schema or the search space is invalid, or a count overflowed.
    #[error(transparent)]
    Invalid(#[from] anyhow::Error),
}

/// The budget is below the smallest plan the search space allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfeasibleBudget {
    /// The budget asked for.
    pub budget: u64,
    /// The minimum feasible budget.
    pub minimum: u64,
}

impl fmt::Display for InfeasibleBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "budget {} ({} bytes) is below the smallest possible plan: the minimum feasible budget is {} ({} bytes) with the allowed families and combiners",
            format_iec(self.budget),
            group_thousands(self.budget),
            format_iec(self.minimum),
            group_thousands(self.minimum)
        )
    }
}

impl std::error::Error for InfeasibleBudget {}

/// Describes a search space for plan files and output.
pub fn describe_space(space: &SearchSpace) -> String {
    let families: Vec<&str> = space.families.iter().map(|f| f.name()).collect();
    let combiners: Vec<&str> = space.combiners.iter().map(|c| c.name()).collect();
    format!(
        "searched: families full, {}; combiners {}; dim multiple {}",
        families.join(", "),
        combiners.join(", "),
        space.dim_multiple
    )
}

/// Plans the schema to fit `budget` bytes (weights + optimizer state) at the least
/// predicted loss the solver finds; see the module docs.
///
/// Errors with [`SearchError::Infeasible`] when the budget is below every plan.
pub fn search(
    schema: &Schema,
    budget: u64,
    options: &SearchOptions,
) -> Result<SearchOutcome, SearchError> {
    let (space, model) = (&options.space, &options.model);
    let (dtype, opt) = (schema.dtype, schema.optimizer);
    check_space(schema, space)?;
    let front = fronts(schema, options);
    let (hulls, gaps) = greedy::hulls(schema.features.len(), &front)?;
    let min_bytes = min_bytes(&hulls, budget)?;
    let full_bytes = full_bytes(schema, &hulls);
    let at_full = full_bytes.is_some_and(|f| budget >= f);
    let greedy = if at_full {
        Greedy::full(&hulls)
    } else {
        greedy::scan(&hulls, &gaps, budget - min_bytes, &front)?
    };
    let mut best = Incumbent {
        chosen: greedy.chosen,
        loss: greedy.loss,
        bound: greedy.relaxation,
        solver: "greedy",
    };
    // Small schemas: the better of the greedy plan and the whole-model Pareto frontier's.
    if !at_full && schema.features.len() <= MAX_FEATURES {
        best.try_frontier(schema.features.len(), budget, &front)?;
    }
    // Branch and bound, unless the exact frontier already gave the optimum as the bound.
    if let Some(root) = best.bound
        && greedy.relaxation.is_some_and(|r| r == root)
    {
        let problem = Problem {
            hulls: &hulls,
            edges: &greedy.edges,
            budget,
            front: &front,
        };
        best.bound = Some(tighten(problem, root, from_fixed(best.loss))?);
    }

    let total_bytes: u64 = best.chosen.iter().map(|c| c.bytes).sum();
    let predicted_loss = from_fixed(best.loss);
    let (bound, relaxation) = (best.bound, greedy.relaxation);
    let lower_bound = bound.unwrap_or(predicted_loss).min(predicted_loss).max(0.0);
    let relaxation_bound = relaxation.unwrap_or(lower_bound).min(lower_bound).max(0.0);
    let method = method(at_full, space, best.solver);
    let plan = Plan {
        name: schema.name.clone(),
        dtype,
        optimizer: opt,
        features: planned_features(schema, &best.chosen, space.dim_multiple)?,
        planner: Some(PlannerInfo {
            budget_bytes: Some(budget),
            method: Some(method),
            predicted_loss: Some(predicted_loss),
            lower_bound: Some(lower_bound),
            quality_model: Some(model.source.clone()),
        }),
        placement: None,
    };
    Ok(SearchOutcome {
        plan,
        budget_bytes: budget,
        total_bytes,
        min_bytes,
        full_bytes,
        at_full,
        predicted_loss,
        lower_bound,
        relaxation_bound,
        loss_per_gib: greedy.lambda,
    })
}

/// A feature's Pareto front in the search space, regenerated where a phase needs it again.
fn fronts<'a>(
    schema: &'a Schema,
    options: &'a SearchOptions,
) -> impl Fn(usize) -> Result<Vec<Candidate>> + Sync + 'a {
    let (space, model) = (&options.space, &options.model);
    let (dtype, opt) = (schema.dtype, schema.optimizer);
    move |f| {
        let feature = &schema.features[f];
        Ok(pareto(evaluate(feature, space, model, dtype, opt)?))
    }
}

/// How the plan was made, for the plan file.
fn method(at_full: bool, space: &SearchSpace, solver: &str) -> String {
    if at_full {
        "searched: the budget holds the full model, every table stays full".to_string()
    } else {
        format!("{}; solver: {solver}", describe_space(space))
    }
}

/// Refuses search spaces no plan can come from.
fn check_space(schema: &Schema, space: &SearchSpace) -> Result<()> {
    if space.dim_multiple == 0 {
        bail!("the table dim multiple must be at least 1");
    }
    if space.combiners.is_empty()
        && space
            .families
            .iter()
            .any(|&f| f != crate::plan::quality::Family::Hash)
    {
        bail!("no combiner allowed: multi-table families need at least one of mult, add, concat");
    }
    if u32::try_from(schema.features.len()).is_err() {
        bail!("too many features (more than 2^32)");
    }
    Ok(())
}

/// The smallest plan's bytes: every feature at its cheapest candidate. An
/// [`InfeasibleBudget`] when `budget` is below it.
fn min_bytes(hulls: &[Vec<Candidate>], budget: u64) -> Result<u64, SearchError> {
    let min_bytes = hulls.iter().map(|h| u128::from(h[0].bytes)).sum::<u128>();
    let Ok(min_bytes) = u64::try_from(min_bytes) else {
        return Err(anyhow::anyhow!("even the smallest plan needs more than 2^64 bytes").into());
    };
    if budget < min_bytes {
        return Err(InfeasibleBudget {
            budget,
            minimum: min_bytes,
        }
        .into());
    }
    Ok(min_bytes)
}

/// The full model's bytes, when every hull ends at the full table and the sum fits u64.
fn full_bytes(schema: &Schema, hulls: &[Vec<Candidate>]) -> Option<u64> {
    let (dtype, opt) = (schema.dtype, schema.optimizer);
    Cost::sum(
        schema
            .features
            .iter()
            .filter_map(|f| Cost::of_table(f.cardinality, f.dim, dtype, opt).ok()),
    )
    .ok()
    .filter(|_| {
        hulls
            .iter()
            .all(|h| h.last().is_some_and(|c| c.key == CandidateKey::FULL))
    })
    .map(|c| c.bytes)
}

/// The best plan found so far and what is known about the optimum.
struct Incumbent {
    /// Each feature's candidate.
    chosen: Vec<Candidate>,
    /// Their summed predicted loss (fixed point).
    loss: u128,
    /// A lower bound on the optimum's loss, when one is known.
    bound: Option<f64>,
    /// Which solver found the plan, for the plan file.
    solver: &'static str,
}

impl Incumbent {
    /// Builds the whole-model Pareto frontier of `n` features (see [`crate::plan::frontier`])
    /// and takes its best plan within `budget` when it beats this one. When the frontier is
    /// exact, its best point is the optimum and becomes the bound.
    fn try_frontier<F: Fn(usize) -> Result<Vec<Candidate>>>(
        &mut self,
        n: usize,
        budget: u64,
        front: &F,
    ) -> Result<()> {
        let fronts: Vec<Vec<Candidate>> = (0..n).map(front).collect::<Result<_>>()?;
        let frontier = Frontier::build(&fronts);
        let Some((frontier, (best, choice))) = frontier
            .as_ref()
            .and_then(|f| Some((f, f.best_within(budget)?)))
        else {
            return Ok(());
        };
        if best < self.loss {
            self.loss = best;
            self.chosen = choice
                .iter()
                .enumerate()
                .map(|(f, &j)| fronts[f][j])
                .collect();
            self.solver = "Pareto frontier";
        }
        if frontier.exact {
            // The exact frontier's best point is the optimum: nothing can beat it.
            self.bound = Some(from_fixed(self.loss));
            self.solver = if self.solver == "greedy" {
                "greedy, proved optimal by the exact Pareto frontier"
            } else {
                "exact Pareto frontier (optimal)"
            };
        }
        Ok(())
    }
}

/// The plan's features: each schema feature with its chosen candidate's scheme, combiner and
/// table dims, and its predicted loss.
fn planned_features(
    schema: &Schema,
    chosen: &[Candidate],
    dim_multiple: u32,
) -> Result<Vec<PlannedFeature>> {
    schema
        .features
        .iter()
        .zip(chosen)
        .map(|(f, c)| {
            let n = f.cardinality;
            let dims = c
                .key
                .table_dims(f.dim, dim_multiple)
                .expect("candidates only exist for dims that split");
            let combiner: Option<Combiner> = c.key.combiner;
            let mut p = PlannedFeature::with_table_dims(
                &f.name,
                n,
                f.dim,
                c.key.scheme(n),
                combiner,
                dims,
            )?;
            p.predicted_loss = Some(from_fixed(u128::from(c.loss)));
            Ok(p)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::format_collect, clippy::items_after_statements)] // test fixtures
#[path = "solver_tests.rs"]
mod tests;
