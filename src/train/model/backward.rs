//! The backward pass over a block of examples: the loss, the dense gradients and every
//! example's table gradients.

use super::dense::mlp_backward;
use super::kernels::{add_into, axpy, mul_into};
use super::{Interaction, Model, Workspace};
use crate::partition::Combiner;
use crate::train::data::Split;

impl Model {
    /// Forward and backward of the examples `idx`: per-example losses summed into
    /// `ws.loss`, dense gradients into `ws.dparams`, table gradients into `ws.tgrad`.
    /// `scale` is d(loss)/d(per-example loss), 1/batch for a mean.
    pub(super) fn forward_backward(
        &self,
        split: &Split,
        idx: &[u32],
        scale: f32,
        ws: &mut Workspace,
    ) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { self.forward_backward_avx2(split, idx, scale, ws) };
        }
        self.forward_backward_impl::<false>(split, idx, scale, ws);
    }

    /// [`Model::forward_backward`] compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn forward_backward_avx2(&self, split: &Split, idx: &[u32], scale: f32, ws: &mut Workspace) {
        self.forward_backward_impl::<true>(split, idx, scale, ws);
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
        ws.dparams.fill(0.0);
        self.loss_backward(split, idx, scale, ws);
        self.top_backward::<FMA>(ws);
        self.lead_backward::<FMA>(ws);
        self.tables_backward(ws);
    }

    /// The per-example losses summed into `ws.loss`, and d(loss)/d(logit) of each example.
    #[inline(always)]
    fn loss_backward(&self, split: &Split, idx: &[u32], scale: f32, ws: &mut Workspace) {
        ws.loss = 0.0;
        let dlogit = &mut ws.dtop[self.top.len() - 1];
        for b in 0..idx.len() {
            let z = f64::from(ws.logits[b]);
            let y = f64::from(split.labels[idx[b] as usize]);
            ws.loss += crate::train::metrics::logistic_loss(z, y);
            dlogit[b] = ((crate::train::metrics::sigmoid(z) - y) as f32) * scale;
        }
    }

    /// Back through the top MLP and the interaction: the gradient of every vector row into
    /// `ws.dvecs`.
    #[inline(always)]
    fn top_backward<const FMA: bool>(&self, ws: &mut Workspace) {
        let (nb, nf, vw) = (ws.n, self.features.len(), self.vec_width);
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
    }

    /// Back through the lead vector: into the constant's gradient, or through the bottom MLP.
    #[inline(always)]
    fn lead_backward<const FMA: bool>(&self, ws: &mut Workspace) {
        let (nb, vw, ld) = (ws.n, self.vec_width, self.lead_dim);
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
    }

    /// Every example's gradient of every table row it used into `ws.tgrad`.
    #[inline(always)]
    fn tables_backward(&self, ws: &mut Workspace) {
        let (ns, vw, gw) = (self.slots.len(), self.vec_width, self.grad_width);
        for b in 0..ws.n {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::InitMode;
    use crate::partition::Scheme;
    use crate::plan::{Plan, PlannedFeature};
    use crate::schema::{Dtype, Optimizer};
    use crate::train::model::ModelConfig;
    use crate::train::optim::TrainOptimizer;

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
            placement: None,
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
