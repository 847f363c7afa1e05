"""Running every judge on every run concurrently against the one Prometheus.

One asyncio task per (run, judge), at most ``concurrency`` in flight (a semaphore). The monitor
uses its own async Prometheus source; the baseline judges share a thread pool for their
synchronous client. Progress goes to stderr every ``progress_every_s`` seconds.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.detection import flagger, kayenta, monitor_judge, reference
from bench.detection.client import RangeClient
from bench.detection.grid import Cell
from bench.detection.outcome import Decision, Judge, Outcome, Status
from monitor.otlp.views import TelemetryReader
from monitor.profiles import load_profile
from monitor.simulate import SimulatedRun
from monitor.sources.prometheus import PrometheusSource

HTTP_CONCURRENCY = 8
THREADS = 8
QUERY_TIMEOUT_S = 30


@dataclass(frozen=True)
class Job:
    """One judge to run on one simulated run of a cell."""

    cell: Cell
    run: SimulatedRun
    judge: Judge


def jobs_for(cells: Sequence[Cell], runs: dict[str, SimulatedRun]) -> list[Job]:
    """Every judge on every run, grouped by cell in grid order."""
    return [
        Job(cell, runs[scenario.name], judge)
        for cell in cells
        for scenario in cell.scenarios()
        for judge in Judge
    ]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _progress(done: Counter[Judge], totals: Counter[Judge], every_s: float) -> None:
    started = time.monotonic()
    while True:
        await asyncio.sleep(every_s)
        parts = ", ".join(f"{judge} {done[judge]}/{totals[judge]}" for judge in Judge)
        _log(f"  ... {sum(done.values())}/{sum(totals.values())} evaluations done "
             f"({parts}), {time.monotonic() - started:.0f} s")  # fmt: skip


async def evaluate(
    url: str,
    jobs: Sequence[Job],
    *,
    concurrency: int,
    telemetry: TelemetryReader,
    profile: str = "otel-http",
    progress_every_s: float = 10.0,
) -> list[Outcome]:
    """Run ``jobs`` against the Prometheus at ``url``; outcomes in the order of ``jobs``.

    A judge that raises becomes an ``inconclusive`` outcome flagged as a backend error, so one
    bad run cannot sink the bench and cannot pass unnoticed either.
    """
    monitor_profile = load_profile(profile)
    source = PrometheusSource(url, timeout_s=QUERY_TIMEOUT_S, concurrency=HTTP_CONCURRENCY)
    semaphore = asyncio.Semaphore(concurrency)
    done: Counter[Judge] = Counter()
    totals: Counter[Judge] = Counter(job.judge for job in jobs)

    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="bench-query") as pool:
        client = RangeClient(url, pool, timeout_s=QUERY_TIMEOUT_S)
        judges: dict[Judge, Callable[[SimulatedRun], Awaitable[Decision]]] = {
            Judge.MONITOR: lambda run: monitor_judge.judge_run(source, monitor_profile, run, telemetry),
            Judge.REFERENCE: lambda run: reference.judge_run(client, telemetry, run, 20.0),
            Judge.REFERENCE_10: lambda run: reference.judge_run(client, telemetry, run, 10.0),
            Judge.KAYENTA: lambda run: kayenta.judge_run(client, run),
            Judge.FLAGGER: lambda run: flagger.judge_run(client, run),
        }

        async def one(job: Job) -> Outcome:
            async with semaphore:
                try:
                    decision = await judges[job.judge](job.run)
                except Exception as exc:  # reported, never silently dropped
                    window_min = job.run.canary_window.duration_s / 60.0
                    problem = f"{type(exc).__name__}: {exc}"
                    decision = Decision(Status.INCONCLUSIVE, window_min, problem, True)
            done[job.judge] += 1
            sc = job.run.scenario
            return Outcome(job.judge, job.cell.key, sc.name, sc.seed, decision)

        reporter = asyncio.create_task(_progress(done, totals, progress_every_s))
        try:
            return list(await asyncio.gather(*(one(job) for job in jobs)))
        finally:
            reporter.cancel()
            await source.close()
