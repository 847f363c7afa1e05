"""Rollback actions over HTTP, run by the outbox: the signed webhook and the feature-flag call.

The receivers are small aiohttp servers of the tests' own: they stand for any pipeline webhook
(Jenkins' generic webhook trigger) and any flag service with a REST API; they answer as
scripted and keep what they got. The store is a real SQLite database.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.channels.notify import Notifier
from monitor.channels.outbox import Deliverer
from monitor.channels.registry import channels_for
from monitor.config import Settings
from monitor.environments import EnvironmentDefaults
from monitor.models import Deployment, DeploymentSpec, Strategy
from monitor.own_metrics import EngineMetrics
from monitor.rollback.configured import ActionType, RollbackAction, RollbackPolicy, RollbackSpec
from monitor.settings.pager import PagerSpec
from monitor.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from monitor.simulate.prometheus import free_port
from monitor.store import Store, StoredVerdict

SECRET = "hook-secret-" * 3


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((request.method, request.path, dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"ok": status < 300}, status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    got.url = f"http://127.0.0.1:{port}"
    yield got
    await runner.cleanup()


@pytest.fixture
async def store(tmp_path: Path, clock: Any) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}", clock=clock)
    yield opened
    await opened.close()


SPEC = DeploymentSpec(
    "checkout", "production", "v2", "v1", Strategy.CANARY, datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    "otel-http", 0, 60, 600, 1800, (("rollback/feature-flag", "new-checkout"),),
)  # fmt: skip


def _settings(*actions: RollbackAction, pager: PagerSpec | None = None) -> Settings:
    auto = EnvironmentDefaults("production", page=True, rollback=RollbackPolicy.AUTO)
    return Settings(environments=(auto,), rollback=RollbackSpec(tuple(actions)), pager=pager)


async def _fail(store: Store, settings: Settings, spec: DeploymentSpec = SPEC) -> Deployment:
    """Register ``spec`` and record a final fail with what the notifier queues for it."""
    deployment, _ = await store.register(spec, actor="test")
    await store.claim_due("engine", lease_s=30)
    at = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    document = json.dumps({"verdict": "fail"})
    await store.record_verdict(
        deployment.id, owner="engine", verdict=StoredVerdict(30, at, "fail", 10.0, True, document),
        next_look_at=None,
        notifications=Notifier(settings).final(deployment, "fail", at, "errors x3", document),
    )  # fmt: skip
    return deployment


async def _rollback_events(store: Store, deployment_id: str) -> list[str]:
    return [e.message for e in await store.events(deployment_id) if e.kind == "rollback"]


def _flag(receiver: Receiver, **extra: Any) -> RollbackAction:
    params = (("url", f"{receiver.url}/api/flags/$flag"), ("method", "PATCH"), ("body", '{"enabled": false}'))
    return RollbackAction("flags", ActionType.FEATURE_FLAG, params, secret="flag-token-123", **extra)


async def test_the_webhook_is_signed_and_the_result_recorded(
    store: Store, receiver: Receiver, clock: Any
) -> None:
    hook = RollbackAction("jenkins", ActionType.WEBHOOK, (("url", f"{receiver.url}/hook"),), secret=SECRET)
    settings = _settings(hook)
    metrics = EngineMetrics()
    deployment = await _fail(store, settings)
    deliverer = Deliverer(store, channels=channels_for(settings, store, metrics), clock=clock)
    assert await deliverer.run_once() == 1
    [(method, _, headers, body)] = receiver.received
    assert method == "POST" and headers["X-Monitor-Event"] == "rollback.requested"
    assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], time.time())
    assert json.loads(body)["deployment_id"] == deployment.id and json.loads(body)["version"] == "v2"
    assert headers["Idempotency-Key"] == f"{deployment.id}:rollback:jenkins"
    [event] = await _rollback_events(store, deployment.id)
    assert event.startswith("jenkins (webhook): rollback requested from")
    sample = metrics.registry.get_sample_value(
        "monitor_rollbacks_total",
        {"service": "checkout", "environment": "production", "action": "jenkins", "outcome": "done"},
    )
    assert sample == 1.0


async def test_the_flag_is_turned_off_and_the_page_resolved(
    store: Store, receiver: Receiver, clock: Any
) -> None:
    pager = PagerSpec(alertmanager_url=f"{receiver.url}/am")
    settings = _settings(_flag(receiver), pager=pager)
    deployment = await _fail(store, settings)
    deliverer = Deliverer(store, channels=channels_for(settings, store), clock=clock)
    assert await deliverer.run_once() == 2  # the page and the flag
    assert await deliverer.run_once() == 1  # the page's resolution, queued by the rollback
    calls = [(m, p, json.loads(b)) for m, p, _, b in receiver.received]
    assert ("PATCH", "/api/flags/new-checkout", {"enabled": False}) in calls
    alerts = [body for _, path, body in calls if path == "/am/api/v2/alerts"]
    [[fired], [resolved]] = alerts
    assert fired["labels"] == resolved["labels"] and fired["endsAt"] > fired["startsAt"]
    assert resolved["endsAt"] == resolved["startsAt"]  # ends when sent: resolved
    flag_call = next(h for m, p, h, _ in receiver.received if m == "PATCH")
    assert flag_call["Authorization"] == "Bearer flag-token-123"
    assert (await _rollback_events(store, deployment.id))[0].startswith(
        "flags (feature-flag): flag 'new-checkout'"
    )


async def test_a_4xx_from_the_flag_service_is_recorded_and_not_retried(
    store: Store, receiver: Receiver, clock: Any
) -> None:
    receiver.statuses = [404]
    settings = _settings(_flag(receiver))
    deployment = await _fail(store, settings)
    deliverer = Deliverer(store, channels=channels_for(settings, store), clock=clock)
    assert await deliverer.run_once() == 0
    clock.advance(3600)
    assert await deliverer.run_once() == 0 and len(receiver.received) == 1  # abandoned: never retried
    [event] = await _rollback_events(store, deployment.id)
    assert "failed: flag service PATCH" in event and "HTTP 404" in event and "not retried" in event
    assert [e.kind for e in await store.events(deployment.id)].count("delivery_failed") == 1
    assert (await store.get(deployment.id)).status.value == "fail"  # the verdict stays what it was


async def test_a_5xx_is_retried_until_the_flag_service_answers(
    store: Store, receiver: Receiver, clock: Any
) -> None:
    receiver.statuses = [503, 502]
    settings = _settings(_flag(receiver))
    deployment = await _fail(store, settings)
    deliverer = Deliverer(store, channels=channels_for(settings, store), clock=clock)
    assert await deliverer.run_once() == 0
    clock.advance(2)
    assert await deliverer.run_once() == 0
    clock.advance(4)
    assert await deliverer.run_once() == 1
    events = await _rollback_events(store, deployment.id)
    assert len(events) == 2 and "retrying" in events[0] and "turned off" in events[1]


async def test_a_missing_flag_label_and_a_dry_run_do_not_call_the_service(
    store: Store, receiver: Receiver, clock: Any
) -> None:
    settings = _settings(_flag(receiver), RollbackAction(
        "dry", ActionType.FEATURE_FLAG, (("url", f"{receiver.url}/api/flags/$flag"),), dry_run=True
    ))  # fmt: skip
    deployment = await _fail(store, settings)
    unlabelled = await _fail(
        store, settings, DeploymentSpec(**{**SPEC.__dict__, "service": "cart", "labels": ()})
    )
    # checkout: the flag and the dry run succeed; cart (no flag label): both abandoned
    assert await Deliverer(store, channels=channels_for(settings, store), clock=clock).run_once() == 2
    assert [(m, p) for m, p, _, _ in receiver.received] == [("PATCH", "/api/flags/new-checkout")]
    assert any(
        e.startswith("dry (feature-flag) dry run: would POST")
        for e in await _rollback_events(store, deployment.id)
    )
    missing = await _rollback_events(store, unlabelled.id)
    assert len(missing) == 2 and all("has no label 'rollback/feature-flag'" in e for e in missing)


async def test_a_superseded_deployment_is_never_rolled_back(
    store: Store, receiver: Receiver, clock: Any
) -> None:
    settings = _settings(_flag(receiver))
    deployment = await _fail(store, settings)
    clock.advance(60)
    newer, _ = await store.register(DeploymentSpec(**{**SPEC.__dict__, "version": "v3"}), actor="test")
    assert await Deliverer(store, channels=channels_for(settings, store), clock=clock).run_once() == 1
    assert receiver.received == []
    [event] = await _rollback_events(store, deployment.id)
    assert f"not run: deployment superseded by {newer.id} (v3)" in event
