"""A look's log and span aggregates, merged into what the log and trace judges compare.

The aggregates come from a :class:`~monitor.sources.base.LogSource` and a
:class:`~monitor.sources.base.TraceSource`: the receiver's store (:mod:`monitor.otlp.stored`) or a
pulled backend (:mod:`monitor.otlp.pulled`). Rows are per version and minute, possibly several per
minute (one per flush and replica); they are summed here. A version's rows count when their
minute starts inside its window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from monitor.errors import MonitorError
from monitor.logs.counts import Level, LogData, TemplateCounts
from monitor.models import SPAN_BUCKETS_S, OperationStats, Signal, TraceData, Window
from monitor.sources.base import Aggregate, LogSource, TraceSource, Versions

__all__ = ["TelemetryReader", "TelemetrySnapshot", "Versions"]  # Versions: where callers have found it


def _in(row: Aggregate, version: str, window: Window) -> bool:
    return row.version == version and window.start - timedelta(seconds=59) < row.minute < window.end


class TelemetryReader:
    """Reads a look's logs from a :class:`LogSource` and its spans from a :class:`TraceSource`.

    Either may be None: that signal then has no data and its checks do not take part.
    """

    def __init__(self, logs: LogSource | None, traces: TraceSource | None) -> None:
        self._logs, self._traces = logs, traces

    async def _rows(self, signal: Signal, versions: Versions) -> list[Aggregate]:
        if signal is Signal.LOGS:
            return list(await self._logs.log_aggregates(versions)) if self._logs is not None else []
        return list(await self._traces.span_aggregates(versions)) if self._traces is not None else []

    async def snapshot(self, versions: Versions) -> TelemetrySnapshot:
        """Both signals' aggregates for one look: one read each, shared by every check.

        Each signal is read on its own: when one fails (Tempo down, say), the snapshot holds the
        error for that signal only, and the other signal's checks are judged as usual.
        """
        rows: dict[Signal, list[Aggregate]] = {}
        errors: dict[Signal, MonitorError] = {}
        for signal in (Signal.LOGS, Signal.TRACES):
            try:
                rows[signal] = await self._rows(signal, versions)
            except MonitorError as exc:
                rows[signal], errors[signal] = [], exc
        return TelemetrySnapshot(versions, rows[Signal.LOGS], rows[Signal.TRACES], errors)


class TelemetrySnapshot:
    """The aggregates of one look, merged per version on demand (pure: no I/O)."""

    def __init__(
        self,
        versions: Versions,
        log_rows: Sequence[Aggregate],
        span_rows: Sequence[Aggregate],
        errors: Mapping[Signal, MonitorError] | None = None,
    ) -> None:
        self._versions = versions
        self._rows = {Signal.LOGS: log_rows, Signal.TRACES: span_rows}
        self._errors = dict(errors or {})

    def error(self, signal: Signal) -> MonitorError | None:
        """Why this signal could not be read (its backend's error), or None when it was."""
        return self._errors.get(signal)

    def _payloads(self, signal: Signal, canary: bool) -> list[dict[str, Any]]:
        v = self._versions
        version, window = (v.canary, v.canary_window) if canary else (v.baseline, v.baseline_window)
        return [json.loads(r.payload_json) for r in self._rows[signal] if _in(r, version, window)]

    def engaged(self, signal: Signal) -> bool:
        """Whether both versions sent this signal: only then are its checks judged."""
        v, rows = self._versions, self._rows.get(signal, [])
        return any(_in(r, v.canary, v.canary_window) for r in rows) and any(
            _in(r, v.baseline, v.baseline_window) for r in rows
        )

    def logs(self) -> LogData:
        """Template counts of both versions; exposure is server spans when both have them, else lines."""
        canary = _merge_templates(self._payloads(Signal.LOGS, canary=True))
        baseline = _merge_templates(self._payloads(Signal.LOGS, canary=False))
        templates = tuple(
            _template(text, canary.get(text), baseline.get(text)) for text in canary.keys() | baseline.keys()
        )
        lines_c = sum(t.canary for t in templates)
        lines_b = sum(t.baseline for t in templates)
        traces = self.traces()
        requests_c = sum(op.count for name, op in traces.canary.items() if name.endswith("(server)"))
        requests_b = sum(op.count for name, op in traces.baseline.items() if name.endswith("(server)"))
        if requests_c and requests_b:
            return LogData(templates, requests_c, requests_b, "requests", lines_c, lines_b)
        return LogData(templates, lines_c, lines_b, "lines", lines_c, lines_b)

    def server_spans(self, canary: bool, period_s: float | None) -> list[OperationStats]:
        """The version's server spans summed over its window, or per period of ``period_s``
        anchored at the window's start (what stands in for HTTP metrics a service does not export)."""
        v = self._versions
        version, window = (v.canary, v.canary_window) if canary else (v.baseline, v.baseline_window)
        rows = [r for r in self._rows[Signal.TRACES] if _in(r, version, window)]
        periods = 1
        if period_s and window.duration_s >= period_s:
            periods = int(window.duration_s // period_s) + (window.duration_s % period_s >= 1.0)
        grouped: list[list[dict[str, Any]]] = [[] for _ in range(periods)]
        for row in rows:
            offset_s = max((row.minute - window.start).total_seconds(), 0.0)
            index = min(int(offset_s // period_s), periods - 1) if periods > 1 and period_s else 0
            operations = json.loads(row.payload_json)["operations"]
            grouped[index].append({n: op for n, op in operations.items() if n.endswith("(server)")})
        return [_sum(_merge_operations(group).values()) for group in grouped]

    def traces(self) -> TraceData:
        """Per-operation span statistics of both versions, and the calls to each as its callers saw them."""
        canary = self._payloads(Signal.TRACES, canary=True)
        baseline = self._payloads(Signal.TRACES, canary=False)
        return TraceData(
            SPAN_BUCKETS_S,
            _merge_operations(p["operations"] for p in canary),
            _merge_operations(p["operations"] for p in baseline),
            _merge_operations(p.get("callers", {}) for p in canary),
            _merge_operations(p.get("callers", {}) for p in baseline),
        )


def _sum(operations: Iterable[OperationStats]) -> OperationStats:
    """Several operations' spans as one: counts, errors and buckets added."""
    ops = list(operations)
    buckets = tuple(sum(col) for col in zip(*(op.buckets for op in ops), strict=True)) if ops else ()
    return OperationStats(
        sum(op.count for op in ops), sum(op.errors for op in ops), buckets or (0,) * (len(SPAN_BUCKETS_S) + 1)
    )


def _template(text: str, canary: dict[str, Any] | None, baseline: dict[str, Any] | None) -> TemplateCounts:
    sides = [side for side in (canary, baseline) if side is not None]
    level = max(Level[side["level"]] for side in sides)
    example = next((side["example"] for side in sides if side["example"]), "")
    return TemplateCounts(
        text, level, int(canary["count"]) if canary else 0, int(baseline["count"]) if baseline else 0, example
    )


def _merge_templates(payloads: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for payload in payloads:
        for text, item in payload["templates"].items():
            into = merged.setdefault(text, {"count": 0, "level": "TRACE", "example": ""})
            into["count"] += item["count"]
            if Level[item["level"]] > Level[into["level"]]:
                into["level"] = item["level"]
            if not into["example"] and item["examples"]:
                into["example"] = item["examples"][0]
    return merged


def _merge_operations(payloads: Iterable[dict[str, Any]]) -> dict[str, OperationStats]:
    """Sum each operation's counts over the rows (minutes, flushes, replicas)."""
    merged: dict[str, dict[str, Any]] = {}
    for operations in payloads:
        for name, op in operations.items():
            into = merged.setdefault(
                name, {"count": 0, "errors": 0, "buckets": [0] * (len(SPAN_BUCKETS_S) + 1),
                       "exceptions": {}, "exemplars": [], "calls": {}},
            )  # fmt: skip
            into["count"] += op["count"]
            into["errors"] += op["errors"]
            into["buckets"] = [a + b for a, b in zip(into["buckets"], op["buckets"], strict=True)]
            for field in ("exceptions", "calls"):
                for key, n in op[field].items():
                    into[field][key] = into[field].get(key, 0) + n
            into["exemplars"] = (into["exemplars"] + op["exemplars"])[:5]
    return {
        name: OperationStats(
            m["count"], m["errors"], tuple(m["buckets"]), m["exceptions"], tuple(m["exemplars"]), m["calls"]
        )
        for name, m in merged.items()
    }
