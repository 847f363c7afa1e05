"""Replaying the daemon's looks over a past window: what ``analyze --interval`` does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from monitor.checks.kind import ProbeAttempts
from monitor.engine.evaluate import evaluate_look
from monitor.engine.request import AnalysisRequest
from monitor.models import Verdict
from monitor.otlp.views import TelemetryReader
from monitor.sources.base import MetricsSource


def look_times(start: datetime, end: datetime, interval_s: float | None) -> list[datetime]:
    """``start+interval, start+2*interval, ... end`` (``end`` always last); just ``end`` without interval."""
    if not interval_s:
        return [end]
    times: list[datetime] = []
    step = timedelta(seconds=interval_s)
    at = start + step
    while at < end:
        times.append(at)
        at += step
    times.append(end)
    return times


async def analyze(
    request: AnalysisRequest,
    source: MetricsSource,
    on_look: Callable[[Verdict], None] | None = None,
    telemetry: TelemetryReader | None = None,
    probes: ProbeAttempts | None = None,
) -> Verdict:
    """Evaluate look after look, stopping at the first final verdict (always final at the end).

    ``probes`` are the attempts of the request's probes: each look sees those finished before it,
    except a one-off run's live attempts (``analyze --probe``), which every look sees whole
    (:class:`~monitor.checks.kind.ProbeAttempts`).
    """
    times = look_times(request.canary_window.start, request.canary_window.end, request.interval_s)
    verdict: Verdict | None = None
    for look, at in enumerate(times, start=1):
        verdict = await evaluate_look(
            source, request, at, look, last_look=look == len(times), planned_looks=len(times),
            telemetry=telemetry, probes=probes,
        )  # fmt: skip
        if on_look is not None:
            on_look(verdict)
        if verdict.final:
            break
    assert verdict is not None
    return verdict
