//! Sweeps: plan and train several methods at several budgets, recording measured losses.
//!
//! For every seed: the full model once (the reference), then for every budget each method:
//! - `searched`: the planner's plan for the budget;
//! - `hash`: the hashing trick with one collision count C for every feature above the
//!   threshold — the smallest C whose plan fits the budget;
//! - `qr-mult`: DLRM-style uniform QR with mult, likewise the smallest C that fits.
//!
//! All runs of one sweep train on the same data; repeats differ in the seed of
//! initialisation and shuffling. After each run the results file is rewritten atomically,
//! so an interrupted sweep loses at most the run in flight, and a rerun skips every
//! (method, budget, seed) already recorded.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};

use crate::cost::Cost;
use crate::partition::Combiner;
use crate::plan::quality::QualityModel;
use crate::plan::{
    Plan, SearchError, SearchOptions, SearchSpace, UniformFamily, UniformSpec, search, uniform,
};
pub use crate::results::Method;
use crate::results::{Results, Run, RunFeature};
use crate::schema::Schema;
use crate::train::{Dataset, TrainConfig, TrainReport};

/// What a sweep runs.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Budgets in bytes (weights + optimizer state as `estimate` counts them).
    pub budgets: Vec<u64>,
    /// Methods to run at every budget (the full model always runs once per seed).
    pub methods: Vec<Method>,
    /// Seeds: `seed`, `seed + 1`, … (`repeats` of them).
    pub repeats: u64,
    /// The first seed.
    pub seed: u64,
    /// Features with cardinality ≤ threshold stay full in the uniform baselines.
    pub threshold: u64,
    /// The planner's options (search space and quality model).
    pub search: SearchOptions,
    /// Training configuration; its seed is replaced per repeat.
    pub train: TrainConfig,
}

/// Budgets for compression ratios relative to the full model: floor(full / c).
pub fn budgets_from_compressions(full_bytes: u64, compressions: &[f64]) -> Result<Vec<u64>> {
    compressions
        .iter()
        .map(|&c| {
            if !(c.is_finite() && c >= 1.0) {
                bail!("compression ratios must be numbers ≥ 1 (e.g. 2,4,8), found {c}");
            }
            Ok((full_bytes as f64 / c).floor() as u64)
        })
        .collect()
}

/// The uniform baseline with the fewest collisions whose plan fits `budget`, if any does.
///
/// Hash bytes fall as C grows, so C is found by bisection. QR bytes (C + ceil(n/C) rows)
/// fall only until C ≈ sqrt(n), so C is scanned upwards to sqrt of the largest cardinality.
pub fn uniform_within_budget(
    schema: &Schema,
    family: fn(u64) -> UniformFamily,
    combiner: Combiner,
    threshold: u64,
    budget: u64,
    model: &QualityModel,
) -> Result<Option<Plan>> {
    let make = |c: u64| -> Result<(Plan, u64)> {
        let spec = UniformSpec {
            family: family(c),
            combiner,
            threshold,
            dim_multiple: 1,
        };
        let plan = uniform(schema, &spec, model)?;
        let bytes = plan.costs()?.total.bytes;
        Ok((plan, bytes))
    };
    let max_n = schema
        .features
        .iter()
        .map(|f| f.cardinality)
        .max()
        .unwrap_or(1);
    if let UniformFamily::Hash(_) = family(1) {
        let (mut lo, mut hi) = (1u64, max_n.max(1));
        if make(hi)?.1 > budget {
            return Ok(None);
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if make(mid)?.1 <= budget {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return Ok(Some(make(lo)?.0));
    }
    let limit = max_n.isqrt() + 1;
    for c in 1..=limit {
        let (plan, bytes) = make(c)?;
        if bytes <= budget {
            return Ok(Some(plan));
        }
    }
    Ok(None)
}

/// The plan a method makes for a budget; `None` when no plan of that method fits.
pub fn plan_for(
    schema: &Schema,
    method: Method,
    budget: u64,
    cfg: &SweepConfig,
) -> Result<Option<Plan>> {
    let model = &cfg.search.model;
    let searched = |options: &SearchOptions| match search(schema, budget, options) {
        Ok(outcome) => Ok(Some(outcome.plan)),
        Err(SearchError::Infeasible(_)) => Ok(None),
        Err(SearchError::Invalid(e)) => Err(e),
    };
    match method {
        Method::Full => Ok(Some(Plan::full_from_schema(schema)?)),
        Method::Searched => searched(&cfg.search),
        Method::SearchedNoHot => searched(&SearchOptions {
            space: SearchSpace {
                hot: false,
                ..cfg.search.space.clone()
            },
            model: model.clone(),
        }),
        Method::Only(family, combiner) => searched(&SearchOptions {
            space: SearchSpace {
                families: vec![family],
                combiners: vec![combiner],
                ..cfg.search.space.clone()
            },
            model: model.clone(),
        }),
        Method::QrMult => uniform_within_budget(
            schema,
            UniformFamily::Qr,
            Combiner::Mult,
            cfg.threshold,
            budget,
            model,
        ),
        Method::Hash => uniform_within_budget(
            schema,
            UniformFamily::Hash,
            Combiner::Mult,
            cfg.threshold,
            budget,
            model,
        ),
    }
}

/// Every feature's choice in a plan, as calibration reads it.
pub fn run_features(plan: &Plan, schema: &Schema) -> Result<Vec<RunFeature>> {
    plan.features
        .iter()
        .zip(&schema.features)
        .map(|(f, s)| {
            // As the planner predicts it (plan::candidates): the hot rows are free, the tail
            // pays for its own compression in proportion to its share of the rows.
            let hot = f.scheme().hot();
            let hot_params = hot as f64 * f64::from(f.dim());
            let params = f.cost(plan.dtype, plan.optimizer)?.params as f64 - hot_params;
            let full = f.cardinality() as f64 * f64::from(f.dim()) - hot_params;
            let tail_share = if hot == 0 {
                1.0
            } else {
                crate::plan::explain::coverage_of(Some(s), hot).map_or(1.0, |c| 1.0 - c)
            };
            Ok(RunFeature {
                name: f.name().to_string(),
                family: f.scheme().family(),
                combiner: f.combiner(),
                tables: f.scheme().num_tables(),
                compression: full / params.max(1.0),
                weight: s.weight,
                hot,
                tail_share,
            })
        })
        .collect()
}

/// Progress of a sweep, for a progress bar or log.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A run starts (`index` of `total`, counting skipped runs).
    Start {
        /// 0-based position.
        index: usize,
        /// Runs in the sweep.
        total: usize,
        /// Its method.
        method: Method,
        /// Its budget.
        budget: Option<u64>,
        /// Its seed.
        seed: u64,
    },
    /// A run was already in the results file.
    Skipped,
    /// No plan of this method fits this budget.
    Infeasible {
        /// The method.
        method: Method,
        /// The budget.
        budget: u64,
    },
    /// A run finished and was saved.
    Finished(&'a Run),
}

/// One planned run of the sweep.
struct Job {
    method: Method,
    budget: Option<u64>,
    seed: u64,
}

fn jobs(cfg: &SweepConfig) -> Vec<Job> {
    let mut out = Vec::new();
    for r in 0..cfg.repeats {
        let seed = cfg.seed + r;
        out.push(Job {
            method: Method::Full,
            budget: None,
            seed,
        });
        for &budget in &cfg.budgets {
            for &m in &cfg.methods {
                out.push(Job {
                    method: m,
                    budget: Some(budget),
                    seed,
                });
            }
        }
    }
    out
}

/// The run record of a finished training.
fn record(job: &Job, plan: &Plan, schema: &Schema, report: &TrainReport) -> Result<Run> {
    // Plans are compared at their best epoch on validation: with a fixed epoch count the
    // largest models overfit first, and comparing last epochs would flatter compression.
    let best = report.best();
    let cost: Cost = plan.costs()?.total;
    let throughput =
        report.epochs.iter().map(|e| e.examples_per_s).sum::<f64>() / report.epochs.len() as f64;
    Ok(Run {
        method: job.method,
        budget_bytes: job.budget,
        bytes: cost.bytes,
        params: cost.params,
        valid_logloss: best.valid.logloss,
        valid_accuracy: best.valid.accuracy,
        valid_auc: best.valid.auc,
        epoch: Some(report.best_epoch),
        predicted_loss: (job.method != Method::Full)
            .then(|| plan.planner.as_ref().and_then(|p| p.predicted_loss))
            .flatten(),
        examples_per_sec: throughput,
        seed: job.seed,
        features: run_features(plan, schema)?,
    })
}

/// Runs (or resumes) a sweep, saving `results` to `path` after every run.
pub fn sweep(
    schema: &Schema,
    data: &Dataset,
    cfg: &SweepConfig,
    results: &mut Results,
    path: &Path,
    mut on_event: impl FnMut(Event),
) -> Result<()> {
    if cfg.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    // Plans first (they do not depend on the seed): a sweep where nothing fits is refused
    // before any training.
    let mut plans: BTreeMap<(Method, u64), Option<Plan>> = BTreeMap::new();
    for &budget in &cfg.budgets {
        for &m in &cfg.methods {
            plans.insert((m, budget), plan_for(schema, m, budget, cfg)?);
        }
    }
    if !plans.is_empty() && plans.values().all(Option::is_none) {
        bail!(
            "no plan of any method fits any of the budgets ({}), so there is nothing to compare with the full model; give larger budgets or smaller compressions",
            cfg.budgets
                .iter()
                .map(|&b| crate::size::format_iec(b))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let jobs = jobs(cfg);
    let total = jobs.len();
    for (index, job) in jobs.iter().enumerate() {
        on_event(Event::Start {
            index,
            total,
            method: job.method,
            budget: job.budget,
            seed: job.seed,
        });
        if results.contains(job.method, job.budget, job.seed) {
            on_event(Event::Skipped);
            continue;
        }
        let plan = match job.budget {
            Some(budget) => {
                if let Some(plan) = &plans[&(job.method, budget)] {
                    plan.clone()
                } else {
                    on_event(Event::Infeasible {
                        method: job.method,
                        budget,
                    });
                    continue;
                }
            }
            None => Plan::full_from_schema(schema)?,
        };
        let train_cfg = TrainConfig {
            seed: job.seed,
            ..cfg.train.clone()
        };
        let report = crate::train::train(&plan, data, &train_cfg)?;
        let run = record(job, &plan, schema, &report)?;
        results.runs.push(run);
        results.save(path)?;
        on_event(Event::Finished(results.runs.last().expect("just pushed")));
    }
    Ok(())
}

/// Every setting a sweep's runs depend on besides (method, budget, seed), by name: the
/// schema's content, the data, training and model settings, the planner's options and
/// quality model, and the embplan version. Results files record them so a resumed sweep
/// never mixes runs made under different settings. The schema is identified by a hash of
/// its canonical TOML, which does not change with embplan's internals.
pub fn settings(
    schema: &Schema,
    data: &[(&'static str, String)],
    cfg: &SweepConfig,
) -> Result<BTreeMap<String, String>> {
    let t = &cfg.train;
    let m = &t.model;
    let widths = |w: &[usize]| w.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let mut out: BTreeMap<String, String> = [
        ("embplan", env!("CARGO_PKG_VERSION").to_string()),
        (
            "schema",
            format!(
                "{} #{:016x}",
                schema.display_name(),
                crate::source::fnv1a(schema.to_toml()?.as_bytes())
            ),
        ),
        ("epochs", t.epochs.to_string()),
        ("epoch_recorded", "best on validation".to_string()),
        (
            "patience",
            t.patience.map_or("none".to_string(), |p| p.to_string()),
        ),
        ("batch", t.batch.to_string()),
        ("lr", t.lr.to_string()),
        ("optimizer", m.optimizer.name().to_string()),
        ("interaction", format!("{:?}", m.interaction).to_lowercase()),
        ("top_mlp", widths(&m.top_mlp)),
        ("bottom_mlp", widths(&m.bottom_mlp)),
        ("init", format!("{:?}", m.init).to_lowercase()),
        ("threshold", cfg.threshold.to_string()),
        ("dim_multiple", cfg.search.space.dim_multiple.to_string()),
        ("quality_model", cfg.search.model.fingerprint()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if cfg.search.space.only_measured {
        out.insert("pairs".into(), "measured only".into());
    }
    for (k, v) in data {
        out.insert(format!("data.{k}"), v.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn schema() -> Schema {
        Schema::from_toml(&Source::new(
            "s.toml",
            "dim = 8\noptimizer = \"adagrad\"\n[[feature]]\nname = \"a\"\ncardinality = 5000\n[[feature]]\nname = \"b\"\ncardinality = 100\n",
        ))
        .unwrap()
    }

    #[test]
    fn uniform_baselines_take_the_fewest_collisions_that_fit() {
        let s = schema();
        let model = QualityModel::default();
        let full = Plan::full_from_schema(&s)
            .unwrap()
            .costs()
            .unwrap()
            .total
            .bytes;
        let budget = full / 4;
        for fam in [
            UniformFamily::Hash as fn(u64) -> UniformFamily,
            UniformFamily::Qr,
        ] {
            let plan = uniform_within_budget(&s, fam, Combiner::Mult, 200, budget, &model)
                .unwrap()
                .unwrap();
            let bytes = plan.costs().unwrap().total.bytes;
            assert!(bytes <= budget);
            // One collision fewer would not fit.
            let m = plan.features[0].scheme().parameters()[0];
            let c = match fam(1) {
                UniformFamily::Hash(_) => 5000u64.div_ceil(m),
                _ => m,
            };
            if c > 1 {
                let fewer = uniform(
                    &s,
                    &UniformSpec {
                        family: fam(c - 1),
                        combiner: Combiner::Mult,
                        threshold: 200,
                        dim_multiple: 1,
                    },
                    &model,
                )
                .unwrap();
                assert!(fewer.costs().unwrap().total.bytes > budget);
            }
        }
        // Feature b (100 ≤ 200) stays full, so a tiny budget is infeasible.
        assert!(
            uniform_within_budget(&s, UniformFamily::Qr, Combiner::Mult, 200, 1000, &model)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn compressions_give_budgets() {
        assert_eq!(
            budgets_from_compressions(1000, &[1.0, 4.0, 3.0]).unwrap(),
            vec![1000, 250, 333]
        );
        assert!(budgets_from_compressions(1000, &[0.5]).is_err());
    }
}
