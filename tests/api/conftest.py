"""An API test client over a SQLite store and the real Prometheus of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.api.app import create_app
from monitor.channels.notify import Notifier
from monitor.config import TokenSpec
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

ClientFactory = Callable[[Sequence[TokenSpec] | None], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def open_client(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[TestClient[Any, Any]]]]:
    """``open_client(prometheus_url, tokens, notifier=None, prepare=None)``: a started test client over
    its own SQLite store (``prepare(app)`` first, if given); every one closed at the end."""
    opened: list[tuple[TestClient[Any, Any], PrometheusSource, Store]] = []

    async def make(
        prometheus_url: str,
        tokens: Sequence[TokenSpec] | None,
        notifier: Notifier | None = None,
        prepare: Callable[[web.Application], None] | None = None,
    ) -> TestClient[Any, Any]:
        store = await Store.open(f"sqlite:///{tmp_path / f'monitor-{len(opened)}.db'}")
        source = PrometheusSource(prometheus_url)
        app = create_app(store, source, tokens, notifier=notifier)
        if prepare is not None:  # before the application starts, while its state may change
            prepare(app)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        opened.append((client, source, store))
        return client

    yield make
    for client, source, store in opened:
        await client.close()
        await source.close()
        await store.close()


@pytest.fixture
def make_client(prometheus: SimulatedPrometheus, open_client: Callable[..., Any]) -> ClientFactory:
    """Build a started test client with the given tokens (None: no authentication)."""
    return lambda tokens: open_client(prometheus.url, tokens)
