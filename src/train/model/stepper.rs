//! Steps: a batch is cut into [`SHARDS`] shards that compute in parallel into their own
//! [`Workspace`]s; dense gradients are reduced in shard order and embedding gradients summed
//! per row in example order, then applied to the touched rows only.

use rayon::prelude::*;

use super::Model;
use super::dense::{Linear, transpose};
use super::kernels::{add_into, prefetch};
use crate::train::data::Split;
use crate::train::optim::{TrainOptimizer, update_dense, update_row};

/// Per-shard buffers, reused across steps.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub(super) n: usize,
    pub(super) rows: Vec<u32>,
    pub(super) vecs: Vec<f32>,
    pub(super) dvecs: Vec<f32>,
    pub(super) dense_in: Vec<f32>,
    pub(super) bottom_acts: Vec<Vec<f32>>,
    pub(super) dbottom: Vec<Vec<f32>>,
    pub(super) top_in: Vec<f32>,
    pub(super) top_acts: Vec<Vec<f32>>,
    pub(super) dtop: Vec<Vec<f32>>,
    pub(super) dtop_in: Vec<f32>,
    pub(super) logits: Vec<f32>,
    pub(super) tgrad: Vec<f32>,
    pub(super) dparams: Vec<f32>,
    pub(super) loss: f64,
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
                            TrainOptimizer::RowwiseAdagrad => &mut table.state[r..=r],
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
