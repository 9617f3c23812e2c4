//! Optimizers with sparse row updates: a step touches only the rows its batch looked up.

use serde::{Deserialize, Serialize};

use crate::schema::Optimizer;

/// Adagrad's epsilon, PyTorch's default (added to the root of the accumulator).
const EPS: f32 = 1e-10;

/// An optimizer the trainer implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainOptimizer {
    /// Plain SGD: no state.
    Sgd,
    /// Adagrad: one accumulator per weight (PyTorch's update, accumulator starting at 0).
    #[default]
    Adagrad,
    /// Row-wise Adagrad (FBGEMM): one accumulator per embedding row, fed the row's mean
    /// squared gradient. Dense (MLP) weights use plain Adagrad.
    RowwiseAdagrad,
}

impl TrainOptimizer {
    /// Every trainable optimizer, in a fixed order.
    pub const ALL: [TrainOptimizer; 3] = [
        TrainOptimizer::Sgd,
        TrainOptimizer::Adagrad,
        TrainOptimizer::RowwiseAdagrad,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        self.counted().name()
    }

    /// The optimizer as byte counts name it (for comparing with `estimate`).
    pub fn counted(self) -> Optimizer {
        match self {
            TrainOptimizer::Sgd => Optimizer::Sgd,
            TrainOptimizer::Adagrad => Optimizer::Adagrad,
            TrainOptimizer::RowwiseAdagrad => Optimizer::RowwiseAdagrad,
        }
    }

    /// The trainable optimizer a plan's counted optimizer corresponds to, if any.
    pub fn from_counted(o: Optimizer) -> Option<TrainOptimizer> {
        TrainOptimizer::ALL.into_iter().find(|t| t.counted() == o)
    }

    /// Accumulator floats an embedding table of `rows × dim` needs.
    pub fn table_state_len(self, rows: usize, dim: usize) -> usize {
        match self {
            TrainOptimizer::Sgd => 0,
            TrainOptimizer::Adagrad => rows * dim,
            TrainOptimizer::RowwiseAdagrad => rows,
        }
    }

    /// Accumulator floats the dense parameters need.
    pub fn dense_state_len(self, params: usize) -> usize {
        match self {
            TrainOptimizer::Sgd => 0,
            TrainOptimizer::Adagrad | TrainOptimizer::RowwiseAdagrad => params,
        }
    }
}

/// Updates one embedding row `w` with gradient `g`; `state` is the row's accumulator slice
/// (`dim` floats for Adagrad, one for row-wise Adagrad, empty for SGD).
#[inline]
pub fn update_row(opt: TrainOptimizer, lr: f32, w: &mut [f32], state: &mut [f32], g: &[f32]) {
    match opt {
        TrainOptimizer::Sgd => sgd(lr, w, g),
        TrainOptimizer::Adagrad => adagrad(lr, w, state, g),
        TrainOptimizer::RowwiseAdagrad => {
            let mean_sq = g.iter().map(|x| x * x).sum::<f32>() / g.len().max(1) as f32;
            state[0] += mean_sq;
            let scale = lr / (state[0].sqrt() + EPS);
            for (w, g) in w.iter_mut().zip(g) {
                *w -= scale * g;
            }
        }
    }
}

/// Updates dense parameters (every one has a gradient each step).
pub fn update_dense(opt: TrainOptimizer, lr: f32, w: &mut [f32], state: &mut [f32], g: &[f32]) {
    match opt {
        TrainOptimizer::Sgd => sgd(lr, w, g),
        TrainOptimizer::Adagrad | TrainOptimizer::RowwiseAdagrad => adagrad(lr, w, state, g),
    }
}

fn sgd(lr: f32, w: &mut [f32], g: &[f32]) {
    for (w, g) in w.iter_mut().zip(g) {
        *w -= lr * g;
    }
}

fn adagrad(lr: f32, w: &mut [f32], state: &mut [f32], g: &[f32]) {
    for ((w, s), g) in w.iter_mut().zip(state.iter_mut()).zip(g) {
        *s += g * g;
        *w -= lr * g / (s.sqrt() + EPS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adagrad_first_step_moves_by_lr() {
        let (mut w, mut s) = (vec![1.0f32, 1.0], vec![0.0f32, 0.0]);
        update_row(TrainOptimizer::Adagrad, 0.1, &mut w, &mut s, &[2.0, -0.5]);
        assert!((w[0] - 0.9).abs() < 1e-6 && (w[1] - 1.1).abs() < 1e-6);
        let (mut w, mut s) = (vec![1.0f32, 1.0], vec![0.0f32]);
        update_row(
            TrainOptimizer::RowwiseAdagrad,
            0.1,
            &mut w,
            &mut s,
            &[2.0, 0.0],
        );
        assert!((s[0] - 2.0).abs() < 1e-6);
    }
}
