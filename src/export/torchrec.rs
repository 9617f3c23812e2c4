//! `torchrec`: one `EmbeddingBagConfig` per sub-table plus the modules to run around the
//! `EmbeddingBagCollection`, since TorchRec has no compositional module of its own.
//!
//! `RemapIds` turns a `KeyedJaggedTensor` of raw ids (keyed by plan feature) into one keyed by
//! sub-table (`C3__r`, `C3__q`, ...), `Combine` turns the pooled `KeyedTensor` back into one
//! vector per feature. Init bounds come from [`crate::init::table_inits`].

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{Result, bail};

use super::python::{HELPERS, check_limits, docstring, features_literal, py_float, py_str};
use super::{Exported, Exporter, sub_table_names};
use crate::init::{InitMode, table_inits};
use crate::placement::Sharding;
use crate::plan::Plan;
use crate::schema::Dtype;

/// The TorchRec config exporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct TorchRec;

fn data_type(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::F32 => "DataType.FP32",
        Dtype::F16 => "DataType.FP16",
        Dtype::Bf16 => "DataType.BF16",
        Dtype::Int8 => "DataType.INT8",
    }
}

const USAGE: &str = r"Usage:
    tables = CompositionalEmbeddings(device)   # shard with DistributedModelParallel
    apply_optimizer(tables.ebc, lr)            # the plan's optimizer, fused in backward
    vectors = tables(RemapIds()(kjt))          # kjt: KeyedJaggedTensor of raw ids per feature;
                                               # remap in the data loader to keep pipelining
`embplan export PLAN --format torchrec -o DIR` also writes DIR/train.py, which trains the
tables in a DLRM-style model under torchrun.

The collection pools each sub-table by sum before Combine, as DLRM does: exact for concat and
add, but for mult on bags of several ids it multiplies sums instead of summing products.";

const MODULES: &str = r#"

def check_ids(ids, feature):
    """Raises unless `ids` are int64 in [0, cardinality) for `feature` (an entry of FEATURES)."""
    if ids.dtype != torch.int64:
        raise TypeError(f"feature {feature['name']!r}: ids must be torch.int64, got {ids.dtype}")
    if ids.numel() > 0:
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= feature["cardinality"]:
            raise ValueError(
                f"feature {feature['name']!r}: ids must be in [0, {feature['cardinality']}), "
                f"got {low}..{high}"
            )


class RemapIds(nn.Module):
    """Raw ids keyed by plan feature -> row ids keyed by sub-table, for the collection."""

    def __init__(self):
        super().__init__()
        self.lookups = {}
        for i, feature in enumerate(FEATURES):
            for j, table in enumerate(feature["tables"]):
                if "lookup" in table:
                    lookup = torch.tensor(table["lookup"], dtype=torch.int64)
                    self.register_buffer(f"lookup_{i}_{j}", lookup, persistent=False)
                    self.lookups[(i, j)] = f"lookup_{i}_{j}"

    def forward(self, features: KeyedJaggedTensor) -> KeyedJaggedTensor:
        by_name = features.to_dict()
        keys, values, lengths = [], [], []
        for i, feature in enumerate(FEATURES):
            jagged = by_name[feature["name"]]
            ids = jagged.values()
            check_ids(ids, feature)
            for j, table in enumerate(feature["tables"]):
                name = self.lookups.get((i, j))
                lookup = getattr(self, name) if name else None
                keys.append(table["name"])
                values.append(class_ids(ids, table, lookup))
                lengths.append(jagged.lengths())
        return KeyedJaggedTensor.from_lengths_sync(
            keys=keys, values=torch.cat(values), lengths=torch.cat(lengths)
        )


class Combine(nn.Module):
    """Pooled sub-table vectors (the collection's KeyedTensor) -> {feature: [batch, dim]}."""

    def forward(self, pooled: KeyedTensor) -> dict:
        by_name = pooled.to_dict()
        return {
            feature["name"]: combine(
                [by_name[table["name"]] for table in feature["tables"]], feature["combiner"] or ""
            )
            for feature in FEATURES
        }


def embedding_bag_collection(device=None):
    """An unsharded EmbeddingBagCollection of TABLES (weights drawn from each config's bounds)."""
    from torchrec.modules.embedding_modules import EmbeddingBagCollection

    return EmbeddingBagCollection(tables=TABLES, device=device)


class CompositionalEmbeddings(nn.Module):
    """The plan's tables as one module: sub-table ids -> one pooled vector per feature.

    Takes the KeyedJaggedTensor that RemapIds makes (keyed by sub-table; remap in the data
    loader, outside the model, so TrainPipelineSparseDist still pipelines) and returns a
    KeyedTensor keyed by plan feature, each at its dim, as TorchRec's interaction layers take.
    DistributedModelParallel shards `self.ebc`, an ordinary EmbeddingBagCollection.
    """

    def __init__(self, device=None):
        super().__init__()
        self.ebc = embedding_bag_collection(device)

    def embedding_bag_configs(self):
        """The plan's features as TorchRec's DLRM reads a collection (its SparseArch takes
        their names and dims): one config per feature, at its dim. The sub-tables themselves
        are self.ebc's configs, TABLES."""
        return [
            EmbeddingBagConfig(
                name=f["name"], num_embeddings=f["cardinality"], embedding_dim=f["dim"], feature_names=[f["name"]]
            )
            for f in FEATURES
        ]

    def forward(self, subtables: KeyedJaggedTensor) -> KeyedTensor:
        by_name = self.ebc(subtables).to_dict()
        vectors = [
            combine([by_name[table["name"]] for table in feature["tables"]], feature["combiner"] or "")
            for feature in FEATURES
        ]
        return KeyedTensor(
            keys=[feature["name"] for feature in FEATURES],
            length_per_key=[feature["dim"] for feature in FEATURES],
            values=torch.cat(vectors, dim=1),
        )


def apply_optimizer(module, lr):
    """Attaches the plan's optimizer (OPTIMIZER) to the tables' weights in backward, the way
    TorchRec's planner counts optimizer state and FBGEMM fuses the update."""
    from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward

    apply_optimizer_in_backward(optimizer_class(), module.parameters(), {"lr": lr})


def optimizer_class():
    """The torch optimizer class of the plan's optimizer (SGD for "none")."""
    if OPTIMIZER == "rowwise-adagrad":
        from torchrec.optim.rowwise_adagrad import RowWiseAdagrad

        return RowWiseAdagrad
    return {"adagrad": torch.optim.Adagrad, "adam": torch.optim.Adam}.get(OPTIMIZER, torch.optim.SGD)
"#;

/// `sharding_plan` and `torchrec_storage_per_rank`: PLACEMENT for TorchRec.
const PLACEMENT_PY: &str = include_str!("torchrec_placement.py");

/// `quantize` and `allocated_bytes`: the INT8 inference collection of an int8 plan.
const QUANT_PY: &str = include_str!("torchrec_quant.py");

/// The trainer script of a package (`DIR/train.py`).
const TRAIN_PY: &str = include_str!("torchrec_train.py");

/// The module's file name inside a package; `train.py` imports it.
pub const MODULE_FILE: &str = "embplan_tables.py";

/// A TorchRec package: the files of `export --format torchrec -o DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// (file name, contents): the tables module, `train.py` (torchrun-ready), `__init__.py`.
    pub files: Vec<(&'static str, String)>,
    /// Caveats that do not stop the export.
    pub warnings: Vec<String>,
}

/// The TorchRec package of `plan`.
pub fn torchrec_package(plan: &Plan) -> Result<Package> {
    let module = TorchRec.export(plan)?;
    let init = "\"\"\"The plan's TorchRec tables (see embplan_tables.py) and train.py.\"\"\"\n\nfrom .embplan_tables import *  # noqa: F401,F403\n";
    let files = vec![
        (MODULE_FILE, module.text),
        ("train.py", TRAIN_PY.to_string()),
        ("__init__.py", init.to_string()),
    ];
    Ok(Package {
        files,
        warnings: module.warnings,
    })
}

/// `PLACEMENT = {...}`: the plan's devices and each sub-table's sharding (rank for
/// table-wise), or `None` for a plan made without `--devices`.
fn placement_literal(plan: &Plan) -> String {
    let Some(p) = &plan.placement else {
        return "# Made without --devices: TorchRec's planner chooses the sharding.\nPLACEMENT = None\n"
            .to_string();
    };
    let t = p.topology;
    let mut s = String::from(
        "# Where `embplan plan --devices` put each table; train.py shards with it.\nPLACEMENT = {\n",
    );
    let _ = writeln!(s, "    \"devices\": {},", t.devices);
    let _ = writeln!(s, "    \"device_memory\": {},", t.device_memory);
    let _ = writeln!(s, "    \"batch\": {},", t.batch);
    s.push_str("    \"tables\": {\n");
    for table in &p.tables {
        let (kind, rank) = match (table.sharding, table.rank) {
            (Sharding::TableWise, Some(r)) => ("table_wise", r.to_string()),
            _ => ("row_wise", "None".to_string()),
        };
        let _ = writeln!(
            s,
            "        {}: ({}, {rank}),",
            py_str(&table.table),
            py_str(kind)
        );
    }
    s.push_str("    },\n");
    let bytes: Vec<String> = p.loads.iter().map(|l| l.bytes().to_string()).collect();
    let _ = writeln!(
        s,
        "    \"device_bytes\": [{}],  # per rank: tables + optimizer + buffers, as embplan counts them",
        bytes.join(", ")
    );
    s.push_str("}\n");
    s
}

impl Exporter for TorchRec {
    fn export(&self, plan: &Plan) -> Result<Exported> {
        check_limits(plan)?;
        // Sub-table names are TorchRec table and KJT feature keys: they must be unique.
        let mut seen: HashMap<String, &str> = HashMap::new();
        for f in &plan.features {
            for name in sub_table_names(f) {
                if let Some(other) = seen.insert(name.clone(), f.name()) {
                    bail!(
                        "cannot export to torchrec: features '{other}' and '{}' both give a table named '{name}'; rename one",
                        f.name()
                    );
                }
            }
        }
        let costs = plan.costs()?;
        let mut s = docstring(plan, "TorchRec embedding tables", USAGE)?;
        s.push_str("\nfrom typing import List\n\nimport torch\nfrom torch import nn\n");
        s.push_str(
            "from torchrec.modules.embedding_configs import DataType, EmbeddingBagConfig, PoolingType\n",
        );
        s.push_str("from torchrec.sparse.jagged_tensor import KeyedJaggedTensor, KeyedTensor\n\n");
        let _ = writeln!(s, "PARAMS = {}", costs.total.params);
        let _ = writeln!(s, "WEIGHT_BYTES = {}", costs.total.weight_bytes);
        let _ = writeln!(s, "OPTIMIZER = {}", py_str(plan.optimizer.name()));
        let _ = writeln!(s, "OPTIMIZER_BYTES = {}\n", costs.total.optimizer_bytes);
        s.push_str(&features_literal(plan));
        s.push_str("\nTABLES = [\n");
        let mut odd_dims = Vec::new();
        for f in &plan.features {
            let inits = table_inits(f, InitMode::Standard);
            for ((name, shape), init) in sub_table_names(f).iter().zip(f.tables()).zip(inits) {
                if !shape.dim.is_multiple_of(4) {
                    odd_dims.push(format!("{name} ({})", shape.dim));
                }
                let name = py_str(name);
                let _ = write!(
                    s,
                    "    EmbeddingBagConfig(\n        name={name},\n        num_embeddings={},\n        embedding_dim={},\n        feature_names=[{name}],\n        data_type={},\n        pooling=PoolingType.SUM,\n        weight_init_min={},\n        weight_init_max={},\n    ),\n",
                    shape.rows,
                    shape.dim,
                    data_type(plan.dtype),
                    py_float(init.low),
                    py_float(init.high),
                );
            }
        }
        s.push_str("]\n\n");
        s.push_str(&placement_literal(plan));
        s.push_str("\n\n");
        s.push_str(HELPERS);
        s.push_str(MODULES);
        s.push_str(PLACEMENT_PY);
        if plan.dtype == Dtype::Int8 {
            s.push_str(QUANT_PY);
        }
        let mut out = Exported::text(s);
        if !odd_dims.is_empty() {
            out.warnings.push(format!(
                "FBGEMM's table-batched embeddings need embedding_dim % 4 == 0; these tables do not have it: {}",
                odd_dims.join(", ")
            ));
        }
        Ok(out)
    }
}
