"""Attune in Python: import data, train and evaluate recommenders, and rank items, in-process.

The package is a thin layer over Attune's Rust SDK, on the same data directory (the embedded
store) the ``attune`` command and the server use::

    import attune

    store = attune.Store("attune-data")
    store.create_dataset_group("shop")
    store.create_schema("shop-interactions", schema_dict)
    interactions = store.create_dataset("shop", "Interactions", "shop-interactions")
    interactions.import_dataframe(df)                 # or import_csv(path), import_records(rows)
    store.create_solution("ranking", "shop")          # attune-personalized-ranking
    version = store.create_solution_version("ranking")
    print(store.solution_metrics(version["solutionVersionArn"]))
    model = store.load_model(version["solutionVersionArn"])
    model.rank("user-1", ["item-1", "item-2", "item-3"])

Long calls (imports, training, evaluation, inference) release the GIL, so other Python
threads keep running. Every error is an ``attune.AttuneError`` subclass with the SDK's message:
``InvalidInputError`` (and its ``SchemaError`` and ``ImportError``), ``NotFoundError``,
``AlreadyExistsError``, ``ResourceInUseError``, ``LimitExceededError``,
``UnsupportedFormatError``, ``CorruptDataError``, ``StorageError``, ``CancelledError`` and
``ServerError``.

``attune.ImportError`` (a failed dataset import) is not Python's builtin ``ImportError``:
``from attune import *`` would shadow the builtin, so import the package as ``attune`` and
write ``attune.ImportError``. Inside this package the class is only ever named
``_native.ImportError``, and this module binds the name last.
"""

from __future__ import annotations

from . import _native
from ._native import (
    MAX_INPUT_ITEMS,
    AlreadyExistsError,
    AttuneError,
    CancelledError,
    CorruptDataError,
    Dataset,
    InvalidInputError,
    LimitExceededError,
    Model,
    NotFoundError,
    ProgressUpdate,
    ResourceInUseError,
    SchemaError,
    ServerError,
    StorageError,
    Store,
    UnsupportedFormatError,
    generate,
)
from ._progress import ProgressArg, TextProgress, TqdmProgress
from ._types import (
    CampaignInfo,
    DatasetGroupInfo,
    DatasetInfo,
    EventTrackerInfo,
    ImportJobInfo,
    Insights,
    RowError,
    SchemaInfo,
    SolutionInfo,
    SolutionVersionInfo,
    Split,
)
from .client import Client

# The workspace version ([workspace.package] in Cargo.toml), which maturin gives the wheel.
__version__ = "0.1.0"

__all__ = [
    "MAX_INPUT_ITEMS",
    "AlreadyExistsError",
    "AttuneError",
    "CampaignInfo",
    "CancelledError",
    "Client",
    "CorruptDataError",
    "Dataset",
    "DatasetGroupInfo",
    "DatasetInfo",
    "EventTrackerInfo",
    "ImportError",
    "ImportJobInfo",
    "Insights",
    "InvalidInputError",
    "LimitExceededError",
    "Model",
    "NotFoundError",
    "ProgressArg",
    "ProgressUpdate",
    "ResourceInUseError",
    "RowError",
    "SchemaError",
    "SchemaInfo",
    "ServerError",
    "SolutionInfo",
    "SolutionVersionInfo",
    "Split",
    "StorageError",
    "Store",
    "TextProgress",
    "TqdmProgress",
    "UnsupportedFormatError",
    "generate",
]

# Bound last, and used nowhere in this module: from here on `ImportError` in this module's
# globals is attune's, not the builtin (see the module docstring).
ImportError = _native.ImportError
