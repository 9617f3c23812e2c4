"""embplan.torch: the plan's PyTorch module, built from the Rust library's export."""

import torch

import embplan


def test_embedding_matches_the_plan(kaggle_path):
    plan = embplan.plan(embplan.Schema.load(kaggle_path), budget="256MiB")
    model = embplan.torch.embedding(plan)
    assert sum(p.numel() for p in model.parameters()) == plan.params
    assert sum(p.numel() * p.element_size() for p in model.parameters()) == plan.weight_bytes
    ids = {f.name: torch.tensor([0, f.cardinality - 1]) for f in plan.features}
    out = model(ids)
    for f in plan.features:
        assert out[f.name].shape == (2, f.dim)
    scripted = torch.jit.script(model)
    again = scripted(ids)
    assert all(torch.equal(again[k], out[k]) for k in out)
