"""Backfill a simulated history into a TSDB with promtool, one OpenMetrics file per day.

promtool (2.42) cuts its input into two-hour blocks and parses the whole file once per block, so a
month in one file would be parsed 360 times. A file per day (aligned, so its blocks are the day's
twelve) bounds that to twelve passes over a day's data, and the files backfill in parallel. A file
per two-hour block would parse each sample once but start 360 promtool processes, which measured
slower. Counters carry on across files (each file's first sample adds everything before it), so the
series read as one.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from monitor.errors import SimulationError
from monitor.simulate.history import SimulatedHistory
from monitor.simulate.openmetrics import write_openmetrics
from monitor.simulate.prometheus import PrometheusProcess, backfill
from monitor.simulate.scenario import Scenario, SimulatedRun, VersionData

CHUNK_S = 86_400  # a multiple of promtool's two-hour block range, so chunks align with its blocks
_HEAD_BLOCK_S = 3 * 3600


def _chunk(data: VersionData, first: int, stop: int) -> VersionData:
    """Rows ``[first, stop)`` of ``data``, the counters' earlier increments folded into row ``first``."""
    buckets = data.buckets[first:stop].copy()
    latency_sum_s = data.latency_sum_s[first:stop].copy()
    cpu_s = data.cpu_s[first:stop].copy()
    if first > 0:
        buckets[0] += data.buckets[:first].sum(axis=0)
        latency_sum_s[0] += np.cumsum(data.latency_sum_s[:first], axis=0)[-1]
        cpu_s[0] += np.cumsum(data.cpu_s[:first])[-1]
    return replace(
        data,
        timestamps_s=data.timestamps_s[first:stop],
        buckets=buckets,
        latency_sum_s=latency_sum_s,
        cpu_s=cpu_s,
        memory_bytes=data.memory_bytes[first:stop],
    )


def write_history_openmetrics(history: SimulatedHistory, directory: Path) -> tuple[list[Path], int]:
    """Write ``history`` as one OpenMetrics file per day (UTC) into ``directory``.

    Returns the files (in time order) and the number of samples written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    start_s, end_s = int(history.span.start.timestamp()), int(history.span.end.timestamp())
    paths: list[Path] = []
    samples = 0
    for chunk_s in range(start_s // CHUNK_S * CHUNK_S, end_s + 1, CHUNK_S):
        runs = []
        for data in history.versions:
            first, stop = np.searchsorted(data.timestamps_s, [chunk_s, chunk_s + CHUNK_S])
            if first < stop:
                runs.append(_as_run(history, _chunk(data, int(first), int(stop))))
        if runs:
            path = directory / f"{chunk_s}.om"
            samples += write_openmetrics(runs, path)
            paths.append(path)
    return paths, samples


def _as_run(history: SimulatedHistory, data: VersionData) -> SimulatedRun:
    """One version's data dressed as a run so that the scenarios' OpenMetrics writer writes it."""
    scenario = Scenario(
        history.spec.service, baseline_version=data.version, canary_version=f"{data.version}+"
    )
    return SimulatedRun(scenario, int(data.timestamps_s[0]), history.span, history.span, data, None)


def backfill_history(
    history: SimulatedHistory, workdir: Path, *, jobs: int | None = None
) -> tuple[Path, int]:
    """Write ``history`` into ``workdir/openmetrics`` and backfill it into ``workdir/tsdb`` (replaced).

    ``jobs`` promtool processes run at once (default: one per CPU). Returns the TSDB directory and
    the number of samples. Raises :class:`SimulationError` when the history is too recent to
    backfill (within 3 h of now) or promtool fails.
    """
    if history.span.end.timestamp() > time.time() - _HEAD_BLOCK_S:
        raise SimulationError(
            f"the history ends at {history.span.end.isoformat()}, within 3 h of now; backfilled data must "
            "be older than Prometheus' head block: simulate it with an earlier end_unix_s or the default"
        )
    sources = workdir / "openmetrics"
    shutil.rmtree(sources, ignore_errors=True)
    paths, samples = write_history_openmetrics(history, sources)
    tsdb = workdir / "tsdb"
    shutil.rmtree(tsdb, ignore_errors=True)
    tsdb.mkdir(parents=True)
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        list(pool.map(lambda path: backfill(path, tsdb), paths))
    return tsdb, samples


def history_into_prometheus(history: SimulatedHistory, workdir: Path) -> PrometheusProcess:
    """Backfill ``history`` into ``workdir/tsdb`` and return a Prometheus over it, **not started**.

    Use it in a ``with`` block (or call ``start()`` and ``stop()``); see :class:`PrometheusProcess`.
    """
    tsdb, _samples = backfill_history(history, workdir)
    return PrometheusProcess(tsdb, workdir=workdir)
