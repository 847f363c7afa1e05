"""``python -m bench.detection``: simulate the grid, judge every run five ways, print the table.

The markdown report goes to stdout and to ``bench/results/detection.md``; every outcome, one
JSON object per line, to ``bench/results/detection.jsonl``. Progress goes to stderr. The exit
code is 0 once the bench has run (1 with ``--strict`` when the monitor misses a target), 2 when
a verdict was shaped by a failed Prometheus query.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from bench.detection import flagger, kayenta, reference
from bench.detection.grid import DEFAULTS, QUICK, WINDOW_MIN, Cell, CellKind, build_grid, cell_keys
from bench.detection.outcome import Outcome
from bench.detection.report import Results, render, targets
from bench.detection.runner import evaluate, jobs_for
from bench.detection.telemetry import TelemetryPlan, aggregate_run
from bench.results import RESULTS_DIR, write_results
from monitor.otlp.stored import receiver_telemetry
from monitor.simulate import SimulatedRun, simulate_into_prometheus
from monitor.store import Store


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.detection",
        description="Detection benchmark: monitor vs a fixed-horizon reference, Kayenta-style and "
        "Flagger-style judges.",
    )
    parser.add_argument("--aa-runs", type=int, help=f"A/A runs in all (default {DEFAULTS['aa_runs']})")
    parser.add_argument("--seeds", type=int, help="runs per regression cell (20)")
    parser.add_argument("--nodata-runs", type=int, help="silent-canary runs (5)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK['aa_runs']} A/A runs, {QUICK['seeds']} seeds per regression "
        f"cell, {QUICK['nodata_runs']} no-data run (defaults for the three counts)",
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep the OpenMetrics file, TSDB and Prometheus log here"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where detection.md/.jsonl go (bench/results)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="evaluations in flight (16)")
    parser.add_argument(
        "--profile",
        default="otel-http",
        help="the monitor's profile: a built-in name or a YAML path (otel-http)",
    )
    parser.add_argument(
        "--cells", help="comma-separated cell keys to run (default: all); e.g. --cells aa-plain,tail2-10"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    # Explicit counts win; --quick only changes the defaults.
    defaults = QUICK if args.quick else DEFAULTS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.cells:
        unknown = set(args.cells.split(",")) - set(cell_keys())
        if unknown:
            parser.error(f"unknown --cells {', '.join(sorted(unknown))}; known: {', '.join(cell_keys())}")
    return args


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _preamble(cells: Sequence[Cell], times: dict[str, float]) -> list[str]:
    def count(kind: CellKind) -> int:
        return sum(c.runs for c in cells if c.kind is kind)

    aa = "; ".join(f"{c.runs}× {c.title}" for c in cells if c.kind is CellKind.AA)
    regressions = [c for c in cells if c.kind is CellKind.REGRESSION]
    per_cell = sorted({c.runs for c in regressions})
    total = sum(c.runs for c in cells)
    return [
        "## Detection benchmark",
        "",
        f"{total} simulated deployments backfilled into one Prometheus: "
        f"{count(CellKind.AA)} A/A ({aa}); {count(CellKind.REGRESSION)} regressions "
        f"({len(regressions)} cells × {'/'.join(map(str, per_cell)) or 0} seeds); "
        f"{count(CellKind.NODATA)} no-data. Each a {WINDOW_MIN}-minute canary-mode window, "
        "10% canary share, fixed seeds.",
        "",
        "Judges: **monitor** (`analyze`, otel-http profile, one-minute looks, stops at the first "
        "final verdict, production harm limits); **fixed-horizon** reference (one look at 20 or at "
        f"10 min: conditional binomial + chi-square, alpha {reference.ALPHA:g}, the monitor's allowances "
        f"as floors); **kayenta-style** (one look at {WINDOW_MIN} min: Mann-Whitney "
        f"{kayenta.CONFIDENCE:.0%}, tolerance {kayenta.TOLERANCE:g}, p50/p90/p99 + critical 5xx "
        f"ratio, fail below {kayenta.FAIL_BELOW_SCORE:g}); **flagger-style** (canary alone, "
        f"success rate ≥ {flagger.SUCCESS_RATE_MIN:g}% and p99 ≤ {flagger.DURATION_MAX_MS} ms "
        f"every minute, fail at {flagger.THRESHOLD} failed checks).",
        "",
        "Columns: *fail* = false-alarm rate (A/A) or detection rate (regressions); *≤10 min* = "
        "share failed within 10 minutes; *inc.* = inconclusive; *min* = median minutes to a fail "
        "verdict.",
        "",
        f"Wall time {times['total']:.0f} s (simulate + backfill {times['simulate']:.0f} s, logs and "
        f"traces {times['telemetry']:.0f} s, evaluation {times['evaluate']:.0f} s) "
        f"on {os.cpu_count()} cores.",
    ]


async def _telemetry_store(cells: Sequence[Cell], runs: dict[str, SimulatedRun], path: Path) -> Store:
    """Every telemetry cell's runs aggregated (in worker processes) into one SQLite store."""
    planned: list[tuple[SimulatedRun, TelemetryPlan]] = [
        (runs[sc.name], cell.telemetry) for cell in cells if cell.telemetry for sc in cell.scenarios()
    ]
    path.unlink(missing_ok=True)
    store = await Store.open(f"sqlite:///{path}")
    if planned:
        _log(f"sending the logs and traces of {len(planned)} runs through the receiver's aggregator ...")
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            futures = [loop.run_in_executor(pool, aggregate_run, run, plan) for run, plan in planned]
            for future in asyncio.as_completed(futures):
                await store.add_telemetry(await future)
    return store


async def _judge(url: str, args: argparse.Namespace, cells: Sequence[Cell], runs: dict[str, SimulatedRun],
                 workdir: Path) -> tuple[list[Outcome], float]:  # fmt: skip
    store = await _telemetry_store(cells, runs, workdir / "telemetry.db")
    telemetry_done = time.monotonic()
    try:
        jobs = jobs_for(cells, runs)
        _log(f"Prometheus at {url}; {len(jobs)} evaluations, {args.concurrency} in flight")
        outcomes = await evaluate(
            url, jobs, concurrency=args.concurrency, telemetry=receiver_telemetry(store), profile=args.profile
        )
    finally:
        await store.close()
    return outcomes, telemetry_done


def _run(args: argparse.Namespace, workdir: Path) -> int:
    started = time.monotonic()
    keys = frozenset(args.cells.split(",")) if args.cells else None
    cells = build_grid(args.aa_runs, args.seeds, args.nodata_runs, keys)
    scenarios = [s for cell in cells for s in cell.scenarios()]
    _log(f"simulating {len(scenarios)} deployments and backfilling them into Prometheus ...")
    process, runs = simulate_into_prometheus(scenarios, workdir)
    simulated = time.monotonic()
    with process:
        outcomes, telemetry_done = asyncio.run(_judge(process.url, args, cells, runs, workdir))
    finished = time.monotonic()
    times = {
        "simulate": simulated - started,
        "telemetry": telemetry_done - simulated,
        "evaluate": finished - telemetry_done,
        "total": finished - started,
    }
    results = Results(cells, outcomes)
    report = render(results, _preamble(cells, times))
    print(report, end="")
    rows = (
        {"judge": o.judge.value, "cell": o.cell, "service": o.service, "seed": o.seed, **asdict(o.decision)}
        for o in outcomes
    )
    written = write_results(args.results_dir, "detection", report, rows)
    _log(f"wrote {written} and detection.jsonl in {times['total']:.0f} s")
    if results.backend_errors:
        _log(f"{len(results.backend_errors)} verdicts were shaped by failed queries; see the report")
        return 2
    missed = [t.name for t in targets(results) if not t.met]
    return 1 if args.strict and missed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; see the module docstring for outputs and exit codes."""
    args = _parse(argv)
    if args.workdir is not None:
        return _run(args, args.workdir.resolve())
    with tempfile.TemporaryDirectory(prefix="bench-detection-") as tmp:
        return _run(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
