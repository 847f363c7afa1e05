"""The detection benchmark still runs end to end (a tiny grid; the figures live in bench/README.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.prometheus

ROOT = Path(__file__).resolve().parents[2]


def test_a_few_cells_run_and_report_every_judge(tmp_path: Path) -> None:
    cells = "aa-plain,aa-otlp,err2-2x-10,tail2-10,span-n+1,nodata"
    result = subprocess.run(
        [sys.executable, "-m", "bench.detection", "--quick", "--aa-runs", "20", "--seeds", "1",
         "--cells", cells, "--workdir", str(tmp_path / "work"), "--results-dir", str(tmp_path / "results")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    # Exit 2 would mean a Prometheus query failed and shaped a verdict.
    assert result.returncode == 0, result.stderr[-2000:]
    header = next(line for line in result.stdout.splitlines() if line.startswith("| cell |"))
    judges = ("monitor", "fixed-horizon fail (20 min)", "fixed-horizon fail (10 min)", "kayenta", "flagger")
    assert all(judge in header for judge in judges)
    assert "no data (canary silent)" in result.stdout
    assert "N+1 loop" in result.stdout  # logs and traces went through the receiver's aggregator
    # The explicit counts win over --quick's: of 20 A/A runs, the selected cells get 5 and 2.
    assert ": 7 A/A (" in result.stdout
    rows = (tmp_path / "results" / "detection.jsonl").read_text().splitlines()
    assert len(rows) == 5 * (7 + 3 + 1)  # five judges, each on every run
