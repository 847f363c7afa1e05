"""Dispatch of the log and trace checks to their judges, by check name (see ``TELEMETRY_CHECKS``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.judges import logs, traces
from monitor.judges.logs import judge_log_errors, judge_log_templates
from monitor.judges.traces import (
    TraceData,
    judge_trace_errors,
    judge_trace_exceptions,
    judge_trace_fanout,
    judge_trace_latency,
)
from monitor.logs.counts import LogData
from monitor.models import CheckResult
from monitor.profiles import CheckSpec

# name -> (judge(spec, data, alpha, relevance), smallest attainable p-value(spec, data))
_JUDGES: dict[
    str, tuple[Callable[[CheckSpec, Any, float, float], CheckResult], Callable[[CheckSpec, Any], float]]
] = {
    "log_templates": (judge_log_templates, logs.templates_min_p),
    "log_error_rate": (judge_log_errors, logs.errors_min_p),
    "trace_latency": (judge_trace_latency, traces.latency_min_p),
    "trace_errors": (judge_trace_errors, traces.errors_min_p),
    "trace_fanout": (judge_trace_fanout, traces.fanout_min_p),
    "trace_exceptions": (judge_trace_exceptions, traces.exceptions_min_p),
    "trace_operations": (traces.judge_trace_operations, traces.operations_min_p),
}


def judge_telemetry(
    spec: CheckSpec, data: LogData | TraceData, alpha: float, relevance: float = 0.5
) -> CheckResult:
    """Judge one log or trace check on its signal's data (``alpha`` and ``relevance`` as for metrics)."""
    return _JUDGES[spec.name][0](spec, data, alpha, relevance)


def telemetry_min_p(spec: CheckSpec, data: LogData | TraceData) -> float:
    """The smallest p-value one log or trace check could give on this data (1: it cannot judge)."""
    return _JUDGES[spec.name][1](spec, data)
