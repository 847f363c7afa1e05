"""The trace kinds: per-operation span statistics of both versions (:mod:`monitor.judges.traces`)."""

from __future__ import annotations

from monitor.checks.aggregated import AggregatedKind
from monitor.checks.kind import Aggregates
from monitor.judges import traces
from monitor.models import TraceData


async def _traces(aggregates: Aggregates) -> TraceData:
    return await aggregates.traces()


LATENCY = AggregatedKind(_traces, traces.judge_trace_latency, traces.latency_min_p)
ERRORS = AggregatedKind(_traces, traces.judge_trace_errors, traces.errors_min_p)
FANOUT = AggregatedKind(_traces, traces.judge_trace_fanout, traces.fanout_min_p)
EXCEPTIONS = AggregatedKind(_traces, traces.judge_trace_exceptions, traces.exceptions_min_p)
OPERATIONS = AggregatedKind(_traces, traces.judge_trace_operations, traces.operations_min_p)
