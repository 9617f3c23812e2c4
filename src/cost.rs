//! Exact parameter and byte counts, following TorchRec's planner.
//!
//! Counted, per table of `rows × dim`:
//! - params = rows × dim;
//! - weight bytes = params × bytes(dtype) (f32 4, f16/bf16 2); for int8, what TorchRec's
//!   quantized collection allocates: rows of dim bytes plus 4 bytes of fp16 scale and bias,
//!   packed (`row_alignment=1`, as the torchrec export builds it), each table starting on a
//!   128-byte cache line (FBGEMM's inference TBE), so rows × (dim + 4) rounded up to 128;
//! - optimizer bytes: none/sgd 0, adagrad 1× the weight bytes, rowwise-adagrad one f32
//!   per row (4 × rows), adam 2× the weight bytes.
//!
//! Not counted: activations, dense (MLP) parameters, input index buffers (an int64 per
//! looked-up id), output buffers and pipelining copies. [`NOT_COUNTED`] says so in output.
//!
//! Every operation is checked: a count that does not fit in u64 is an error, never a wrap.

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

use crate::schema::{Dtype, Optimizer};

/// FBGEMM's inference TBE starts every table on a cache line of this many bytes.
pub const INT8_TABLE_ALIGNMENT: u64 = 128;

/// What byte counts leave out, printed under every table of counts.
pub const NOT_COUNTED: &str = "Not counted: activations, dense/MLP parameters, input index buffers (int64 per looked-up id), output and pipelining buffers.";

/// Exact counts for a table, a feature or a whole model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cost {
    /// Weight elements.
    #[serde(with = "crate::schema::wide_u64")]
    pub params: u64,
    /// Bytes of the weights (with int8 row overhead).
    #[serde(with = "crate::schema::wide_u64")]
    pub weight_bytes: u64,
    /// Bytes of optimizer state.
    #[serde(with = "crate::schema::wide_u64")]
    pub optimizer_bytes: u64,
    /// weight_bytes + optimizer_bytes.
    #[serde(with = "crate::schema::wide_u64")]
    pub bytes: u64,
}

fn overflow(what: &str) -> anyhow::Error {
    anyhow!("{what} does not fit in 64 bits (more than 18,446,744,073,709,551,615)")
}

impl Cost {
    /// The counts of one `rows × dim` table.
    pub fn of_table(rows: u64, dim: u32, dtype: Dtype, optimizer: Optimizer) -> Result<Cost> {
        let params = rows
            .checked_mul(u64::from(dim))
            .ok_or_else(|| overflow("parameter count"))?;
        let weight_bytes = match dtype {
            Dtype::Int8 => u64::from(dim)
                .checked_add(dtype.row_overhead_bytes())
                .and_then(|row| rows.checked_mul(row))
                .and_then(|b| b.checked_next_multiple_of(INT8_TABLE_ALIGNMENT)),
            _ => params.checked_mul(dtype.element_bytes()),
        }
        .ok_or_else(|| overflow("weight bytes"))?;
        let optimizer_bytes = match optimizer {
            Optimizer::None | Optimizer::Sgd => Some(0),
            Optimizer::Adagrad => Some(weight_bytes),
            Optimizer::RowwiseAdagrad => rows.checked_mul(4),
            Optimizer::Adam => weight_bytes.checked_mul(2),
        }
        .ok_or_else(|| overflow("optimizer bytes"))?;
        let bytes = weight_bytes
            .checked_add(optimizer_bytes)
            .ok_or_else(|| overflow("total bytes"))?;
        Ok(Cost {
            params,
            weight_bytes,
            optimizer_bytes,
            bytes,
        })
    }

    /// The field-wise sum, checked.
    pub fn checked_add(self, other: Cost) -> Result<Cost> {
        Ok(Cost {
            params: self
                .params
                .checked_add(other.params)
                .ok_or_else(|| overflow("parameter count"))?,
            weight_bytes: self
                .weight_bytes
                .checked_add(other.weight_bytes)
                .ok_or_else(|| overflow("weight bytes"))?,
            optimizer_bytes: self
                .optimizer_bytes
                .checked_add(other.optimizer_bytes)
                .ok_or_else(|| overflow("optimizer bytes"))?,
            bytes: self
                .bytes
                .checked_add(other.bytes)
                .ok_or_else(|| overflow("total bytes"))?,
        })
    }

    /// The sum of many costs, checked.
    pub fn sum(costs: impl IntoIterator<Item = Cost>) -> Result<Cost> {
        costs
            .into_iter()
            .try_fold(Cost::default(), Cost::checked_add)
    }
}

/// `full / planned` as a ratio (∞ when planned is 0).
pub fn compression_ratio(full_bytes: u64, planned_bytes: u64) -> f64 {
    if planned_bytes == 0 {
        f64::INFINITY
    } else {
        full_bytes as f64 / planned_bytes as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dtype_and_optimizer() {
        // rows 1000, dim 16: 16,000 params.
        let expect = |dtype, opt, weight, optim| {
            let c = Cost::of_table(1000, 16, dtype, opt).unwrap();
            assert_eq!(c.params, 16_000);
            assert_eq!(
                (c.weight_bytes, c.optimizer_bytes),
                (weight, optim),
                "{dtype} {opt}"
            );
            assert_eq!(c.bytes, weight + optim);
        };
        for (dtype, w) in [
            (Dtype::F32, 64_000),
            (Dtype::F16, 32_000),
            (Dtype::Bf16, 32_000),
            (Dtype::Int8, 20_096), // 1000 × (16 + 4) up to a multiple of 128
        ] {
            expect(dtype, Optimizer::None, w, 0);
            expect(dtype, Optimizer::Sgd, w, 0);
            expect(dtype, Optimizer::Adagrad, w, w);
            expect(dtype, Optimizer::RowwiseAdagrad, w, 4_000);
            expect(dtype, Optimizer::Adam, w, 2 * w);
        }
    }

    #[test]
    fn overflow_is_an_error() {
        assert!(Cost::of_table(u64::MAX, 2, Dtype::F32, Optimizer::None).is_err());
        assert!(Cost::of_table(u64::MAX / 4, 1, Dtype::F32, Optimizer::Adam).is_err());
        let e = Cost::of_table(u64::MAX / 2, 1, Dtype::F32, Optimizer::None).unwrap_err();
        assert!(
            e.to_string()
                .contains("weight bytes does not fit in 64 bits")
        );
    }
}
