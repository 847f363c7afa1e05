"""The engine loop against a real Prometheus (simulated deployments) and a SQLite store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.channels.notify import Notifier
from monitor.config import Settings, WebhookSpec
from monitor.engine.process import EngineOptions, scheduler_settings
from monitor.engine.request import RequestDefaults, deployment_request
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.environments import Environments
from monitor.models import Deployment, DeploymentSpec, DeploymentStatus, Strategy
from monitor.profiles import load_profile
from monitor.profiles.catalog import ProfileCatalog
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

pytestmark = pytest.mark.prometheus


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    yield opened
    await opened.close()


@pytest.fixture
async def source(prometheus: SimulatedPrometheus) -> AsyncIterator[PrometheusSource]:
    client = PrometheusSource(prometheus.url)
    yield client
    await client.close()


def _spec(prometheus: SimulatedPrometheus, name: str) -> DeploymentSpec:
    run = prometheus.runs[name]
    return DeploymentSpec(
        service=name,
        environment="production",
        version=run.scenario.canary_version,
        baseline_version=run.scenario.baseline_version,
        strategy=Strategy.CANARY,
        started_at=run.canary_window.start,
        profile="otel-http",
        warmup_s=0,
        interval_s=60,
        min_duration_s=600,
        max_duration_s=run.canary_window.duration_s,
    )


def _scheduler(store: Store, source: PrometheusSource, clock: Clock, owner: str = "replica-a") -> Scheduler:
    return Scheduler(store, source, load_profile, SchedulerSettings(owner=owner), clock)


async def test_a_past_deployment_is_caught_up_to_its_final_verdict(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource
) -> None:
    run = prometheus.runs["errors_3x"]
    deployment, _ = await store.register(_spec(prometheus, "errors_3x"), actor="test")
    clock = Clock(run.canary_window.end + timedelta(minutes=1))
    recorded = await _scheduler(store, source, clock).run_once()
    final = await store.get(deployment.id)
    assert final.status is DeploymentStatus.FAIL
    assert 1 <= recorded == final.looks_done <= 10  # decided within 10 one-minute looks
    latest = await store.latest_verdict(deployment.id)
    assert latest is not None and latest.final
    document = json.loads(latest.document_json)
    assert document["deployment_id"] == deployment.id
    assert document["environment"] == "production"
    assert "http_error_ratio" in document["summary"]


async def test_a_running_deployment_advances_one_due_look_at_a_time(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource
) -> None:
    run = prometheus.runs["aa"]
    deployment, _ = await store.register(_spec(prometheus, "aa"), actor="test")
    clock = Clock(run.canary_window.start + timedelta(seconds=30))
    scheduler = _scheduler(store, source, clock)
    assert await scheduler.run_once() == 0  # the first look is not due yet
    clock.now = run.canary_window.start + timedelta(minutes=5, seconds=10)
    assert await scheduler.run_once() == 5
    running = await store.get(deployment.id)
    assert running.status is DeploymentStatus.RUNNING
    assert running.next_look_at == run.canary_window.start + timedelta(minutes=6)
    clock.now = run.canary_window.end
    await scheduler.run_once()
    assert (await store.get(deployment.id)).status is DeploymentStatus.PASS


async def test_two_replicas_never_record_a_look_twice(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource
) -> None:
    run = prometheus.runs["median_25"]
    deployment, _ = await store.register(_spec(prometheus, "median_25"), actor="test")
    clock = Clock(run.canary_window.end)
    a, b = _scheduler(store, source, clock, "replica-a"), _scheduler(store, source, clock, "replica-b")
    counts = await asyncio.gather(a.run_once(), b.run_once())
    final = await store.get(deployment.id)
    assert final.status is DeploymentStatus.FAIL
    assert sum(counts) == final.looks_done  # every look written exactly once, by one replica
    assert 0 in counts


async def test_bluegreen_deployments_compare_with_the_window_before_the_switch(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource
) -> None:
    run = prometheus.runs["ba_errors"]
    spec = _spec(prometheus, "ba_errors")
    spec = DeploymentSpec(**{**spec.__dict__, "strategy": Strategy.BLUEGREEN})
    deployment, _ = await store.register(spec, actor="test")
    await _scheduler(store, source, Clock(run.canary_window.end)).run_once()
    final = await store.get(deployment.id)
    assert final.status is DeploymentStatus.FAIL
    latest = await store.latest_verdict(deployment.id)
    assert latest is not None
    baseline = json.loads(latest.document_json)["baseline"]
    assert baseline["end"] == run.canary_window.start.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_final_verdict_writes_its_webhook_notifications(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource
) -> None:
    run = prometheus.runs["errors_3x"]
    deployment, _ = await store.register(_spec(prometheus, "errors_3x"), actor="test")
    hooks = [
        WebhookSpec("pager", "http://127.0.0.1:9/hook", "x" * 20, verdicts=("fail",)),
        WebhookSpec("chat", "http://127.0.0.1:9/hook", "x" * 20, verdicts=("pass",)),
    ]
    clock = Clock(run.canary_window.end)
    await Scheduler(
        store, source, load_profile, SchedulerSettings(owner="a"), clock,
        notifier=Notifier(Settings(webhooks=tuple(hooks))),
    ).run_once()  # fmt: skip
    [item] = await store.claim_deliveries(claim_s=60)
    assert item.kind == "webhook:pager" and item.deployment_id == deployment.id
    assert json.loads(item.payload_json)["verdict"] == "fail"


def _deployment(labels: tuple[tuple[str, str], ...] = ()) -> Deployment:
    at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    spec = DeploymentSpec(
        "checkout", "production", "v2", "v1", Strategy.CANARY, at, "otel-http", 0, 60, 600, 1800, labels
    )
    return Deployment("d-1", spec, DeploymentStatus.RUNNING, "", at, at)


def test_prefixed_labels_are_metadata_not_query_matchers() -> None:
    """``rollback/feature-flag`` names a flag for the rollback actions; it must not filter the metrics."""
    deployment = _deployment((("region", "eu-1"), ("rollback/feature-flag", "new-checkout")))
    assert deployment_request(deployment, load_profile("otel-http")).extra_matchers == (("region", "eu-1"),)
    # The config's matchers come first, for every deployment.
    configured = deployment_request(
        deployment, load_profile("otel-http"), RequestDefaults(matchers=(("cluster", "eu"),))
    )
    assert configured.extra_matchers == (("cluster", "eu"), ("region", "eu-1"))


def test_the_daemon_judges_traffic_with_the_configured_canary_share() -> None:
    """``traffic.expected_canary_share`` in the config reaches the daemon's requests, as it does
    ``monitor analyze``'s: both build them with :func:`monitor.engine.request.build_request`."""
    settings = Settings(expected_canary_share=0.1, matchers=(("cluster", "eu"),))
    options = EngineOptions("sqlite:///unused.db", "http://prometheus:9090", None, "replica-a", 30.0)
    profile = load_profile("otel-http")
    assert profile.traffic.expected_canary_share != 0.1  # the profile alone would not say 0.1
    catalog = ProfileCatalog()
    scheduler = Scheduler(None, None, catalog.get, scheduler_settings(options, settings))  # type: ignore[arg-type]
    request = scheduler.request_for(_deployment())
    assert request.profile.traffic.expected_canary_share == 0.1
    assert request.profile.traffic.tolerance_factor == profile.traffic.tolerance_factor
    assert request.extra_matchers == (("cluster", "eu"),)
    assert request.harm == Environments().harm("production")
    # The registration's minimum duration still replaces the profile's.
    assert request.profile.decision.min_duration_s == 600


async def test_production_does_not_pass_a_run_that_cannot_rule_out_harm(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource
) -> None:
    """2 canary requests/s, 0.1% errors, 20 minutes: nothing regressed, but the error ratio's bound
    stays above production's 2x harm limit, so production ends inconclusive and says how long it
    would take; staging passes the same data with that as a warning."""
    run = prometheus.runs["low_traffic_aa"]
    clock = Clock(run.canary_window.end + timedelta(minutes=1))
    production, _ = await store.register(_spec(prometheus, "low_traffic_aa"), actor="test")
    staging_spec = replace(_spec(prometheus, "low_traffic_aa"), environment="staging")
    staging, _ = await store.register(staging_spec, actor="test")
    await _scheduler(store, source, clock).run_once()
    assert (await store.get(production.id)).status is DeploymentStatus.INCONCLUSIVE
    strict = await store.latest_verdict(production.id)
    assert strict is not None
    summary = json.loads(strict.document_json)["summary"]
    assert "cannot yet rule out http_error_ratio above 2.00x baseline" in summary
    assert "more minutes at this traffic" in summary
    assert (await store.get(staging.id)).status is DeploymentStatus.PASS
    lenient = await store.latest_verdict(staging.id)
    assert lenient is not None
    assert "warning: cannot yet rule out http_error_ratio" in json.loads(lenient.document_json)["summary"]


async def test_a_look_waits_until_its_data_have_settled(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource
) -> None:
    """Caught up 10 s after its window's end with 40 s to settle, an A/A deployment judges every look
    but the last, whose data may still be arriving; 31 s later the last look decides."""
    run = prometheus.runs["aa"]
    deployment, _ = await store.register(_spec(prometheus, "aa"), actor="test")
    clock = Clock(run.canary_window.end + timedelta(seconds=10))
    scheduler = Scheduler(store, source, load_profile, SchedulerSettings(owner="a", settle_s=40), clock)
    await scheduler.run_once()
    waiting = await store.get(deployment.id)
    assert waiting.status is DeploymentStatus.RUNNING and waiting.looks_done == 19
    assert await scheduler.run_once() == 0  # not due again before it settles
    clock.now += timedelta(seconds=31)
    await scheduler.run_once()
    final = await store.get(deployment.id)
    assert final.status is DeploymentStatus.PASS and final.looks_done == 20


async def test_a_deployment_that_breaks_the_engine_ends_inconclusive_and_the_others_go_on(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource
) -> None:
    """A start in year 1 overflows the window arithmetic: that deployment ends, the engine does not."""
    run = prometheus.runs["errors_3x"]
    absurd = replace(
        _spec(prometheus, "errors_3x"), service="broken", started_at=datetime(1, 1, 1, tzinfo=UTC)
    )
    broken, _ = await store.register(absurd, actor="test")  # past the API's bounds, straight to the store
    healthy, _ = await store.register(_spec(prometheus, "errors_3x"), actor="test")
    hooks = (WebhookSpec("pager", "http://127.0.0.1:9/hook", "x" * 20, verdicts=("inconclusive",)),)
    clock = Clock(run.canary_window.end + timedelta(minutes=1))
    await Scheduler(
        store, source, load_profile, SchedulerSettings(owner="a"), clock,
        notifier=Notifier(Settings(webhooks=hooks)),
    ).run_once()  # fmt: skip
    ended = await store.get(broken.id)
    assert ended.status is DeploymentStatus.INCONCLUSIVE
    latest = await store.latest_verdict(broken.id)
    assert latest is not None and latest.final
    assert "the analysis failed" in json.loads(latest.document_json)["summary"]
    assert (await store.get(healthy.id)).status is DeploymentStatus.FAIL
    [item] = await store.claim_deliveries(claim_s=60)  # delivered like any other final verdict
    assert item.deployment_id == broken.id


async def test_a_backend_outage_is_retried_named_and_ends_inconclusive_after_the_grace(
    prometheus: SimulatedPrometheus, store: Store
) -> None:
    """Prometheus down for the whole run: each look waits at most the grace, saying why, and the
    run ends ``inconclusive`` naming the check and the backend, delivered once like any verdict."""
    run = prometheus.runs["errors_3x"]
    spec = replace(_spec(prometheus, "errors_3x"), max_duration_s=180)  # three one-minute looks
    deployment, _ = await store.register(spec, actor="test")
    down = PrometheusSource("http://127.0.0.1:9", max_attempts=1)  # nothing listens on port 9
    hooks = (WebhookSpec("pager", "http://127.0.0.1:9/hook", "x" * 20, verdicts=("inconclusive",)),)
    settings = SchedulerSettings(owner="a", retry_grace_s=300, retry_s=15)
    first_look = run.canary_window.start + timedelta(minutes=1)
    clock = Clock(first_look + timedelta(seconds=5))
    scheduler = Scheduler(
        store, down, load_profile, settings, clock, notifier=Notifier(Settings(webhooks=hooks))
    )
    try:
        assert await scheduler.run_once() == 0
        waiting = await store.get(deployment.id)
        assert waiting.status is DeploymentStatus.PENDING and waiting.looks_done == 0
        assert "look 1 of 3 cannot be judged: http_error_ratio" in waiting.status_reason
        assert "127.0.0.1:9" in waiting.status_reason  # the backend and its error, not "a check errored"
        assert waiting.next_look_at is not None and waiting.next_look_at > first_look  # not every poll
        assert await scheduler.run_once() == 0  # still failing: still deferred
        clock.now += timedelta(seconds=20)
        assert await scheduler.run_once() == 0
        trail = [e for e in await store.events(deployment.id) if e.kind == "look deferred"]
        assert len(trail) == 1 and "http_error_ratio" in trail[0].message  # once, not per retry
        # Past every look's grace: interim looks are skipped, the last one ends the run.
        clock.now = run.canary_window.start + timedelta(seconds=180 + 300 + 1)
        assert await scheduler.run_once() == 3
        final = await store.get(deployment.id)
        assert final.status is DeploymentStatus.INCONCLUSIVE
        latest = await store.latest_verdict(deployment.id)
        assert latest is not None and latest.final and latest.look == 3
        summary = json.loads(latest.document_json)["summary"]
        assert summary.startswith("inconclusive: ") and "127.0.0.1:9" in summary
        [item] = await store.claim_deliveries(claim_s=60)
        assert item.deployment_id == deployment.id and item.kind == "webhook:pager"
    finally:
        await down.close()


async def test_a_backend_that_recovers_within_the_grace_loses_no_look(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource
) -> None:
    run = prometheus.runs["errors_3x"]
    deployment, _ = await store.register(_spec(prometheus, "errors_3x"), actor="test")
    down = PrometheusSource("http://127.0.0.1:9", max_attempts=1)
    clock = Clock(run.canary_window.start + timedelta(minutes=1, seconds=5))
    try:
        assert await _scheduler(store, down, clock).run_once() == 0
        assert (await store.get(deployment.id)).status_reason
    finally:
        await down.close()
    clock.now = run.canary_window.end + timedelta(minutes=1)  # back, within every look's grace
    await _scheduler(store, source, clock).run_once()
    final = await store.get(deployment.id)
    assert final.status is DeploymentStatus.FAIL and final.status_reason == "verdict fail"


async def test_an_optional_check_that_errors_is_reported_not_retried(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource
) -> None:
    """A failing optional query (a parse error, as a typo'd profile gives) never holds a look back."""
    run = prometheus.runs["errors_3x"]
    base = load_profile("otel-http")
    broken = replace(base.checks[0], name="optional_cpu", events="rate(cpu[", optional=True)
    profile = replace(base, checks=(*base.checks, broken))
    deployment, _ = await store.register(_spec(prometheus, "errors_3x"), actor="test")
    clock = Clock(run.canary_window.start + timedelta(minutes=3, seconds=5))
    scheduler = Scheduler(store, source, lambda _: profile, SchedulerSettings(owner="a"), clock)
    assert await scheduler.run_once() >= 1  # looks recorded at once, not deferred
    assert (await store.get(deployment.id)).status_reason in ("", "verdict fail")
    latest = await store.latest_verdict(deployment.id)
    assert latest is not None
    checks = {c["name"]: c for c in json.loads(latest.document_json)["checks"]}
    assert checks["optional_cpu"]["classification"] == "error"
