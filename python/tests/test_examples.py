"""The example in python/examples runs as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import MOVIELENS, ROOT, movielens_or_skip


def test_notebook_flow_runs(tmp_path: Path) -> None:
    movielens_or_skip("the notebook_flow.py example")
    script = ROOT / "python" / "examples" / "notebook_flow.py"
    out = subprocess.run(
        [sys.executable, str(script), str(MOVIELENS), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "100836 ratings imported" in out.stdout
    assert 'refused: import failed: DataFrame line 42, column TIMESTAMP: "yesterday"' in out.stdout
    assert "campaign/movielens-ranking ACTIVE" in out.stdout
