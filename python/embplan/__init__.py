"""embplan: plan memory-efficient compositional embedding tables for recommendation models.

The planner, the byte counts, the index maps and the proofs are the embplan Rust library
(the same code as the `embplan` command), compiled into `embplan._native`:

    import embplan
    schema = embplan.Schema.load("schemas/criteo-kaggle.toml")
    plan = embplan.plan(schema, budget="1GiB", target="torchrec")
    plan.bytes, plan.predicted_loss, plan.features[2].scheme
    model = embplan.torch.embedding(plan)          # a torch.nn.Module (torch imported here)
    tables = embplan.torchrec.collection(plan)     # TorchRec's module (torchrec imported here)
"""

from ._native import (
    Error,
    Feature,
    InfeasibleBudget,
    InvalidArgument,
    InvalidPlan,
    InvalidSchema,
    NotComplementary,
    Plan,
    Schema,
    Table,
    Verdict,
    __version__,
    plan,
    profile,
    uniform,
    verify,
)
from . import torch, torchrec  # noqa: E402  (both import torch/torchrec lazily)

__all__ = [
    "Error",
    "Feature",
    "InfeasibleBudget",
    "InvalidArgument",
    "InvalidPlan",
    "InvalidSchema",
    "NotComplementary",
    "Plan",
    "Schema",
    "Table",
    "Verdict",
    "__version__",
    "plan",
    "profile",
    "torch",
    "torchrec",
    "uniform",
    "verify",
]
