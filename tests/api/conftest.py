"""An API test client over a SQLite store and the real Prometheus of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.api.app import create_app
from monitor.config import TokenSpec
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

ClientFactory = Callable[[Sequence[TokenSpec] | None], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def make_client(prometheus: SimulatedPrometheus, tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """Build a started test client with the given tokens (None: no authentication)."""
    opened: list[tuple[TestClient[Any, Any], PrometheusSource, Store]] = []

    async def make(tokens: Sequence[TokenSpec] | None) -> TestClient[Any, Any]:
        store = await Store.open(f"sqlite:///{tmp_path / f'monitor-{len(opened)}.db'}")
        source = PrometheusSource(prometheus.url)
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(store, source, tokens)))
        await client.start_server()
        opened.append((client, source, store))
        return client

    yield make
    for client, source, store in opened:
        await client.close()
        await source.close()
        await store.close()
