//! Trainer tests: finite-difference gradients, sparse updates, determinism, learning, bytes.

use super::model::Stepper;
use super::synthetic::{SyntheticConfig, generate};
use super::*;
use crate::partition::{Combiner, Scheme};
use crate::plan::PlannedFeature;
use crate::schema::Optimizer;

fn plan_of(features: Vec<PlannedFeature>) -> Plan {
    Plan {
        name: None,
        dtype: Dtype::F32,
        optimizer: Optimizer::Adagrad,
        features,
        planner: None,
        placement: None,
    }
}

/// Every family and combiner, dim 4.
fn mixed_plan() -> Plan {
    let f = |name: &str, n, scheme, combiner| {
        PlannedFeature::new(name, n, 4, scheme, combiner).unwrap()
    };
    plan_of(vec![
        f("mult", 20, Scheme::Qr { m: 3 }, Some(Combiner::Mult)),
        f("concat", 20, Scheme::Qr { m: 5 }, Some(Combiner::Concat)),
        f(
            "add",
            21,
            Scheme::Crt { moduli: vec![3, 7] },
            Some(Combiner::Add),
        ),
        f(
            "mr",
            24,
            Scheme::MixedRadix {
                radices: vec![2, 3, 4],
            },
            Some(Combiner::Mult),
        ),
        f("full", 5, Scheme::Full, None),
        f("hash", 10, Scheme::Hash { m: 4 }, None),
        f("explicit", 6, explicit(), Some(Combiner::Add)),
    ])
}

/// Hot schemes: own rows for ids 0..3 (or 0..7), a qr or hash tail.
fn hot_plan() -> Plan {
    let hot = |name: &str, n, hot, tail, combiner| {
        let scheme = Scheme::Hot {
            hot,
            tail: Box::new(tail),
        };
        PlannedFeature::new(name, n, 4, scheme, combiner).unwrap()
    };
    plan_of(vec![
        hot("mult", 30, 4, Scheme::Qr { m: 5 }, Some(Combiner::Mult)),
        hot("add", 25, 4, Scheme::Qr { m: 3 }, Some(Combiner::Add)),
        hot("hash", 20, 8, Scheme::Hash { m: 3 }, None),
        PlannedFeature::new("full", 5, 4, Scheme::Full, None).unwrap(),
    ])
}

/// Domain partitions of 6 ids: {0,1,2} {3,4,5} and {0,3} {1,4} {2,5}.
fn explicit() -> Scheme {
    let text = "0 0\n0 1\n0 2\n1 0\n1 1\n1 2\n";
    let p = crate::partition::ExplicitPartitions::parse(std::path::Path::new("p.txt"), text);
    Scheme::Explicit(std::sync::Arc::new(p.unwrap()))
}

fn small_split(plan: &Plan, rows: usize, n_dense: usize, seed: u64) -> Split {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut split = Split::default();
    for r in 0..rows {
        for f in &plan.features {
            split.ids.push((next() % f.cardinality()) as u32);
        }
        for _ in 0..n_dense {
            split.dense.push((next() % 1000) as f32 / 500.0);
        }
        split.labels.push((r % 2) as f32);
    }
    split
}

fn config(interaction: Interaction, optimizer: TrainOptimizer) -> ModelConfig {
    ModelConfig {
        interaction,
        top_mlp: vec![8, 4],
        bottom_mlp: vec![6],
        init: InitMode::Standard,
        optimizer,
    }
}

fn mean_loss(model: &Model, split: &Split, idx: &[u32]) -> f64 {
    let mut stepper = Stepper::new(model, idx.len());
    let mut logits = vec![0f32; idx.len()];
    stepper.compute(model, split, idx, &mut logits) / idx.len() as f64
}

/// Compares analytic gradients with central differences for every dense parameter and every
/// weight of every row the batch touched.
fn check_gradients(plan: &Plan, interaction: Interaction, n_dense: usize) {
    let plan = plan.clone();
    let mut model =
        Model::new(&plan, n_dense, &config(interaction, TrainOptimizer::Sgd), 7).unwrap();
    // Larger weights than the init's make every path's gradient clearly non-zero.
    for t in &mut model.tables {
        for w in &mut t.weights {
            *w *= 3.0;
        }
    }
    let split = small_split(&plan, 6, n_dense, 3);
    let idx: Vec<u32> = (0..6).collect();
    let mut stepper = Stepper::new(&model, idx.len());
    let mut logits = vec![0f32; idx.len()];
    stepper.compute(&model, &split, &idx, &mut logits);
    let h = 1e-3f32;
    let close = |what: String, analytic: f32, fd: f64| {
        let tol = 2e-4 + 2e-2 * f64::from(analytic.abs());
        assert!(
            (f64::from(analytic) - fd).abs() <= tol,
            "{what}: analytic {analytic}, finite difference {fd}"
        );
    };
    let dense = stepper.dense_gradients().clone();
    for (i, &g) in dense.iter().enumerate() {
        let keep = model.params[i];
        model.params[i] = keep + h;
        let up = mean_loss(&model, &split, &idx);
        model.params[i] = keep - h;
        let down = mean_loss(&model, &split, &idx);
        model.params[i] = keep;
        close(
            format!("dense param {i}"),
            g,
            (up - down) / (2.0 * f64::from(h)),
        );
    }
    let mut checked = 0;
    for t in 0..model.tables.len() {
        for (row, grad) in stepper.table_gradients(&model, t) {
            let dim = model.tables[t].dim;
            for (k, &g) in grad.iter().enumerate() {
                let at = row as usize * dim + k;
                let keep = model.tables[t].weights[at];
                model.tables[t].weights[at] = keep + h;
                let up = mean_loss(&model, &split, &idx);
                model.tables[t].weights[at] = keep - h;
                let down = mean_loss(&model, &split, &idx);
                model.tables[t].weights[at] = keep;
                close(
                    format!("table {t} row {row} [{k}]"),
                    g,
                    (up - down) / (2.0 * f64::from(h)),
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 64, "only {checked} embedding weights checked");
}

#[test]
fn gradients_match_finite_differences_with_dot_interaction() {
    check_gradients(&mixed_plan(), Interaction::Dot, 0);
}

#[test]
fn gradients_match_finite_differences_with_bottom_mlp_and_cat() {
    check_gradients(&mixed_plan(), Interaction::Dot, 3);
    check_gradients(&mixed_plan(), Interaction::Cat, 3);
    check_gradients(&mixed_plan(), Interaction::Cat, 0);
}

#[test]
fn gradients_match_finite_differences_with_hot_rows() {
    check_gradients(&hot_plan(), Interaction::Dot, 0);
    check_gradients(&hot_plan(), Interaction::Cat, 3);
}

#[test]
fn a_step_leaves_rows_outside_the_batch_unchanged() {
    let plan = mixed_plan();
    for opt in TrainOptimizer::ALL {
        let mut model = Model::new(&plan, 0, &config(Interaction::Dot, opt), 1).unwrap();
        let before = model.clone();
        let split = small_split(&plan, 4, 0, 9);
        let idx: Vec<u32> = (0..4).collect();
        let mut stepper = Stepper::new(&model, 4);
        let mut logits = vec![0f32; 4];
        stepper.compute(&model, &split, &idx, &mut logits);
        stepper.apply(&mut model, 0.1);
        let mut changed_rows = 0;
        for (f, feature) in plan.features.iter().enumerate() {
            let first = plan.features[..f]
                .iter()
                .map(|f| f.tables().len())
                .sum::<usize>();
            for (j, map) in feature.scheme().table_maps().iter().enumerate() {
                let t = first + j;
                let touched: Vec<u64> = (0..4)
                    .map(|e| map.class_of(u64::from(split.ids[e * plan.features.len() + f])))
                    .collect();
                let dim = model.tables[t].dim;
                for r in 0..model.tables[t].rows {
                    let rows = r * dim..(r + 1) * dim;
                    let same =
                        model.tables[t].weights[rows.clone()] == before.tables[t].weights[rows];
                    if touched.contains(&(r as u64)) {
                        changed_rows += usize::from(!same);
                    } else {
                        assert!(
                            same,
                            "{opt:?}: table {t} row {r} changed but no example used it"
                        );
                    }
                }
            }
        }
        assert!(changed_rows > 0, "{opt:?}: the step changed nothing");
    }
}

fn synthetic_data(plan: &Plan, train_rows: usize, seed: u64) -> Dataset {
    synthetic_with_scale(plan, train_rows, seed, 0.5)
}

fn synthetic_with_scale(plan: &Plan, train_rows: usize, seed: u64, scale: f64) -> Dataset {
    generate(
        &feature_specs(plan),
        &SyntheticConfig {
            train_rows,
            valid_rows: train_rows / 4,
            zipf: vec![1.1; plan.features.len()],
            teacher_scale: scale,
            teacher_noise: 0.5,
            seed,
        },
    )
    .unwrap()
}

fn learn_plan() -> Plan {
    let f = |name: &str, n, scheme, combiner| {
        PlannedFeature::new(name, n, 8, scheme, combiner).unwrap()
    };
    plan_of(vec![
        f("a", 2000, Scheme::Qr { m: 50 }, Some(Combiner::Mult)),
        f("b", 500, Scheme::Full, None),
        f("c", 100, Scheme::Hash { m: 60 }, None),
        f("d", 10, Scheme::Full, None),
    ])
}

#[test]
fn a_small_synthetic_run_learns() {
    let plan = learn_plan();
    // A strong teacher (weights ~ N(0, 1)) leaves a wide gap to the constant predictor.
    let data = synthetic_with_scale(&plan, 16_000, 5, 1.0);
    let cfg = TrainConfig {
        epochs: 2,
        batch: 128,
        ..TrainConfig::default()
    };
    let r = train(&plan, &data, &cfg).unwrap();
    let valid = r.epochs.last().unwrap().valid;
    let constant = r.baselines.constant_valid_logloss;
    let teacher = r.baselines.teacher_valid.unwrap().logloss;
    assert!(
        constant - valid.logloss > 0.5 * (constant - teacher),
        "valid logloss {} should close more than half the gap from the constant predictor {constant} to the teacher {teacher}",
        valid.logloss
    );
    assert!(
        teacher < valid.logloss,
        "the teacher is the best achievable"
    );
    assert!(valid.auc.is_some_and(|a| a > 0.65), "AUC {:?}", valid.auc);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let plan = learn_plan();
    let data = synthetic_data(&plan, 3000, 2);
    let run = |threads| {
        let cfg = TrainConfig {
            epochs: 2,
            batch: 100,
            threads,
            ..TrainConfig::default()
        };
        let r = train(&plan, &data, &cfg).unwrap();
        r.epochs
            .iter()
            .map(|e| (e.train, e.valid))
            .collect::<Vec<_>>()
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn allocated_bytes_equal_the_plans_count() {
    for plan in [mixed_plan(), hot_plan()] {
        for opt in TrainOptimizer::ALL {
            let model = Model::new(&plan, 0, &config(Interaction::Dot, opt), 0).unwrap();
            let mut counted = plan.clone();
            counted.optimizer = opt.counted();
            let cost = counted.costs().unwrap().total;
            assert_eq!(
                model.embedding_bytes(),
                (cost.weight_bytes, cost.optimizer_bytes),
                "{opt:?}"
            );
        }
    }
    // A plan counted in f16 is trained (and compared) in f32.
    let mut half = mixed_plan();
    half.dtype = Dtype::F16;
    let data = synthetic_data(&half, 400, 1);
    let cfg = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let r = train(&half, &data, &cfg).unwrap();
    assert!(r.allocated.matches_estimate);
    assert_eq!(r.allocated.estimate, mixed_plan().costs().unwrap().total);
}

#[test]
fn ids_out_of_range_from_library_callers_are_errors() {
    let plan = learn_plan();
    let mut data = synthetic_data(&plan, 400, 1);
    data.valid.ids[5] = 5000;
    let e = train(&plan, &data, &TrainConfig::default()).unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "validation set of 'synthetic': example 2: id 5000 of feature 'b' is out of range: expected [0, 500)"
    );
}

#[test]
fn divergence_names_epoch_and_step() {
    let plan = learn_plan();
    let data = synthetic_data(&plan, 2000, 1);
    let mut cfg = TrainConfig {
        epochs: 1,
        lr: 1e30,
        ..TrainConfig::default()
    };
    cfg.model.optimizer = TrainOptimizer::Sgd;
    let e = train(&plan, &data, &cfg).unwrap_err().to_string();
    assert!(e.contains("at epoch 1, step "), "{e}");
    assert!(e.contains("try a lower learning rate than 1e30"), "{e}");
}

#[test]
fn early_stopping_ends_after_patience_epochs_without_improvement() {
    // A few hundred examples, many epochs and a high learning rate: the model overfits.
    let plan = learn_plan();
    let data = synthetic_data(&plan, 300, 4);
    let cfg = TrainConfig {
        epochs: 30,
        batch: 32,
        lr: 0.3,
        patience: Some(2),
        ..TrainConfig::default()
    };
    let r = train(&plan, &data, &cfg).unwrap();
    assert!(r.stopped_early, "ran all {} epochs", r.epochs.len());
    let last = r.epochs.len();
    assert_eq!(last - r.best_epoch, 2, "stops two epochs after the best");
    let best = r.best().valid.logloss;
    assert!(r.epochs.iter().all(|e| e.valid.logloss >= best));
    // The same run without patience goes on, and its best epoch is the same.
    let full = train(
        &plan,
        &data,
        &TrainConfig {
            patience: None,
            ..cfg
        },
    )
    .unwrap();
    assert_eq!((full.epochs.len(), full.stopped_early), (30, false));
    let metrics =
        |epochs: &[EpochReport]| -> Vec<_> { epochs.iter().map(|e| (e.train, e.valid)).collect() };
    assert_eq!(metrics(&full.epochs[..last]), metrics(&r.epochs));
    assert!(full.best().valid.logloss <= best);
}
