"""embplan.torchrec: the plan's TorchRec collection, built from the Rust library's export,
trains a few steps."""

import torch
from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

import embplan


def test_collection_trains(kaggle_path):
    plan = embplan.plan(embplan.Schema.load(kaggle_path), budget="64MiB", target="torchrec")
    tables = embplan.torchrec.collection(plan)
    assert sum(p.numel() for p in tables.parameters()) == plan.params
    remap = embplan.torchrec.module(plan).RemapIds()
    g = torch.Generator().manual_seed(0)
    batch = 256
    ids = [torch.randint(0, f.cardinality, (batch,), generator=g) for f in plan.features]
    kjt = KeyedJaggedTensor.from_lengths_sync(
        keys=[f.name for f in plan.features],
        values=torch.cat(ids),
        lengths=torch.ones(batch * len(ids), dtype=torch.int32),
    )
    target = torch.randn(batch, generator=g)
    optimizer = torch.optim.Adam(tables.parameters(), lr=0.01)
    losses = []
    for _ in range(20):
        vectors = tables(remap(kjt)).values()
        loss = ((vectors.sum(dim=1) - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
