"""The fuzz tier's settings profiles (see ``profiles.py``) and an app to fuzz over HTTP.

The app is the daemon's own (``create_app``) over a SQLite store, without Prometheus: the routes
fuzzed here (registration, Flagger's hooks, the OTLP receiver) never query it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

# Registers the profiles before pytest applies --hypothesis-profile.
import fuzz.profiles  # noqa: F401
from fuzz.strategies import REGISTERED
from monitor.api.app import create_app
from monitor.store import Store


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    """A started test client over a fresh SQLite store holding the ``REGISTERED`` deployment."""
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    app = create_app(store, None, None)  # type: ignore[arg-type]  # no Prometheus: never queried here
    test_client: TestClient[Any, Any] = TestClient(TestServer(app))
    await test_client.start_server()
    answer = await test_client.post("/api/v1/deployments", json=REGISTERED)
    assert answer.status == 201, await answer.text()
    yield test_client
    await test_client.close()
    await store.close()
