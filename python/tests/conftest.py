"""Shared fixtures: stores on temporary directories, the synthetic dataset, and MovieLens."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attune
import pytest

ROOT = Path(__file__).resolve().parents[2]
MOVIELENS = ROOT.parent / "shared" / "data" / "ml-latest-small"

INTERACTIONS_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}

ITEMS_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TITLE", "type": ["null", "string"], "textual": True},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
    ],
    "version": "1.0",
}

# iALS only: `auto` also validates EASE, which is slower and not what these tests are about.
FAST_RANKING = {"algorithm": "ials", "iterations": 8, "factors": 32}


def movielens_or_skip(test: str) -> Path:
    """The MovieLens folder, or a skip (with the reason printed) when it is absent."""
    if (MOVIELENS / "ratings.csv").is_file() and (MOVIELENS / "movies.csv").is_file():
        return MOVIELENS
    message = f"skipping {test}: the MovieLens data is not at {MOVIELENS} (ratings.csv, movies.csv)"
    print(message)
    pytest.skip(message)


@pytest.fixture
def store(tmp_path: Path) -> attune.Store:
    """An empty store."""
    return attune.Store(tmp_path / "data")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The synthetic dataset (CSV files and schemas), written once per run."""
    out = tmp_path_factory.mktemp("generated")
    return dict(attune.generate(out, users=300, items=400, interactions=20_000, seed=7))


def load_generated(store: attune.Store, generated: dict[str, Any], group: str = "g") -> None:
    """Imports the synthetic interactions, items and users into a new group."""
    store.create_dataset_group(group)
    for ty, csv, schema in [
        ("Interactions", "interactions_csv", "interactions_schema"),
        ("Items", "items_csv", "items_schema"),
        ("Users", "users_csv", "users_schema"),
    ]:
        name = f"{group}-{ty.lower()}"
        store.create_schema(name, Path(generated[schema]).read_text())
        store.create_dataset(group, ty, name).import_csv(generated[csv], progress=False)


@pytest.fixture
def loaded(store: attune.Store, generated: dict[str, Any]) -> attune.Store:
    """A store whose group `g` holds the synthetic data."""
    load_generated(store, generated)
    return store


@pytest.fixture(scope="session")
def trained(
    tmp_path_factory: pytest.TempPathFactory, generated: dict[str, Any]
) -> Iterator[attune.Store]:
    """A store with the synthetic data and one ACTIVE version of `ranking` (iALS), `sims`
    (Similar-Items) and `popular` (Popularity-Count). Tests must not change it."""
    store = attune.Store(tmp_path_factory.mktemp("trained") / "data")
    load_generated(store, generated)
    store.create_solution("ranking", "g", hyperparameters=FAST_RANKING)
    store.create_solution("sims", "g", "attune-similar-items")
    store.create_solution("popular", "g", "attune-popularity-count")
    for s in ["ranking", "sims", "popular"]:
        store.create_solution_version(s, progress=False)
    yield store


@pytest.fixture(autouse=True)
def _no_data_dir_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests name their data directories; the environment must not matter."""
    monkeypatch.delenv("ATTUNE_DATA_DIR", raising=False)
    os.environ.pop("ATTUNE_DATA_DIR", None)
