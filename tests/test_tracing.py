"""Traces of an evaluation through the real OpenTelemetry SDK, and JSON logs carrying trace ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.models import DeploymentSpec, Signal, Strategy
from monitor.profiles import load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store
from monitor.tracing import JsonFormatter, tracer

pytestmark = pytest.mark.prometheus

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _provider() -> Iterator[None]:
    # The global provider can be set once per process; the in-memory exporter is cleared per test.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)
    yield


async def test_a_look_is_a_span_with_checks_and_queries_below(
    prometheus: SimulatedPrometheus, tmp_path: Path
) -> None:
    _EXPORTER.clear()
    run = prometheus.runs["errors_3x"]
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    source = PrometheusSource(prometheus.url)
    try:
        spec = DeploymentSpec(
            "errors_3x", "production", "v2", "v1", Strategy.CANARY, run.canary_window.start, "otel-http",
            0, 60, 600, run.canary_window.duration_s,
        )  # fmt: skip
        deployment, _ = await store.register(spec, actor="test")
        clock = lambda: run.canary_window.start + timedelta(minutes=1, seconds=5)  # noqa: E731 - one look due
        await Scheduler(store, source, load_profile, SchedulerSettings(owner="a"), clock).run_once()
    finally:
        await source.close()
        await store.close()
    spans = _EXPORTER.get_finished_spans()
    looks = [s for s in spans if s.name == "evaluate look"]
    assert len(looks) == 1
    look = looks[0]
    assert look.attributes is not None and look.attributes["deployment.id"] == deployment.id
    checks = [
        s
        for s in spans
        if s.name.startswith("check ") and s.parent and s.parent.span_id == look.context.span_id
    ]
    # Log and trace checks take part only when the OTLP receiver has data; here there is none.
    metric_checks = {f"check {c.name}" for c in load_profile(None).checks if c.signal is Signal.METRICS}
    assert {s.name for s in checks} == metric_checks
    check_ids = {s.context.span_id for s in checks}
    queries = [s for s in spans if s.name == "prometheus query"]
    assert queries and all(q.parent is not None and q.parent.span_id in check_ids for q in queries)
    assert all(q.context.trace_id == look.context.trace_id for q in queries)
    assert any("errors_3x" in str((q.attributes or {}).get("db.query.text")) for q in queries)


def test_json_logs_carry_the_trace_id() -> None:
    record = logging.LogRecord("monitor.test", logging.INFO, __file__, 1, "look %d done", (3,), None)
    formatter = JsonFormatter()
    outside = json.loads(formatter.format(record))
    assert outside["message"] == "look 3 done" and "trace_id" not in outside
    with tracer().start_as_current_span("evaluate look") as span:
        inside = json.loads(formatter.format(record))
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
