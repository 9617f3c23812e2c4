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
//!    into the scan, so leftover bytes reach non-hull candidates too.
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

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;

use anyhow::{Result, bail};
use rayon::prelude::*;

use crate::cost::Cost;
use crate::partition::Combiner;
use crate::plan::bound::{Edge, Problem, cmp_ratio, tighten};
use crate::plan::candidates::{
    Candidate, CandidateKey, SearchSpace, evaluate, lower_hull, lower_hull_indices, pareto,
};
use crate::plan::frontier::{Frontier, MAX_FEATURES};
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

/// An edge of a feature's hull, or of a refined sub-hull.
#[derive(Debug, Clone, Copy)]
struct Step {
    feature: u32,
    from: Candidate,
    to: Candidate,
}

impl Step {
    fn gain(&self) -> u64 {
        self.from.loss - self.to.loss
    }
    fn price(&self) -> u64 {
        self.to.bytes - self.from.bytes
    }
    /// Scan order: higher ratio first, then lower feature index, then cheaper start.
    fn priority(&self, other: &Step) -> Ordering {
        cmp_ratio(self.gain(), self.price(), other.gain(), other.price())
            .then(other.feature.cmp(&self.feature))
            .then(other.from.bytes.cmp(&self.from.bytes))
    }
}

impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        self.priority(other) == Ordering::Equal
    }
}
impl Eq for Step {}
impl PartialOrd for Step {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Step {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority(other)
    }
}

/// Scan order between a hull edge and a refined step: `Greater` when the edge comes first.
/// Equal ratios go to the lower feature index; within one feature the edge goes first (it is
/// stale then anyway: refined steps exist only for blocked features).
fn edge_before_step(e: &Edge, s: &Step) -> Ordering {
    cmp_ratio(e.gain, e.price, s.gain(), s.price())
        .then(s.feature.cmp(&e.feature))
        .then(Ordering::Greater)
}

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
/// Errors with an [`InfeasibleBudget`] (downcastable) when the budget is below every plan.
pub fn search(schema: &Schema, budget: u64, options: &SearchOptions) -> Result<SearchOutcome> {
    let (space, model) = (&options.space, &options.model);
    let (dtype, opt) = (schema.dtype, schema.optimizer);
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
    // Per feature its hull, and a bit per hull edge (the first 128) telling whether Pareto
    // points lie strictly between the edge's ends (else a blocked edge needs no refinement).
    let (hulls, gaps): (Vec<Vec<Candidate>>, Vec<u128>) = schema
        .features
        .par_iter()
        .map(|f| {
            let front = pareto(evaluate(f, space, model, dtype, opt)?);
            let idx = lower_hull_indices(&front);
            let gaps = idx.windows(2).enumerate().fold(0u128, |acc, (j, w)| {
                if j >= 128 || w[1] - w[0] > 1 {
                    acc | (1u128 << j.min(127))
                } else {
                    acc
                }
            });
            Ok((idx.into_iter().map(|i| front[i]).collect(), gaps))
        })
        .collect::<Vec<Result<_>>>()
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();

    let min_bytes = hulls.iter().map(|h| u128::from(h[0].bytes)).sum::<u128>();
    let Ok(min_bytes) = u64::try_from(min_bytes) else {
        bail!("even the smallest plan needs more than 2^64 bytes");
    };
    if budget < min_bytes {
        return Err(InfeasibleBudget {
            budget,
            minimum: min_bytes,
        }
        .into());
    }
    let full_bytes = Cost::sum(
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
    .map(|c| c.bytes);

    let mut loss: u128 = hulls.iter().map(|h| u128::from(h[0].loss)).sum();
    let mut bound: Option<f64> = None;
    let mut relaxation: Option<f64> = None;
    let mut lambda: Option<f64> = None;
    let at_full = full_bytes.is_some_and(|f| budget >= f);

    // Where each feature stands: its hull index (with BLOCKED set once a hull step did not
    // fit), or a non-hull point reached through refinement (`off_hull`). A dense u32 per
    // feature keeps the scan's random accesses in cache for a million features.
    const BLOCKED: u32 = 1 << 31;
    let mut pos: Vec<u32> = vec![0; hulls.len()];
    let mut off_hull: HashMap<u32, Candidate> = HashMap::new();
    let mut sorted_edges: Option<Vec<Edge>> = None;
    if at_full {
        for (p, h) in pos.iter_mut().zip(&hulls) {
            *p = (h.len() - 1) as u32;
        }
        loss = 0;
    } else {
        let mut steps: Vec<Edge> = hulls
            .iter()
            .enumerate()
            .flat_map(|(i, h)| {
                h.windows(2).enumerate().map(move |(j, w)| Edge {
                    gain: w[0].loss - w[1].loss,
                    price: w[1].bytes - w[0].bytes,
                    feature: i as u32,
                    to: j as u32 + 1,
                })
            })
            .collect();
        steps.par_sort_unstable_by(|a, b| b.priority(a));
        let mut refined: BinaryHeap<Step> = BinaryHeap::new();
        let mut cap = budget - min_bytes;
        let mut next = 0;
        loop {
            // The next step in scan order: a hull edge from the sorted list, or a refined
            // step (between blocked hull points) from the heap.
            let (f, gain, price, from, to) = match (steps.get(next), refined.peek()) {
                (None, None) => break,
                (Some(e), Some(r)) if edge_before_step(e, r) == Ordering::Less => {
                    let r = refined.pop().expect("peeked");
                    (r.feature as usize, r.gain(), r.price(), Some(r.from), r.to)
                }
                (Some(e), _) => {
                    next += 1;
                    let f = e.feature as usize;
                    if pos[f] != e.to - 1 {
                        continue; // blocked, or an earlier hull step was not taken
                    }
                    if e.price <= cap {
                        cap -= e.price;
                        loss -= u128::from(e.gain);
                        pos[f] = e.to;
                        continue;
                    }
                    (f, e.gain, e.price, None, hulls[f][e.to as usize])
                }
                (None, Some(_)) => {
                    let r = refined.pop().expect("peeked");
                    (r.feature as usize, r.gain(), r.price(), Some(r.from), r.to)
                }
            };
            let current = off_hull
                .get(&(f as u32))
                .copied()
                .unwrap_or(hulls[f][(pos[f] & !BLOCKED) as usize]);
            if let Some(from) = from {
                // A refined step: valid only from where the feature stands.
                if current != from {
                    continue;
                }
                if price <= cap {
                    cap -= price;
                    loss -= u128::from(gain);
                    off_hull.insert(f as u32, to);
                    continue;
                }
            }
            // The step does not fit.
            if bound.is_none() {
                // The first step that does not fit: the relaxation takes it fractionally.
                let fraction = cap as f64 / price as f64;
                bound = Some(from_fixed(loss) - from_fixed(u128::from(gain)) * fraction);
                lambda = Some(from_fixed(u128::from(gain)) / price as f64 * (1u64 << 30) as f64);
            }
            let gap = match from {
                Some(_) => true,
                None => {
                    let j = (pos[f] & !BLOCKED) as usize;
                    pos[f] |= BLOCKED;
                    gaps[f] & (1u128 << j.min(127)) != 0
                }
            };
            if !gap {
                continue; // blocked, and nothing lies between the ends to fall back on
            }
            // Blocked: merge the hull of the Pareto points strictly between the two ends.
            let front = pareto(evaluate(&schema.features[f], space, model, dtype, opt)?);
            let mut between = vec![current];
            between.extend(
                front
                    .iter()
                    .filter(|c| c.bytes > current.bytes && c.bytes < to.bytes),
            );
            for w in lower_hull(&between).windows(2) {
                refined.push(Step {
                    feature: f as u32,
                    from: w[0],
                    to: w[1],
                });
            }
        }
        relaxation = bound;
        sorted_edges = Some(steps);
    }
    let mut current: Vec<Candidate> = (0..hulls.len())
        .map(|f| {
            off_hull
                .get(&(f as u32))
                .copied()
                .unwrap_or(hulls[f][(pos[f] & !BLOCKED) as usize])
        })
        .collect();
    // Small schemas: the better of the greedy plan and the whole-model Pareto frontier's.
    let mut solver = "greedy";
    if !at_full && schema.features.len() <= MAX_FEATURES {
        let fronts: Vec<Vec<Candidate>> = schema
            .features
            .iter()
            .map(|f| Ok(pareto(evaluate(f, space, model, dtype, opt)?)))
            .collect::<Result<_>>()?;
        let frontier = Frontier::build(&fronts);
        if let Some((frontier, (best, choice))) = frontier
            .as_ref()
            .and_then(|f| Some((f, f.best_within(budget)?)))
        {
            if best < loss {
                loss = best;
                current = choice
                    .iter()
                    .enumerate()
                    .map(|(f, &j)| fronts[f][j])
                    .collect();
                solver = "Pareto frontier";
            }
            if frontier.exact {
                // The exact frontier's best point is the optimum: nothing can beat it.
                bound = Some(from_fixed(loss));
                solver = if solver == "greedy" {
                    "greedy, proved optimal by the exact Pareto frontier"
                } else {
                    "exact Pareto frontier (optimal)"
                };
            }
        }
    }
    // Branch and bound, unless the exact frontier already gave the optimum as the bound.
    if let (Some(root), Some(edges)) = (bound, sorted_edges.as_deref())
        && relaxation.is_some_and(|r| r == root)
    {
        let problem = Problem {
            hulls: &hulls,
            edges,
            budget,
            front: |f: usize| {
                let feature = &schema.features[f];
                Ok(pareto(evaluate(feature, space, model, dtype, opt)?))
            },
        };
        bound = Some(tighten(problem, root, from_fixed(loss))?);
    }

    let total_bytes: u64 = current.iter().map(|c| c.bytes).sum();
    let predicted_loss = from_fixed(loss);
    let lower_bound = bound.unwrap_or(predicted_loss).min(predicted_loss).max(0.0);
    let relaxation_bound = relaxation.unwrap_or(lower_bound).min(lower_bound).max(0.0);
    let features = schema
        .features
        .iter()
        .zip(&current)
        .map(|(f, c)| {
            let n = f.cardinality;
            let dims = c
                .key
                .table_dims(f.dim, space.dim_multiple)
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
        .collect::<Result<Vec<_>>>()?;
    let method = if at_full {
        "searched: the budget holds the full model, every table stays full".to_string()
    } else {
        format!("{}; solver: {solver}", describe_space(space))
    };
    let plan = Plan {
        name: schema.name.clone(),
        dtype,
        optimizer: opt,
        features,
        planner: Some(PlannerInfo {
            budget_bytes: Some(budget),
            method: Some(method),
            predicted_loss: Some(predicted_loss),
            lower_bound: Some(lower_bound),
            quality_model: Some(model.source.clone()),
        }),
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
        loss_per_gib: lambda,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::Scheme;
    use crate::plan::quality::Family;
    use crate::proof::prove;
    use crate::schema::{Dtype, Feature, Optimizer};
    use proptest::prelude::*;

    fn schema(features: &[(u64, u32, f64)], optimizer: Optimizer) -> Schema {
        Schema {
            name: Some("t".into()),
            dim: 16,
            dtype: Dtype::F32,
            optimizer,
            zipf: None,
            features: features
                .iter()
                .enumerate()
                .map(|(i, &(n, dim, weight))| Feature {
                    name: format!("f{i}"),
                    cardinality: n,
                    dim,
                    weight,
                    zipf: None,
                })
                .collect(),
        }
    }

    fn bounds(s: &Schema, opts: &SearchOptions) -> (u64, u64) {
        let min = match search(s, 0, opts) {
            Err(e) => e.downcast_ref::<InfeasibleBudget>().unwrap().minimum,
            Ok(o) => o.min_bytes,
        };
        (
            min,
            Plan::full_from_schema(s)
                .unwrap()
                .costs()
                .unwrap()
                .total
                .bytes,
        )
    }

    /// The best predicted loss within `budget` by brute force over every Pareto point.
    fn brute_force(s: &Schema, opts: &SearchOptions, budget: u64) -> u128 {
        let fronts: Vec<Vec<Candidate>> = s
            .features
            .iter()
            .map(|f| pareto(evaluate(f, &opts.space, &opts.model, s.dtype, s.optimizer).unwrap()))
            .collect();
        fn go(fronts: &[Vec<Candidate>], budget: u64) -> Option<u128> {
            let Some((first, rest)) = fronts.split_first() else {
                return Some(0);
            };
            first
                .iter()
                .filter(|c| c.bytes <= budget)
                .filter_map(|c| go(rest, budget - c.bytes).map(|l| l + u128::from(c.loss)))
                .min()
        }
        go(&fronts, budget).unwrap()
    }

    #[test]
    fn full_budget_keeps_full_tables() {
        let s = schema(&[(1000, 16, 1.0), (50, 8, 1.0)], Optimizer::Adagrad);
        let opts = SearchOptions::default();
        let (_, full) = bounds(&s, &opts);
        let out = search(&s, full, &opts).unwrap();
        assert!(out.at_full);
        assert_eq!(out.predicted_loss, 0.0);
        assert!(
            out.plan
                .features
                .iter()
                .all(|f| *f.scheme() == Scheme::Full)
        );
        assert_eq!(out.total_bytes, full);
        let below = search(&s, full - 1, &opts).unwrap();
        assert!(!below.at_full && below.predicted_loss > 0.0);
    }

    #[test]
    fn infeasible_budget_names_the_minimum() {
        let s = schema(&[(1_000_000, 16, 1.0)], Optimizer::None);
        let opts = SearchOptions::default();
        let (min, _) = bounds(&s, &opts);
        let e = search(&s, min - 1, &opts).unwrap_err();
        let inf = e.downcast_ref::<InfeasibleBudget>().unwrap();
        assert_eq!(inf.minimum, min);
        assert!(e.to_string().contains(&group_thousands(min)), "{e}");
        let ok = search(&s, min, &opts).unwrap();
        assert_eq!(ok.total_bytes, min);
    }

    #[test]
    fn restricted_families_and_hash() {
        let s = schema(&[(100_000, 16, 1.0), (5_000, 16, 2.0)], Optimizer::Sgd);
        let mut opts = SearchOptions::default();
        opts.space.families = vec![Family::Qr];
        opts.space.combiners = vec![Combiner::Concat];
        let (min, full) = bounds(&s, &opts);
        let out = search(&s, (min + full) / 8, &opts).unwrap();
        for f in &out.plan.features {
            assert!(matches!(f.scheme(), Scheme::Full | Scheme::Qr { .. }));
            assert!(f.combiner().is_none() || f.combiner() == Some(Combiner::Concat));
        }
        opts.space.families = vec![Family::Hash];
        let out = search(&s, min, &opts).unwrap();
        assert!(
            out.plan
                .features
                .iter()
                .any(|f| f.scheme().family() == "hash")
        );
    }

    fn arb_schema(max_features: usize) -> impl Strategy<Value = Schema> {
        arb_schema_sized(1, max_features)
    }

    prop_compose! {
        fn arb_schema_sized(min_features: usize, max_features: usize)(
            features in prop::collection::vec(
                (1u64..20_000_000, prop::sample::select(vec![4u32, 8, 12, 16, 30]), 0.1f64..10.0),
                min_features..=max_features,
            ),
            opt in prop::sample::select(Optimizer::ALL.to_vec()),
        ) -> Schema {
            schema(&features, opt)
        }
    }

    proptest! {
        // 48 cases keep `cargo test` quick; PROPTEST_CASES=5000 stresses it.
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
            ..ProptestConfig::default()
        })]

        /// Every plan fits, is complementary, costs what `estimate` counts, is deterministic,
        /// is monotone in the budget, and its lower bound is below the optimum.
        #[test]
        fn plans_fit_verify_and_are_monotone(
            s in arb_schema(6),
            at in 0.0f64..1.1,
            more in 0.0f64..0.3,
            multiple in prop::sample::select(vec![1u32, 2, 4]),
        ) {
            let mut opts = SearchOptions::default();
            opts.space.dim_multiple = multiple;
            if s.features.iter().any(|f| f.dim % multiple != 0) {
                prop_assert!(search(&s, u64::MAX, &opts).is_err());
                return Ok(());
            }
            let (min, full) = bounds(&s, &opts);
            let span = full.saturating_sub(min) as f64;
            let budget = min + (span * at) as u64;
            let out = search(&s, budget, &opts).unwrap();
            prop_assert!(out.total_bytes <= budget);
            prop_assert_eq!(out.plan.costs().unwrap().total.bytes, out.total_bytes);
            prop_assert!(out.lower_bound <= out.predicted_loss);
            for f in &out.plan.features {
                prop_assert!(prove(f.scheme(), f.cardinality()).unwrap().complementary);
                prop_assert!(f.table_dims().iter().all(|d| d % multiple == 0));
            }
            let again = search(&s, budget, &opts).unwrap();
            prop_assert_eq!(
                again.plan.to_toml_string().unwrap(),
                out.plan.to_toml_string().unwrap()
            );
            let bigger = search(&s, budget + (span * more) as u64, &opts).unwrap();
            let loss = |o: &SearchOutcome| -> u128 {
                o.plan.features.iter().map(|f| {
                    crate::plan::quality::to_fixed(f.predicted_loss.unwrap()).unwrap() as u128
                }).sum()
            };
            prop_assert!(loss(&bigger) <= loss(&out), "{} > {}", loss(&bigger), loss(&out));
        }

        /// On small instances the plan is never better than brute force (it is a real plan)
        /// and the Lagrangian bound is never above it (it is a real bound).
        #[test]
        fn bound_brackets_the_optimum(s in arb_schema(3), at in 0.0f64..1.0) {
            let mut opts = SearchOptions::default();
            opts.space.families = vec![Family::Qr, Family::Crt];
            let (min, full) = bounds(&s, &opts);
            let budget = min + (full.saturating_sub(min) as f64 * at) as u64;
            let out = search(&s, budget, &opts).unwrap();
            let best = from_fixed(brute_force(&s, &opts, budget));
            prop_assert!(out.predicted_loss >= best - 1e-12);
            prop_assert!(out.lower_bound <= best + 1e-12, "bound {} > optimum {}", out.lower_bound, best);
            prop_assert!(out.relaxation_bound <= out.lower_bound);
            // Tiny instances get the exact frontier: the plan and the bound are the optimum.
            prop_assert!(best - out.lower_bound <= 1e-9 * best, "bound {} < optimum {}", out.lower_bound, best);
            prop_assert!(out.predicted_loss - best <= 1e-9 * best, "plan {} > optimum {}", out.predicted_loss, best);
        }

        /// With hash allowed, everything but hashed features is still complementary.
        #[test]
        fn hash_only_when_allowed(s in arb_schema(4), at in 0.0f64..1.0) {
            let opts = SearchOptions::default();
            let (min, full) = bounds(&s, &opts);
            let budget = min + (full.saturating_sub(min) as f64 * at) as u64;
            let out = search(&s, budget, &opts).unwrap();
            prop_assert!(out.plan.features.iter().all(|f| f.scheme().family() != "hash"));
            let mut hashy = SearchOptions::default();
            hashy.space.families.push(Family::Hash);
            let (hmin, _) = bounds(&s, &hashy);
            prop_assert!(hmin <= min);
            let out = search(&s, budget, &hashy).unwrap();
            for f in &out.plan.features {
                if f.scheme().family() != "hash" {
                    prop_assert!(prove(f.scheme(), f.cardinality()).unwrap().complementary);
                }
            }
        }
    }

    proptest! {
        // A few cases (PROPTEST_CASES overrides): each searches 40-64 features twice.
        #![proptest_config(ProptestConfig::with_cases(3))]

        /// Schemas big enough for a thinned frontier stay monotone in the budget.
        #[test]
        fn thinned_frontier_plans_are_monotone(
            s in arb_schema_sized(40, 64),
            at in 0.0f64..1.0,
            more in 0.0f64..0.2,
        ) {
            let opts = SearchOptions::default();
            let (min, full) = bounds(&s, &opts);
            let span = full.saturating_sub(min) as f64;
            let budget = min + (span * at) as u64;
            let a = search(&s, budget, &opts).unwrap();
            let b = search(&s, budget + (span * more) as u64, &opts).unwrap();
            prop_assert!(b.predicted_loss <= a.predicted_loss);
            prop_assert!(a.total_bytes <= budget && a.lower_bound <= a.predicted_loss);
        }

    }
}
