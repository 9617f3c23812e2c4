

def sharding_plan(ebc, world_size, local_size, device_type):
    """PLACEMENT as TorchRec's per-module sharding plan for `ebc` (the collection inside
    CompositionalEmbeddings): table-wise tables on their ranks, row-wise ones over every
    rank. None when the plan was made without --devices: let TorchRec's planner choose."""
    if PLACEMENT is None:
        return None
    from torchrec.distributed.sharding_plan import construct_module_sharding_plan, row_wise, table_wise

    if world_size != PLACEMENT["devices"]:
        raise ValueError(
            f"the plan is placed on {PLACEMENT['devices']} devices but this run has {world_size} ranks; "
            f"run torchrun --nproc_per_node {PLACEMENT['devices']}, or plan again with --devices {world_size}"
        )
    per_table = {
        name: table_wise(rank=rank) if kind == "table_wise" else row_wise()
        for name, (kind, rank) in PLACEMENT["tables"].items()
    }
    return construct_module_sharding_plan(
        ebc, per_table, local_size=local_size, world_size=world_size, device_type=device_type
    )


def torchrec_storage_per_rank(compute_device="cuda"):
    """TorchRec's own planner's storage estimate of each rank under PLACEMENT, in bytes.

    Its enumerator and storage estimator price every table's shards (weights, the optimizer
    attached by apply_optimizer, input/output buffers at PLACEMENT's batch size) on a topology
    of PLACEMENT's devices; each shard is charged to the rank PLACEMENT puts it on. Compare
    with PLACEMENT["device_memory"] and PLACEMENT["device_bytes"] (embplan's count).

    The default prices GPU devices (HBM): TorchRec's sharder offers no row-wise sharding on
    CPU, though DistributedModelParallel runs a given row-wise plan there, and its CPU (DDR)
    estimate of the other sharding types is the same formula."""
    import logging

    from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
    from torchrec.distributed.planner import ParameterConstraints, Topology
    from torchrec.distributed.planner.enumerators import EmbeddingEnumerator
    from torchrec.distributed.planner.shard_estimators import EmbeddingStorageEstimator

    if PLACEMENT is None:
        raise ValueError("the plan has no placement: plan with --devices N --device-memory SIZE")
    devices = PLACEMENT["devices"]
    # Topology() warns that TopologyFactory should detect the hardware; these are estimates
    # for stated devices, not a job, so the stated capacities are the point.
    logging.getLogger("torchrec.distributed.planner.types").setLevel(logging.ERROR)
    topology = Topology(
        world_size=devices,
        compute_device=compute_device,
        hbm_cap=PLACEMENT["device_memory"],
        ddr_cap=PLACEMENT["device_memory"],
    )
    constraints = {
        name: ParameterConstraints(sharding_types=[kind], compute_kernels=["fused"])
        for name, (kind, _) in PLACEMENT["tables"].items()
    }
    enumerator = EmbeddingEnumerator(
        topology=topology,
        batch_size=PLACEMENT["batch"],
        constraints=constraints,
        estimator=[EmbeddingStorageEstimator(topology=topology, constraints=constraints)],
    )
    tables = CompositionalEmbeddings(device=torch.device("meta"))
    apply_optimizer(tables.ebc, 0.01)
    per_rank = [0] * devices
    for option in enumerator.enumerate(tables, [EmbeddingBagCollectionSharder()]):
        kind, rank = PLACEMENT["tables"][option.name]
        storage = [shard.storage.hbm if compute_device == "cuda" else shard.storage.ddr for shard in option.shards]
        if kind == "table_wise":
            per_rank[rank] += storage[0]
        else:
            for r, bytes_ in enumerate(storage):
                per_rank[r] += bytes_
    return per_rank
