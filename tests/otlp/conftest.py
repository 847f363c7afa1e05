"""The real OpenTelemetry SDK, with its OTLP/HTTP exporters pointed at the daemon's receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bench.traces.system import Instrumented, instrumented
from monitor.api.app import create_app
from monitor.store import Store

Instrument = Callable[[str, str, str], AbstractContextManager[Instrumented]]


@pytest.fixture
def instrument() -> Instrument:
    """``with instrument(receiver_url, service, version) as toy:`` - use ``toy.tracer``, ``toy.logger``.

    Each toy version has its own tracer and logger providers and exporters, as a deployed service
    has; its resource says ``deployment.environment.name: testing``.
    """
    return partial(instrumented, logs=True, environment="testing")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    """The daemon's app over a SQLite store, without Prometheus: the OTLP routes alone."""
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    app = create_app(store, None, None)  # type: ignore[arg-type]  # no Prometheus: OTLP only
    test_client: TestClient[Any, Any] = TestClient(TestServer(app))
    await test_client.start_server()
    yield test_client
    await test_client.close()
    await store.close()
