//! `pytorch`: one self-contained Python file defining `PlanEmbedding`, an `nn.Module` that maps
//! raw ids of every feature to its composed embedding.
//!
//! Each table is an `nn.Embedding` in the plan's dtype, initialised with
//! [`crate::init::table_inits`] (the trainer's rule), so counting the module's parameters gives
//! the plan's params and their bytes its weight bytes. Explicit partitions are embedded as
//! int64 lookup buffers (not parameters) up to [`super::MAX_EMBEDDED_CLASS_IDS`] class ids.

use std::fmt::Write as _;

use anyhow::{Result, bail};

use super::python::{HELPERS, check_limits, docstring, features_literal};
use super::{Exported, Exporter};
use crate::plan::Plan;
use crate::schema::Dtype;

/// The PyTorch module exporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct PyTorch;

/// The torch dtype of a plan dtype; int8 has none a trainable module can hold.
pub(crate) fn torch_dtype(dtype: Dtype) -> Option<&'static str> {
    match dtype {
        Dtype::F32 => Some("torch.float32"),
        Dtype::F16 => Some("torch.float16"),
        Dtype::Bf16 => Some("torch.bfloat16"),
        Dtype::Int8 => None,
    }
}

const USAGE: &str = r"Usage:
    model = PlanEmbedding()
    vectors = model({name: ids, ...})          # int64 ids of any shape -> [..., dim] per feature
    pooled = model.features[0](ids, offsets)   # bags (1-D ids + start offsets) -> [bags, dim]

Bags are pooled by sum after combining each id's rows, which is exact for every combiner
(DLRM pools each table first, which differs for mult on multi-id bags).";

const MODULE: &str = r#"

class ComposedEmbedding(nn.Module):
    """One feature: its tables, index maps and combiner; raw ids [...] -> vectors [..., dim]."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.name = spec["name"]
        self.dim = spec["dim"]
        self.tables = nn.ModuleList()
        self.lookups = []
        for j, table in enumerate(spec["tables"]):
            embedding = nn.Embedding(table["rows"], table["dim"], dtype=DTYPE)
            low, high = table["init"]
            nn.init.uniform_(embedding.weight, low, high)
            self.tables.append(embedding)
            if "lookup" in table:
                # A buffer, not a parameter: it moves with .to(device) and is not trained.
                lookup = torch.tensor(table["lookup"], dtype=torch.int64)
                self.register_buffer(f"lookup_{j}", lookup, persistent=False)
                self.lookups.append(f"lookup_{j}")
            else:
                self.lookups.append(None)

    def forward(self, ids, offsets=None):
        check_ids(ids, self.spec)
        parts = []
        for j, (embedding, table) in enumerate(zip(self.tables, self.spec["tables"])):
            lookup = getattr(self, self.lookups[j]) if self.lookups[j] else None
            parts.append(embedding(class_ids(ids, table, lookup)))
        vectors = combine(parts, self.spec["combiner"])
        if offsets is None:
            return vectors
        end = torch.tensor([ids.numel()], dtype=offsets.dtype, device=offsets.device)
        lengths = torch.diff(offsets, append=end)
        bag = torch.repeat_interleave(torch.arange(offsets.numel(), device=ids.device), lengths)
        pooled = torch.zeros(offsets.numel(), self.dim, dtype=vectors.dtype, device=vectors.device)
        return pooled.index_add_(0, bag, vectors)


class PlanEmbedding(nn.Module):
    """Every feature of the plan: {name: int64 ids} -> {name: composed vectors}."""

    def __init__(self):
        super().__init__()
        self.features = nn.ModuleList(ComposedEmbedding(spec) for spec in FEATURES)

    def forward(self, ids):
        return {feature.name: feature(ids[feature.name]) for feature in self.features}
"#;

impl Exporter for PyTorch {
    fn export(&self, plan: &Plan) -> Result<Exported> {
        let Some(dtype) = torch_dtype(plan.dtype) else {
            bail!(
                "the pytorch format holds trainable f32, f16 or bf16 weights, not {}: re-plan with another dtype, or export torchrec (DataType.INT8 for quantized inference)",
                plan.dtype
            );
        };
        check_limits(plan)?;
        let costs = plan.costs()?;
        let mut s = docstring(plan, "Compositional embeddings as a PyTorch module", USAGE)?;
        s.push_str("\nimport torch\nfrom torch import nn\n\n");
        let _ = writeln!(s, "DTYPE = {dtype}");
        let _ = writeln!(s, "PARAMS = {}", costs.total.params);
        let _ = writeln!(s, "WEIGHT_BYTES = {}\n", costs.total.weight_bytes);
        s.push_str(&features_literal(plan));
        s.push_str("\n\n");
        s.push_str(HELPERS);
        s.push_str(MODULE);
        Ok(Exported::text(s))
    }
}
