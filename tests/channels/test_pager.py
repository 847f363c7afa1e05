"""Pages of failed deploys: pushed to a real Alertmanager and to a PagerDuty fake, then resolved.

The Alertmanager is the Debian package's binary (fixture ``alertmanager``); the tests read the
alerts back through its v2 API. PagerDuty cannot run here: ``pagerduty`` is a fake of the
Events API v2 built from ``docs/integrations.md`` (see ``conftest.py``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.channels.notify import Notifier
from monitor.channels.outbox import Deliverer
from monitor.channels.pager import ALERT_NAME, dedup_key
from monitor.channels.registry import channels_for
from monitor.config import Settings
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.environments import EnvironmentDefaults, Environments
from monitor.models import Deployment, DeploymentSpec, DeploymentStatus, Strategy
from monitor.profiles import load_profile
from monitor.settings.pager import PagerSpec
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store, StoredVerdict

PUBLIC = "https://deploy-monitor.example.com"


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


def _settings(alertmanager: Any, pagerduty: Any, routing_key: str) -> Settings:
    pager = PagerSpec(
        alertmanager_url=alertmanager.url, pagerduty_routing_key=routing_key, pagerduty_url=pagerduty.url
    )
    return Settings(pager=pager, public_url=PUBLIC)


def _spec(prometheus: SimulatedPrometheus, name: str) -> DeploymentSpec:
    run = prometheus.runs[name]
    return DeploymentSpec(
        name, "production", run.scenario.canary_version, run.scenario.baseline_version, Strategy.CANARY,
        run.canary_window.start, "otel-http", 0, 60, 600, run.canary_window.duration_s,
    )  # fmt: skip


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _evaluate(store: Store, source: PrometheusSource, notifier: Notifier, end: datetime) -> None:
    scheduler = Scheduler(
        store, source, load_profile, SchedulerSettings(owner="engine"), _Clock(end), notifier=notifier
    )
    assert await scheduler.run_once() > 0


async def _recorded_fail(store: Store, notifier: Notifier, spec: DeploymentSpec) -> Deployment:
    """An earlier deployment of the service, failed (recorded by hand: its data do not matter)."""
    deployment, _ = await store.register(spec, actor="test")
    await store.claim_due("engine", lease_s=30)
    at = spec.started_at + timedelta(minutes=10)
    document = json.dumps({"verdict": "fail"})
    await store.record_verdict(
        deployment.id, owner="engine", verdict=StoredVerdict(10, at, "fail", 10.0, True, document),
        next_look_at=None, notifications=notifier.final(deployment, "fail", at, "errors x3", document),
    )  # fmt: skip
    return await store.get(deployment.id)


@pytest.mark.prometheus
async def test_a_production_fail_pages_alertmanager_and_pagerduty(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource,
    alertmanager: Any, pagerduty: Any, routing_key: str,
) -> None:  # fmt: skip
    settings = _settings(alertmanager, pagerduty, routing_key)
    deployment, _ = await store.register(_spec(prometheus, "errors_3x"), actor="test")
    await _evaluate(store, source, Notifier(settings), prometheus.runs["errors_3x"].canary_window.end)
    assert (await store.get(deployment.id)).status is DeploymentStatus.FAIL

    assert await Deliverer(store, channels=channels_for(settings)).run_once() == 2
    [alert] = alertmanager.alerts(deployment_id=deployment.id)
    assert alert["labels"]["alertname"] == ALERT_NAME
    assert alert["labels"]["service"] == "errors_3x" and alert["labels"]["severity"] == "critical"
    assert alert["status"]["state"] == "active"
    assert alert["annotations"]["report_url"] == f"{PUBLIC}/api/v1/deployments/{deployment.id}/report"
    [event] = pagerduty.events
    assert event["event_action"] == "trigger" and event["dedup_key"] == dedup_key(deployment.id)
    assert event["routing_key"] == routing_key and event["payload"]["severity"] == "critical"
    assert (await store.outbox_backlog())[0] == 0


@pytest.mark.prometheus
async def test_a_newer_pass_of_the_service_resolves_the_earlier_page(
    prometheus: SimulatedPrometheus, store: Store, source: PrometheusSource,
    alertmanager: Any, pagerduty: Any, routing_key: str,
) -> None:  # fmt: skip
    settings = _settings(alertmanager, pagerduty, routing_key)
    notifier = Notifier(settings)
    deliverer = Deliverer(store, channels=channels_for(settings))
    current = _spec(prometheus, "aa")
    old_spec = replace(current, version="0.9.0", started_at=current.started_at - timedelta(hours=1))
    old = await _recorded_fail(store, notifier, old_spec)
    assert await deliverer.run_once() == 2
    assert len(alertmanager.alerts(deployment_id=old.id)) == 1

    newer, _ = await store.register(current, actor="test")
    await _evaluate(store, source, notifier, prometheus.runs["aa"].canary_window.end)
    assert (await store.get(newer.id)).status is DeploymentStatus.PASS
    assert await deliverer.run_once() == 2
    assert alertmanager.alerts(deployment_id=old.id) == []  # resolved alerts leave the list
    assert [(e["event_action"], e["dedup_key"]) for e in pagerduty.events] == [
        ("trigger", dedup_key(old.id)),
        ("resolve", dedup_key(old.id)),
    ]
    assert alertmanager.alerts(deployment_id=newer.id) == []  # a pass never pages


def _deployment(environment: str) -> Deployment:
    spec = DeploymentSpec(
        "checkout", environment, "v2", "v1", Strategy.CANARY, datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        "otel-http", 0, 60, 600, 1800,
    )  # fmt: skip
    at = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    return Deployment("d-1", spec, DeploymentStatus.FAIL, "", at, at)


def test_only_environments_whose_policy_pages_get_a_page() -> None:
    pager = PagerSpec(alertmanager_url="http://127.0.0.1:9")
    at = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    default = Notifier(Settings(pager=pager))
    kinds = [i.kind for i in default.final(_deployment("production"), "fail", at, "s", "{}")]
    assert kinds == ["alertmanager"]
    assert default.final(_deployment("staging"), "fail", at, "s", "{}") == []
    assert default.final(_deployment("production"), "marginal", at, "s", "{}") == []
    paging_staging = Notifier(
        Settings(pager=pager), Environments((EnvironmentDefaults("staging", page=True),))
    )
    assert [i.kind for i in paging_staging.final(_deployment("staging"), "fail", at, "s", "{}")] == [
        "alertmanager"
    ]


async def test_pagerduty_rate_limit_is_retried_and_an_invalid_event_abandoned(
    tmp_path: Path, pagerduty: Any, routing_key: str, clock: Any
) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}", clock=clock)
    try:
        good = Settings(pager=PagerSpec(pagerduty_routing_key=routing_key, pagerduty_url=pagerduty.url))
        deployment = await _recorded_fail(store, Notifier(good), _deployment("production").spec)
        pagerduty.statuses = [429]
        deliverer = Deliverer(store, channels=channels_for(good), clock=clock)
        assert await deliverer.run_once() == 0  # throttled: retried later
        assert await deliverer.run_once() == 0  # not due yet
        clock.advance(61)
        assert await deliverer.run_once() == 1
        assert [e["dedup_key"] for e in pagerduty.events] == [dedup_key(deployment.id)]

        # A key of the wrong shape: PagerDuty answers 400, which no retry can fix.
        bad_key = "short-key-" + "z" * 6
        bad = Settings(pager=PagerSpec(pagerduty_routing_key=bad_key, pagerduty_url=pagerduty.url))
        other = await _recorded_fail(
            store, Notifier(bad), replace(_deployment("production").spec, service="cart")
        )
        deliverer = Deliverer(store, channels=channels_for(bad), clock=clock)
        assert await deliverer.run_once() == 0
        clock.advance(3600)
        assert await store.claim_deliveries(claim_s=60) == []  # abandoned, never retried
        assert await store.outbox_backlog() == (0, None)
        [failed] = [e for e in await store.events(other.id) if e.kind == "delivery_failed"]
        assert failed.message.startswith("pagerduty: HTTP 400") and bad_key not in failed.message
    finally:
        await store.close()
