"""Logs and traces pulled from Loki, Tempo or Jaeger, aggregated as the receiver would, per look.

A pulled backend (a :class:`~monitor.sources.base.LogBackend` or
:class:`~monitor.sources.base.TraceBackend`) answers lines or OTLP/JSON traces; here they go
through the receiver's :class:`~monitor.otlp.aggregate.Aggregator` (both versions through one, so
they share a template set) and become a :class:`~monitor.sources.base.LogSource` or
:class:`~monitor.sources.base.TraceSource`, read exactly like the stored aggregates: ``monitor
analyze --loki-url/--tempo-url`` and a daemon with ``logs_from: loki`` judge logs and traces with
the same code as the receiver's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from monitor.logs.counts import Level
from monitor.models import Window
from monitor.otlp.aggregate import Aggregator
from monitor.otlp.decode import decode_document
from monitor.otlp.views import TelemetryReader
from monitor.sources.base import LogBackend, LogSource, TraceBackend, TraceSource, Versions
from monitor.sources.configured import Sources
from monitor.sources.connect import LOG_BACKENDS, TRACE_BACKENDS, pulled_backend

RECEIVER = "receiver"  # logs_from / traces_from: the OTLP receiver's store


@dataclass(frozen=True)
class PulledAggregate:
    """One minute of a version's pulled logs or spans, aggregated as the receiver does."""

    version: str
    minute: datetime
    payload_json: str


def _logs_request(
    service: str, version: str, lines: list[tuple[int, str, Level]]
) -> ExportLogsServiceRequest:
    resource = Resource(
        attributes=[
            KeyValue(key="service.name", value=AnyValue(string_value=service)),
            KeyValue(key="service.version", value=AnyValue(string_value=version)),
        ]
    )
    records = [
        LogRecord(time_unix_nano=at_ns, severity_number=int(level), body=AnyValue(string_value=line))  # type: ignore[arg-type]
        for at_ns, line, level in lines
    ]
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=records)])]
    )


def _sides(versions: Versions) -> tuple[tuple[str, Window], tuple[str, Window]]:
    return (versions.baseline, versions.baseline_window), (versions.canary, versions.canary_window)


def _now(versions: Versions) -> datetime:
    # Timestamps are judged sane relative to the windows, which may lie far in the past.
    return max(versions.canary_window.end, versions.baseline_window.end)


def _drained(aggregator: Aggregator, service: str) -> list[PulledAggregate]:
    return [
        PulledAggregate(key.version, key.minute, json.dumps(payload))
        for _, key, payload in aggregator.drain()
        if key.service == service  # a trace also holds the spans of other services
    ]


class PulledLogs:
    """A :class:`LogSource` over a log backend such as Loki."""

    def __init__(self, backend: LogBackend) -> None:
        self.backend = backend

    async def log_aggregates(self, versions: Versions) -> list[PulledAggregate]:
        """Both versions' lines in their windows, aggregated into templates per minute."""
        aggregator = Aggregator()
        for version, window in _sides(versions):
            lines = await self.backend.lines(versions.service, version, window)
            aggregator.add_logs(_logs_request(versions.service, version, lines), _now(versions))
        return _drained(aggregator, versions.service)


class PulledTraces:
    """A :class:`TraceSource` over a trace backend such as Tempo or Jaeger."""

    def __init__(self, backend: TraceBackend) -> None:
        self.backend = backend

    async def span_aggregates(self, versions: Versions) -> list[PulledAggregate]:
        """Both versions' traces in their windows, aggregated into operations per minute."""
        aggregator = Aggregator()
        for version, window in _sides(versions):
            for document in await self.backend.traces(versions.service, version, window):
                aggregator.add_spans(decode_document(document, ExportTraceServiceRequest()), _now(versions))
        return _drained(aggregator, versions.service)


class PulledTelemetry(TelemetryReader):
    """A :class:`TelemetryReader` over Loki and Tempo (or Jaeger) instead of the store.

    Either may be absent; its signal then has no data and its checks do not take part.
    """

    def __init__(self, loki: LogBackend | None = None, tempo: TraceBackend | None = None) -> None:
        super().__init__(
            PulledLogs(loki) if loki is not None else None, PulledTraces(tempo) if tempo is not None else None
        )


class Receiver(LogSource, TraceSource, Protocol):
    """The receiver's store read as both sources (:class:`~monitor.otlp.stored.StoredTelemetry`)."""


def telemetry_reader(
    sources: Sources, logs_from: str, traces_from: str, receiver: Receiver
) -> TelemetryReader:
    """The daemon's reader: each signal from the receiver or from the pulled backend named by the config.

    ``logs_from`` is ``receiver`` or a key of :data:`~monitor.sources.connect.LOG_BACKENDS`,
    ``traces_from`` likewise of :data:`~monitor.sources.connect.TRACE_BACKENDS`; a pulled backend
    takes its URL and credentials from its section of ``sources``.
    """
    logs: LogSource = receiver
    traces: TraceSource = receiver
    if logs_from != RECEIVER:
        logs = PulledLogs(pulled_backend(LOG_BACKENDS, logs_from, sources, "logs_from"))
    if traces_from != RECEIVER:
        traces = PulledTraces(pulled_backend(TRACE_BACKENDS, traces_from, sources, "traces_from"))
    return TelemetryReader(logs, traces)
