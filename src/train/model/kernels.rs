//! The blocked vector kernels of the dense passes, portable or fused.
//!
//! Every kernel is `#[inline(always)]` and generic over `FMA`: compiled into the AVX2 + FMA
//! entry points it uses fused multiply-adds, elsewhere plain multiplies and adds. Every sum runs
//! in a fixed order, so results are reproducible bit for bit.

/// acc[j] += Σ_r coeffs[r] · m[r·stride + col + j] for j < acc.len() (a multiple of LANES).
///
/// The block width is the widest of 64, 48, 32 or 16 columns that divides acc.len(): a
/// wider block means more independent accumulator registers, so consecutive fused
/// multiply-adds do not wait on each other.
#[inline(always)]
pub(super) fn blocked<const FMA: bool>(
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
#[allow(clippy::needless_pass_by_value)] // the iterator is cloned once per block of columns
pub(super) fn blocked_w<const W: usize, const FMA: bool>(
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

/// The first LANES values of `x` as an array, so the loops over it need no bounds checks
/// and vectorize.
#[inline(always)]
pub(super) fn lanes(x: &[f32]) -> &[f32; LANES] {
    x[..LANES].try_into().expect("a slice of LANES values")
}

/// Width of the register blocks of the dense kernels (one AVX-512 or two AVX2 registers).
pub(super) const LANES: usize = 16;

/// a·b + c, fused (one rounding) when the caller was compiled with FMA: without the
/// instruction `mul_add` would call a slow software routine.
#[inline(always)]
pub(super) fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// y += a·x.
#[inline(always)]
pub(super) fn axpy<const FMA: bool>(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = madd::<FMA>(a, *x, *y);
    }
}

/// A hint to load `x`'s first cache line (no effect on results).
#[inline(always)]
pub(super) fn prefetch(x: &[f32]) {
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
pub(super) fn add_into(y: &mut [f32], x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += x;
    }
}

/// y ⊙= x.
#[inline(always)]
pub(super) fn mul_into(y: &mut [f32], x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y *= x;
    }
}

/// Dot product with LANES independent partial sums (a fixed order, so deterministic), which
/// lets the compiler use vector registers.
#[inline(always)]
pub(super) fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
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
