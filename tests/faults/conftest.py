"""Fixtures of the fault matrix: the fault proxy, the webhook receiver, a SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.faults import SECRET, FaultProxy, Hooks, serve

from monitor.config import WebhookSpec
from monitor.simulate import SimulatedPrometheus
from monitor.store import Store


@pytest.fixture
async def proxy(prometheus: SimulatedPrometheus) -> AsyncIterator[tuple[FaultProxy, str]]:
    """A fault proxy in front of the real Prometheus, and its URL."""
    fault = FaultProxy(prometheus.url)
    url, runner = await serve(fault.handle)
    yield fault, url
    fault.release.set()
    await runner.cleanup()
    if fault._session is not None:
        await fault._session.close()


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[Hooks, WebhookSpec]]:
    """A running webhook receiver and the webhook that sends every final verdict to it."""
    receiver = Hooks()
    url, runner = await serve(receiver.handle)
    yield receiver, WebhookSpec("pager", f"{url}/hook", SECRET)
    await runner.cleanup()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    yield store
    await store.close()
