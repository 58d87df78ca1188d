"""Long calls release the GIL: another Python thread keeps running while training runs in
Rust (python/src/error.rs `run` and python/src/progress.rs `run_with`)."""

from __future__ import annotations

import threading
import time
from typing import Any

import attune


def test_another_thread_keeps_running_while_training(loaded: attune.Store) -> None:
    # Enough iALS work (a few tenths of a second or more) to watch another thread run.
    loaded.create_solution(
        "slow", "g", hyperparameters={"algorithm": "ials", "iterations": 200, "factors": 192}
    )
    done = threading.Event()
    result: dict[str, Any] = {}

    def train() -> None:
        try:
            result["version"] = loaded.create_solution_version(
                "slow", evaluate=False, threads=1, progress=False
            )
        finally:
            done.set()

    worker = threading.Thread(target=train)
    start = last = time.perf_counter()
    worker.start()
    spins = 0
    longest_pause = 0.0
    # This thread spins while the other trains. Were the GIL held during training, this loop
    # would stand still for the whole training; released, it never pauses for long.
    while not done.is_set():
        now = time.perf_counter()
        longest_pause = max(longest_pause, now - last)
        last = now
        spins += 1
    worker.join()
    elapsed = time.perf_counter() - start
    assert result["version"]["status"] == "ACTIVE"
    assert elapsed > 0.2, f"training took only {elapsed:.3f} s: too short to tell"
    assert longest_pause < elapsed / 2, (
        f"this thread stood still for {longest_pause:.3f} s of {elapsed:.3f} s of training"
    )
    assert spins > 1000


def test_inference_and_imports_release_the_gil_too(trained: attune.Store) -> None:
    # Many threads ranking at once all finish with the same answers as one thread alone.
    model = trained.load_model("ranking")
    items = [f"i{k}" for k in range(1, 200)]
    expected = model.rank("u3", items)
    results = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            r = model.rank("u3", items)
            with lock:
                results.append(r)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200
    assert all(r == expected for r in results)
