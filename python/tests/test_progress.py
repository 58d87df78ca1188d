"""The progress argument (py_src/attune/_progress.py and python/src/progress.rs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attune
import pytest
from attune import _progress


def test_resolve() -> None:
    assert _progress.resolve(None) is None  # not in a notebook
    assert _progress.resolve(False) is None
    calls: list[Any] = []
    assert _progress.resolve(calls.append) == calls.append
    bar = _progress.resolve(True)
    assert isinstance(bar, (attune.TqdmProgress, attune.TextProgress))
    with pytest.raises(TypeError, match="progress: give a callable, True, False or None"):
        _progress.resolve(3)  # type: ignore[arg-type]


def test_import_progress_is_rate_limited(store: attune.Store, generated: dict[str, Any]) -> None:
    store.create_dataset_group("g")
    store.create_schema("s", Path(generated["interactions_schema"]).read_text())
    ds = store.create_dataset("g", "Interactions", "s")
    updates: list[attune.ProgressUpdate] = []
    ds.import_csv(generated["interactions_csv"], progress=updates.append)
    size = Path(generated["interactions_csv"]).stat().st_size
    assert updates[0].kind == "start" and updates[0].stage == "import"
    assert updates[0].total == size
    assert updates[-1].kind == "finish" and updates[-1].done == size
    # A 20,000-row file reports progress every 16,384 rows, and at most every 100 ms.
    assert len(updates) <= 4


def test_text_progress_prints_lines(
    store: attune.Store, generated: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    store.create_dataset_group("g")
    store.create_schema("s", Path(generated["items_schema"]).read_text())
    ds = store.create_dataset("g", "Items", "s")
    ds.import_csv(generated["items_csv"], progress=attune.TextProgress())
    err = capsys.readouterr().err
    assert "import: started of" in err
    assert "import: done" in err


def test_tqdm_progress_draws_bars() -> None:
    events: list[Any] = []

    class FakeBar:
        def __init__(self, total: Any, desc: str, leave: bool) -> None:
            self.n = 0
            events.append(("new", desc, total))

        def update(self, k: int) -> None:
            self.n += k
            events.append(("update", k))

        def close(self) -> None:
            events.append(("close",))

        @staticmethod
        def write(msg: str) -> None:
            events.append(("write", msg))

    class Update:
        def __init__(self, kind: str, done: int = 0, message: Any = None) -> None:
            self.kind, self.stage, self.done, self.total, self.message = (
                kind,
                "s",
                done,
                10,
                message,
            )

    bar = attune.TqdmProgress(FakeBar)
    for u in [
        Update("start"),
        Update("advance", 4),
        Update("message", 4, "hi"),
        Update("finish", 10),
    ]:
        bar(u)  # type: ignore[arg-type]
    assert events == [("new", "s", 10), ("update", 4), ("write", "hi"), ("update", 6), ("close",)]
