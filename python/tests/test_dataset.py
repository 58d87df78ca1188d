"""Imports and reading back (python/src/dataset.rs): CSV files, iterables of records, job
bookkeeping, and the CLI's validation and error reporting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attune
import pytest
from conftest import INTERACTIONS_SCHEMA, ITEMS_SCHEMA


def interactions(store: attune.Store) -> attune.Dataset:
    store.create_dataset_group("g")
    store.create_schema("g-i", INTERACTIONS_SCHEMA)
    return store.create_dataset("g", "Interactions", "g-i")


def rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "USER_ID": f"u{k % 50}",
            "ITEM_ID": f"i{k % 70}",
            "EVENT_TYPE": "click",
            "EVENT_VALUE": None if k % 3 else 1.5,
            "TIMESTAMP": 1_700_000_000 + k,
        }
        for k in range(n)
    ]


def write_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP"]
    for r in records:
        value = "" if r["EVENT_VALUE"] is None else str(r["EVENT_VALUE"])
        lines.append(f"{r['USER_ID']},{r['ITEM_ID']},{r['EVENT_TYPE']},{value},{r['TIMESTAMP']}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_dataset_properties(store: attune.Store) -> None:
    ds = interactions(store)
    assert ds.dataset_group == "g"
    assert ds.dataset_type == "Interactions"
    assert ds.arn.endswith("dataset/g/INTERACTIONS")
    assert ds.info["datasetArn"] == ds.arn
    assert ds.columns == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]
    assert '"Interactions"' in ds.schema
    assert repr(ds) == 'Dataset(dataset_group="g", dataset_type="Interactions")'
    assert ds.bulk_rows() == 0


def test_import_csv_and_read_back(store: attune.Store, tmp_path: Path) -> None:
    ds = interactions(store)
    data = rows(1500)
    job = ds.import_csv(write_csv(tmp_path / "i.csv", data), job_name="first", progress=False)
    assert (job["status"], job["rowsImported"], job["jobName"]) == ("ACTIVE", 1500, "first")
    assert job["dataLocation"] == str(tmp_path / "i.csv")
    assert ds.bulk_rows() == 1500
    back = ds.read()
    assert list(back) == ds.columns
    assert back["USER_ID"][:2] == ["u0", "u1"]
    assert back["EVENT_VALUE"][:3] == [1.5, None, None]
    assert back["TIMESTAMP"][-1] == 1_700_000_000 + 1499
    assert [j["jobName"] for j in ds.import_jobs()] == ["first"]
    assert ds.import_job("first")["rowsImported"] == 1500


def test_a_bad_csv_fails_like_the_cli(store: attune.Store, tmp_path: Path) -> None:
    ds = interactions(store)
    data = rows(1500)
    path = write_csv(tmp_path / "bad.csv", data)
    lines = path.read_text().splitlines()
    lines[11] = "u1,i1,click,abc,1700000000"
    lines[20] = "u1,i1,click,1.0,yesterday"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(attune.ImportError) as e:
        ds.import_csv(path, job_name="bad", progress=False)
    err = e.value
    assert str(err) == (
        f'import failed: {path} line 12, column EVENT_VALUE: "abc" is not a finite float '
        "(2 bad rows in all)"
    )
    assert err.bad_rows == 2
    assert err.reason.startswith(f"{path} line 12")
    assert err.row_errors[1] == {
        "file": str(path),
        "line": 21,
        "column": "TIMESTAMP",
        "message": '"yesterday" is not a Unix timestamp in whole seconds',
    }
    job = ds.import_job("bad")
    assert job["status"] == "CREATE FAILED"
    assert job["badRows"] == 2
    assert ds.bulk_rows() == 0


def test_import_records(store: attune.Store) -> None:
    ds = interactions(store)
    job = ds.import_records(iter(rows(1200)), progress=False)
    assert job["rowsImported"] == 1200
    assert job["jobName"].startswith("import-interactions-")
    assert job["dataLocation"] == "records"
    # A second job gets another default name; INCREMENTAL appends.
    job2 = ds.import_records(rows(1000), mode="INCREMENTAL", progress=False)
    assert job2["jobName"] != job["jobName"]
    assert ds.bulk_rows() == 2200


def test_bad_records_are_reported_by_position_and_column(store: attune.Store) -> None:
    ds = interactions(store)
    data: list[dict[str, Any]] = rows(1200)
    data[2]["TIMESTAMP"] = 1.5
    data[4] = {k: v for k, v in data[4].items() if k != "EVENT_TYPE"}
    data[6]["EXTRA"] = 1
    data[8]["USER_ID"] = 'has"quote'
    data[9]["ITEM_ID"] = object()
    with pytest.raises(attune.ImportError) as e:
        ds.import_records(data, job_name="bad", progress=False)
    errs = e.value.row_errors
    assert [(r["line"], r["column"]) for r in errs] == [
        (3, "TIMESTAMP"),
        (5, None),
        (7, None),
        (9, "USER_ID"),
        (10, None),
    ]
    assert errs[0]["message"] == '"1.5" is not a Unix timestamp in whole seconds'
    assert "no key EVENT_TYPE" in errs[1]["message"]
    assert "the key EXTRA" in errs[2]["message"]
    assert errs[4]["message"].startswith("column ITEM_ID: a value of type object is not supported")
    assert e.value.bad_rows == 5
    assert str(e.value).startswith("import failed: records line 3, column TIMESTAMP: ")


def test_header_and_minimum_checks(store: attune.Store) -> None:
    ds = interactions(store)
    with pytest.raises(attune.InvalidInputError) as e:
        ds.import_records([{"USER_ID": "u", "ITEM_ID": "i"}], progress=False)
    assert str(e.value) == (
        "records: Input CSV is missing the following columns:[EVENT_TYPE, EVENT_VALUE, TIMESTAMP]"
    )
    with pytest.raises(attune.ImportError, match="needs at least 1000 records; records has 10"):
        ds.import_records(rows(10), progress=False)
    with pytest.raises(attune.InvalidInputError, match="INCREMENTAL import into .* the first"):
        ds.import_records(rows(1000), mode="INCREMENTAL", progress=False)
    with pytest.raises(attune.InvalidInputError, match="importMode"):
        ds.import_records(rows(1000), mode="SOMETIMES", progress=False)


def test_categorical_lists_and_typed_values(store: attune.Store) -> None:
    store.create_dataset_group("g")
    store.create_schema("items", ITEMS_SCHEMA)
    items = store.create_dataset("g", "Items", "items")
    items.import_records(
        [
            {"ITEM_ID": 1, "TITLE": "One, with a comma", "GENRES": ["Drama", "Comedy"]},
            {"ITEM_ID": "2", "TITLE": None, "GENRES": float("nan")},
            {"ITEM_ID": 3, "TITLE": "  padded  ", "GENRES": "Action|"},
        ],
        progress=False,
    )
    back = items.read()
    assert back == {
        "ITEM_ID": ["1", "2", "3"],
        "TITLE": ["One, with a comma", None, "padded"],
        "GENRES": ["Drama|Comedy", None, "Action"],
    }


def test_an_exception_while_iterating_stops_the_job(store: attune.Store) -> None:
    ds = interactions(store)

    def broken():  # type: ignore[no-untyped-def]
        yield from rows(9000)
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        ds.import_records(broken(), job_name="broken", progress=False)
    assert ds.bulk_rows() == 0
    assert ds.import_job("broken")["status"] == "CREATE FAILED"
