"""Audit-trail entries carry fields beside their message, also entries written before fields existed."""

from __future__ import annotations

from monitor.models import DeploymentSpec
from monitor.store import Store
from monitor.store.migrate import downgrade


async def test_event_fields_are_read_back_as_written(store: Store, spec: DeploymentSpec) -> None:
    deployment, _ = await store.register(spec, actor="test")
    await store.add_event(deployment.id, "rollback", "monitor", "helm (helm): started", {"started_from": 7})
    await store.add_event(deployment.id, "note", "sre", "looked at it")
    *_, started, note = await store.events(deployment.id)
    assert (started.message, started.data) == ("helm (helm): started", {"started_from": 7})
    assert note.data == {}


async def test_the_upgrade_moves_a_rollback_start_from_its_message_into_fields(
    database_url: str, spec: DeploymentSpec
) -> None:
    """A rollback in flight across the upgrade keeps its guard against rolling back twice."""
    store = await Store.open(database_url)
    try:
        deployment, _ = await store.register(spec, actor="test")
        await store.add_event(
            deployment.id, "rollback", "monitor", "helm (helm): rolling back from revision 12"
        )
        await store.add_event(
            deployment.id, "rollback", "monitor", "app-1 (argocd): rolling back from history 3"
        )
        await store.add_event(deployment.id, "rollback", "monitor", "helm (helm): rolled back to revision 11")
        await store.add_event(deployment.id, "note", "sre", "x (helm): rolling back from revision 9")
        await downgrade(store._engine, "0004")  # as a database written by the previous release
    finally:
        await store.close()
    reopened = await Store.open(database_url)  # migrates to the newest revision
    try:
        events = await reopened.events(deployment.id)
    finally:
        await reopened.close()
    assert [e.data for e in events if e.kind in ("rollback", "note")] == [
        {"action": "helm", "started_from": 12},
        {"action": "app-1", "started_from": 3},
        {},
        {},  # only the rollback channel's entries are read back
    ]
