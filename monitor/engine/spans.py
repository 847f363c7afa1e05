"""Server spans standing in for the HTTP metrics of a service that exports none (OTLP only).

A check with ``from_spans`` in its profile reads, when no series matched for either version, the
versions' server spans from the receiver's aggregates instead: their count (requests), their failed
share (the error ratio) or their durations (latency), per period like the metrics, so the default
profile gives a full verdict to a service that only sends traces.
"""

from __future__ import annotations

import math

from monitor.models import SPAN_BUCKETS_S, CheckData, CountsData, HistogramData, OperationStats, Signal
from monitor.otlp.views import TelemetrySnapshot
from monitor.profiles import CheckSpec
from monitor.profiles.model import FromSpans


def span_data(
    spec: CheckSpec, snapshot: TelemetrySnapshot, period_s: float | None
) -> tuple[CheckData, CheckData] | None:
    """``(canary, baseline)`` data for ``spec`` from server spans, or None when it has none to read."""
    if spec.from_spans is None or not snapshot.engaged(Signal.TRACES):
        return None
    canary, baseline = snapshot.server_spans(True, period_s), snapshot.server_spans(False, period_s)
    if not sum(p.count for p in canary) or not sum(p.count for p in baseline):
        return None
    bounds = (*SPAN_BUCKETS_S, math.inf)

    def as_data(periods: list[OperationStats]) -> CheckData:
        if spec.from_spans is FromSpans.LATENCY:
            rows = tuple(tuple(float(x) for x in p.buckets) for p in periods)
            totals = tuple(float(sum(col)) for col in zip(*rows, strict=True))
            return HistogramData(bounds, totals, rows if len(rows) > 1 else ())
        errors = spec.from_spans is FromSpans.ERRORS
        pairs = tuple((float(p.errors if errors else 0), float(p.count)) for p in periods)
        return CountsData(sum(e for e, _ in pairs), sum(n for _, n in pairs), pairs if len(pairs) > 1 else ())

    return as_data(canary), as_data(baseline)
