//! The click model: compositional embeddings, a constant vector or bottom MLP, a pairwise
//! dot (or concatenation) interaction, a top MLP and the logistic loss — forward, backward
//! and sparse updates, hand-written.
//!
//! Layout for speed: embedding tables are row-major `Vec<f32>`; dense weights live in one flat
//! vector, each linear layer stored `in × out` (plus an `out × in` copy for the backward pass),
//! so every pass accumulates contiguous blocks of outputs in vector registers (AVX2 + FMA when
//! the CPU has them, chosen at run time). A batch is cut into a fixed number of
//! shards (independent of the thread count); shards compute in parallel into their own
//! workspaces and are reduced in shard order, so results are bit-identical on any number of
//! threads. Embedding gradients are summed per row in example order and applied to those rows
//! only.

use anyhow::{Result, bail};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::Split;
use super::optim::{TrainOptimizer, update_dense, update_row};
use super::synthetic::derive_seed;
use crate::init::{InitMode, table_inits};
use crate::partition::{Combiner, TableMap};
use crate::plan::Plan;

/// How the feature vectors meet the top MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Interaction {
    /// Pairwise dot products of [lead, e_1..e_F] (DLRM's default).
    #[default]
    Dot,
    /// The vectors concatenated.
    Cat,
}

/// Shape of the model beyond the plan's tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Interaction between feature vectors.
    pub interaction: Interaction,
    /// Hidden widths of the top MLP (the output 1 is added).
    pub top_mlp: Vec<usize>,
    /// Hidden widths of the bottom MLP for dense features (the output, the embedding dim, is added).
    pub bottom_mlp: Vec<usize>,
    /// Embedding initialisation rule.
    pub init: InitMode,
    /// The optimizer (it decides how much state is allocated).
    pub optimizer: TrainOptimizer,
}

/// One embedding table with its optimizer state.
#[derive(Debug, Clone)]
pub struct Table {
    /// Rows.
    pub rows: usize,
    /// Row width.
    pub dim: usize,
    /// `rows × dim` weights, row-major.
    pub weights: Vec<f32>,
    /// Optimizer accumulators (per weight, per row or none).
    pub state: Vec<f32>,
}

impl Table {
    #[inline(always)]
    fn row(&self, r: u32) -> &[f32] {
        let start = r as usize * self.dim;
        &self.weights[start..start + self.dim]
    }
}

/// Where one table's row goes: its feature, class map and place in the feature's vector.
#[derive(Debug, Clone)]
struct Slot {
    map: TableMap,
    /// Offset of this table's part in the feature vector (concat), else 0.
    col: usize,
    dim: usize,
    /// Offset of this table's gradient in an example's gradient row.
    grad_offset: usize,
}

#[derive(Debug, Clone)]
struct FeatureLayout {
    slots: std::ops::Range<usize>,
    combiner: Option<Combiner>,
    dim: usize,
    /// Offset of the feature's vector in an example's vector row (after the lead vector).
    offset: usize,
}

/// A linear layer inside the flat dense-parameter vector (weights stored `inp × out`).
#[derive(Debug, Clone, Copy)]
struct Linear {
    w: usize,
    b: usize,
    /// Offset of the transposed weights (`out × inp_pad`, rows padded with zeros to whole
    /// LANES blocks) in `params_t`.
    wt: usize,
    inp: usize,
    out: usize,
    relu: bool,
}

/// The whole model: tables, dense parameters and their optimizer state.
#[derive(Debug, Clone)]
pub struct Model {
    /// Embedding tables, features' tables in plan order then partition order.
    pub tables: Vec<Table>,
    /// Dense parameters (constant vector or bottom MLP, top MLP), flat.
    pub params: Vec<f32>,
    /// Optimizer state of the dense parameters.
    pub param_state: Vec<f32>,
    /// `params` with every layer's weights transposed to `out × inp`, for the backward pass.
    params_t: Vec<f32>,
    slots: Vec<Slot>,
    features: Vec<FeatureLayout>,
    /// Width of the lead vector (constant or bottom output); 0 with `cat` and no dense input.
    lead_dim: usize,
    /// Width of an example's vector row: lead + Σ feature dims.
    vec_width: usize,
    /// Width of an example's table-gradient row: Σ table dims.
    grad_width: usize,
    n_dense: usize,
    constant: Option<usize>,
    bottom: Vec<Linear>,
    top: Vec<Linear>,
    interaction: Interaction,
    optimizer: TrainOptimizer,
}

fn layers(
    params: &mut Vec<f32>,
    transposed: &mut usize,
    sizes: &[usize],
    final_relu: bool,
) -> Vec<Linear> {
    let mut out = Vec::new();
    for (i, pair) in sizes.windows(2).enumerate() {
        let wt = *transposed;
        *transposed += pair[0].next_multiple_of(LANES) * pair[1];
        let w = params.len();
        params.resize(w + pair[0] * pair[1], 0.0);
        let b = params.len();
        params.resize(b + pair[1], 0.0);
        out.push(Linear {
            w,
            b,
            wt,
            inp: pair[0],
            out: pair[1],
            relu: i + 2 < sizes.len() || final_relu,
        });
    }
    out
}

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

impl Model {
    /// Builds and initialises a model for `plan` with `n_dense` dense inputs.
    pub fn new(plan: &Plan, n_dense: usize, cfg: &ModelConfig, seed: u64) -> Result<Model> {
        let first_dim = plan.features.first().map_or(0, |f| f.dim as usize);
        if cfg.interaction == Interaction::Dot
            && let Some(f) = plan.features.iter().find(|f| f.dim as usize != first_dim)
        {
            bail!(
                "feature '{}' has dim {} but '{}' has dim {first_dim}: the dot interaction needs one dim for every feature (use --interaction cat)",
                f.name,
                f.dim,
                plan.features[0].name
            );
        }
        let lead_dim = if n_dense > 0 || cfg.interaction == Interaction::Dot {
            first_dim
        } else {
            0
        };
        let mut tables = Vec::new();
        let mut slots = Vec::new();
        let mut features = Vec::new();
        let (mut offset, mut grad_width) = (lead_dim, 0);
        for (fi, f) in plan.features.iter().enumerate() {
            let shapes = f.tables();
            let inits = table_inits(f, cfg.init);
            let start = slots.len();
            let mut col = 0;
            for (j, ((shape, init), map)) in shapes
                .iter()
                .zip(&inits)
                .zip(f.scheme.table_maps())
                .enumerate()
            {
                let rows = usize::try_from(shape.rows)
                    .ok()
                    .filter(|&r| r <= u32::MAX as usize)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "feature '{}' table {} has {} rows: the trainer supports at most {}",
                            f.name,
                            j + 1,
                            shape.rows,
                            u32::MAX
                        )
                    })?;
                let dim = shape.dim as usize;
                let len = rows.checked_mul(dim).ok_or_else(|| {
                    anyhow::anyhow!("feature '{}' table {} is too large", f.name, j + 1)
                })?;
                let what = || format!("feature '{}' table {}", f.name, j + 1);
                let mut weights = table_buffer(len, &what)?;
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(
                    seed,
                    ((fi as u64) << 16) | j as u64,
                ));
                fill_uniform(&mut rng, &mut weights, init.low, init.high);
                tables.push(Table {
                    rows,
                    dim,
                    weights,
                    state: table_buffer(cfg.optimizer.table_state_len(rows, dim), &|| {
                        format!("the optimizer state of {}", what())
                    })?,
                });
                slots.push(Slot {
                    map,
                    col: if f.combiner == Some(Combiner::Concat) {
                        col
                    } else {
                        0
                    },
                    dim,
                    grad_offset: grad_width,
                });
                col += dim;
                grad_width += dim;
            }
            features.push(FeatureLayout {
                slots: start..slots.len(),
                combiner: f.combiner,
                dim: f.dim as usize,
                offset,
            });
            offset += f.dim as usize;
        }
        let vec_width = offset;
        let nf = features.len();
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
        let param_state = vec![0f32; cfg.optimizer.dense_state_len(params.len())];
        let mut model = Model {
            tables,
            params_t: vec![0.0; transposed],
            params,
            param_state,
            slots,
            features,
            lead_dim,
            vec_width,
            grad_width,
            n_dense,
            constant,
            bottom,
            top,
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

    /// Bytes of embedding weights and of their optimizer state actually allocated.
    pub fn embedding_bytes(&self) -> (u64, u64) {
        let w: usize = self.tables.iter().map(|t| t.weights.len()).sum();
        let s: usize = self.tables.iter().map(|t| t.state.len()).sum();
        (w as u64 * 4, s as u64 * 4)
    }

    /// Number of dense (MLP and constant) parameters.
    pub fn dense_params(&self) -> usize {
        self.params.len()
    }

    fn top_in(&self) -> usize {
        self.top[0].inp
    }

    /// For the dot interaction: the top MLP's input width, how much of it is the lead vector
    /// passed through (with dense inputs), and the vector width.
    fn dot_dims(&self) -> (usize, usize, usize) {
        let lead_in = if self.n_dense > 0 { self.lead_dim } else { 0 };
        (self.top_in(), lead_in, self.lead_dim)
    }

    /// Logits of every example of `split`, in order (forward only, parallel, deterministic).
    pub fn predict(&self, split: &Split) -> Vec<f32> {
        const CHUNK: usize = 512;
        let mut logits = vec![0f32; split.len()];
        logits.par_chunks_mut(CHUNK).enumerate().for_each_init(
            || Workspace::new(self, CHUNK),
            |ws, (c, out)| {
                let idx: Vec<u32> = (c * CHUNK..c * CHUNK + out.len())
                    .map(|i| i as u32)
                    .collect();
                self.forward(split, &idx, ws);
                out.copy_from_slice(&ws.logits[..out.len()]);
            },
        );
        logits
    }

    /// Forward pass of the examples `idx` into `ws` (logits in `ws.logits`).
    fn forward(&self, split: &Split, idx: &[u32], ws: &mut Workspace) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { self.forward_avx2(split, idx, ws) };
        }
        self.forward_impl::<false>(split, idx, ws)
    }

    /// [`Model::forward`] compiled for AVX2 and FMA (8-wide fused multiply-adds instead of SSE2's
    /// 4-wide multiplies and adds).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn forward_avx2(&self, split: &Split, idx: &[u32], ws: &mut Workspace) {
        self.forward_impl::<true>(split, idx, ws)
    }

    #[inline(always)]
    fn forward_impl<const FMA: bool>(&self, split: &Split, idx: &[u32], ws: &mut Workspace) {
        let nb = idx.len();
        let (nf, ns, vw) = (self.features.len(), self.slots.len(), self.vec_width);
        ws.n = nb;
        // First every example's rows, asking the memory system for each as it is found, so
        // the cache misses of a large table overlap instead of stalling one after another.
        for (b, &ex) in idx.iter().enumerate() {
            let ex = ex as usize;
            let ids = &split.ids[ex * nf..(ex + 1) * nf];
            let rows = &mut ws.rows[b * ns..(b + 1) * ns];
            for (f, feat) in self.features.iter().enumerate() {
                for s in feat.slots.clone() {
                    // Row counts fit in u32 (checked in `new`), so the class does too.
                    let r = self.slots[s].map.class_of(u64::from(ids[f])) as u32;
                    rows[s] = r;
                    prefetch(self.tables[s].row(r));
                }
            }
        }
        for b in 0..nb {
            let rows = &ws.rows[b * ns..(b + 1) * ns];
            let v = &mut ws.vecs[b * vw..(b + 1) * vw];
            for feat in &self.features {
                let out = &mut v[feat.offset..feat.offset + feat.dim];
                for (j, s) in feat.slots.clone().enumerate() {
                    let slot = &self.slots[s];
                    let w = self.tables[s].row(rows[s]);
                    match feat.combiner {
                        Some(Combiner::Add) if j > 0 => add_into(out, w),
                        Some(Combiner::Mult) if j > 0 => mul_into(out, w),
                        _ => out[slot.col..slot.col + slot.dim].copy_from_slice(w),
                    }
                }
            }
        }
        let ld = self.lead_dim;
        if let Some(c) = self.constant {
            for b in 0..nb {
                ws.vecs[b * vw..b * vw + ld].copy_from_slice(&self.params[c..c + ld]);
            }
        } else if !self.bottom.is_empty() {
            let nd = self.n_dense;
            for (b, &ex) in idx.iter().enumerate() {
                let ex = ex as usize;
                ws.dense_in[b * nd..(b + 1) * nd]
                    .copy_from_slice(&split.dense[ex * nd..(ex + 1) * nd]);
            }
            mlp_forward::<FMA>(
                &self.bottom,
                &self.params,
                &ws.dense_in,
                &mut ws.bottom_acts,
                nb,
            );
            let last = ws.bottom_acts.last().expect("bottom MLP has layers");
            for b in 0..nb {
                ws.vecs[b * vw..b * vw + ld].copy_from_slice(&last[b * ld..(b + 1) * ld]);
            }
        }
        match self.interaction {
            Interaction::Dot => {
                let (ti, lead_in, d) = self.dot_dims();
                for b in 0..nb {
                    let v = &ws.vecs[b * vw..(b + 1) * vw];
                    let z = &mut ws.top_in[b * ti..(b + 1) * ti];
                    z[..lead_in].copy_from_slice(&v[..lead_in]);
                    let mut p = lead_in;
                    for i in 1..=nf {
                        for j in 0..i {
                            z[p] = dot::<FMA>(&v[i * d..(i + 1) * d], &v[j * d..(j + 1) * d]);
                            p += 1;
                        }
                    }
                }
                mlp_forward::<FMA>(&self.top, &self.params, &ws.top_in, &mut ws.top_acts, nb);
            }
            Interaction::Cat => {
                mlp_forward::<FMA>(&self.top, &self.params, &ws.vecs, &mut ws.top_acts, nb);
            }
        }
        let out = ws.top_acts.last().expect("top MLP has layers");
        ws.logits[..nb].copy_from_slice(&out[..nb]);
    }

    /// Forward and backward of the examples `idx`: per-example losses summed into
    /// `ws.loss`, dense gradients into `ws.dparams`, table gradients into `ws.tgrad`.
    /// `scale` is d(loss)/d(per-example loss), 1/batch for a mean.
    fn forward_backward(&self, split: &Split, idx: &[u32], scale: f32, ws: &mut Workspace) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { self.forward_backward_avx2(split, idx, scale, ws) };
        }
        self.forward_backward_impl::<false>(split, idx, scale, ws)
    }

    /// [`Model::forward_backward`] compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn forward_backward_avx2(&self, split: &Split, idx: &[u32], scale: f32, ws: &mut Workspace) {
        self.forward_backward_impl::<true>(split, idx, scale, ws)
    }

    #[inline(always)]
    fn forward_backward_impl<const FMA: bool>(
        &self,
        split: &Split,
        idx: &[u32],
        scale: f32,
        ws: &mut Workspace,
    ) {
        self.forward_impl::<FMA>(split, idx, ws);
        let nb = idx.len();
        let (nf, vw, gw, ld) = (
            self.features.len(),
            self.vec_width,
            self.grad_width,
            self.lead_dim,
        );
        ws.dparams.fill(0.0);
        ws.loss = 0.0;
        let dlogit = &mut ws.dtop[self.top.len() - 1];
        for b in 0..nb {
            let z = f64::from(ws.logits[b]);
            let y = f64::from(split.labels[idx[b] as usize]);
            ws.loss += super::metrics::logistic_loss(z, y);
            dlogit[b] = ((super::metrics::sigmoid(z) - y) as f32) * scale;
        }
        let top_input: &[f32] = match self.interaction {
            Interaction::Dot => &ws.top_in,
            Interaction::Cat => &ws.vecs,
        };
        mlp_backward::<FMA>(
            &self.top,
            &self.params_t,
            top_input,
            &ws.top_acts,
            &mut ws.dtop,
            &mut ws.dtop_in,
            &mut ws.dparams,
            nb,
            true,
        );
        match self.interaction {
            Interaction::Dot => {
                let (ti, lead_in, d) = self.dot_dims();
                for b in 0..nb {
                    let v = &ws.vecs[b * vw..(b + 1) * vw];
                    let dz = &ws.dtop_in[b * ti..(b + 1) * ti];
                    let dv = &mut ws.dvecs[b * vw..(b + 1) * vw];
                    dv.fill(0.0);
                    dv[..lead_in].copy_from_slice(&dz[..lead_in]);
                    let mut p = lead_in;
                    for i in 1..=nf {
                        for j in 0..i {
                            let g = dz[p];
                            p += 1;
                            let (lo, hi) = dv.split_at_mut(i * d);
                            axpy::<FMA>(&mut hi[..d], g, &v[j * d..(j + 1) * d]);
                            axpy::<FMA>(&mut lo[j * d..(j + 1) * d], g, &v[i * d..(i + 1) * d]);
                        }
                    }
                }
            }
            Interaction::Cat => ws.dvecs[..nb * vw].copy_from_slice(&ws.dtop_in[..nb * vw]),
        }
        if let Some(c) = self.constant {
            for b in 0..nb {
                let (dp, dv) = (&mut ws.dparams[c..c + ld], &ws.dvecs[b * vw..b * vw + ld]);
                add_into(dp, dv);
            }
        } else if !self.bottom.is_empty() {
            let last = ws.dbottom.last_mut().expect("bottom MLP has layers");
            for b in 0..nb {
                last[b * ld..(b + 1) * ld].copy_from_slice(&ws.dvecs[b * vw..b * vw + ld]);
            }
            mlp_backward::<FMA>(
                &self.bottom,
                &self.params_t,
                &ws.dense_in,
                &ws.bottom_acts,
                &mut ws.dbottom,
                &mut ws.dtop_in,
                &mut ws.dparams,
                nb,
                false,
            );
        }
        let ns = self.slots.len();
        for b in 0..nb {
            let dv = &ws.dvecs[b * vw..(b + 1) * vw];
            let rows = &ws.rows[b * ns..(b + 1) * ns];
            let tg = &mut ws.tgrad[b * gw..(b + 1) * gw];
            for feat in &self.features {
                let g = &dv[feat.offset..feat.offset + feat.dim];
                for s in feat.slots.clone() {
                    let slot = &self.slots[s];
                    let out = &mut tg[slot.grad_offset..slot.grad_offset + slot.dim];
                    out.copy_from_slice(&g[slot.col..slot.col + slot.dim]);
                    if feat.combiner == Some(Combiner::Mult) {
                        // d(z1 ⊙ … ⊙ zk)/dzj = the product of the other factors.
                        for o in feat.slots.clone().filter(|&o| o != s) {
                            mul_into(out, self.tables[o].row(rows[o]));
                        }
                    }
                }
            }
        }
    }
}

/// Per-shard buffers, reused across steps.
#[derive(Debug, Clone)]
pub struct Workspace {
    n: usize,
    rows: Vec<u32>,
    vecs: Vec<f32>,
    dvecs: Vec<f32>,
    dense_in: Vec<f32>,
    bottom_acts: Vec<Vec<f32>>,
    dbottom: Vec<Vec<f32>>,
    top_in: Vec<f32>,
    top_acts: Vec<Vec<f32>>,
    dtop: Vec<Vec<f32>>,
    dtop_in: Vec<f32>,
    logits: Vec<f32>,
    tgrad: Vec<f32>,
    dparams: Vec<f32>,
    loss: f64,
}

impl Workspace {
    /// Buffers for up to `cap` examples of `model`.
    pub fn new(model: &Model, cap: usize) -> Workspace {
        let acts = |ls: &[Linear]| ls.iter().map(|l| vec![0f32; cap * l.out]).collect();
        let widest_in = model
            .top
            .iter()
            .chain(&model.bottom)
            .map(|l| l.inp)
            .max()
            .unwrap_or(0);
        Workspace {
            n: 0,
            rows: vec![0; cap * model.slots.len()],
            vecs: vec![0.0; cap * model.vec_width],
            dvecs: vec![0.0; cap * model.vec_width],
            dense_in: vec![0.0; cap * model.n_dense],
            bottom_acts: acts(&model.bottom),
            dbottom: acts(&model.bottom),
            top_in: vec![0.0; cap * model.top_in()],
            top_acts: acts(&model.top),
            dtop: acts(&model.top),
            dtop_in: vec![0.0; cap * widest_in.max(model.vec_width)],
            logits: vec![0.0; cap],
            tgrad: vec![0.0; cap * model.grad_width],
            dparams: vec![0.0; model.params.len()],
            loss: 0.0,
        }
    }
}

/// Splits batches into a fixed number of shards and applies steps.
#[derive(Debug)]
pub struct Stepper {
    shards: Vec<Workspace>,
    shard_cap: usize,
    dparams: Vec<f32>,
    /// Per table: row << 32 | example position, for the current batch (sorted: grouped by
    /// row, each row's examples in batch order).
    keys: Vec<Vec<u64>>,
    grad_sum: Vec<Vec<f32>>,
}

/// Number of shards a batch is split into: fixed, so results do not depend on the threads.
pub const SHARDS: usize = 8;

impl Stepper {
    /// A stepper for batches of up to `batch` examples.
    pub fn new(model: &Model, batch: usize) -> Stepper {
        let shard_cap = batch.div_ceil(SHARDS).max(1);
        Stepper {
            shards: (0..SHARDS)
                .map(|_| Workspace::new(model, shard_cap))
                .collect(),
            shard_cap,
            dparams: vec![0.0; model.params.len()],
            keys: vec![Vec::new(); model.tables.len()],
            grad_sum: model.tables.iter().map(|t| vec![0.0; t.dim]).collect(),
        }
    }

    /// Computes the gradients of the mean loss over `idx` (at most the batch size given to
    /// [`Stepper::new`]; more is a programming error and panics). Returns the summed
    /// per-example loss; logits go to `logits`.
    pub fn compute(
        &mut self,
        model: &Model,
        split: &Split,
        idx: &[u32],
        logits: &mut [f32],
    ) -> f64 {
        let cap = self.shard_cap;
        assert!(
            idx.len() <= cap * SHARDS,
            "a batch of {} examples given to a stepper made for {}",
            idx.len(),
            cap * SHARDS
        );
        let scale = 1.0 / idx.len() as f32;
        self.shards.par_iter_mut().enumerate().for_each(|(s, ws)| {
            let lo = (s * cap).min(idx.len());
            let hi = ((s + 1) * cap).min(idx.len());
            ws.n = 0;
            if lo < hi {
                model.forward_backward(split, &idx[lo..hi], scale, ws);
            }
        });
        let mut loss = 0.0;
        for (s, ws) in self.shards.iter().enumerate().filter(|(_, ws)| ws.n > 0) {
            loss += ws.loss;
            logits[s * cap..s * cap + ws.n].copy_from_slice(&ws.logits[..ws.n]);
        }
        loss
    }

    /// The dense gradient of the last [`Stepper::compute`]: the shards' sums added in shard
    /// order (fixed, so the same on any number of threads).
    fn reduce_dense(shards: &[Workspace], dparams: &mut [f32]) {
        dparams.fill(0.0);
        for ws in shards.iter().filter(|ws| ws.n > 0) {
            add_into(dparams, &ws.dparams);
        }
    }

    /// Applies the gradients of the last [`Stepper::compute`] with learning rate `lr`.
    pub fn apply(&mut self, model: &mut Model, lr: f32) {
        let opt = model.optimizer;
        let Model {
            tables,
            params,
            param_state,
            params_t,
            slots,
            bottom,
            top,
            grad_width,
            ..
        } = model;
        let (shards, cap, gw, ns) = (&self.shards, self.shard_cap, *grad_width, slots.len());
        let dparams = &mut self.dparams;
        // The dense update runs beside the embedding updates: they touch disjoint memory.
        let dense = || {
            Stepper::reduce_dense(shards, dparams);
            update_dense(opt, lr, params, param_state, dparams);
            transpose(bottom, top, params, params_t);
        };
        let embeddings = || {
            tables
                .par_iter_mut()
                .zip(self.keys.par_iter_mut())
                .zip(self.grad_sum.par_iter_mut())
                .enumerate()
                .for_each(|(t, ((table, keys), sum))| {
                    collect_keys(shards, cap, ns, t, keys);
                    let off = slots[t].grad_offset;
                    let dim = table.dim;
                    let grad = |key: u64| {
                        let pos = key as u32 as usize;
                        let (s, b) = (pos / cap, pos % cap);
                        &shards[s].tgrad[b * gw + off..b * gw + off + dim]
                    };
                    let state_per_row = table.state.len() / table.rows.max(1);
                    for &k in keys.iter() {
                        let r = (k >> 32) as usize;
                        prefetch(&table.weights[r * dim..]);
                        if state_per_row > 0 {
                            prefetch(&table.state[r * state_per_row..]);
                        }
                    }
                    let mut i = 0;
                    while i < keys.len() {
                        let row = keys[i] >> 32;
                        sum.copy_from_slice(grad(keys[i]));
                        let mut j = i + 1;
                        while j < keys.len() && keys[j] >> 32 == row {
                            add_into(sum, grad(keys[j]));
                            j += 1;
                        }
                        let r = row as usize;
                        let w = &mut table.weights[r * dim..(r + 1) * dim];
                        let state: &mut [f32] = match opt {
                            TrainOptimizer::Sgd => &mut [],
                            TrainOptimizer::Adagrad => &mut table.state[r * dim..(r + 1) * dim],
                            TrainOptimizer::RowwiseAdagrad => &mut table.state[r..r + 1],
                        };
                        update_row(opt, lr, w, state, sum);
                        i = j;
                    }
                });
        };
        rayon::join(dense, embeddings);
    }

    /// The summed embedding gradient of every touched row of table `t` after
    /// [`Stepper::compute`], in row order (for tests).
    pub fn table_gradients(&self, model: &Model, t: usize) -> Vec<(u32, Vec<f32>)> {
        let (ns, gw, cap) = (model.slots.len(), model.grad_width, self.shard_cap);
        let (off, dim) = (model.slots[t].grad_offset, model.tables[t].dim);
        let mut out: Vec<(u32, Vec<f32>)> = Vec::new();
        let mut keys = Vec::new();
        collect_keys(&self.shards, cap, ns, t, &mut keys);
        for key in keys {
            let (row, pos) = ((key >> 32) as u32, key as u32 as usize);
            let (s, b) = (pos / cap, pos % cap);
            let g = &self.shards[s].tgrad[b * gw + off..b * gw + off + dim];
            match out.last_mut() {
                Some((r, sum)) if *r == row => add_into(sum, g),
                _ => out.push((row, g.to_vec())),
            }
        }
        out
    }

    /// The dense gradient of the last [`Stepper::compute`] (for tests).
    pub fn dense_gradients(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.dparams.len()];
        Stepper::reduce_dense(&self.shards, &mut out);
        out
    }
}

/// Writes every layer's weights, `inp × out` in `params`, as `out × inp_pad` into `params_t`.
fn transpose(bottom: &[Linear], top: &[Linear], params: &[f32], params_t: &mut [f32]) {
    for l in bottom.iter().chain(top) {
        let (inp, out, pad) = (l.inp, l.out, l.inp.next_multiple_of(LANES));
        for i in 0..inp {
            for o in 0..out {
                params_t[l.wt + o * pad + i] = params[l.w + i * out + o];
            }
        }
    }
}

/// Table `t`'s keys (row << 32 | example position) of the batch in `shards`, sorted.
fn collect_keys(shards: &[Workspace], cap: usize, ns: usize, t: usize, keys: &mut Vec<u64>) {
    keys.clear();
    for (s, ws) in shards.iter().enumerate() {
        for b in 0..ws.n {
            keys.push(u64::from(ws.rows[b * ns + t]) << 32 | (s * cap + b) as u64);
        }
    }
    keys.sort_unstable();
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn mlp_backward<const FMA: bool>(
    layers: &[Linear],
    params_t: &[f32],
    input: &[f32],
    acts: &[Vec<f32>],
    dacts: &mut [Vec<f32>],
    dinput: &mut [f32],
    dparams: &mut [f32],
    nb: usize,
    need_input_grad: bool,
) {
    for l in (0..layers.len()).rev() {
        let layer = layers[l];
        let (inp, out) = (layer.inp, layer.out);
        let (before, rest) = dacts.split_at_mut(l);
        let dy = &mut rest[0];
        if layer.relu {
            for (d, &a) in dy[..nb * out].iter_mut().zip(&acts[l][..nb * out]) {
                if a <= 0.0 {
                    *d = 0.0;
                }
            }
        }
        let x: &[f32] = if l == 0 { input } else { &acts[l - 1] };
        let (dw_all, db_all) = dparams.split_at_mut(layer.b);
        let dw = &mut dw_all[layer.w..layer.w + inp * out];
        let db = &mut db_all[..out];
        for b in 0..nb {
            add_into(db, &dy[b * out..(b + 1) * out]);
        }
        // dW[i, :] += Σ_b x[b, i] · dy[b, :], blocks of columns kept in registers.
        let full = out / LANES * LANES;
        for i in 0..inp {
            let dwi = &mut dw[i * out..(i + 1) * out];
            let coeffs = (0..nb).map(|b| x[b * inp + i]);
            blocked::<FMA>(&mut dwi[..full], coeffs.clone(), dy, out, 0);
            if full < out {
                for (b, xi) in coeffs.enumerate() {
                    axpy::<FMA>(&mut dwi[full..], xi, &dy[b * out + full..(b + 1) * out]);
                }
            }
        }
        if l == 0 && !need_input_grad {
            continue;
        }
        // dx[b, :] = Σ_o dy[b, o] · W[o, :], from the out × inp copy: contiguous blocks of
        // LANES inputs kept in registers, no horizontal sums.
        let pad = inp.next_multiple_of(LANES);
        let wt = &params_t[layer.wt..layer.wt + pad * out];
        let dx: &mut [f32] = if l == 0 { dinput } else { &mut before[l - 1] };
        let mut padded = [0f32; MAX_PAD];
        for b in 0..nb {
            let dyb = &dy[b * out..(b + 1) * out];
            let dxb = &mut dx[b * inp..(b + 1) * inp];
            if pad <= MAX_PAD {
                let acc = &mut padded[..pad];
                acc.fill(0.0);
                blocked::<FMA>(acc, dyb.iter().copied(), wt, pad, 0);
                dxb.copy_from_slice(&acc[..inp]);
            } else {
                dxb.fill(0.0);
                for (o, &g) in dyb.iter().enumerate() {
                    axpy::<FMA>(dxb, g, &wt[o * pad..o * pad + inp]);
                }
            }
        }
    }
}

/// Widest padded layer input the backward pass handles in registers.
const MAX_PAD: usize = 1024;

/// acc[j] += Σ_r coeffs[r] · m[r·stride + col + j] for j < acc.len() (a multiple of LANES).
///
/// The block width is the widest of 64, 48, 32 or 16 columns that divides acc.len(): a
/// wider block means more independent accumulator registers, so consecutive fused
/// multiply-adds do not wait on each other.
#[inline(always)]
fn blocked<const FMA: bool>(
    acc: &mut [f32],
    coeffs: impl Iterator<Item = f32> + Clone,
    m: &[f32],
    stride: usize,
    col: usize,
) {
    let n = acc.len();
    match n {
        _ if n.is_multiple_of(64) => blocked_w::<64, FMA>(acc, coeffs, m, stride, col),
        _ if n.is_multiple_of(48) => blocked_w::<48, FMA>(acc, coeffs, m, stride, col),
        _ if n.is_multiple_of(32) => blocked_w::<32, FMA>(acc, coeffs, m, stride, col),
        _ => blocked_w::<LANES, FMA>(acc, coeffs, m, stride, col),
    }
}

#[inline(always)]
fn blocked_w<const W: usize, const FMA: bool>(
    acc: &mut [f32],
    coeffs: impl Iterator<Item = f32> + Clone,
    m: &[f32],
    stride: usize,
    col: usize,
) {
    for (c, out) in acc.chunks_exact_mut(W).enumerate() {
        let mut a: [f32; W] = out.try_into().expect("a chunk of W values");
        for (r, k) in coeffs.clone().enumerate() {
            let start = r * stride + col + c * W;
            let row: &[f32; W] = m[start..start + W].try_into().expect("W values");
            for j in 0..W {
                a[j] = madd::<FMA>(k, row[j], a[j]);
            }
        }
        out.copy_from_slice(&a);
    }
}

#[inline(always)]
fn mlp_forward<const FMA: bool>(
    layers: &[Linear],
    params: &[f32],
    input: &[f32],
    acts: &mut [Vec<f32>],
    nb: usize,
) {
    for l in 0..layers.len() {
        let layer = layers[l];
        let (inp, out) = (layer.inp, layer.out);
        let (before, rest) = acts.split_at_mut(l);
        let y = &mut rest[0];
        let x: &[f32] = if l == 0 { input } else { &before[l - 1] };
        let w = &params[layer.w..layer.w + inp * out];
        let bias = &params[layer.b..layer.b + out];
        for b in 0..nb {
            let yb = &mut y[b * out..(b + 1) * out];
            let xb = &x[b * inp..(b + 1) * inp];
            if out == 1 {
                yb[0] = bias[0] + dot::<FMA>(xb, w);
            } else {
                // Blocks of outputs stay in registers while the inputs stream by.
                let full = out / LANES * LANES;
                yb.copy_from_slice(bias);
                blocked::<FMA>(&mut yb[..full], xb.iter().copied(), w, out, 0);
                if full < out {
                    for (i, &xi) in xb.iter().enumerate() {
                        axpy::<FMA>(&mut yb[full..], xi, &w[i * out + full..(i + 1) * out]);
                    }
                }
            }
            if layer.relu {
                for v in yb.iter_mut() {
                    *v = v.max(0.0);
                }
            }
        }
    }
}

/// The first LANES values of `x` as an array, so the loops over it need no bounds checks
/// and vectorize.
#[inline(always)]
fn lanes(x: &[f32]) -> &[f32; LANES] {
    x[..LANES].try_into().expect("a slice of LANES values")
}

/// Width of the register blocks of the dense kernels (one AVX-512 or two AVX2 registers).
const LANES: usize = 16;

/// a·b + c, fused (one rounding) when the caller was compiled with FMA: without the
/// instruction `mul_add` would call a slow software routine.
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// y += a·x.
#[inline(always)]
fn axpy<const FMA: bool>(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = madd::<FMA>(a, *x, *y);
    }
}

/// A hint to load `x`'s first cache line (no effect on results).
#[inline(always)]
fn prefetch(x: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching never faults, whatever the address; `x` is a valid slice anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(x.as_ptr().cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// y += x.
#[inline(always)]
fn add_into(y: &mut [f32], x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += x;
    }
}

/// y ⊙= x.
#[inline(always)]
fn mul_into(y: &mut [f32], x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y *= x;
    }
}

/// Dot product with LANES independent partial sums (a fixed order, so deterministic), which
/// lets the compiler use vector registers.
#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let full = n / LANES * LANES;
    for c in (0..full).step_by(LANES) {
        let (ca, cb) = (lanes(&a[c..]), lanes(&b[c..]));
        for k in 0..LANES {
            acc[k] = madd::<FMA>(ca[k], cb[k], acc[k]);
        }
    }
    let mut tail = 0.0;
    for k in full..n {
        tail = madd::<FMA>(a[k], b[k], tail);
    }
    let mut width = LANES / 2;
    while width > 0 {
        for k in 0..width {
            acc[k] += acc[k + width];
        }
        width /= 2;
    }
    acc[0] + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::Scheme;
    use crate::plan::PlannedFeature;
    use crate::schema::{Dtype, Optimizer};

    /// The portable kernels and the fused (FMA) ones compute the same gradients up to rounding.
    #[test]
    fn portable_and_fused_kernels_agree() {
        let features = vec![
            PlannedFeature::new("a", 50, 8, Scheme::Qr { m: 7 }, Some(Combiner::Mult)).unwrap(),
            PlannedFeature::new("b", 9, 8, Scheme::Full, None).unwrap(),
        ];
        let plan = Plan {
            name: None,
            dtype: Dtype::F32,
            optimizer: Optimizer::Sgd,
            features,
            planner: None,
        };
        let cfg = ModelConfig {
            interaction: Interaction::Dot,
            top_mlp: vec![40, 20],
            bottom_mlp: vec![20],
            init: InitMode::Standard,
            optimizer: TrainOptimizer::Sgd,
        };
        let model = Model::new(&plan, 3, &cfg, 4).unwrap();
        let n = 20;
        let split = Split {
            ids: (0..n * 2).map(|i| (i * 7 % 9) as u32).collect(),
            dense: (0..n * 3).map(|i| (i % 5) as f32 * 0.3).collect(),
            labels: (0..n).map(|i| (i % 2) as f32).collect(),
        };
        let idx: Vec<u32> = (0..n as u32).collect();
        let mut plain = Workspace::new(&model, n);
        let mut fused = Workspace::new(&model, n);
        model.forward_backward_impl::<false>(&split, &idx, 0.05, &mut plain);
        model.forward_backward_impl::<true>(&split, &idx, 0.05, &mut fused);
        let close = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-5 + 1e-4 * x.abs())
        };
        assert!(close(&plain.logits, &fused.logits));
        assert!(close(&plain.dparams, &fused.dparams));
        assert!(close(&plain.tgrad, &fused.tgrad));
        assert!(plain.dparams.iter().any(|&g| g != 0.0));
    }
}
