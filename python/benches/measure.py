"""Two measurements of the Python layer's cost, printed as plain numbers.

    python python/benches/measure.py rank     # Model.rank of 500 candidates, per call
    python python/benches/measure.py import   # Dataset.import_dataframe of 1,000,000 rows

`rank` trains the models of benches/benches/rank.rs (synthetic data: 5,000 users, 2,000 items,
150,000 interactions, seed 7; iALS with 64 factors, and EASE) and times `Model.rank` for the
same three cases; compare with `cargo bench -p benches --bench rank` (the same call in Rust).
`import` builds a DataFrame of 1,000,000 interactions and times `import_dataframe`, then the
same rows written by pandas to CSV and imported with `import_csv`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attune


def per_call(f: Callable[[], object], seconds: float = 3.0) -> float:
    """Median seconds per call over batches filling about `seconds`."""
    f()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            f()
        if time.perf_counter() - t > 0.05:
            break
        n *= 2
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        for _ in range(n):
            f()
        samples.append((time.perf_counter() - t) / n)
    samples.sort()
    return samples[len(samples) // 2]


def rank() -> None:
    work = Path(tempfile.mkdtemp())
    g = attune.generate(work / "data", users=5_000, items=2_000, interactions=150_000, seed=7)
    store = attune.Store(work / "store")
    store.create_dataset_group("g")
    store.create_schema("s", Path(g["interactions_schema"]).read_text())
    store.create_dataset("g", "Interactions", "s").import_csv(g["interactions_csv"], progress=False)
    for algorithm in ["ials", "ease"]:
        hp = {"algorithm": algorithm, **({"factors": 64} if algorithm == "ials" else {})}
        store.create_solution(algorithm, "g", hyperparameters=hp)
        version = store.create_solution_version(algorithm, evaluate=False, progress=False)
        model = store.load_model(version["solutionVersionArn"])
        catalog = model.popular(model.item_count)
        n = len(catalog)
        candidates = [catalog[k * n // 500] for k in range(500)]
        recent = [catalog[k * n // 50 + 1] for k in range(50)]
        user = "u1" if model.has_user("u1") else catalog[0]
        for case, user_id, events in [
            ("known_user", user, None),
            ("known_user_50_recent", user, recent),
            ("anonymous_50_recent", "anonymous-session", recent),
        ]:
            t = per_call(lambda m=model, u=user_id, c=candidates, e=events: m.rank(u, c, e))
            print(f"rank/{algorithm}_500_candidates/{case}: {t * 1e6:.1f} µs per call")


def import_frame() -> None:
    import numpy as np
    import pandas as pd

    n = 1_000_000
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "USER_ID": rng.integers(0, 50_000, n),
            "ITEM_ID": np.char.add("item-", rng.integers(0, 20_000, n).astype(str)),
            "EVENT_TYPE": np.where(rng.random(n) < 0.8, "click", "purchase"),
            "EVENT_VALUE": np.round(rng.random(n) * 5, 1),
            "TIMESTAMP": 1_700_000_000 + np.arange(n),
        }
    )
    work = Path(tempfile.mkdtemp())
    store = attune.Store(work / "store")
    store.create_dataset_group("g")
    store.create_schema(
        "s",
        {
            "type": "record",
            "name": "Interactions",
            "fields": [
                {"name": "USER_ID", "type": "string"},
                {"name": "ITEM_ID", "type": "string"},
                {"name": "EVENT_TYPE", "type": "string"},
                {"name": "EVENT_VALUE", "type": ["null", "float"]},
                {"name": "TIMESTAMP", "type": "long"},
            ],
        },
    )
    ds = store.create_dataset("g", "Interactions", "s")
    t = time.perf_counter()
    ds.import_dataframe(df, progress=False)
    took = time.perf_counter() - t
    print(f"import_dataframe: {n} rows in {took:.2f} s ({n / took:,.0f} rows/s)")
    t = time.perf_counter()
    df.to_csv(work / "frame.csv", index=False)
    wrote = time.perf_counter() - t
    t = time.perf_counter()
    ds.import_csv(work / "frame.csv", progress=False)
    took = time.perf_counter() - t
    print(f"to_csv + import_csv: {wrote:.2f} s + {took:.2f} s ({n / (wrote + took):,.0f} rows/s)")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "rank":
        rank()
    elif what == "import":
        import_frame()
    else:
        sys.exit("usage: measure.py rank|import")
