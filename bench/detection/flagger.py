"""Flagger-style judge: static thresholds on the canary alone, checked every minute.

Reproduced from fluxcd/flagger (``pkg/controller/scheduler.go``, ``scheduler_metrics.go``,
``pkg/metrics/providers/prometheus.go``, ``pkg/metrics/observers/istio.go``) with the builtin
metrics as the docs configure them:

* ``analysis.interval: 1m`` (the default, 60 s) and ``threshold: 5``. Flagger's default
  threshold is 1; 5 is the value of its tutorials;
* ``request-success-rate``, ``interval: 1m``, ``thresholdRange.min: 99``: non-5xx requests per
  100 over the last minute;
* ``request-duration``, ``interval: 1m``, ``thresholdRange.max: 500``: the p99 over the last
  minute, ``histogram_quantile(0.99, ...)``, converted to whole milliseconds as Flagger does
  (``time.Duration(int64(value*1000)) * time.Millisecond``) and failing when above 500 ms.

Every interval runs the checks in that order and stops at the first failure: one failed check
per interval at most. A query with no value or NaN (no traffic) is a failed check
("no values found"). The counter of failed checks only grows (Flagger resets it only for a new
revision). The canary fails at the minute the counter reaches the threshold; Flagger itself rolls
back at its next tick, one interval later. With no failure left it passes after 20 minutes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from bench.detection import promql
from bench.detection.client import STEP_S, RangeClient
from bench.detection.outcome import Decision, Status
from monitor.simulate import SimulatedRun

SUCCESS_RATE_MIN = 99.0
DURATION_MAX_MS = 500
THRESHOLD = 5


@dataclass(frozen=True)
class FlaggerVerdict:
    """Status, the minute it was reached, the failed checks counted and the last reason."""

    status: Status
    minute: int
    failed_checks: int
    reason: str


def check(success_percent: float, p99_s: float) -> str | None:
    """One interval's builtin checks; the reason of the first failure, or None when both pass."""
    if math.isnan(success_percent):
        return "no values found for request-success-rate"
    if success_percent < SUCCESS_RATE_MIN:
        return f"success rate {success_percent:.2f}% < {SUCCESS_RATE_MIN:g}%"
    if math.isnan(p99_s):
        return "no values found for request-duration"
    duration_ms = math.trunc(p99_s * 1000)
    if duration_ms > DURATION_MAX_MS:
        return f"request duration {duration_ms}ms > {DURATION_MAX_MS}ms"
    return None


def judge(
    success_percent: Sequence[float], p99_s: Sequence[float], threshold: int = THRESHOLD
) -> FlaggerVerdict:
    """Run the checks minute by minute (index 0 is minute 1) until ``threshold`` failures."""
    failed, reason = 0, "every check passed"
    for minute, (success, p99) in enumerate(zip(success_percent, p99_s, strict=True), start=1):
        problem = check(success, p99)
        if problem is None:
            continue
        failed, reason = failed + 1, problem
        if failed >= threshold:
            return FlaggerVerdict(Status.FAIL, minute, failed, reason)
    return FlaggerVerdict(Status.PASS, len(success_percent), failed, reason)


async def judge_run(client: RangeClient, run: SimulatedRun) -> Decision:
    """Evaluate the canary's two builtin checks at every minute of the window."""
    sc = run.scenario
    window = run.canary_window
    sel = promql.selector(sc.name, sc.canary_version)
    queries = {
        "success": promql.success_rate_percent(sel),
        "p99": promql.latency_quantile(0.99, sel),
    }
    frame = await client.aligned(queries, window.start + timedelta(seconds=STEP_S), window.end)
    verdict = judge(
        frame["success"].to_numpy(dtype=np.float64).tolist(),
        frame["p99"].to_numpy(dtype=np.float64).tolist(),
    )
    detail = f"{verdict.failed_checks} failed checks; last: {verdict.reason}"
    return Decision(verdict.status, float(verdict.minute), detail)
