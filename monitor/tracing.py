"""Traces of the monitor's own work, and JSON logs that carry their trace ids.

Every look is a span (``evaluate look``) with a child per check and, below it, one per
Prometheus query, so a slow or failing evaluation can be followed in Tempo or Jaeger. Spans are
exported over OTLP/HTTP when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``..._TRACES_ENDPOINT``) is set; otherwise tracing costs nothing (the API's no-op provider).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

from opentelemetry import trace

from monitor.redact import redact_text

TRACER_NAME = "monitor"


def tracer() -> trace.Tracer:
    """The monitor's tracer (no-op until :func:`configure_tracing` installs a provider)."""
    return trace.get_tracer(TRACER_NAME)


def configure_tracing(service_name: str = "deploy-health-monitor") -> bool:
    """Install an SDK provider exporting over OTLP/HTTP when an endpoint is configured."""
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the current trace and span ids when there is a span."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(record.getMessage()),  # no password or token of a URL in a log
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry)
