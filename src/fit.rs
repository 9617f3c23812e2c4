//! Non-negative least squares for small calibration problems.
//!
//! Calibration fits a handful of coefficients (one per family and combiner) to a few dozen
//! measured runs; the coefficients are loss per unit of log-compression and must not be
//! negative (compressing more never helps). Cyclic coordinate descent with projection onto
//! c ≥ 0 solves this convex problem exactly enough at this size, deterministically.

/// The fitted coefficients and the quality of the fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// One coefficient per column, each ≥ 0.
    pub coefficients: Vec<f64>,
    /// Per observation, measured minus fitted.
    pub residuals: Vec<f64>,
    /// Root mean squared residual.
    pub rmse: f64,
    /// Coefficient of determination against the mean-free model y = 0 (1 is a perfect fit).
    pub r_squared: f64,
}

/// Solves min ‖X c − y‖² subject to c ≥ 0; `rows[i]` is the i-th row of X.
///
/// A column that is zero in every row gets coefficient 0 (no data to fit it).
pub fn nonnegative_least_squares(rows: &[Vec<f64>], y: &[f64]) -> Fit {
    assert_eq!(rows.len(), y.len(), "one target per row");
    let k = rows.first().map_or(0, Vec::len);
    let col_norm: Vec<f64> = (0..k)
        .map(|j| rows.iter().map(|r| r[j] * r[j]).sum())
        .collect();
    let mut c = vec![0.0; k];
    let mut fitted = vec![0.0; y.len()];
    for _sweep in 0..5_000 {
        let mut largest_step: f64 = 0.0;
        for j in 0..k {
            if col_norm[j] == 0.0 {
                continue;
            }
            // Residual without column j's contribution, projected on column j.
            let num: f64 = rows
                .iter()
                .zip(y)
                .zip(&fitted)
                .map(|((r, &yi), &fi)| r[j] * (yi - fi + r[j] * c[j]))
                .sum();
            let new = (num / col_norm[j]).max(0.0);
            let step = new - c[j];
            if step != 0.0 {
                for (fi, r) in fitted.iter_mut().zip(rows) {
                    *fi += r[j] * step;
                }
                c[j] = new;
                largest_step = largest_step.max(step.abs());
            }
        }
        if largest_step < 1e-14 {
            break;
        }
    }
    let residuals: Vec<f64> = y.iter().zip(&fitted).map(|(a, b)| a - b).collect();
    let n = y.len().max(1) as f64;
    let sse: f64 = residuals.iter().map(|r| r * r).sum();
    let sst: f64 = y.iter().map(|v| v * v).sum();
    Fit {
        coefficients: c,
        residuals,
        rmse: (sse / n).sqrt(),
        r_squared: if sst > 0.0 { 1.0 - sse / sst } else { 1.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_exact_coefficients() {
        let rows = vec![
            vec![1.0, 0.0],
            vec![0.0, 2.0],
            vec![1.0, 1.0],
            vec![2.0, 3.0],
        ];
        let truth = [0.3, 0.05];
        let y: Vec<f64> = rows
            .iter()
            .map(|r| r[0] * truth[0] + r[1] * truth[1])
            .collect();
        let fit = nonnegative_least_squares(&rows, &y);
        assert!((fit.coefficients[0] - 0.3).abs() < 1e-9, "{fit:?}");
        assert!((fit.coefficients[1] - 0.05).abs() < 1e-9, "{fit:?}");
        assert!(fit.rmse < 1e-9 && fit.r_squared > 0.999_999);
    }

    #[test]
    fn clamps_negative_coefficients_to_zero() {
        let rows = vec![vec![1.0, 1.0], vec![2.0, 1.0], vec![3.0, 1.0]];
        let y = [1.0, 2.0, 3.0];
        // The unconstrained fit is exact with (1, 0); shift y to push c2 negative.
        let y2: Vec<f64> = y.iter().map(|v| v - 0.5).collect();
        let fit = nonnegative_least_squares(&rows, &y2);
        assert!(fit.coefficients.iter().all(|&c| c >= 0.0));
        let unused = nonnegative_least_squares(&[vec![1.0, 0.0]], &[2.0]);
        assert_eq!(unused.coefficients, vec![2.0, 0.0]);
    }
}
