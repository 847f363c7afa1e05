"""Dispatch of the log and trace checks to their judges, by check name (see ``TELEMETRY_CHECKS``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

_JUDGES: dict[str, Callable[[CheckSpec, Any, float], CheckResult]] = {
    "log_templates": judge_log_templates,
    "log_error_rate": judge_log_errors,
    "trace_latency": judge_trace_latency,
    "trace_errors": judge_trace_errors,
    "trace_fanout": judge_trace_fanout,
    "trace_exceptions": judge_trace_exceptions,
}


def judge_telemetry(spec: CheckSpec, data: LogData | TraceData, alpha: float) -> CheckResult:
    """Judge one log or trace check on its signal's data."""
    return _JUDGES[spec.name](spec, data, alpha)
