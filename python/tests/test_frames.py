"""pandas: DataFrame imports with the CSV checks, DataFrames back out, insights as a DataFrame
(py_src/attune/_frames.py with python/src/dataset.rs)."""

from __future__ import annotations

import attune
import numpy as np
import pandas as pd
import pytest
from conftest import INTERACTIONS_SCHEMA, ITEMS_SCHEMA


def frame(n: int) -> pd.DataFrame:
    k = np.arange(n)
    return pd.DataFrame(
        {
            "USER_ID": k % 97,  # int64 ids are written as their decimal text
            "ITEM_ID": [f"i{j % 131}" for j in k],
            "EVENT_TYPE": np.where(k % 2 == 0, "click", "purchase"),
            "EVENT_VALUE": np.where(k % 5 == 0, np.nan, (k % 10) / 2),
            "TIMESTAMP": 1_700_000_000 + k,
        }
    )


@pytest.fixture
def interactions(store: attune.Store) -> attune.Dataset:
    store.create_dataset_group("g")
    store.create_schema("g-i", INTERACTIONS_SCHEMA)
    return store.create_dataset("g", "Interactions", "g-i")


def test_dataframe_round_trip(interactions: attune.Dataset) -> None:
    df = frame(5000)
    job = interactions.import_dataframe(df, job_name="df", progress=False)
    assert (job["status"], job["rowsImported"], job["dataLocation"]) == (
        "ACTIVE",
        5000,
        "DataFrame",
    )
    back = interactions.to_dataframe()
    assert list(back.columns) == interactions.columns
    expected = df.assign(USER_ID=df["USER_ID"].astype(str))[interactions.columns]
    expected["EVENT_VALUE"] = expected["EVENT_VALUE"].astype("float32").astype("float64")
    pd.testing.assert_frame_equal(
        back.astype({"EVENT_VALUE": "float64"}), expected, check_dtype=False
    )


def test_column_order_and_datetimes(interactions: attune.Dataset) -> None:
    df = frame(1000)
    df["TIMESTAMP"] = pd.to_datetime(df["TIMESTAMP"], unit="s", utc=True).dt.tz_convert(
        "Europe/Paris"
    )
    df = df[["TIMESTAMP", "EVENT_VALUE", "EVENT_TYPE", "ITEM_ID", "USER_ID"]]
    interactions.import_dataframe(df, progress=False)
    back = interactions.read()
    assert back["TIMESTAMP"][:2] == [1_700_000_000, 1_700_000_001]


def test_nullable_and_string_dtypes(interactions: attune.Dataset) -> None:
    df = frame(1000)
    df["USER_ID"] = df["USER_ID"].astype("Int64").astype("string")
    df["EVENT_TYPE"] = df["EVENT_TYPE"].astype("category")
    df["EVENT_VALUE"] = pd.array(
        [None if pd.isna(v) else v for v in df["EVENT_VALUE"]], dtype="Float64"
    )
    interactions.import_dataframe(df, progress=False)
    back = interactions.read()
    assert back["USER_ID"][:3] == ["0", "1", "2"]
    assert back["EVENT_VALUE"][:2] == [None, 0.5]
    assert back["EVENT_TYPE"][:2] == ["click", "purchase"]


def test_bad_values_name_row_and_column(interactions: attune.Dataset) -> None:
    df = frame(2000).astype({"TIMESTAMP": object})
    df.loc[7, "TIMESTAMP"] = 1.5
    df.loc[9, "EVENT_VALUE"] = np.inf
    with pytest.raises(attune.ImportError) as e:
        interactions.import_dataframe(df, job_name="bad", progress=False)
    errors = e.value.row_errors
    assert errors[0] == {
        "file": "DataFrame",
        "line": 8,
        "column": "TIMESTAMP",
        "message": '"1.5" is not a Unix timestamp in whole seconds',
    }
    assert errors[1]["line"] == 10
    assert errors[1]["column"] == "EVENT_VALUE"
    assert errors[1]["message"] == '"inf" is not a finite float'
    assert interactions.bulk_rows() == 0


def test_float_timestamps_that_are_whole_numbers_follow_the_csv_rule(
    interactions: attune.Dataset,
) -> None:
    # Written to CSV, a float64 column holds "1700000000.0": not whole seconds, as in the CLI.
    df = frame(1000).astype({"TIMESTAMP": "float64"})
    with pytest.raises(attune.ImportError, match='"1700000000.0" is not a Unix timestamp'):
        interactions.import_dataframe(df, progress=False)


def test_missing_and_extra_columns(interactions: attune.Dataset) -> None:
    with pytest.raises(
        attune.InvalidInputError, match=r"missing the following columns:\[TIMESTAMP\]"
    ):
        interactions.import_dataframe(frame(1000).drop(columns=["TIMESTAMP"]), progress=False)
    with pytest.raises(attune.InvalidInputError, match="column EXTRA is not a field"):
        interactions.import_dataframe(frame(1000).assign(EXTRA=1), progress=False)
    with pytest.raises(TypeError, match="expected a pandas DataFrame"):
        interactions.import_dataframe({"USER_ID": [1]}, progress=False)  # type: ignore[arg-type]


def test_items_with_text_and_genres(store: attune.Store) -> None:
    store.create_dataset_group("g")
    store.create_schema("items", ITEMS_SCHEMA)
    items = store.create_dataset("g", "Items", "items")
    df = pd.DataFrame(
        {
            "ITEM_ID": [1, 2, 3],
            "TITLE": ['Quotes "inside", and a comma', "back\\slash", None],
            "GENRES": ["Drama|Comedy", None, "Action"],
        }
    )
    items.import_dataframe(df, progress=False)
    back = items.read()
    assert back["TITLE"] == ['Quotes "inside", and a comma', "back\\slash", None]
    assert back["GENRES"] == ["Drama|Comedy", None, "Action"]
    assert items.to_dataframe()["TITLE"].isna().tolist() == [False, False, True]


def test_insights_frame(loaded: attune.Store) -> None:
    frame_ = loaded.insights_frame("g")
    assert {"dataset", "name", "type", "missing", "distinct"} <= set(frame_.columns)
    assert set(frame_["dataset"]) == {"Interactions", "Items", "Users"}
    row = frame_[(frame_["dataset"] == "Interactions") & (frame_["name"] == "USER_ID")].iloc[0]
    assert row["distinct"] == 300
