"""A small instrumented system whose deployed service may carry a fault, exporting like production.

Three services, each version with its own OpenTelemetry SDK ``TracerProvider`` and OTLP/HTTP span
exporter (and the deployed service a logger provider), pointed at the monitor's receiver: nothing
is batched across services, so a caller's client span and the callee's server span meet only in
the receiver's pairing, as in a real system.

* ``frontend`` serves ``GET /checkout`` and calls ``cart`` (``GET``, client);
* ``cart`` (the deployed service, ``v1`` the baseline and ``v2`` the canary, half the traffic each)
  serves ``GET /cart``: one ``redis GET`` (client) and a call to ``catalog``; it logs a line per
  request;
* ``catalog`` serves ``GET /items``.

Spans carry explicit timestamps, ``requests_per_s`` over the window, so ten minutes of traffic take
seconds to make. A :class:`Fault` changes ``cart v2``: CPU inside its spans, a network delay only
its callers see, thrown exceptions, an early wrong return (no work, no downstream calls), a vanished
downstream call, an N+1 loop.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode, Tracer

QUEUE = 200_000  # hold a whole run: the SDK must drop nothing, or counts would depend on timing
MS = 1_000_000


class Fault(StrEnum):
    """What ``cart v2`` does differently (``none``: a control run)."""

    NONE = "none"
    CPU = "cpu"  # 3x slower inside its own server spans
    DELAY = "delay"  # 150 ms on the network before its server span starts: only callers see it
    EXCEPTION = "exception"  # 10% of requests throw, logged at ERROR
    WRONG = "wrong"  # returns at once with a wrong answer: no work, no downstream calls
    VANISHED = "vanished"  # no longer calls catalog
    N_PLUS_1 = "n+1"  # five redis GETs per request instead of one


@dataclass(frozen=True)
class Run:
    """One simulated deployment of ``cart`` with its own service names."""

    name: str
    fault: Fault
    requests_per_s: float
    start: datetime
    duration_s: int
    seed: int

    def service(self, role: str) -> str:
        return f"{role}-{self.name}"


@dataclass
class Instrumented:
    """One version of a service's tracer and (when it logs) logger, both exporting to the receiver."""

    tracer: Tracer
    logger: logging.Logger | None


@contextmanager
def instrumented(
    url: str, service: str, version: str, *, logs: bool = True, environment: str | None = None
) -> Iterator[Instrumented]:
    """The real SDK with its own OTLP/HTTP exporters to ``url``; flushed and shut down on exit."""
    attributes = {"service.name": service, "service.version": version}
    if environment:
        attributes["deployment.environment.name"] = environment
    resource = Resource.create(attributes)
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces"), max_queue_size=QUEUE)
    )
    logger: logging.Logger | None = None
    log_provider: LoggerProvider | None = None
    handler: LoggingHandler | None = None
    if logs:
        log_provider = LoggerProvider(resource=resource)
        log_provider.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{url}/v1/logs"), max_queue_size=QUEUE)
        )
        logger = logging.getLogger(f"bench.traces.{service}.{version}")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        handler = LoggingHandler(logger_provider=log_provider)
        logger.addHandler(handler)
    try:
        yield Instrumented(provider.get_tracer("bench"), logger)
    finally:
        provider.shutdown()  # exports what is queued
        if log_provider is not None and logger is not None and handler is not None:
            log_provider.shutdown()
            logger.removeHandler(handler)


def _log(logger: logging.Logger | None, at_ns: int, level: int, message: str, *args: object) -> None:
    if logger is None:
        return
    record = logger.makeRecord(logger.name, level, __file__, 0, message, args, None)
    record.created = at_ns / 1e9  # the SDK's handler takes the record's time
    logger.handle(record)


def _remote(span: trace.Span) -> Context:
    return trace.set_span_in_context(trace.NonRecordingSpan(span.get_span_context()))


def generate(run: Run, url: str) -> int:
    """Send the run's traffic through every service's exporter; the number of requests."""
    rng = random.Random(run.seed)
    with ExitStack() as stack:
        frontend = stack.enter_context(instrumented(url, run.service("frontend"), "v1", logs=False))
        catalog = stack.enter_context(instrumented(url, run.service("catalog"), "v1", logs=False))
        carts = {
            version: stack.enter_context(instrumented(url, run.service("cart"), version, logs=True))
            for version in ("v1", "v2")
        }
        requests = 0
        at_ns = int(run.start.timestamp() * 1e9)
        end_ns = at_ns + run.duration_s * 10**9
        while True:
            at_ns += int(rng.expovariate(run.requests_per_s) * 1e9)
            if at_ns >= end_ns:
                return requests
            version = "v2" if rng.random() < 0.5 else "v1"
            fault = run.fault if version == "v2" else Fault.NONE
            _request(rng, frontend.tracer, carts[version], catalog.tracer, fault, at_ns)
            requests += 1


def _request(
    rng: random.Random, frontend: Tracer, cart: Instrumented, catalog: Tracer, fault: Fault, at_ns: int
) -> None:
    """One checkout: the frontend calls the cart, which queries redis and calls the catalog."""
    entry = frontend.start_span("GET /checkout", kind=SpanKind.SERVER, start_time=at_ns)
    call = frontend.start_span(
        "GET", kind=SpanKind.CLIENT, context=trace.set_span_in_context(entry), start_time=at_ns + MS
    )
    start_ns = at_ns + MS + (150 * MS if fault is Fault.DELAY else 0)
    served = cart.tracer.start_span(
        "GET /cart", kind=SpanKind.SERVER, context=_remote(call), start_time=start_ns
    )
    inside = trace.set_span_in_context(served)
    work_ns = int(rng.lognormvariate(0.0, 0.4) * 20 * MS) * (3 if fault is Fault.CPU else 1)
    clock_ns = start_ns + MS
    if fault is not Fault.WRONG:
        for _ in range(5 if fault is Fault.N_PLUS_1 else 1):
            query = cart.tracer.start_span(
                "redis GET", kind=SpanKind.CLIENT, context=inside, start_time=clock_ns
            )
            clock_ns += int(rng.lognormvariate(0.0, 0.3) * MS)
            query.end(end_time=clock_ns)
        if fault is not Fault.VANISHED:
            items = cart.tracer.start_span("GET", kind=SpanKind.CLIENT, context=inside, start_time=clock_ns)
            listed = catalog.start_span(
                "GET /items", kind=SpanKind.SERVER, context=_remote(items), start_time=clock_ns + MS // 2
            )
            clock_ns += int(rng.lognormvariate(0.0, 0.3) * 8 * MS)
            listed.end(end_time=clock_ns)
            clock_ns += MS // 2
            items.end(end_time=clock_ns)
        clock_ns += work_ns
    else:
        clock_ns = start_ns + MS // 2
    if fault is Fault.EXCEPTION and rng.random() < 0.1:
        served.record_exception(RuntimeError("payment service rejected the cart"), timestamp=clock_ns)
        served.set_status(StatusCode.ERROR)
        _log(
            cart.logger,
            clock_ns,
            logging.ERROR,
            "checkout failed for cart %d: payment rejected",
            rng.randrange(10**6),
        )
    _log(
        cart.logger,
        clock_ns,
        logging.INFO,
        "served cart %d in %d ms",
        rng.randrange(10**6),
        (clock_ns - start_ns) // MS,
    )
    served.end(end_time=clock_ns)
    back_ns = clock_ns + (150 * MS if fault is Fault.DELAY else 0) + MS
    call.end(end_time=back_ns)
    entry.end(end_time=back_ns + MS)
