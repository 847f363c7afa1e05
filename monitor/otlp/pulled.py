"""Logs and traces pulled from Loki and Tempo, aggregated as the receiver would, for one analysis.

The pulled lines and spans go through the receiver's :class:`~monitor.otlp.aggregate.Aggregator`
(both versions through one, so they share a template set) and are then read exactly like stored
aggregates: ``monitor analyze --loki-url/--tempo-url`` judges logs and traces with the same code
as the daemon.
"""

from __future__ import annotations

import json
from datetime import datetime

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from monitor.logs.counts import Level
from monitor.models import Signal
from monitor.otlp.aggregate import Aggregator
from monitor.otlp.views import TelemetryReader, Versions
from monitor.sources.jaeger import JaegerSource
from monitor.sources.loki import LokiSource
from monitor.sources.tempo import TempoSource
from monitor.store import TelemetryRow


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


class PulledTelemetry(TelemetryReader):
    """A :class:`TelemetryReader` over Loki and Tempo (or Jaeger) instead of the store.

    Either may be absent; its signal then has no data and its checks do not take part.
    """

    def __init__(
        self, loki: LokiSource | None = None, tempo: TempoSource | JaegerSource | None = None
    ) -> None:
        self._loki, self._tempo = loki, tempo

    async def _rows(self, signal: Signal, versions: Versions) -> list[TelemetryRow]:
        aggregator = Aggregator()
        # Timestamps are judged sane relative to the windows, which may lie far in the past.
        now: datetime = max(versions.canary_window.end, versions.baseline_window.end)
        sides = ((versions.baseline, versions.baseline_window), (versions.canary, versions.canary_window))
        for version, window in sides:
            if signal is Signal.LOGS and self._loki is not None:
                lines = await self._loki.lines(versions.service, version, window)
                aggregator.add_logs(_logs_request(versions.service, version, lines), now)
            elif signal is Signal.TRACES and self._tempo is not None:
                for request in await self._tempo.traces(versions.service, version, window):
                    aggregator.add_spans(request, now)
        return [
            TelemetryRow(kind, key.service, key.environment, key.version, key.minute, json.dumps(payload))
            for kind, key, payload in aggregator.drain()
            if key.service == versions.service  # a trace also holds the spans of other services
        ]
