//! Building a model from a plan: the embedding tables with their slots, the dense layers,
//! and their seeded initialisation.

use anyhow::{Result, bail};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::dense::{Linear, layers, transpose};
use super::{FeatureLayout, Interaction, Model, ModelConfig, Slot, Table};
use crate::init::{Uniform, table_inits};
use crate::partition::Combiner;
use crate::plan::{Plan, PlannedFeature, TableShape};
use crate::train::optim::TrainOptimizer;
use crate::train::synthetic::derive_seed;

/// A zeroed buffer for a table or its optimizer state, its pages mapped now; an error, not
/// an abort, when it cannot be had.
///
/// Zeros are written one by one: `vec![0.0; n]` maps lazily zeroed pages, and the first steps
/// would then pay a page fault per touched row (a 10M-row table's steps ran 10× slower).
/// (Asking for transparent huge pages with madvise made no difference on this machine.)
fn table_buffer(len: usize, what: &dyn Fn() -> String) -> Result<Vec<f32>> {
    crate::memory::try_filled(len as u64, &what())
}

fn fill_uniform(rng: &mut Xoshiro256PlusPlus, out: &mut [f32], low: f64, high: f64) {
    for x in out {
        *x = (low + (high - low) * rng.random::<f64>()) as f32;
    }
}

/// The embedding half of a model: tables, their slots and each feature's place in an
/// example's vector row.
struct Embeddings {
    tables: Vec<Table>,
    slots: Vec<Slot>,
    features: Vec<FeatureLayout>,
    /// Width of an example's vector row: lead + Σ feature dims.
    vec_width: usize,
    /// Width of an example's table-gradient row: Σ table dims.
    grad_width: usize,
}

/// The dense half: the flat parameters, the length of their transposed copy, and the layers.
struct Dense {
    params: Vec<f32>,
    transposed: usize,
    constant: Option<usize>,
    bottom: Vec<Linear>,
    top: Vec<Linear>,
}

impl Model {
    /// Builds and initialises a model for `plan` with `n_dense` dense inputs.
    pub fn new(plan: &Plan, n_dense: usize, cfg: &ModelConfig, seed: u64) -> Result<Model> {
        let first_dim = first_dim(plan, cfg.interaction)?;
        let lead_dim = if n_dense > 0 || cfg.interaction == Interaction::Dot {
            first_dim
        } else {
            0
        };
        let emb = embeddings(plan, cfg, seed, lead_dim)?;
        let dense = dense(
            n_dense,
            lead_dim,
            emb.features.len(),
            emb.vec_width,
            cfg,
            seed,
        );
        let param_state = vec![0f32; cfg.optimizer.dense_state_len(dense.params.len())];
        let mut model = Model {
            tables: emb.tables,
            params_t: vec![0.0; dense.transposed],
            params: dense.params,
            param_state,
            slots: emb.slots,
            features: emb.features,
            lead_dim,
            vec_width: emb.vec_width,
            grad_width: emb.grad_width,
            n_dense,
            constant: dense.constant,
            bottom: dense.bottom,
            top: dense.top,
            interaction: cfg.interaction,
            optimizer: cfg.optimizer,
        };
        transpose(
            &model.bottom,
            &model.top,
            &model.params,
            &mut model.params_t,
        );
        Ok(model)
    }
}

/// The first feature's dim (0 without features); with the dot interaction every feature must
/// have it.
fn first_dim(plan: &Plan, interaction: Interaction) -> Result<usize> {
    let first_dim = plan.features.first().map_or(0, |f| f.dim() as usize);
    if interaction == Interaction::Dot
        && let Some(f) = plan.features.iter().find(|f| f.dim() as usize != first_dim)
    {
        bail!(
            "feature '{}' has dim {} but '{}' has dim {first_dim}: the dot interaction needs one dim for every feature (use --interaction cat)",
            f.name(),
            f.dim(),
            plan.features[0].name()
        );
    }
    Ok(first_dim)
}

/// Every feature's tables, in plan order then partition order, with their slots; feature
/// vectors start after the lead vector's `lead_dim` values.
fn embeddings(plan: &Plan, cfg: &ModelConfig, seed: u64, lead_dim: usize) -> Result<Embeddings> {
    let mut e = Embeddings {
        tables: Vec::new(),
        slots: Vec::new(),
        features: Vec::new(),
        vec_width: lead_dim,
        grad_width: 0,
    };
    for (fi, f) in plan.features.iter().enumerate() {
        let shapes = f.tables();
        let inits = table_inits(f, cfg.init);
        let start = e.slots.len();
        let mut col = 0;
        for (j, ((shape, init), map)) in shapes
            .iter()
            .zip(&inits)
            .zip(f.scheme().table_maps())
            .enumerate()
        {
            let table = table(f, (fi, j), shape, init, cfg.optimizer, seed)?;
            let dim = table.dim;
            e.tables.push(table);
            e.slots.push(Slot {
                map,
                col: if f.combiner() == Some(Combiner::Concat) {
                    col
                } else {
                    0
                },
                dim,
                grad_offset: e.grad_width,
            });
            col += dim;
            e.grad_width += dim;
        }
        e.features.push(FeatureLayout {
            slots: start..e.slots.len(),
            combiner: f.combiner(),
            dim: f.dim() as usize,
            offset: e.vec_width,
        });
        e.vec_width += f.dim() as usize;
    }
    Ok(e)
}

/// Table `j` of feature `fi`, its weights drawn from `init` with the table's own seed and
/// its optimizer state zeroed.
fn table(
    f: &PlannedFeature,
    (fi, j): (usize, usize),
    shape: &TableShape,
    init: &Uniform,
    optimizer: TrainOptimizer,
    seed: u64,
) -> Result<Table> {
    let rows = usize::try_from(shape.rows)
        .ok()
        .filter(|&r| u32::try_from(r).is_ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "feature '{}' table {} has {} rows: the trainer supports at most {}",
                f.name(),
                j + 1,
                shape.rows,
                u32::MAX
            )
        })?;
    let dim = shape.dim as usize;
    let len = rows
        .checked_mul(dim)
        .ok_or_else(|| anyhow::anyhow!("feature '{}' table {} is too large", f.name(), j + 1))?;
    let what = || format!("feature '{}' table {}", f.name(), j + 1);
    let mut weights = table_buffer(len, &what)?;
    let mut rng =
        Xoshiro256PlusPlus::seed_from_u64(derive_seed(seed, ((fi as u64) << 16) | j as u64));
    fill_uniform(&mut rng, &mut weights, init.low, init.high);
    Ok(Table {
        rows,
        dim,
        weights,
        state: table_buffer(optimizer.table_state_len(rows, dim), &|| {
            format!("the optimizer state of {}", what())
        })?,
    })
}

/// The constant vector or bottom MLP (for `n_dense` dense inputs) and the top MLP over the
/// interaction of `nf` feature vectors, initialised.
fn dense(
    n_dense: usize,
    lead_dim: usize,
    nf: usize,
    vec_width: usize,
    cfg: &ModelConfig,
    seed: u64,
) -> Dense {
    let mut params = Vec::new();
    let mut transposed = 0;
    let (constant, bottom) = if n_dense > 0 {
        let mut sizes = vec![n_dense];
        sizes.extend(&cfg.bottom_mlp);
        sizes.push(lead_dim);
        (None, layers(&mut params, &mut transposed, &sizes, true))
    } else if lead_dim > 0 {
        params.resize(lead_dim, 0.0);
        (Some(0), Vec::new())
    } else {
        (None, Vec::new())
    };
    let top_in = match cfg.interaction {
        Interaction::Dot => (nf + 1) * nf / 2 + if n_dense > 0 { lead_dim } else { 0 },
        Interaction::Cat => vec_width,
    };
    let mut sizes = vec![top_in];
    sizes.extend(&cfg.top_mlp);
    sizes.push(1);
    let top = layers(&mut params, &mut transposed, &sizes, false);
    // PyTorch's defaults, as the reference peer uses them: a linear layer's weights and
    // bias U(±1/sqrt(fan_in)); the constant vector U(±sqrt(1/dim)).
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(seed, u64::MAX));
    if let Some(c) = constant {
        let a = (1.0 / lead_dim as f64).sqrt();
        fill_uniform(&mut rng, &mut params[c..c + lead_dim], -a, a);
    }
    for l in bottom.iter().chain(&top) {
        let a = 1.0 / (l.inp as f64).sqrt();
        fill_uniform(&mut rng, &mut params[l.w..l.b + l.out], -a, a);
    }
    Dense {
        params,
        transposed,
        constant,
        bottom,
        top,
    }
}
