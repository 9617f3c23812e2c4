

def quantize(ebc):
    """The float EmbeddingBagCollection of TABLES (trained, or as built) -> TorchRec's quantized
    inference collection with INT8 rows, which takes the same KeyedJaggedTensor and returns
    the same KeyedTensor: swap it in with `tables.ebc = quantize(tables.ebc)`.

    Rows are packed without padding (row_alignment=1), so the collection allocates exactly
    WEIGHT_BYTES, as `embplan estimate` counts them: per table rows x (dim + 4 bytes of fp16
    scale and bias), the table starting on a 128-byte cache line. TorchRec's default row
    alignment of 16 bytes would pad each 20-byte row of a 16-dim table to 32.
    """
    from torch.ao.quantization import PlaceholderObserver, QConfig
    from torchrec.quant.embedding_modules import (
        MODULE_ATTR_ROW_ALIGNMENT_INT,
        EmbeddingBagCollection as QuantEmbeddingBagCollection,
    )

    ebc.qconfig = QConfig(
        activation=PlaceholderObserver.with_args(dtype=torch.float),
        weight=PlaceholderObserver.with_args(dtype=torch.quint8),
    )
    setattr(ebc, MODULE_ATTR_ROW_ALIGNMENT_INT, 1)
    return QuantEmbeddingBagCollection.from_float(ebc)


def allocated_bytes(module):
    """Bytes of the distinct storages behind a module's state (a quantized collection packs
    all its tables into one buffer): what it holds in memory."""
    storages = {}
    for value in module.state_dict().values():
        if isinstance(value, torch.Tensor):
            storage = value.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())
