//! The forward pass over a block of examples: gather and combine the rows, the lead vector,
//! the interaction and the top MLP.

use super::dense::mlp_forward;
use super::kernels::{add_into, dot, mul_into, prefetch};
use super::{Interaction, Model, Workspace};
use crate::partition::Combiner;
use crate::train::data::Split;

impl Model {
    /// Forward pass of the examples `idx` into `ws` (logits in `ws.logits`).
    pub(super) fn forward(&self, split: &Split, idx: &[u32], ws: &mut Workspace) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { self.forward_avx2(split, idx, ws) };
        }
        self.forward_impl::<false>(split, idx, ws);
    }

    /// [`Model::forward`] compiled for AVX2 and FMA (8-wide fused multiply-adds instead of SSE2's
    /// 4-wide multiplies and adds).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn forward_avx2(&self, split: &Split, idx: &[u32], ws: &mut Workspace) {
        self.forward_impl::<true>(split, idx, ws);
    }

    #[inline(always)]
    pub(super) fn forward_impl<const FMA: bool>(
        &self,
        split: &Split,
        idx: &[u32],
        ws: &mut Workspace,
    ) {
        let nb = idx.len();
        ws.n = nb;
        self.gather_rows(split, idx, ws);
        self.combine_rows(ws);
        self.lead_forward::<FMA>(split, idx, ws);
        self.interact_forward::<FMA>(ws);
        let out = ws.top_acts.last().expect("top MLP has layers");
        ws.logits[..nb].copy_from_slice(&out[..nb]);
    }

    /// Every example's row of every table into `ws.rows`.
    #[inline(always)]
    fn gather_rows(&self, split: &Split, idx: &[u32], ws: &mut Workspace) {
        let (nf, ns) = (self.features.len(), self.slots.len());
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
    }

    /// Each feature's vector, its tables' rows combined, into `ws.vecs`.
    #[inline(always)]
    fn combine_rows(&self, ws: &mut Workspace) {
        let (ns, vw) = (self.slots.len(), self.vec_width);
        for b in 0..ws.n {
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
    }

    /// The lead vector (the constant, or the bottom MLP of the dense inputs) at the start of
    /// every example's vector row.
    #[inline(always)]
    fn lead_forward<const FMA: bool>(&self, split: &Split, idx: &[u32], ws: &mut Workspace) {
        let (nb, vw, ld) = (idx.len(), self.vec_width, self.lead_dim);
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
    }

    /// The interaction of the vector rows and the top MLP over it.
    #[inline(always)]
    fn interact_forward<const FMA: bool>(&self, ws: &mut Workspace) {
        let (nb, nf, vw) = (ws.n, self.features.len(), self.vec_width);
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
    }
}
