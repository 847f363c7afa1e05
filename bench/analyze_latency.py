"""Wall time of one ``monitor analyze`` with the default profile against a local Prometheus.

Run: ``.venv/bin/python -m bench.analyze_latency``. Interpreter start is included (the command runs
as a fresh process, as a pipeline would). A bare ``python -c pass`` is measured in the same run as
the baseline, and the slowest imports of ``monitor.cli analyze`` are listed from ``-X importtime``.
Target: under 1.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from monitor.simulate import Scenario, simulate_into_prometheus
from monitor.timeparse import format_time

TARGET_S = 1.5


def _wall_s(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def _slowest_imports(argv: list[str], top: int) -> list[tuple[int, str]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, check=False
    )
    rows: list[tuple[int, str]] = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].strip()))
    top_level = [r for r in rows if not r[1].startswith(" ")]
    return sorted(top_level, reverse=True)[:top]


def main() -> int:
    """Measure and print a table; exit 0 when the median is under the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        process, runs = simulate_into_prometheus([Scenario("checkout", seed=1)], Path(tmp))
        with process:
            run = runs["checkout"]
            analyze = [
                "-m", "monitor.cli", "analyze", "--prometheus-url", process.url, "--service", "checkout",
                "--canary-version", "v2", "--baseline-version", "v1",
                "--start", format_time(run.canary_window.start), "--end", format_time(run.canary_window.end),
            ]  # fmt: skip
            _wall_s([sys.executable, *analyze])  # warm the file cache
            bare = [_wall_s([sys.executable, "-c", "pass"]) for _ in range(args.repeat)]
            full = [_wall_s([sys.executable, *analyze]) for _ in range(args.repeat)]
            imports = _slowest_imports(analyze, 6)
    median_bare, median_full = statistics.median(bare), statistics.median(full)
    print("| command | runs | min s | median s | max s |")
    print("|---|---|---|---|---|")
    for label, times in (("python -c pass", bare), ("monitor analyze (otel-http)", full)):
        median = statistics.median(times)
        print(f"| {label} | {len(times)} | {min(times):.3f} | {median:.3f} | {max(times):.3f} |")
    print(f"\nratio analyze / bare interpreter: {median_full / median_bare:.1f}x")
    verdict = "PASS" if median_full < TARGET_S else "MISS"
    print(f"target median < {TARGET_S} s: {verdict} ({median_full:.3f} s)")
    print("\nslowest top-level imports (cumulative us):")
    for micros, name in imports:
        print(f"  {micros:>8}  {name}")
    return 0 if median_full < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
