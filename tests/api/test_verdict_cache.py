"""The API's verdict cache and its change feed, over two Store handles on one SQLite file.

The second handle plays another process (an engine process or a replica): its writes reach the
cache only through the feed, as they would in production.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.api.verdicts import VerdictCache
from monitor.models import DeploymentSpec, Strategy
from monitor.store import Store

POLL_S = 0.1
SPEC = DeploymentSpec(
    "checkout", "testing", "v2", "v1", Strategy.CANARY, datetime.now(UTC), "otel-http", 0, 60, 0, 600
)


def _count_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every single-deployment read of ``store`` (the reads that go to the database)."""
    calls: list[str] = []
    original = store.current

    async def counted(deployment_id: str):  # type: ignore[no-untyped-def]
        calls.append(deployment_id)
        return await original(deployment_id)

    monkeypatch.setattr(store, "current", counted)
    return calls


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    api, other = await Store.open(url), await Store.open(url)
    yield api, other
    await api.close()
    await other.close()


@pytest.fixture
async def cache(stores: tuple[Store, Store]) -> AsyncIterator[VerdictCache]:
    verdicts = VerdictCache(stores[0], poll_s=POLL_S)
    stop = asyncio.Event()
    feed = asyncio.create_task(verdicts.run(stop))
    await asyncio.sleep(2 * POLL_S)  # the first poll has run
    yield verdicts
    stop.set()
    await feed


async def test_another_process_change_reaches_readers_and_waiters(
    stores: tuple[Store, Store], cache: VerdictCache
) -> None:
    _, other = stores
    deployment, _ = await other.register(SPEC, actor="test")
    assert (await cache.read(deployment.id))[0].verdict == "running"
    waiter = asyncio.create_task(cache.changed(deployment.id, timeout_s=30))
    started = time.monotonic()
    await other.cancel(deployment.id, actor="test", reason="rolled back")
    await waiter
    assert time.monotonic() - started < 10 * POLL_S  # woken by the feed, not by the timeout
    entry, headers = await cache.read(deployment.id)
    assert entry.verdict == "inconclusive" and entry.document()["verdict"] == "inconclusive" and headers == {}


async def test_reads_come_from_memory_while_the_feed_is_current(
    stores: tuple[Store, Store], cache: VerdictCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, other = stores
    deployment, _ = await other.register(SPEC, actor="test")
    calls = _count_reads(api, monkeypatch)
    for _ in range(20):
        await cache.read(deployment.id)
    assert calls == [deployment.id]  # one store read, then memory


async def test_this_process_writes_are_read_back_at_once(
    stores: tuple[Store, Store], cache: VerdictCache
) -> None:
    api, _ = stores
    deployment, _ = await api.register(SPEC, actor="test")
    assert (await cache.read(deployment.id))[0].verdict == "running"
    await api.cancel(deployment.id, actor="test", reason="rolled back")
    assert (await cache.read(deployment.id))[0].verdict == "inconclusive"  # no wait for a poll


async def test_the_feed_reads_changed_verdicts_itself(
    stores: tuple[Store, Store], cache: VerdictCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, other = stores
    deployment, _ = await other.register(SPEC, actor="test")
    await cache.read(deployment.id)
    calls = _count_reads(api, monkeypatch)
    waiter = asyncio.create_task(cache.changed(deployment.id, timeout_s=30))
    await other.cancel(deployment.id, actor="test", reason="rolled back")
    await waiter
    assert (await cache.read(deployment.id))[0].verdict == "inconclusive"
    assert calls == []  # the read after the change came from memory: the feed had read it
