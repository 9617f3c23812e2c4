//! The stack a plan is for, and what its tables must satisfy there.
//!
//! TorchRec trains tables with FBGEMM's table-batched kernels: every table's dim (and every
//! column shard's) must be a multiple of 4, so concat splits go in units of 4 (16 over 3
//! tables is 8, 4, 4, never 6, 5, 5). Its CPU kernels train fp32 and fp16 with SGD and
//! (row-wise) Adagrad only, and int8 tables belong to the quantized inference collection.

use serde::{Deserialize, Serialize};

use crate::schema::{Dtype, Optimizer};

/// FBGEMM's unit of table dims.
pub const FBGEMM_DIM_UNIT: u32 = 4;

/// The stack a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Target {
    /// No stack's constraints beyond `--dim-multiple` (the built-in trainer, plain PyTorch).
    #[default]
    Any,
    /// TorchRec (FBGEMM): table dims in units of 4.
    Torchrec,
}

impl Target {
    /// The dim multiple every table keeps: the requested one, raised to a multiple of the
    /// target's unit.
    pub fn dim_multiple(self, requested: u32) -> u32 {
        match self {
            Target::Any => requested.max(1),
            Target::Torchrec => num_integer::lcm(requested.max(1), FBGEMM_DIM_UNIT),
        }
    }

    /// What the target cannot do with a plan of this dtype and optimizer, for the user to
    /// know before training (none is an error: GPUs lift the CPU limits).
    pub fn caveats(self, dtype: Dtype, optimizer: Optimizer) -> Vec<String> {
        let mut out = Vec::new();
        if self != Target::Torchrec {
            return out;
        }
        match dtype {
            Dtype::Bf16 => out.push(
                "FBGEMM has no bf16 table kernels on CPU: train this plan on GPUs (or plan with --dtype f16)"
                    .to_string(),
            ),
            Dtype::Int8 => out.push(
                "int8 tables are for TorchRec's quantized inference collection (torchrec.quant), not for training"
                    .to_string(),
            ),
            Dtype::F32 | Dtype::F16 => {}
        }
        if optimizer == Optimizer::Adam {
            out.push(
                "FBGEMM has no Adam on CPU: train this plan on GPUs (or plan with --optimizer adagrad)"
                    .to_string(),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchrec_keeps_dims_in_units_of_four() {
        assert_eq!(Target::Any.dim_multiple(1), 1);
        assert_eq!(Target::Any.dim_multiple(6), 6);
        assert_eq!(Target::Torchrec.dim_multiple(1), 4);
        assert_eq!(Target::Torchrec.dim_multiple(8), 8);
        assert_eq!(Target::Torchrec.dim_multiple(6), 12);
    }

    #[test]
    fn torchrec_names_what_needs_gpus() {
        assert!(Target::Any.caveats(Dtype::Bf16, Optimizer::Adam).is_empty());
        assert!(
            Target::Torchrec
                .caveats(Dtype::F16, Optimizer::Adagrad)
                .is_empty()
        );
        let c = Target::Torchrec.caveats(Dtype::Bf16, Optimizer::Adam);
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(c[0].contains("bf16") && c[1].contains("Adam"));
    }
}
