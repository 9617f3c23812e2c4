"""PyTorch modules of a plan; torch is imported only when these are called."""

from ._exports import load_export


def module(plan):
    """The plan's generated `pytorch` module (FEATURES, PlanEmbedding, ComposedEmbedding, ...)."""
    return load_export(plan, "pytorch")


def embedding(plan):
    """`PlanEmbedding()` of the plan: {feature: int64 raw ids} -> {feature: vectors}; each
    feature module also takes bags (1-D ids and start offsets). Its index maps come from the
    Rust library; it scripts with torch.jit.script and compiles with torch.compile."""
    return module(plan).PlanEmbedding()
