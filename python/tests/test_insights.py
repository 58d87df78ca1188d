"""Data insights as a dict (python/src/store.rs over sdk/src/insights.rs)."""

from __future__ import annotations

import attune


def test_insights_of_a_group(loaded: attune.Store) -> None:
    ins = loaded.insights("g")
    assert ins["datasetGroup"] == "g"
    assert [d["datasetType"] for d in ins["datasets"]] == ["Interactions", "Users", "Items"]
    inter = ins["datasets"][0]
    assert inter["records"]["total"] == 20_000
    assert inter["columnCount"] == 5
    stats = inter.get("interactions")
    assert stats is not None and stats["uniqueUsers"] == 300
    assert isinstance(ins["findings"], list)
    for f in ins["findings"]:
        assert f["severity"] in {"error", "warning", "info"}


def test_insights_of_an_empty_group(store: attune.Store) -> None:
    store.create_dataset_group("empty")
    ins = store.insights("empty")
    assert ins["datasets"] == []
