"""The bench's baseline: fixed thresholds, Flagger-style, on the same history.

What a team without a statistical judge runs: the new version alone must keep a success rate of at
least 99 % and a p99 of at most 500 ms, minute by minute, for 20 minutes, failing at the fifth bad
minute (:mod:`bench.detection.flagger`, which documents the rules it reproduces). It is given the
true deploys (no discovery to get wrong) and judges each from its first minute. Its A/A false-alarm
rate is the share of failed 20-minute windows of a healthy version serving alone (consecutive, over
the whole history). A regressed version's own windows are left out: fixed thresholds judge a
version on its own, and failing a regressed one is right.

The history is scraped once a minute, so the rates span 2 minutes, not Flagger's 1 (a one-minute
rate over one-minute scrapes has a single sample and no value).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from bench.detection import flagger, promql
from bench.detection.client import STEP_S, RangeClient
from bench.detection.outcome import Status
from monitor.simulate.history import SimulatedDeploy, SimulatedHistory

WINDOW_MIN = 20
RATE_WINDOW = "2m"
_CHUNK = timedelta(days=5)  # 7,200 one-minute points: under Prometheus' 11,000 per query


@dataclass(frozen=True)
class FixedResult:
    """The fixed-threshold judge's verdict per true deploy, and its A/A windows."""

    deploys: tuple[tuple[SimulatedDeploy, flagger.FlaggerVerdict], ...]
    aa_windows: int
    aa_failed: int

    @property
    def caught(self) -> int:
        """Regressions failed."""
        return sum(v.status is Status.FAIL for d, v in self.deploys if d.regressed)

    @property
    def false_alarms(self) -> int:
        """Healthy deploys failed."""
        return sum(v.status is Status.FAIL for d, v in self.deploys if not d.regressed)


def _queries(service: str, version: str) -> dict[str, str]:
    sel = promql.selector(service, version)
    return {
        "success": promql.success_rate_percent(sel, RATE_WINDOW),
        "p99": promql.latency_quantile(0.99, sel, RATE_WINDOW),
    }


def _judge(frame: pd.DataFrame) -> flagger.FlaggerVerdict:
    return flagger.judge(
        frame["success"].to_numpy(dtype=np.float64).tolist(), frame["p99"].to_numpy(dtype=np.float64).tolist()
    )


async def _deploy(client: RangeClient, service: str, deploy: SimulatedDeploy) -> flagger.FlaggerVerdict:
    first = deploy.start + timedelta(seconds=STEP_S)
    frame = await client.aligned(
        _queries(service, deploy.version), first, first + timedelta(minutes=WINDOW_MIN - 1)
    )
    return _judge(frame)


async def _series(
    client: RangeClient, service: str, version: str, start: datetime, end: datetime
) -> pd.DataFrame:
    """Both series over ``[start, end]``, one query per chunk under the point limit."""
    parts = []
    while start <= end:
        stop = min(end, start + _CHUNK)
        parts.append(await client.aligned(_queries(service, version), start, stop))
        start = stop + timedelta(seconds=STEP_S)
    return pd.concat(parts)


async def _aa(client: RangeClient, history: SimulatedHistory) -> tuple[int, int]:
    """Consecutive 20-minute windows of healthy versions serving alone: how many, how many failed."""
    service = history.spec.service
    # The first two minutes after a switch hold a rate window that began before it.
    frames = await asyncio.gather(
        *(
            _series(client, service, version, w.start + timedelta(minutes=2), w.end)
            for version, w in history.solo_windows()
            if version not in history.regressed_versions
        )
    )
    windows = failed = 0
    for frame in frames:
        for first in range(0, len(frame) - WINDOW_MIN + 1, WINDOW_MIN):
            windows += 1
            failed += _judge(frame.iloc[first : first + WINDOW_MIN]).status is Status.FAIL
    return windows, failed


async def judge_history(client: RangeClient, history: SimulatedHistory) -> FixedResult:
    """Judge every true deploy and every A/A window of ``history`` with fixed thresholds."""
    service = history.spec.service
    verdicts = await asyncio.gather(*(_deploy(client, service, d) for d in history.deploys))
    windows, failed = await _aa(client, history)
    return FixedResult(tuple(zip(history.deploys, verdicts, strict=True)), windows, failed)
