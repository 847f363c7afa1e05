"""The monitor's own metrics: names and labels are the contract of dashboards and alert rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from monitor.api.app import create_app
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.models import DeploymentSpec, Strategy
from monitor.profiles import load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store
from monitor.telemetry import EngineMetrics, MonitorMetrics

pytestmark = pytest.mark.prometheus


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    yield opened
    await opened.close()


async def test_engine_and_store_metrics_after_a_failed_deployment(
    prometheus: SimulatedPrometheus, store: Store
) -> None:
    run = prometheus.runs["errors_3x"]
    spec = DeploymentSpec(
        "errors_3x", "production", "v2", "v1", Strategy.CANARY, run.canary_window.start, "otel-http",
        0, 60, 600, run.canary_window.duration_s,
    )  # fmt: skip
    older = DeploymentSpec(**{**spec.__dict__, "version": "v1", "baseline_version": "v0"})
    await store.register(older, actor="test")  # superseded by the next one
    await store.register(spec, actor="test")
    engine = EngineMetrics()
    telemetry = MonitorMetrics(engine)
    source = PrometheusSource(prometheus.url)
    try:
        scheduler = Scheduler(
            store, source, load_profile, SchedulerSettings(owner="a"),
            lambda: run.canary_window.end + timedelta(minutes=1), metrics=engine,
        )  # fmt: skip
        await scheduler.run_once()
    finally:
        await source.close()
    await telemetry.refresh(store)
    samples = _samples((await telemetry.exposition()).decode())
    recorded = samples[("monitor_evaluations_total", (("outcome", "recorded"),))]
    assert recorded >= 1
    assert samples[("monitor_evaluation_duration_seconds_count", ())] == recorded
    labels = (("environment", "production"), ("service", "errors_3x"), ("verdict", "fail"))
    assert samples[("monitor_verdicts_total", labels)] == 1
    current = {k: v for k, v in samples.items() if k[0] == "monitor_deployment_verdict"}
    assert current == {
        ("monitor_deployment_verdict", (("environment", "production"), ("service", "errors_3x"),
                                         ("verdict", "fail"), ("version", "v2"))): 1.0,
    }  # fmt: skip
    assert samples[("monitor_deployments", (("status", "fail"),))] == 1
    assert samples[("monitor_deployments", (("status", "cancelled"),))] == 1
    assert samples[("monitor_outbox_backlog", ())] == 0
    assert samples[("monitor_store_up", ())] == 1 and samples[("monitor_engine_up", ())] == 1


async def test_an_engine_that_does_not_answer_reads_as_down(store: Store) -> None:
    async def unreachable() -> bytes:
        raise ConnectionRefusedError("engine socket")

    telemetry = MonitorMetrics(remote_engine=unreachable)
    await telemetry.refresh(store)
    samples = _samples((await telemetry.exposition()).decode())
    assert samples[("monitor_engine_up", ())] == 0
    assert not any(name == "monitor_evaluations_total" for name, _ in samples)


async def test_metrics_endpoint_needs_a_read_token(prometheus: SimulatedPrometheus, store: Store) -> None:
    from monitor.config import TokenSpec

    source = PrometheusSource(prometheus.url)
    app = create_app(store, source, [TokenSpec("prometheus", ("read",), "p" * 32)])
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        assert (await client.get("/metrics")).status == 401
        response = await client.get("/metrics", headers={"Authorization": "Bearer " + "p" * 32})
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        names = {family.name for family in text_string_to_metric_families(await response.text())}
        assert {"monitor_evaluations", "monitor_verdicts", "monitor_deployment_verdict",
                "monitor_outbox_backlog", "monitor_lease_takeovers"} <= names  # fmt: skip
    finally:
        await client.close()
        await source.close()


async def test_lease_takeovers_are_reported(store: Store) -> None:
    started = datetime.now(UTC) - timedelta(minutes=5)
    spec = DeploymentSpec(
        "s", "production", "v2", "v1", Strategy.CANARY, started, "otel-http", 0, 60, 600, 1800
    )
    await store.register(spec, actor="test")
    taken: list[str] = []
    assert len(await store.claim_due("a", lease_s=-1, on_takeover=taken.append)) == 1  # expires at once
    assert len(await store.claim_due("b", lease_s=30, on_takeover=taken.append)) == 1
    assert len(taken) == 1
