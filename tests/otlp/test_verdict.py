"""Logs and traces in the verdict, end to end: the real OpenTelemetry SDK exporters send a toy
service's telemetry into the daemon's receiver, and the engine judges the deployment.

Metrics come from the session's real Prometheus (scenario ``aa``: identical versions), so the
verdict turns on what the logs and traces show. The toy's spans and log records carry explicit
timestamps spread over the first five minutes of the canary window, at 5 requests/s per version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from monitor.api.app import create_app
from monitor.api.keys import STORE
from monitor.api.otlp import RECEIVER
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.models import DeploymentSpec, DeploymentStatus, Strategy
from monitor.profiles import load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

pytestmark = pytest.mark.prometheus
Instrument = Callable[[str, str, str], AbstractContextManager[Any]]  # the conftest fixture
RPS, SECONDS = 5, 300


@pytest.fixture
async def client(tmp_path: Path, prometheus: SimulatedPrometheus) -> AsyncIterator[TestClient[Any, Any]]:
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    source = PrometheusSource(prometheus.url)
    test_client: TestClient[Any, Any] = TestClient(TestServer(create_app(store, source, None)))
    await test_client.start_server()
    yield test_client
    await test_client.close()
    await source.close()
    await store.close()


def _toy(instrument: Instrument, url: str, version: str, start: datetime, regression: bool) -> None:
    with instrument(url, "aa", version) as toy:
        tracer, logger = toy.tracer, toy.logger

        def log(at_s: float, level: int, message: str, *args: object) -> None:
            record = logger.makeRecord(logger.name, level, __file__, 0, message, args, None)
            record.created = at_s  # the SDK's handler takes the record's time
            logger.handle(record)

        for request in range(RPS * SECONDS):
            at_s = start.timestamp() + request / RPS
            at_ns = int(at_s * 1e9)
            span = tracer.start_span("GET /orders", kind=SpanKind.SERVER, start_time=at_ns)
            context = trace.set_span_in_context(span)
            for query in range(5 if regression else 1):  # the N+1 loop of v2
                child = tracer.start_span(
                    "SELECT orders", kind=SpanKind.CLIENT, context=context, start_time=at_ns + query * 10**6
                )
                child.end(end_time=at_ns + (query + 1) * 10**6)
            log(at_s, logging.INFO, "served order %d in %d ms", request, 12 + request % 7)
            if regression and request % 4 == 0:
                span.record_exception(TimeoutError("connection pool exhausted"), timestamp=at_ns + 10**6)
                span.set_status(StatusCode.ERROR)
                log(at_s, logging.ERROR, "db pool exhausted after %d ms", 30 + request % 50)
            span.end(end_time=at_ns + 20 * 10**6)


async def _verdict(
    client: TestClient[Any, Any], prometheus: SimulatedPrometheus, instrument: Instrument, regression: bool
) -> Any:
    run = prometheus.runs["aa"]
    start = run.canary_window.start
    url = str(client.make_url("")).rstrip("/")
    await asyncio.gather(
        asyncio.to_thread(_toy, instrument, url, run.scenario.baseline_version, start, False),
        asyncio.to_thread(_toy, instrument, url, run.scenario.canary_version, start, regression),
    )
    return await _judge(client, prometheus, start)


async def _judge(
    client: TestClient[Any, Any], prometheus: SimulatedPrometheus, start: datetime, service: str = "aa"
) -> Any:
    """Flush the receiver, register the deployment of ``service`` and catch the engine up on it."""
    run = prometheus.runs["aa"]
    app = client.server.app
    store: Store = app[STORE]
    assert await app[RECEIVER].flush(store) > 0
    spec = DeploymentSpec(
        service, "testing", run.scenario.canary_version, run.scenario.baseline_version, Strategy.CANARY,
        start, "otel-http", 0, 60, 600, run.canary_window.duration_s,
    )  # fmt: skip
    deployment, _ = await store.register(spec, actor="test")
    source = PrometheusSource(prometheus.url)
    try:
        # Five minutes of canary traffic: the engine catches up the looks due by then.
        clock = lambda: start + timedelta(seconds=SECONDS + 5)  # noqa: E731
        await Scheduler(store, source, load_profile, SchedulerSettings(owner="a"), clock).run_once()
        if (await store.get(deployment.id)).status in (DeploymentStatus.PENDING, DeploymentStatus.RUNNING):
            clock = lambda: run.canary_window.end + timedelta(minutes=1)  # noqa: E731
            await Scheduler(store, source, load_profile, SchedulerSettings(owner="a"), clock).run_once()
    finally:
        await source.close()
    return await store.get(deployment.id), await (
        await client.get(f"/api/v1/deployments/{deployment.id}/verdict")
    ).json()


async def test_the_regression_fails_within_five_minutes_and_names_what(
    client: TestClient[Any, Any], prometheus: SimulatedPrometheus, instrument: Instrument
) -> None:
    deployment, verdict = await _verdict(client, prometheus, instrument, regression=True)
    assert deployment.status is DeploymentStatus.FAIL and deployment.looks_done <= 5, verdict["summary"]
    checks = {c["name"]: c for c in verdict["checks"]}
    assert checks["trace_fanout"]["classification"] == "high"
    assert "GET /orders (server) -> SELECT orders (client)" in checks["trace_fanout"]["message"]
    assert checks["log_templates"]["classification"] == "high", checks["log_templates"]["message"]
    assert "db pool exhausted" in checks["log_templates"]["message"]
    assert (
        checks["trace_exceptions"]["classification"] == "high"
        and "TimeoutError" in checks["trace_exceptions"]["message"]
    )
    assert checks["http_error_ratio"]["classification"] == "pass"  # the metrics alone saw nothing


async def test_a_clean_pair_of_versions_passes(
    client: TestClient[Any, Any], prometheus: SimulatedPrometheus, instrument: Instrument
) -> None:
    deployment, verdict = await _verdict(client, prometheus, instrument, regression=False)
    assert deployment.status is DeploymentStatus.PASS, verdict["summary"]
    names = {c["name"] for c in verdict["checks"]}
    assert {"log_templates", "trace_fanout", "trace_latency"} <= names  # the telemetry checks took part


def _frontend_and_aa(instrument: Instrument, url: str, start: datetime, delayed_version: str) -> None:
    """A frontend (its own exporter) calls both versions of ``aa`` (theirs): the server spans take
    20 ms either way, but calls to ``delayed_version`` spend 200 ms more on the network."""
    run_versions = ("v1", "v2")
    with (
        instrument(url, "frontend", "v7") as frontend,
        instrument(url, "aa", run_versions[0]) as v1,
        instrument(url, "aa", run_versions[1]) as v2,
    ):
        for request in range(RPS * SECONDS):
            for version, aa in zip(run_versions, (v1, v2), strict=True):
                at_ns = int((start.timestamp() + request / RPS) * 1e9)
                delay_ns = 200 * 10**6 if version == delayed_version else 0
                call = frontend.tracer.start_span("GET", kind=SpanKind.CLIENT, start_time=at_ns)
                remote = trace.set_span_in_context(trace.NonRecordingSpan(call.get_span_context()))
                server = aa.tracer.start_span(
                    "GET /orders", kind=SpanKind.SERVER, context=remote, start_time=at_ns + delay_ns // 2
                )
                server.end(end_time=at_ns + delay_ns // 2 + 20 * 10**6)
                call.end(end_time=at_ns + delay_ns + 22 * 10**6)


async def test_a_network_delay_only_its_callers_see_fails_the_version(
    client: TestClient[Any, Any], prometheus: SimulatedPrometheus, instrument: Instrument
) -> None:
    """Each service exports on its own, as in production: the frontend's client spans and v2's server
    spans meet only in the receiver's pairing. v2's own server spans did not move; its callers saw
    every call 200 ms slower, and that fails the deployment."""
    run = prometheus.runs["aa"]
    start = run.canary_window.start
    url = str(client.make_url("")).rstrip("/")
    await asyncio.to_thread(_frontend_and_aa, instrument, url, start, run.scenario.canary_version)
    deployment, verdict = await _judge(client, prometheus, start)
    assert deployment.status is DeploymentStatus.FAIL, verdict["summary"]
    latency = next(c for c in verdict["checks"] if c["name"] == "trace_latency")
    assert latency["classification"] == "high"
    assert "frontend: GET (client) -> GET /orders (server) (as its caller saw it)" in latency["message"]


def _spans_only(instrument: Instrument, url: str, version: str, start: datetime, error_every: int) -> None:
    with instrument(url, "spans-only", version) as toy:
        for request in range(RPS * SECONDS):
            at_ns = int((start.timestamp() + request / RPS) * 1e9)
            span = toy.tracer.start_span("GET /orders", kind=SpanKind.SERVER, start_time=at_ns)
            if request % error_every == 0:
                span.set_status(StatusCode.ERROR)
            span.end(end_time=at_ns + 20 * 10**6)


@pytest.mark.parametrize(
    ("error_every", "expected"), [(200, DeploymentStatus.PASS), (10, DeploymentStatus.FAIL)]
)
async def test_a_service_without_prometheus_metrics_is_judged_on_its_server_spans(
    client: TestClient[Any, Any],
    prometheus: SimulatedPrometheus,
    instrument: Instrument,
    error_every: int,
    expected: DeploymentStatus,
) -> None:
    """No series match ``spans-only`` in Prometheus: the error ratio, latency and traffic share come
    from the versions' server spans, so the default profile still gives a full verdict (v2 failing
    every tenth request fails it; the same 0.5% as v1 passes)."""
    run = prometheus.runs["aa"]
    start = run.canary_window.start
    url = str(client.make_url("")).rstrip("/")
    await asyncio.gather(
        asyncio.to_thread(_spans_only, instrument, url, run.scenario.baseline_version, start, 200),
        asyncio.to_thread(_spans_only, instrument, url, run.scenario.canary_version, start, error_every),
    )
    deployment, verdict = await _judge(client, prometheus, start, "spans-only")
    assert deployment.status is expected, verdict["summary"]
    checks = {c["name"]: c for c in verdict["checks"]}
    for name in ("http_error_ratio", "http_latency", "traffic_share"):
        assert checks[name]["classification"] != "nodata", checks[name]["message"]
        assert "(from server spans: no metric series)" in checks[name]["message"]
