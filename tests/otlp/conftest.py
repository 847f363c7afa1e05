"""The real OpenTelemetry SDK, with its OTLP/HTTP exporters pointed at the daemon's receiver."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer

# Toys make telemetry faster than real traffic would: queues that hold all of it, so the SDK
# drops nothing (its default of 2048 would, and the counts would depend on timing).
QUEUE = 50_000


@dataclass(frozen=True)
class Instrumented:
    """A toy service's tracer and logger; both export to the receiver."""

    tracer: Tracer
    logger: logging.Logger


@contextmanager
def _instrumented(url: str, service: str, version: str) -> Iterator[Instrumented]:
    resource = Resource.create(
        {"service.name": service, "service.version": version, "deployment.environment.name": "testing"}
    )
    tracing = TracerProvider(resource=resource)
    tracing.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces"), max_queue_size=QUEUE)
    )
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{url}/v1/logs"), max_queue_size=QUEUE)
    )
    logger = logging.getLogger(f"toy.{service}.{version}.{id(logs)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = LoggingHandler(logger_provider=logs)
    logger.addHandler(handler)
    try:
        yield Instrumented(tracing.get_tracer("toy"), logger)
    finally:
        tracing.shutdown()  # flushes what is queued
        logs.shutdown()
        logger.removeHandler(handler)


Instrument = Callable[[str, str, str], AbstractContextManager[Instrumented]]


@pytest.fixture
def instrument() -> Instrument:
    """``with instrument(receiver_url, service, version) as toy:`` - use ``toy.tracer``, ``toy.logger``."""
    return _instrumented
