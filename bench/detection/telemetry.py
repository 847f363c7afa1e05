"""Logs and traces of simulated deployments, sent as OTLP through the receiver's aggregator.

A telemetry run is the same simulated service as its metrics (same versions, windows and
request rates), instrumented with OpenTelemetry: every request is a server span ``GET /orders``
with one child client span per database call (``SELECT orders``), both in one export request
per minute as an SDK batches a trace's spans, and logs one INFO line; failed requests (the
scenario's error ratio) fail their server span and log an ERROR line; 1% of requests log a WARN
slow-query line. A :class:`TelemetryFault` changes the canary: a new ERROR template on a share
of its requests, slower database calls, or more calls per request (an N+1 loop).

The OTLP protobuf requests go through :class:`monitor.otlp.aggregate.Aggregator` (the receiver's
core) into a SQLite store, from which the monitor reads them as the daemon would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from monitor.models import Mode
from monitor.otlp.aggregate import Aggregator
from monitor.simulate import SimulatedRun
from monitor.store import Store, TelemetryRow

DB_MEDIAN_S = 0.01
WARN_SHARE = 0.01
_SERVER, _CLIENT = Span.SpanKind.SPAN_KIND_SERVER, Span.SpanKind.SPAN_KIND_CLIENT
_INFO, _WARN, _ERROR = 9, 13, 17  # OTLP severity numbers


@dataclass(frozen=True)
class TelemetryFault:
    """What differs in the canary's logs and spans; the defaults describe an identical canary."""

    new_error_share: float = 0.0  # share of its requests that log a new ERROR template
    db_factor: float = 1.0  # its database calls this much slower
    db_calls: int = 1  # database calls per request (an N+1 loop makes more)


@dataclass(frozen=True)
class TelemetryPlan:
    """Which signals a run sends, and the canary's fault."""

    logs: bool = True
    traces: bool = True
    fault: TelemetryFault = TelemetryFault()


def _resource(service: str, version: str) -> Resource:
    return Resource(
        attributes=[
            KeyValue(key="service.name", value=AnyValue(string_value=service)),
            KeyValue(key="service.version", value=AnyValue(string_value=version)),
        ]
    )


def _record(at_ns: int, level: int, text: str) -> LogRecord:
    return LogRecord(time_unix_nano=at_ns, severity_number=level, body=AnyValue(string_value=text))  # type: ignore[arg-type]


def _minute(
    rng: np.random.Generator, run: SimulatedRun, plan: TelemetryPlan, canary: bool, start_ns: int
) -> tuple[ExportTraceServiceRequest | None, ExportLogsServiceRequest | None]:
    """One minute of one version: its requests' spans and log lines, as two export requests."""
    sc = run.scenario
    share = sc.canary_share if sc.mode is Mode.CANARY else 1.0
    rps = sc.total_rps * (share if canary else 1.0 - share)
    fault = plan.fault if canary else TelemetryFault()
    n = int(rng.poisson(rps * 60.0))
    # Drawn as arrays and turned into Python numbers once: per-span numpy calls would dominate.
    starts = (start_ns + np.sort(rng.integers(0, 59_000_000_000, size=n))).tolist()
    durations = (
        (rng.lognormal(np.log(sc.latency_median_s), sc.latency_sigma, size=n) * 1e9).astype(np.int64).tolist()
    )
    db_ns = (
        (rng.lognormal(np.log(DB_MEDIAN_S), 0.5, size=(n, fault.db_calls)) * fault.db_factor * 1e9)
        .astype(np.int64)
        .tolist()
    )
    failed = (rng.random(n) < sc.error_ratio).tolist()
    new_error = (rng.random(n) < fault.new_error_share).tolist()
    slow_query = (rng.random(n) < WARN_SHARE).tolist()
    orders = rng.integers(100_000, 999_999, size=n).tolist()
    ids = rng.bytes(8 * n * (3 + fault.db_calls))
    error, unset = Status(code=Status.StatusCode.STATUS_CODE_ERROR), Status()
    spans: list[Span] = []
    records: list[LogRecord] = []
    for i in range(n):
        base = 8 * i * (3 + fault.db_calls)
        trace_id, span_id = ids[base : base + 16], ids[base + 16 : base + 24]
        begin, end = starts[i], starts[i] + durations[i]
        spans.append(Span(trace_id=trace_id, span_id=span_id, name="GET /orders", kind=_SERVER,
                          start_time_unix_nano=begin, end_time_unix_nano=end,
                          status=error if failed[i] else unset))  # fmt: skip
        for call in range(fault.db_calls):
            at = begin + 1_000_000 * (call + 1)
            child = ids[base + 24 + 8 * call : base + 32 + 8 * call]
            spans.append(Span(trace_id=trace_id, span_id=child, parent_span_id=span_id,
                              name="SELECT orders", kind=_CLIENT, start_time_unix_nano=at,
                              end_time_unix_nano=at + db_ns[i][call]))  # fmt: skip
        if not plan.logs:
            continue
        ms = durations[i] // 1_000_000
        records.append(_record(end, _INFO, f"GET /orders/{orders[i]} answered in {ms} ms"))
        if failed[i]:
            records.append(_record(end, _ERROR, f"upstream inventory timed out after {ms} ms"))
        if slow_query[i]:
            records.append(_record(end, _WARN, f"slow query on orders took {ms // 2} ms"))
        if new_error[i]:
            records.append(
                _record(end, _ERROR, f"payment authorization failed for order {orders[i]}: card declined")
            )
    resource = _resource(sc.name, sc.canary_version if canary else sc.baseline_version)
    traces = (
        ExportTraceServiceRequest(
            resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]
        )
        if plan.traces
        else None
    )
    logs = (
        ExportLogsServiceRequest(
            resource_logs=[ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=records)])]
        )
        if plan.logs
        else None
    )
    return traces, logs


def aggregate_run(run: SimulatedRun, plan: TelemetryPlan) -> list[TelemetryRow]:
    """Generate the run's telemetry minute by minute through one aggregator; its stored rows."""
    rng = np.random.default_rng([run.scenario.seed, 7])
    aggregator = Aggregator()
    now = max(run.canary_window.end, run.baseline_window.end)
    sides = [(False, run.baseline_window)]
    if run.scenario.canary_traffic:
        sides.append((True, run.canary_window))
    for canary, window in sides:
        minute_ns = int(window.start.timestamp()) * 1_000_000_000
        while minute_ns < int(window.end.timestamp()) * 1_000_000_000:
            traces, logs = _minute(rng, run, plan, canary, minute_ns)
            if traces is not None:
                aggregator.add_spans(traces, now)
            if logs is not None:
                aggregator.add_logs(logs, now)
            minute_ns += 60_000_000_000
    return [
        TelemetryRow(kind, key.service, key.environment, key.version, key.minute, json.dumps(payload))
        for kind, key, payload in aggregator.drain()
    ]


async def store_telemetry(runs: list[tuple[SimulatedRun, TelemetryPlan]], path: Path) -> Store:
    """Aggregate every run's telemetry into a new SQLite store at ``path``; the open store."""
    path.unlink(missing_ok=True)
    store = await Store.open(f"sqlite:///{path}")
    for run, plan in runs:
        await store.add_telemetry(aggregate_run(run, plan))
    return store
