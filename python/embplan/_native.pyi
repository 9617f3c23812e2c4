"""Type stubs of embplan's native core (the Rust library, compiled with pyo3)."""

import os
from typing import Any

__version__: str

class Error(Exception):
    """Every embplan failure."""

class InvalidSchema(Error):
    """A schema that cannot be read or is invalid."""

class InvalidPlan(Error):
    """A plan file that cannot be read, is invalid, or a plan that cannot be built."""

class InfeasibleBudget(Error):
    """A budget below the smallest plan the search space allows (or that no placement fits)."""

class NotComplementary(Error):
    """Partitions that give two ids the same code, where complementary ones were required."""

class InvalidArgument(Error):
    """An argument outside what embplan accepts (a size, a family, a combiner, ...)."""

class Schema:
    """A validated schema: features with their cardinalities and dims, the dtype and optimizer."""

    @staticmethod
    def load(path: str | os.PathLike[str]) -> Schema:
        """Reads and validates a schema file (TOML), as every command does."""
    @staticmethod
    def from_features(
        features: list[dict[str, Any]],
        *,
        dim: int = 16,
        dtype: str = "f32",
        optimizer: str = "adagrad",
        name: str | None = None,
    ) -> Schema:
        """A schema from feature dicts such as {"name": "user", "cardinality": 1_000_000}."""
    @property
    def name(self) -> str | None: ...
    @property
    def dtype(self) -> str: ...
    @property
    def optimizer(self) -> str: ...
    @property
    def features(self) -> list[dict[str, Any]]:
        """The features as dicts: name, cardinality, dim, weight."""
    def to_toml(self) -> str:
        """The schema as TOML text (a schema file)."""
    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the schema file (TOML), atomically."""
    @property
    def profile(self) -> dict[str, Any] | None:
        """A profiled schema's measurements: {"data": ..., "features": [(name, profile)]}."""
    def __len__(self) -> int: ...

class Table:
    """One table of a feature: its export name, shape and exact bytes."""

    name: str
    rows: int
    dim: int
    weight_bytes: int
    bytes: int

class Feature:
    """One feature of a plan: its scheme, combiner and tables."""

    name: str
    cardinality: int
    dim: int
    scheme: str
    family: str
    combiner: str | None
    tables: list[Table]
    bytes: int
    predicted_loss: float | None

class Plan:
    """A plan: every feature's scheme, combiner and tables, with exact counts."""

    @staticmethod
    def load(path: str | os.PathLike[str]) -> Plan:
        """Reads and validates a plan file (.toml or .json)."""
    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the plan file (.toml or .json by extension), atomically."""
    @property
    def bytes(self) -> int:
        """Weights + optimizer state, exactly as `embplan estimate` counts them."""
    @property
    def weight_bytes(self) -> int: ...
    @property
    def optimizer_bytes(self) -> int: ...
    @property
    def params(self) -> int: ...
    @property
    def full_bytes(self) -> int | None: ...
    @property
    def predicted_loss(self) -> float | None: ...
    @property
    def dtype(self) -> str: ...
    @property
    def optimizer(self) -> str: ...
    @property
    def features(self) -> list[Feature]: ...
    @property
    def placement(self) -> dict[str, Any] | None:
        """Where the tables go on devices (a plan made with devices=...)."""
    def verify(self, *, strict: bool = False) -> list[tuple[str, bool]]:
        """(feature, complementary) for every feature; NotComplementary when strict and not."""
    def to_dict(self) -> dict[str, Any]:
        """The plan file's JSON as a dict."""
    def export(self, format: str) -> str:
        """What `embplan export --format FORMAT` writes: pytorch, torchrec, dlrm, json, toml."""
    def __len__(self) -> int: ...

class Verdict:
    """A complementarity verdict."""

    complementary: bool
    method: str
    reason: str
    counterexample: tuple[int, int, list[int]] | None
    def __bool__(self) -> bool: ...

def plan(
    schema: Schema,
    budget: int | str | None = None,
    *,
    families: list[str] | None = None,
    combiners: list[str] | None = None,
    allow_hash: bool = False,
    dim_multiple: int = 1,
    target: str = "any",
    hot: bool = True,
    calibration: str | os.PathLike[str] | None = None,
    dtype: str | None = None,
    optimizer: str | None = None,
    devices: int | None = None,
    device_memory: int | str | None = None,
    batch: int = 512,
) -> Plan:
    """The plan of least predicted loss within the budget (and placed on devices), as
    `embplan plan` searches it."""

def uniform(
    schema: Schema,
    baseline: str,
    *,
    combiner: str = "mult",
    threshold: int = 200,
    dim_multiple: int = 1,
    target: str = "any",
) -> Plan:
    """A DLRM-style baseline: "full", "hash:C" or "qr:C", as `embplan plan --uniform`."""

def verify(
    cardinality: int | None = None,
    *,
    qr: int | None = None,
    radix: list[int] | None = None,
    crt: list[int] | None = None,
    hash: int | None = None,
    partitions: str | os.PathLike[str] | None = None,
    hot: int | None = None,
) -> Verdict:
    """Whether one scheme's partitions are complementary, as `embplan verify` proves it."""

def profile(
    paths: list[str | os.PathLike[str]],
    *,
    label: str = "label",
    categorical: list[str] | None = None,
    data_format: str | None = None,
    min_count: int = 1,
    vocab_dir: str | os.PathLike[str] | None = None,
    dim: int = 16,
    name: str | None = None,
    memory: int | None = None,
    threads: int | None = None,
) -> Schema:
    """Measures data files into a profiled schema (and vocabularies), as `embplan profile`."""
