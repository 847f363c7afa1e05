"""Log template mining on the Loghub samples: grouping accuracy and lines/s, next to drain3.

Run: ``.venv/bin/python -m bench.logs [--data DIR] [--repeats 5]``. ``DIR`` holds Loghub's 2k
samples (``<Name>/<Name>_2k.log_structured_corrected.csv``, from https://github.com/logpai/loghub;
default ``$LOGHUB_DIR`` or ``../shared/data/loghub`` beside the repository). For each sample, the
messages (header split off, as Loghub's ``Content`` column) go through

* drain3's ``TemplateMiner`` with its default settings (no masking), the baseline, and
* :class:`monitor.logs.mining.TemplateMiner` (redaction, masking, the line cache, drain3's tree),

each in a fresh miner, interleaved, best of ``--repeats`` runs. Grouping accuracy (GA, Zhu et al.
ICSE-SEIP 2019): a line counts as right when the set of lines grouped with it equals the set of
its ground-truth template, against the corrected (Loghub-2.0) templates. Target: mean GA at least
drain3's, and at least drain3's throughput over all lines.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

from drain3 import TemplateMiner as Drain3Miner
from drain3.template_miner_config import TemplateMinerConfig

from monitor.logs.mining import TemplateMiner

DATASETS = ("HDFS", "Apache", "OpenSSH", "BGL", "Spark", "Zookeeper")
DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "loghub"


def grouping_accuracy(predicted: Sequence[Hashable], truth: Sequence[str]) -> float:
    """Share of lines whose predicted group is exactly their ground-truth group."""
    by_predicted: dict[Hashable, set[int]] = defaultdict(set)
    by_truth: dict[str, set[int]] = defaultdict(set)
    for index, (p, t) in enumerate(zip(predicted, truth, strict=True)):
        by_predicted[p].add(index)
        by_truth[t].add(index)
    right = sum(len(group) for group in by_truth.values() if by_predicted[predicted[min(group)]] == group)
    return right / len(truth) if truth else 1.0


def load(data: Path, name: str) -> tuple[list[str], list[str]]:
    """Messages and ground-truth templates of one sample."""
    path = data / name / f"{name}_2k.log_structured_corrected.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["Content"] for r in rows], [r["EventTemplate"] for r in rows]


def drain3_default(messages: Sequence[str]) -> list[int]:
    """drain3 0.9 as shipped: ``TemplateMiner()`` with no configuration."""
    miner = Drain3Miner(config=TemplateMinerConfig())  # defaults, without looking for drain3.ini
    return [miner.add_log_message(m)["cluster_id"] for m in messages]


def ours(messages: Sequence[str]) -> list[int]:
    """The monitor's miner."""
    miner = TemplateMiner()
    return [miner.add(m) for m in messages]


def _best_s(run: Callable[[Sequence[str]], list[int]], messages: Sequence[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run(messages)
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.logs", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("LOGHUB_DIR", DEFAULT_DATA)))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    names = [n for n in DATASETS if (args.data / n).is_dir()]
    if not names:
        print(
            f"bench.logs: no Loghub samples under {args.data}; download the 2k samples from "
            "https://github.com/logpai/loghub and pass --data DIR (or set LOGHUB_DIR)",
            file=sys.stderr,
        )
        return 3
    logging.getLogger("drain3").setLevel(logging.WARNING)
    print("| sample | lines | GA drain3 | GA monitor | drain3 lines/s | monitor lines/s | speed |")
    print("|---|---|---|---|---|---|---|")
    totals = {"lines": 0, "base_s": 0.0, "ours_s": 0.0, "base_ga": 0.0, "ours_ga": 0.0}
    for name in names:
        messages, truth = load(args.data, name)
        base_ga = grouping_accuracy(drain3_default(messages), truth)
        ours_ga = grouping_accuracy(ours(messages), truth)
        base_s, ours_s = 0.0, 0.0
        for _ in range(2):  # interleaved, so drift of a noisy machine hits both alike
            base_s = _best_s(drain3_default, messages, args.repeats)
            ours_s = _best_s(ours, messages, args.repeats)
        totals["lines"] += len(messages)
        totals["base_s"] += base_s
        totals["ours_s"] += ours_s
        totals["base_ga"] += base_ga
        totals["ours_ga"] += ours_ga
        print(
            f"| {name} | {len(messages)} | {base_ga:.4f} | {ours_ga:.4f} | {len(messages) / base_s:,.0f} | "
            f"{len(messages) / ours_s:,.0f} | {base_s / ours_s:.2f}x |"
        )
    count = len(names)
    mean_base, mean_ours = totals["base_ga"] / count, totals["ours_ga"] / count
    base_rate, ours_rate = totals["lines"] / totals["base_s"], totals["lines"] / totals["ours_s"]
    print(
        f"| **all** | {totals['lines']} | {mean_base:.4f} | {mean_ours:.4f} | {base_rate:,.0f} | "
        f"{ours_rate:,.0f} | {ours_rate / base_rate:.2f}x |"
    )
    accurate, fast = mean_ours >= mean_base, ours_rate >= base_rate
    print(f"\nGA target (>= drain3 default): {'PASS' if accurate else 'MISS'}")
    print(f"throughput target (>= drain3 default): {'PASS' if fast else 'MISS'}")
    return 0 if accurate and fast else 1


if __name__ == "__main__":
    sys.exit(main())
