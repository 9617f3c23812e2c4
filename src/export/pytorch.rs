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
    model = PlanEmbedding()                    # scripts (torch.jit.script) and compiles
                                               # (torch.compile, no graph breaks)
    vectors = model({name: ids, ...})          # int64 ids of any shape -> [..., dim] per feature
    pooled = model.features[0](ids, offsets)   # bags (1-D ids + start offsets) -> [bags, dim]

Bags are pooled by sum after combining each id's rows, which is exact for every combiner
(DLRM pools each table first, which differs for mult on multi-id bags).";

const MODULE: &str = r#"

class Table(nn.Module):
    """One table of a feature (an entry of its "tables"): the index map and the nn.Embedding.
    Raw ids [...] -> rows [..., table dim]."""

    def __init__(self, table):
        super().__init__()
        self.name = table["name"]
        self.embedding = nn.Embedding(table["rows"], table["dim"], dtype=DTYPE)
        low, high = table["init"]
        nn.init.uniform_(self.embedding.weight, low, high)
        modulus = table.get("modulus")
        self.divisor = int(table.get("divisor", 1))
        self.modulus = 0 if modulus is None else int(modulus)
        self.hot = int(table.get("hot", 0))
        self.own = bool(table.get("own", False))
        self.has_lookup = "lookup" in table
        # A buffer, not a parameter: it moves with .to(device) and is not trained.
        lookup = torch.tensor(table.get("lookup", []), dtype=torch.int64)
        self.register_buffer("lookup", lookup, persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.has_lookup:
            rows = self.lookup[ids]
        else:
            rows = index_rows(ids, self.divisor, self.modulus, self.hot, self.own)
        return self.embedding(rows)


class ComposedEmbedding(nn.Module):
    """One feature: its tables and combiner; raw ids [...] -> vectors [..., dim], or bags
    (1-D ids + start offsets) -> [bags, dim].

    Ids outside [0, cardinality) fail an on-device assertion (RuntimeError), so the module
    needs no host sync: it scripts with torch.jit.script and compiles with torch.compile
    without graph breaks.
    """

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.name = spec["name"]
        self.dim = spec["dim"]
        self.cardinality = spec["cardinality"]
        self.combiner = spec["combiner"] or ""
        self.tables = nn.ModuleList(Table(table) for table in spec["tables"])
        self.bad_ids = "feature " + repr(self.name) + ": ids must be in [0, " + str(self.cardinality) + ")"
        self.bad_dtype = "feature " + repr(self.name) + ": ids must be torch.int64"

    def forward(self, ids: torch.Tensor, offsets: Optional[torch.Tensor] = None) -> torch.Tensor:
        if ids.dtype != torch.int64:
            raise TypeError(self.bad_dtype)
        torch._assert_async(((ids >= 0) & (ids < self.cardinality)).all(), self.bad_ids)
        parts: List[torch.Tensor] = []
        for table in self.tables:
            parts.append(table(ids))
        vectors = combine(parts, self.combiner)
        if offsets is None:
            return vectors
        end = torch.full((1,), ids.numel(), dtype=offsets.dtype, device=offsets.device)
        lengths = torch.diff(offsets, append=end)
        bag = torch.repeat_interleave(
            torch.arange(offsets.numel(), device=ids.device), lengths, output_size=ids.numel()
        )
        pooled = torch.zeros(offsets.numel(), self.dim, dtype=vectors.dtype, device=vectors.device)
        return pooled.index_add_(0, bag, vectors)


class PlanEmbedding(nn.Module):
    """Every feature of the plan: {name: int64 ids} -> {name: composed vectors}."""

    def __init__(self):
        super().__init__()
        self.features = nn.ModuleList(ComposedEmbedding(spec) for spec in FEATURES)

    def forward(self, ids: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        out: Dict[str, torch.Tensor] = {}
        for feature in self.features:
            out[feature.name] = feature(ids[feature.name])
        return out
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
        s.push_str(
            "\nfrom typing import Dict, List, Optional\n\nimport torch\nfrom torch import nn\n\n",
        );
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
