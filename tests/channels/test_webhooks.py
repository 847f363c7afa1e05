"""Signed webhook delivery from the outbox: retries, a receiver that is down, a restart.

The receiver is a small aiohttp server of the test's own: it stands for any webhook endpoint,
verifies the signature with :func:`monitor.signing.verify` and answers as scripted.
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

from monitor.channels.outbox import Deliverer, backoff_s
from monitor.channels.registry import channels_for
from monitor.channels.webhook import webhook_items
from monitor.config import Settings, WebhookSpec
from monitor.models import DeploymentSpec, Strategy
from monitor.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from monitor.simulate.prometheus import free_port
from monitor.store import Store, StoredVerdict

SECRET = "s3cret-" * 4


@dataclass
class Receiver:
    """Answers the scripted statuses in turn (200 once they run out) and keeps what it got."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes, bool]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        valid = verify(
            SECRET, request.headers[TIMESTAMP_HEADER], body, request.headers[SIGNATURE_HEADER], time.time()
        )
        self.received.append((dict(request.headers), body, valid))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


async def _start(receiver: Receiver, port: int) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


SPEC = DeploymentSpec(
    "checkout", "production", "v2", "v1", Strategy.CANARY, datetime(2026, 11, 26, 9, 59, tzinfo=UTC),
    "otel-http", 0, 60, 600, 1800,
)  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path, clock: Any) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}", clock=clock)
    yield opened
    await opened.close()


async def _final_fail(store: Store, hooks: list[WebhookSpec]) -> str:
    deployment, _ = await store.register(SPEC, actor="test")
    await store.claim_due("engine", lease_s=30)
    document = json.dumps({"deployment_id": deployment.id, "verdict": "fail"})
    verdict = StoredVerdict(1, datetime(2026, 11, 26, 10, 0, tzinfo=UTC), "fail", 0.0, True, document)
    await store.record_verdict(
        deployment.id, owner="engine", verdict=verdict, next_look_at=None,
        notifications=webhook_items(hooks, deployment, "fail", document),
    )  # fmt: skip
    return deployment.id


def test_signatures_verify_and_resist_tampering_and_replay() -> None:
    body = b'{"verdict": "fail"}'
    signature = sign(SECRET, 1_700_000_000, body)
    assert verify(SECRET, "1700000000", body, signature, now_s=1_700_000_010)
    assert not verify(SECRET, "1700000000", b'{"verdict": "pass"}', signature, now_s=1_700_000_010)
    assert not verify("other-secret", "1700000000", body, signature, now_s=1_700_000_010)
    assert not verify(SECRET, "1700000000", body, signature, now_s=1_700_000_000 + 301)  # replayed late
    assert not verify(SECRET, "soon", body, signature, now_s=1_700_000_000)


async def test_only_matching_webhooks_get_an_outbox_item(store: Store) -> None:
    hooks = [
        WebhookSpec("pager", "http://127.0.0.1:9/a", SECRET, verdicts=("fail",)),
        WebhookSpec("chat", "http://127.0.0.1:9/b", SECRET, verdicts=("pass",)),
        WebhookSpec("staging-only", "http://127.0.0.1:9/c", SECRET, environments=("staging",)),
    ]
    deployment_id = await _final_fail(store, hooks)
    claimed = await store.claim_deliveries(claim_s=60)
    assert [(d.kind, d.idempotency_key) for d in claimed] == [
        ("webhook:pager", f"{deployment_id}:pager:final")
    ]


async def test_retries_with_backoff_until_acknowledged(store: Store, clock: Any) -> None:
    receiver = Receiver(statuses=[503, 500])
    port = free_port()
    runner = await _start(receiver, port)
    hook = WebhookSpec("pager", f"http://127.0.0.1:{port}/hook", SECRET)
    deliverer = Deliverer(store, channels=channels_for(Settings(webhooks=(hook,))), clock=clock)
    try:
        deployment_id = await _final_fail(store, [hook])
        assert await deliverer.run_once() == 0  # 503
        assert await deliverer.run_once() == 0  # not due again yet
        clock.advance(backoff_s(1))
        assert await deliverer.run_once() == 0  # 500
        clock.advance(backoff_s(2))
        assert await deliverer.run_once() == 1
        clock.advance(3600)
        assert await deliverer.run_once() == 0  # delivered once, never again
    finally:
        await runner.cleanup()
    assert len(receiver.received) == 3
    headers, body, valid = receiver.received[-1]
    assert valid
    assert headers["Idempotency-Key"] == f"{deployment_id}:pager:final"
    assert json.loads(body)["verdict"] == "fail"
    assert await store.outbox_backlog() == (0, None)


async def test_a_receiver_down_for_ten_minutes_gets_the_event_after_a_restart(
    tmp_path: Path, clock: Any
) -> None:
    port = free_port()
    hook = WebhookSpec("pager", f"http://127.0.0.1:{port}/hook", SECRET)
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    store = await Store.open(url, clock=clock)
    await _final_fail(store, [hook])
    deliverer = Deliverer(store, channels=channels_for(Settings(webhooks=(hook,))), clock=clock)
    for _ in range(6):  # ten minutes of refused connections, retried with backoff
        await deliverer.run_once()
        clock.advance(100)
    backlog, oldest = await store.outbox_backlog()
    assert backlog == 1 and oldest is not None
    await store.close()  # the daemon restarts
    receiver = Receiver()
    runner = await _start(receiver, port)
    reopened = await Store.open(url, clock=clock)
    try:
        clock.advance(300)  # past the longest backoff
        channels = channels_for(Settings(webhooks=(hook,)))
        assert await Deliverer(reopened, channels=channels, clock=clock).run_once() == 1
    finally:
        await runner.cleanup()
        await reopened.close()
    assert len(receiver.received) == 1 and receiver.received[0][2]
