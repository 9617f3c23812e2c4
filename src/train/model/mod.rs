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
//!
//! The parts: `build` lays the model out and initialises it, `forward` and `backward`
//! are the passes over a block of examples, `stepper` shards a batch and applies the sparse
//! updates, `dense` holds the MLP layers and `kernels` the blocked vector kernels they use.

mod backward;
mod build;
mod dense;
mod forward;
mod kernels;
mod stepper;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::Split;
use super::optim::TrainOptimizer;
use crate::init::InitMode;
use crate::partition::{Combiner, TableMap};
use dense::Linear;
pub use stepper::{SHARDS, Stepper, Workspace};

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

impl Model {
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
}
