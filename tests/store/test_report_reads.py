"""The store's reads behind the report page: every look's document, and the deployment's outbox items."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitor.models import DeploymentSpec
from monitor.store import OutboxItem, Store, StoredVerdict


def _look(look: int, status: str = "running", final: bool = False) -> StoredVerdict:
    at = datetime(2026, 11, 26, 10, look, tzinfo=UTC)
    return StoredVerdict(look, at, status, 50.0 + look, final, f'{{"look": {look}}}')


async def test_look_documents_are_every_look_oldest_first(store: Store, spec: DeploymentSpec) -> None:
    deployment, _ = await store.register(spec, actor="ci")
    [claimed] = await store.claim_due("replica-a", lease_s=30)
    assert await store.look_documents(deployment.id) == []
    for look in (1, 2):
        await store.record_verdict(
            claimed.id,
            owner="replica-a",
            verdict=_look(look),
            next_look_at=datetime(2026, 11, 26, 10, 5, tzinfo=UTC),
        )
    await store.record_verdict(
        claimed.id, owner="replica-a", verdict=_look(3, "fail", True), next_look_at=None
    )
    documents = await store.look_documents(deployment.id)
    assert [(d.look, d.status, d.final, d.document_json) for d in documents] == [
        (1, "running", False, '{"look": 1}'),
        (2, "running", False, '{"look": 2}'),
        (3, "fail", True, '{"look": 3}'),
    ]
    assert documents[0].at == datetime(2026, 11, 26, 10, 1, tzinfo=UTC)
    assert documents[2].score == 53.0
    other, _ = await store.register(replace(spec, service="payments"), actor="ci")
    assert await store.look_documents(other.id) == []


async def test_notifications_say_how_each_delivery_stands(store: Store, spec: DeploymentSpec) -> None:
    deployment, _ = await store.register(spec, actor="ci")
    items = [
        OutboxItem("alertmanager", f"{deployment.id}:page:trigger:alertmanager", "[]"),
        OutboxItem("rollback", f"{deployment.id}:rollback:helm", "{}"),
    ]
    assert await store.enqueue(deployment.id, items) == 2
    claimed = {d.kind: d for d in await store.claim_deliveries(claim_s=30, limit=10)}
    await store.finish_delivery(claimed["alertmanager"].id, delivered=True)
    await store.finish_delivery(claimed["rollback"].id, delivered=False, error="403 forbidden", abandon=True)
    by_kind = {n.kind: n for n in await store.notifications(deployment.id)}
    page, rollback = by_kind["alertmanager"], by_kind["rollback"]
    assert page.delivered_at is not None and page.abandoned_at is None and page.attempts == 1
    assert page.idempotency_key.endswith(":page:trigger:alertmanager")
    assert rollback.delivered_at is None and rollback.abandoned_at is not None
    assert rollback.last_error == "403 forbidden"
    assert rollback.created_at.tzinfo is not None and rollback.abandoned_at - rollback.created_at < timedelta(
        days=1
    )
