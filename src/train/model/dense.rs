//! Linear layers inside the flat dense-parameter vector, and the MLP passes over them.

use super::kernels::{LANES, add_into, axpy, blocked, dot};

/// A linear layer inside the flat dense-parameter vector (weights stored `inp × out`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Linear {
    pub(super) w: usize,
    pub(super) b: usize,
    /// Offset of the transposed weights (`out × inp_pad`, rows padded with zeros to whole
    /// LANES blocks) in `params_t`.
    pub(super) wt: usize,
    pub(super) inp: usize,
    pub(super) out: usize,
    pub(super) relu: bool,
}

pub(super) fn layers(
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

/// Writes every layer's weights, `inp × out` in `params`, as `out × inp_pad` into `params_t`.
pub(super) fn transpose(bottom: &[Linear], top: &[Linear], params: &[f32], params_t: &mut [f32]) {
    for l in bottom.iter().chain(top) {
        let (inp, out, pad) = (l.inp, l.out, l.inp.next_multiple_of(LANES));
        for i in 0..inp {
            for o in 0..out {
                params_t[l.wt + o * pad + i] = params[l.w + i * out + o];
            }
        }
    }
}

#[inline(always)]
pub(super) fn mlp_forward<const FMA: bool>(
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

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn mlp_backward<const FMA: bool>(
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
