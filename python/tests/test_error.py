"""The exception hierarchy (python/src/error.rs): one class per SDK error family, the SDK's
message intact, never a bare Exception."""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

import attune
import pytest
from conftest import INTERACTIONS_SCHEMA

FAMILIES = [
    attune.InvalidInputError,
    attune.SchemaError,
    attune.ImportError,
    attune.NotFoundError,
    attune.AlreadyExistsError,
    attune.ResourceInUseError,
    attune.LimitExceededError,
    attune.UnsupportedFormatError,
    attune.CorruptDataError,
    attune.StorageError,
    attune.CancelledError,
    attune.ServerError,
]


def test_every_class_is_an_attune_error_in_the_attune_module() -> None:
    for cls in FAMILIES:
        assert issubclass(cls, attune.AttuneError)
        assert cls.__module__ == "attune"
        assert cls.__doc__
    assert issubclass(attune.SchemaError, attune.InvalidInputError)
    assert issubclass(attune.ImportError, attune.InvalidInputError)
    assert attune.AttuneError.__bases__ == (Exception,)


def test_attune_import_error_is_not_the_builtin() -> None:
    import builtins

    assert attune.ImportError is not builtins.ImportError
    assert not issubclass(attune.ImportError, builtins.ImportError)
    # The package's own namespace binds it, the builtin is untouched.
    assert "ImportError" in attune.__all__
    with pytest.raises(builtins.ImportError):
        import attune_no_such_module  # noqa: F401


def test_schema_error_names_the_field(store: attune.Store) -> None:
    bad = dict(INTERACTIONS_SCHEMA)
    bad["fields"] = [f for f in INTERACTIONS_SCHEMA["fields"] if f["name"] != "TIMESTAMP"]
    with pytest.raises(attune.SchemaError) as e:
        store.create_schema("s", bad)
    assert type(e.value) is attune.SchemaError
    assert str(e.value).startswith("invalid schema: ")
    assert "TIMESTAMP" in str(e.value)


def test_invalid_input_not_found_and_already_exists(store: attune.Store) -> None:
    with pytest.raises(attune.InvalidInputError) as e:
        store.create_dataset_group("no spaces allowed")
    assert str(e.value).startswith('dataset group name "no spaces allowed" is not valid')
    with pytest.raises(attune.NotFoundError) as nf:
        store.dataset_group("missing")
    assert str(nf.value) == "dataset group not found: missing"
    store.create_dataset_group("g")
    with pytest.raises(attune.AlreadyExistsError) as ae:
        store.create_dataset_group("g")
    assert str(ae.value) == "dataset group already exists: g"


def test_resource_in_use(trained: attune.Store) -> None:
    # A campaign needs an ACTIVE version: one in progress is "in use". The version is made by
    # hand; holding its lock file is what a training process does while it runs
    # (sdk/src/store/running.rs), so it reads as in progress until the lock is let go.
    version = trained.list_solution_versions("ranking")[0]
    folder = Path(trained.path) / "solutions" / "ranking" / "versions" / "pending"
    folder.mkdir(parents=True)
    pending = dict(version, status="CREATE IN_PROGRESS")
    arn = pending["solutionVersionArn"] = version["solutionArn"] + "/pending"
    try:
        with open(folder / "training.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            (folder / "version.json").write_text(json.dumps(pending))
            with pytest.raises(
                attune.ResourceInUseError, match="is CREATE IN_PROGRESS, not ACTIVE"
            ):
                trained.solution_metrics(arn)
        # Its "process" is gone: the version reads back as failed, for good.
        for _ in range(2):
            failed = trained.solution_version(arn)
            assert failed["status"] == "CREATE FAILED"
            assert "interrupted" in failed["failureReason"]
    finally:
        shutil.rmtree(folder)


def test_unsupported_format_and_corrupt_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    attune.Store(data)
    (data / "attune-store.json").write_text('{"format": "attune-store", "version": 99}')
    with pytest.raises(attune.UnsupportedFormatError, match="has format version 99"):
        attune.Store(data)
    (data / "attune-store.json").write_text("not json")
    with pytest.raises(attune.CorruptDataError):
        attune.Store(data)


def test_corrupt_model_artifact(trained: attune.Store, tmp_path: Path) -> None:
    version = trained.list_solution_versions("popular")[0]
    vid = version["solutionVersionArn"].rsplit("/", 1)[1]
    artifact = Path(trained.path) / "solutions" / "popular" / "versions" / vid / "model.bin"
    original = artifact.read_bytes()
    try:
        artifact.write_bytes(original[: len(original) // 2])
        with pytest.raises(attune.CorruptDataError):
            trained.load_model(version["solutionVersionArn"])
    finally:
        artifact.write_bytes(original)
    trained.load_model(version["solutionVersionArn"])


def test_storage_error_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(attune.StorageError) as e:
        attune.Store(blocker / "data")
    assert str(blocker) in str(e.value)
