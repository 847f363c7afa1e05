"""The store on SQLite and on PostgreSQL: registration, idempotency, leases, verdicts, outbox."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from monitor.errors import ConfigError, ConflictError, NotFoundError, StoreError
from monitor.models import DeploymentSpec, DeploymentStatus
from monitor.store import OutboxItem, Store, StoredVerdict
from monitor.store.tables import outbox, verdicts


def _verdict(look: int, status: str = "running", final: bool = False) -> StoredVerdict:
    return StoredVerdict(
        look, datetime(2026, 11, 26, 10, look, tzinfo=UTC), status, 100.0, final, '{"verdict": "x"}'
    )


async def test_register_and_read_back(store: Store, spec: DeploymentSpec) -> None:
    deployment, created = await store.register(spec, actor="ci-token")
    assert created
    again = await store.get(deployment.id)
    assert again == deployment
    assert again.spec == spec
    assert again.status is DeploymentStatus.PENDING
    # First look after warm-up plus one interval.
    assert again.next_look_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert [e.kind for e in await store.events(deployment.id)] == ["registered"]


async def test_idempotency_key_same_body_same_deployment_other_body_conflict(
    store: Store, spec: DeploymentSpec
) -> None:
    first, created = await store.register(spec, actor="ci", idempotency_key="build-42")
    second, created_again = await store.register(spec, actor="ci", idempotency_key="build-42")
    assert created and not created_again
    assert second.id == first.id
    with pytest.raises(ConflictError, match=r"build-42.*different deployment"):
        await store.register(replace(spec, version="v3"), actor="ci", idempotency_key="build-42")


async def test_newer_deployment_supersedes_the_active_one(store: Store, spec: DeploymentSpec) -> None:
    old, _ = await store.register(spec, actor="ci")
    new, _ = await store.register(replace(spec, version="v3", baseline_version="v2"), actor="ci")
    old_now = await store.get(old.id)
    assert old_now.status is DeploymentStatus.CANCELLED
    assert new.id in old_now.status_reason
    assert [e.kind for e in await store.events(old.id)] == ["registered", "cancelled"]
    # Another environment is left alone.
    other, _ = await store.register(replace(spec, environment="staging"), actor="ci")
    assert (await store.get(new.id)).status is DeploymentStatus.PENDING
    assert (await store.get(other.id)).status is DeploymentStatus.PENDING


async def test_cancel_and_unknown_ids(store: Store, spec: DeploymentSpec) -> None:
    deployment, _ = await store.register(spec, actor="ci")
    cancelled = await store.cancel(deployment.id, actor="sre", reason="manual rollback")
    assert cancelled.status is DeploymentStatus.CANCELLED
    assert cancelled.status_reason == "manual rollback"
    with pytest.raises(NotFoundError):
        await store.get("no-such-id")
    listed = await store.list_deployments(service="checkout", status=DeploymentStatus.CANCELLED)
    assert [d.id for d in listed] == [deployment.id]


async def test_only_one_replica_holds_a_lease_until_it_expires(
    store: Store, clock: object, spec: DeploymentSpec
) -> None:
    deployment, _ = await store.register(spec, actor="ci")
    first, second = await asyncio.gather(
        store.claim_due("replica-a", lease_s=30), store.claim_due("replica-b", lease_s=30)
    )
    assert sorted(len(c) for c in (first, second)) == [0, 1]
    holder = "replica-a" if first else "replica-b"
    other = "replica-b" if first else "replica-a"
    assert await store.claim_due(other, lease_s=30) == []
    clock.advance(31)  # type: ignore[attr-defined]
    taken_over = await store.claim_due(other, lease_s=30)
    assert [d.id for d in taken_over] == [deployment.id]
    # The replica whose lease expired may no longer write a verdict.
    with pytest.raises(ConflictError, match="not held"):
        await store.record_verdict(deployment.id, owner=holder, verdict=_verdict(1), next_look_at=None)


async def test_not_due_deployments_are_not_claimed(store: Store, clock: object, spec: DeploymentSpec) -> None:
    await store.register(spec, actor="ci")
    clock.now = datetime(2026, 11, 26, 9, 59, tzinfo=UTC)  # type: ignore[attr-defined]
    assert await store.claim_due("replica-a", lease_s=30) == []


async def test_verdicts_status_outbox_in_one_transaction(store: Store, spec: DeploymentSpec) -> None:
    deployment, _ = await store.register(spec, actor="ci")
    [claimed] = await store.claim_due("replica-a", lease_s=30)
    running_next = datetime(2026, 11, 26, 10, 1, tzinfo=UTC)
    await store.record_verdict(claimed.id, owner="replica-a", verdict=_verdict(1), next_look_at=running_next)
    running = await store.get(deployment.id)
    assert running.status is DeploymentStatus.RUNNING
    assert running.next_look_at == running_next
    # The same look twice is refused: no verdict is produced twice.
    with pytest.raises(ConflictError, match="already recorded"):
        await store.record_verdict(
            claimed.id, owner="replica-a", verdict=_verdict(1), next_look_at=running_next
        )
    note = OutboxItem("webhook", f"{deployment.id}:final", '{"verdict": "fail"}')
    await store.record_verdict(
        claimed.id, owner="replica-a", verdict=_verdict(2, "fail", final=True), next_look_at=None,
        notifications=[note],
    )  # fmt: skip
    final = await store.get(deployment.id)
    assert final.status is DeploymentStatus.FAIL
    assert final.looks_done == 2
    latest = await store.latest_verdict(deployment.id)
    assert latest is not None and latest.final and latest.status == "fail"
    async with store._engine.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(verdicts))).scalar_one() == 2
        assert (await connection.execute(select(outbox.c.idempotency_key))).scalars().all() == [
            note.idempotency_key
        ]
    # The audit trail: registration, the change to "running", the final verdict.
    assert [e.kind for e in await store.events(deployment.id)] == ["registered", "interim", "verdict"]
    # A final deployment takes no more verdicts.
    with pytest.raises(ConflictError):
        await store.record_verdict(claimed.id, owner="replica-a", verdict=_verdict(3), next_look_at=None)


async def test_a_schema_from_a_newer_version_is_a_clear_store_error(database_url: str) -> None:
    opened = await Store.open(database_url)
    async with opened._engine.begin() as connection:  # as a newer build's migration would leave it
        await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await opened.close()
    with pytest.raises(StoreError, match="upgraded by a newer version of the monitor; run that version"):
        await Store.open(database_url)


async def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="unavailable"):
        await Store.open("postgresql://postgres@127.0.0.1:9/nothing")


async def test_bad_database_url_names_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"unsupported 'mysql'; use sqlite or postgresql"):
        await Store.open("mysql://x@y/z")


async def test_newest_per_service_and_environment_however_old(
    database_url: str, spec: DeploymentSpec
) -> None:
    ticks = iter(range(1000))

    def clock() -> datetime:
        return datetime(2026, 11, 26, 10, 0, tzinfo=UTC) + timedelta(seconds=next(ticks))

    store = await Store.open(database_url, clock=clock)
    try:
        registered = {}
        for service, environment, version in [
            ("checkout", "production", "v1"), ("checkout", "production", "v2"), ("checkout", "staging", "v3"),
            ("cart", "production", "c1"),
        ]:  # fmt: skip
            spec = replace(spec, service=service, environment=environment, version=version)
            registered[(service, environment)] = (await store.register(spec, actor="t"))[0].id
        for i in range(5):  # many newer deployments of another service do not push these out
            await store.register(replace(spec, service=f"busy-{i}"), actor="t")
        newest = {(d.spec.service, d.spec.environment): d.id for d in await store.newest_per_service()}
        assert {k: newest[k] for k in registered} == registered
        assert len(newest) == len(registered) + 5
    finally:
        await store.close()
