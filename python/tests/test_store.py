"""Stores, dataset groups, schemas and datasets (python/src/store.rs)."""

from __future__ import annotations

import json
from pathlib import Path

import attune
import pytest
from conftest import INTERACTIONS_SCHEMA, ITEMS_SCHEMA


def test_open_creates_and_reopens(tmp_path: Path) -> None:
    store = attune.Store(tmp_path / "data")
    assert store.path == tmp_path / "data"
    assert repr(store) == f'Store("{tmp_path / "data"}")'
    assert (tmp_path / "data" / "attune-store.json").is_file()
    store.create_dataset_group("g")
    again = attune.Store(str(tmp_path / "data"))
    assert [g["name"] for g in again.list_dataset_groups()] == ["g"]


def test_a_foreign_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(
        attune.InvalidInputError, match="is not empty and is not an Attune data directory"
    ):
        attune.Store(tmp_path)


def test_dataset_groups(store: attune.Store) -> None:
    info = store.create_dataset_group("shop", "ECOMMERCE")
    assert info["name"] == "shop"
    assert info["domain"] == "ECOMMERCE"
    assert info["status"] == "ACTIVE"
    assert info["datasetGroupArn"].endswith(":dataset-group/shop")
    assert store.dataset_group(info["datasetGroupArn"])["name"] == "shop"
    store.create_dataset_group("custom")
    assert "domain" not in store.dataset_group("custom")
    assert [g["name"] for g in store.list_dataset_groups()] == ["custom", "shop"]
    with pytest.raises(attune.InvalidInputError, match="domain"):
        store.create_dataset_group("x", "GAMES")


def test_schemas_from_strings_and_dicts(store: attune.Store) -> None:
    a = store.create_schema("a", json.dumps(INTERACTIONS_SCHEMA))
    b = store.create_schema("b", ITEMS_SCHEMA)
    assert json.loads(a["schema"]) == INTERACTIONS_SCHEMA
    assert json.loads(b["schema"]) == ITEMS_SCHEMA
    assert a["schemaArn"].endswith(":schema/a")
    assert store.schema("b")["name"] == "b"
    assert [s["name"] for s in store.list_schemas()] == ["a", "b"]
    with pytest.raises(attune.SchemaError, match="not valid JSON|JSON"):
        store.create_schema("c", "{not json")


def test_datasets(store: attune.Store) -> None:
    store.create_dataset_group("g")
    store.create_schema("g-i", INTERACTIONS_SCHEMA)
    store.create_schema("g-items", ITEMS_SCHEMA)
    ds = store.create_dataset("g", "Interactions", "g-i")
    assert ds.info["name"] == "g-Interactions"
    named = store.create_dataset("g", "Items", "g-items", name="catalog")
    assert named.info["name"] == "catalog"
    assert store.dataset("g", "Interactions").arn == ds.arn
    assert [d["datasetType"] for d in store.list_datasets("g")] == ["Interactions", "Items"]
    with pytest.raises(attune.InvalidInputError, match="does not match the schema name"):
        store.create_dataset("g", "Users", "g-i")
    with pytest.raises(attune.AlreadyExistsError):
        store.create_dataset("g", "Interactions", "g-i")
    with pytest.raises(attune.NotFoundError, match="dataset not found: Users in dataset group g"):
        store.dataset("g", "Users")
    with pytest.raises(attune.InvalidInputError, match="dataset type"):
        store.dataset("g", "Clicks")


def test_generate_writes_the_synthetic_dataset(tmp_path: Path) -> None:
    g = attune.generate(tmp_path / "gen", users=20, items=30, interactions=500, seed=3)
    assert (g["users"], g["items"], g["interactions"]) == (20, 30, 500)
    for key in ["interactions_csv", "items_csv", "users_csv", "interactions_schema"]:
        assert Path(g[key]).is_file()  # type: ignore[literal-required]
    assert (
        Path(g["interactions_csv"])
        .read_text()
        .startswith("USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP")
    )
    with pytest.raises(attune.InvalidInputError, match="users must be at least 1"):
        attune.generate(tmp_path / "none", users=0)
