"""TorchRec modules of a plan; torch and torchrec are imported only when these are called."""

from ._exports import load_export


def module(plan):
    """The plan's generated `torchrec` module (TABLES, RemapIds, CompositionalEmbeddings,
    apply_optimizer, PLACEMENT, sharding_plan, ...), as `export --format torchrec` writes it."""
    return load_export(plan, "torchrec")


def collection(plan, device=None):
    """`CompositionalEmbeddings(device)` of the plan: the EmbeddingBagCollection of its
    sub-tables (at `.ebc`, ready for DistributedModelParallel) and the combiners. Feed it the
    KeyedJaggedTensor that `module(plan).RemapIds()` makes from raw ids in the data loader."""
    return module(plan).CompositionalEmbeddings(device)
