"""The traces benchmark still runs end to end: one run per cell, through the real receiver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.prometheus

ROOT = Path(__file__).resolve().parents[2]


def test_every_fault_kind_runs_and_is_reported(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.traces", "--runs", "1", "--controls", "1", "--low-runs", "0",
         "--minutes", "5", "--results-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "traces.jsonl").read_text().splitlines()]
    assert {r["fault"] for r in rows} == {"none", "cpu", "delay", "exception", "wrong", "vanished", "n+1"}
    # The faults are plain at 20 requests/s, even over five minutes: each fails, the control does not.
    assert all((r["status"] == "fail") == (r["fault"] != "none") for r in rows), rows
    assert "| fault, traffic (requests/s) |" in result.stdout
