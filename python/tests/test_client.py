"""The client of a running server (py_src/attune/client.py), against a real `attune serve` on
a store that Python trained and deployed a campaign to."""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attune
import pytest
from conftest import FAST_RANKING, ROOT, load_generated

BINARY = Path(os.environ.get("ATTUNE_BIN", ROOT / "target" / "debug" / "attune"))
STARTUP_SECONDS = 60


def server_binary() -> Path:
    """The `attune` binary, built with cargo when it is not there yet."""
    if not BINARY.is_file():
        subprocess.run(
            ["cargo", "build", "-p", "attune-server", "--bin", "attune"], cwd=ROOT, check=True
        )
    return BINARY


class Server:
    """`attune serve` on a free loopback port, until stopped."""

    def __init__(self, data_dir: str) -> None:
        self.process = subprocess.Popen(
            [str(server_binary()), "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise AssertionError("attune serve did not print 'listening on'") from None
            if line is None:
                raise AssertionError("attune serve exited:\n" + "".join(self.output))
            match = re.search(r"listening on (?:http://)?(\S+)", line)
            if match:
                self.url = f"http://{match.group(1)}"
                return

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, generated: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """A store with a trained ranking model deployed as a campaign and an event tracker, and a
    server started on it afterwards (so it serves the campaign from its first request)."""
    store = attune.Store(tmp_path_factory.mktemp("served") / "data")
    load_generated(store, generated)
    store.create_solution("ranking", "g", hyperparameters=FAST_RANKING)
    version = store.create_solution_version("ranking", evaluate=False, progress=False)
    campaign = store.create_campaign("shop", version["solutionVersionArn"])
    tracker = store.create_event_tracker("g", "tracker")
    server = Server(str(store.path))
    try:
        yield {
            "store": store,
            "model": store.load_model(version["solutionVersionArn"]),
            "campaign": campaign["campaignArn"],
            "tracking_id": tracker["trackingId"],
            "client": attune.Client(server.url),
        }
    finally:
        server.stop()


def test_ranking_through_the_server_matches_the_model(deployed: dict[str, Any]) -> None:
    client: attune.Client = deployed["client"]
    items = [f"i{k}" for k in range(1, 80)] + ["not-an-item"]
    response = client.get_personalized_ranking(deployed["campaign"], "u7", items)
    assert response["recommendationId"]
    served = [(p["itemId"], p.get("score")) for p in response["personalizedRanking"]]
    local = deployed["model"].rank("u7", items)
    assert [i for i, _ in served] == [i for i, _ in local]
    for (_, a), (_, b) in zip(served, local, strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert a == pytest.approx(b, rel=1e-3, abs=1e-6)


def test_put_events_through_the_server(deployed: dict[str, Any]) -> None:
    client: attune.Client = deployed["client"]
    client.put_events(
        deployed["tracking_id"],
        "session-9",
        [{"eventType": "click", "sentAt": time.time(), "itemId": "i3", "properties": {}}],
        user_id="u9",
    )
    with pytest.raises(attune.InvalidInputError) as e:
        client.put_events(deployed["tracking_id"], "session-9", [], user_id="u9")
    assert "eventList" in str(e.value)
    assert e.value.status == 400  # type: ignore[attr-defined]
    assert e.value.error_type == "InvalidInputException"  # type: ignore[attr-defined]


def test_errors_map_to_the_exception_classes(deployed: dict[str, Any]) -> None:
    client: attune.Client = deployed["client"]
    missing = deployed["campaign"].rsplit("/", 1)[0] + "/no-such-campaign"
    with pytest.raises(attune.NotFoundError):
        client.get_personalized_ranking(missing, "u1", ["i1"])
    with pytest.raises(attune.InvalidInputError, match="inputList"):
        client.get_personalized_ranking(deployed["campaign"], "u1", [])


def test_an_unreachable_server_is_a_server_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = attune.Client(f"http://127.0.0.1:{port}", timeout=5)
    assert repr(client) == f"Client('http://127.0.0.1:{port}')"
    with pytest.raises(attune.ServerError) as e:
        client.get_personalized_ranking("arn", "u", ["i"])
    assert e.value.status == 0
    assert "cannot reach the server" in str(e.value)
