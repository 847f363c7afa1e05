"""``python -m bench.backtest``: simulate a 30-day history, backfill it into a real Prometheus,
backtest it and score the backtest against the truth; print the table.

The markdown report goes to stdout and ``bench/results/backtest.md``; one JSON object per true
deploy (truth, discovery, replay, fixed-threshold verdict) to ``bench/results/backtest.jsonl``.
Progress goes to stderr. ``--quick`` backtests the three-day history of the tests instead.

Backtests: the shipped profile over the whole history (the summary, per deploy and per check); then,
out of sample, the shipped profile over the first half for its suggestions, and the shipped and the
calibrated profile over the second half (``--no-suggested`` skips these three).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.backtest.fixed import FixedResult, judge_history
from bench.backtest.report import HeldOut, MonitorRun, render
from bench.backtest.score import halves, score
from bench.detection.client import RangeClient
from bench.results import RESULTS_DIR, write_results
from monitor.backtest.calibration import MAX_TRIALS
from monitor.backtest.replay import Cadence
from monitor.backtest.run import backtest
from monitor.backtest.suggest import override_profile
from monitor.config import Settings
from monitor.engine.request import RequestDefaults, resolve_baseline
from monitor.models import Window
from monitor.profiles import Profile, load_profile
from monitor.simulate.history import SMALL, HistorySpec, SimulatedHistory, simulate_history
from monitor.simulate.history_prometheus import backfill_history
from monitor.simulate.prometheus import PrometheusProcess
from monitor.sources.prometheus import PrometheusSource

QUERY_TIMEOUT_S = 60.0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.backtest",
        description="Backtest benchmark: a simulated month of one service, backtested and scored "
        "against the truth.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="the three-day history (3 deploys, 1 regression)"
    )
    parser.add_argument("--seed", type=int, help="the history's seed (default: that of the chosen history)")
    parser.add_argument(
        "--profile", default="otel-http", help="a built-in profile or a YAML path (otel-http)"
    )
    parser.add_argument("--environment", default="production", help="judge deploys as into this environment")
    parser.add_argument(
        "--max-trials", type=int, default=MAX_TRIALS, help=f"A/A runs per backtest at most ({MAX_TRIALS})"
    )
    parser.add_argument(
        "--no-suggested",
        action="store_true",
        help="skip the held-out comparison (suggestions fitted on the first half, both profiles judged "
        "on the second)",
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep the OpenMetrics files, TSDB and Prometheus log here"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where backtest.md/.jsonl go (bench/results)"
    )
    return parser.parse_args(argv)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(label: str) -> Any:
    shown = [-1]

    def report(done: int, total: int, what: str) -> None:
        tenth = 10 * done // max(total, 1)
        if tenth != shown[0]:
            shown[0] = tenth
            _log(f"  {label}: {done}/{total} {what}")

    return report


async def _backtest(
    url: str, history: SimulatedHistory, span: Window, profile: Profile, label: str, args: argparse.Namespace
) -> MonitorRun:
    """Backtest ``profile`` over ``span`` of the history and score it against that span's true deploys."""
    source = PrometheusSource(url, timeout_s=QUERY_TIMEOUT_S)
    settings = Settings()
    started = time.monotonic()
    try:
        result = await backtest(
            source, history.spec.service, args.environment, span.start, span.end, profile, settings,
            progress=_progress(label), max_trials=args.max_trials,
        )  # fmt: skip
    finally:
        await source.close()
    seconds = time.monotonic() - started
    for warning in result.warnings:
        _log(f"  {label}: {warning}")
    cadence = Cadence.of(RequestDefaults.from_settings(settings).environments, args.environment)
    baseline = resolve_baseline(cadence.baseline, profile.baseline).value
    return MonitorRun(label, score(history, result), seconds, result.suggestions, baseline)


async def _held_out(
    url: str, history: SimulatedHistory, profile: Profile, args: argparse.Namespace
) -> HeldOut:
    """Fit the suggestions on the first half; judge the shipped and the calibrated profile on the second."""
    first, second = halves(history)
    fit = await _backtest(url, history, first, profile, f"{profile.name}, first half (fit)", args)
    runs = [await _backtest(url, history, second, profile, f"monitor, {profile.name} as it ships", args)]
    if fit.suggestions:
        calibrated = override_profile(profile, fit.suggestions)
        label = f"monitor, {calibrated.name} (fitted on the first half)"
        runs.append(await _backtest(url, history, second, calibrated, label, args))
    return HeldOut(first, second, fit, tuple(runs))


async def _judge(
    url: str, history: SimulatedHistory, args: argparse.Namespace
) -> tuple[list[MonitorRun], HeldOut | None, FixedResult, float]:
    profile = load_profile(args.profile)
    label = f"monitor, {profile.name} as it ships"
    runs = [await _backtest(url, history, history.span, profile, label, args)]
    part = None if args.no_suggested else await _held_out(url, history, profile, args)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        fixed = await judge_history(RangeClient(url, pool), history)
    return runs, part, fixed, time.monotonic() - started


def _rows(runs: Sequence[MonitorRun], fixed: FixedResult, mid: datetime) -> Iterator[dict[str, Any]]:
    fixed_by_version = {d.version: v for d, v in fixed.deploys}
    for d in runs[0].score.deploys if runs else ():
        t, f = d.truth, fixed_by_version[d.truth.version]
        yield {
            "number": t.number, "version": t.version, "start": t.start.isoformat(), "mode": str(t.mode),
            "canary_share": t.canary_share, "regression": t.regression and str(t.regression),
            "found": d.found, "found_mode": d.replay and str(d.replay.deploy.mode),
            "replay": d.replay and str(d.replay.verdict), "minutes": d.minutes_to_verdict,
            "fixed": str(f.status), "fixed_minute": f.minute, "held_out": t.start >= mid,
        }  # fmt: skip


def _run(args: argparse.Namespace, workdir: Path) -> int:
    spec = SMALL if args.quick else HistorySpec()
    if args.seed is not None:
        spec = replace(spec, seed=args.seed)
    times: dict[str, float] = {}
    started = time.monotonic()
    _log(f"simulating {spec.days:g} days of {spec.service} ...")
    history = simulate_history(spec)
    times["generate"] = time.monotonic() - started
    _log("writing OpenMetrics and backfilling with promtool ...")
    tsdb, samples = backfill_history(history, workdir)
    times["backfill"] = time.monotonic() - started - times["generate"]
    mark = time.monotonic()
    with PrometheusProcess(tsdb, workdir=workdir) as prometheus:
        times["start"] = time.monotonic() - mark
        _log(f"Prometheus at {prometheus.url}; backtesting {history.span.start} .. {history.span.end}")
        runs, part, fixed, times["fixed"] = asyncio.run(_judge(prometheus.url, history, args))
    report = render(history, samples, times, runs, fixed, part)
    print(report, end="")
    rows = _rows(runs, fixed, halves(history)[1].start)
    written = write_results(args.results_dir, "backtest", report, rows)
    _log(f"wrote {written} and backtest.jsonl in {time.monotonic() - started:.0f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; see the module docstring for its outputs."""
    args = _parse(argv)
    with contextlib.ExitStack() as cleanup:
        kept: Path | None = args.workdir
        workdir = kept.resolve() if kept else Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
        return _run(args, workdir)


if __name__ == "__main__":
    sys.exit(main())
