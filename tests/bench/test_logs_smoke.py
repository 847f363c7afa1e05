"""``bench.logs`` runs end to end on a tiny sample laid out like Loghub's, and scores GA right."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench_logs() -> ModuleType:
    # Loaded by path: under pytest, "bench" would resolve to this tests/bench directory.
    spec = importlib.util.spec_from_file_location("bench_logs", ROOT / "bench" / "logs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_grouping_accuracy_counts_only_exact_groups() -> None:
    logs = _bench_logs()
    truth = ["A", "A", "B", "C", "C"]
    assert logs.grouping_accuracy([1, 1, 2, 3, 3], truth) == 1.0
    assert logs.grouping_accuracy([1, 1, 1, 3, 3], truth) == pytest.approx(2 / 5)  # A and B merged
    assert logs.grouping_accuracy([1, 2, 3, 4, 4], truth) == pytest.approx(3 / 5)  # A split


def test_the_benchmark_prints_its_table(tmp_path: Path) -> None:
    sample = tmp_path / "HDFS"
    sample.mkdir()
    with (sample / "HDFS_2k.log_structured_corrected.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["LineId", "Content", "EventTemplate"])
        for i in range(60):
            if i % 2:
                writer.writerow(
                    [i, f"Receiving block blk_{i}7 src: /10.0.0.{i}:50010", "Receiving block <*> src: <*>"]
                )
            else:
                writer.writerow([i, f"Deleting block blk_{i}3 file /data/{i}", "Deleting block <*> file <*>"])
    run = subprocess.run(
        [sys.executable, "-m", "bench.logs", "--data", str(tmp_path), "--repeats", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "| HDFS | 60 | 1.0000 | 1.0000 |" in run.stdout and "GA target" in run.stdout, run.stderr
    assert run.returncode in (0, 1)  # the throughput verdict depends on the machine
