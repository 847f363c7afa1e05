"""The detection benchmark still runs end to end (a tiny grid; the figures live in bench/README.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.prometheus

ROOT = Path(__file__).resolve().parents[2]


def test_quick_grid_runs_and_reports_every_judge(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.detection", "--quick", "--aa-runs", "4", "--seeds", "1",
         "--workdir", str(tmp_path / "work"), "--results-dir", str(tmp_path / "results")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    # Exit 2 would mean a Prometheus query failed and shaped a verdict.
    assert result.returncode == 0, result.stderr[-2000:]
    header = next(line for line in result.stdout.splitlines() if line.startswith("| cell |"))
    assert "monitor fail" in header and "kayenta fail" in header and "flagger fail" in header
    assert "no data (canary silent)" in result.stdout
    # The explicit counts win over --quick's: 4 A/A runs, one per A/A cell.
    assert ": 4 A/A (" in result.stdout
    assert (tmp_path / "results" / "detection.jsonl").exists()
