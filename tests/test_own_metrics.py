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
from monitor.channels.outbox import Deliverer
from monitor.channels.registry import channels_for
from monitor.config import Settings
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.models import DeploymentSpec, Signal, Strategy
from monitor.own_metrics import EngineMetrics, MonitorMetrics
from monitor.profiles import load_profile
from monitor.rollback.configured import ActionType, RollbackAction, RollbackSpec
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

pytestmark = pytest.mark.prometheus

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
FINAL_VERDICTS = ("pass", "marginal", "fail", "inconclusive")


def _samples(text: str) -> Samples:
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


def _series(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of ``name`` by their labels."""
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


def _created(samples: Samples, counter: str) -> set[tuple[tuple[str, str], ...]]:
    """The label sets of ``counter`` whose creation time is exported (the alert rules read it)."""
    return set(_series(samples, f"{counter}_created"))


async def test_counters_of_known_labels_are_exported_at_0_when_the_metrics_are_built() -> None:
    """``increase()`` reads 0 for a series first scraped at 1: the enumerations start at 0."""
    samples = _samples((await MonitorMetrics(EngineMetrics()).exposition()).decode())
    looks = _series(samples, "monitor_evaluations_total")
    assert looks == {(("outcome", "recorded"),): 0.0, (("outcome", "retried"),): 0.0}
    requests = _series(samples, "monitor_otlp_requests_total")
    assert requests == {
        (("code", code), ("signal", signal)): 0.0
        for signal in ("logs", "traces")
        for code in ("200", "400", "413", "415", "429")
    }
    records = _series(samples, "monitor_otlp_records_total")
    assert records == {
        (("outcome", outcome), ("signal", signal)): 0.0
        for signal in ("logs", "traces")
        for outcome in ("accepted", "rejected")
    }
    pairs = _series(samples, "monitor_otlp_span_pairs_total")
    outcomes = ("paired", "expired_clients", "expired_servers", "evicted", "by_address")
    assert pairs == {(("outcome", outcome),): 0.0 for outcome in outcomes}
    for counter, series in [
        ("monitor_evaluations", looks),
        ("monitor_otlp_requests", requests),
        ("monitor_otlp_records", records),
        ("monitor_otlp_span_pairs", pairs),
    ]:
        assert _created(samples, counter) == set(series), counter


def _jenkins() -> RollbackAction:
    return RollbackAction("jenkins", ActionType.WEBHOOK, (("url", "http://127.0.0.1:9/hook"),), "s" * 32)


def _rollouts() -> RollbackAction:
    params = (("namespace", "shop"), ("rollout", "$service"))
    return RollbackAction("rollouts", ActionType.ARGO_ROLLOUTS, params, dry_run=True)


def _staging_undo() -> RollbackAction:
    params = (("namespace", "shop"), ("deployment", "$service"))
    return RollbackAction("undo", ActionType.KUBERNETES_DEPLOYMENT, params, environments=("staging",))


async def test_a_deployment_s_counters_read_0_from_its_first_look_and_again_after_a_restart(
    prometheus: SimulatedPrometheus, store: Store
) -> None:
    """Verdicts, time to verdict, check errors and rollbacks of a deployment start at 0, so its
    final verdict and its first failed rollback are increases; deliveries start at 0 per channel."""
    run = prometheus.runs["aa"]  # no difference: no final verdict before the minimum duration
    spec = DeploymentSpec(
        "aa", "production", "v2", "v1", Strategy.CANARY, run.canary_window.start, "otel-http",
        0, 60, 600, run.canary_window.duration_s,
    )  # fmt: skip
    await store.register(spec, actor="test")
    settings = Settings(rollback=RollbackSpec((_jenkins(), _rollouts(), _staging_undo())))
    now = [run.canary_window.start + timedelta(minutes=2)]
    source = PrometheusSource(prometheus.url)

    async def engine_process() -> tuple[EngineMetrics, Scheduler]:
        """What a (re)started engine builds: its metrics, the outbox's channels, the scheduler."""
        metrics = EngineMetrics()
        deliverer = Deliverer(store, channels=channels_for(settings, store, metrics), metrics=metrics)
        await deliverer.close()
        scheduler = Scheduler(
            store, source, load_profile, SchedulerSettings(owner="a"), lambda: now[0], metrics=metrics
        )
        return metrics, scheduler

    def assert_at_0_before_the_verdict(metrics: EngineMetrics) -> Samples:
        samples = _samples(metrics.exposition().decode())
        service = (("environment", "production"), ("service", "aa"))
        verdicts = _series(samples, "monitor_verdicts_total")
        assert verdicts == {tuple(sorted((*service, ("verdict", v)))): 0.0 for v in FINAL_VERDICTS}
        durations = _series(samples, "monitor_time_to_verdict_seconds_count")
        assert durations == {(("environment", "production"), ("verdict", v)): 0.0 for v in FINAL_VERDICTS}
        rollbacks = _series(samples, "monitor_rollbacks_total")
        expected = [("jenkins", "done"), ("jenkins", "skipped"), ("jenkins", "failed"),
                    ("rollouts", "dry_run"), ("rollouts", "skipped"), ("rollouts", "failed")]  # fmt: skip
        assert rollbacks == {
            (("action", action), *service[:1], ("outcome", outcome), *service[1:]): 0.0
            for action, outcome in expected
        }
        # The checks the look judged (those of the logs and traces wait for the receiver's data).
        checks = {check.name for check in load_profile("otel-http").checks if check.signal is Signal.METRICS}
        errors = _series(samples, "monitor_source_errors_total")
        assert {labels[0][1] for labels in errors} == checks and set(errors.values()) == {0.0}
        deliveries = _series(samples, "monitor_deliveries_total")
        assert deliveries == {
            (("channel", channel), ("outcome", outcome)): 0.0
            for channel in ("webhook", "rollback")
            for outcome in ("delivered", "failed", "abandoned")
        }
        for counter, series in [("monitor_verdicts", verdicts), ("monitor_rollbacks", rollbacks),
                                ("monitor_deliveries", deliveries)]:  # fmt: skip
            assert _created(samples, counter) == set(series), counter
        return samples

    try:
        first, scheduler = await engine_process()
        assert await scheduler.run_once() >= 1
        assert_at_0_before_the_verdict(first)
        # The engine restarts: its counters start over, and the next look exports them at 0 again.
        restarted, scheduler = await engine_process()
        assert not _series(_samples(restarted.exposition().decode()), "monitor_verdicts_total")
        now[0] += timedelta(minutes=2)
        assert await scheduler.run_once() >= 1
        assert_at_0_before_the_verdict(restarted)
        now[0] = run.canary_window.end + timedelta(minutes=1)
        assert await scheduler.run_once() >= 1
    finally:
        await source.close()
    samples = _samples(restarted.exposition().decode())
    final = _series(samples, "monitor_verdicts_total")
    assert {labels[-1][1]: value for labels, value in final.items()} == {
        "pass": 1.0, "marginal": 0.0, "fail": 0.0, "inconclusive": 0.0
    }  # fmt: skip
    durations = _series(samples, "monitor_time_to_verdict_seconds_count")
    assert {labels[1][1]: value for labels, value in durations.items()} == {
        "pass": 1.0, "marginal": 0.0, "fail": 0.0, "inconclusive": 0.0
    }  # fmt: skip
