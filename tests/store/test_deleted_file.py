"""A database that can no longer keep writes refuses them (503) and says so in its health check.

A SQLite file deleted or replaced under a running daemon: writes would go to the old file, which
nothing can reach by its name, and vanish at the next restart. A read-only SQLite file and a
read-only PostgreSQL (``default_transaction_read_only``) are reported by the health check.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.api.app import create_app
from monitor.errors import StoreError
from monitor.models import DeploymentSpec
from monitor.store import Store, TelemetryRow

POSTGRES = os.environ.get("MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[tuple[Store, Path]]:
    path = tmp_path / "monitor.db"
    store = await Store.open(f"sqlite:///{path}")
    yield store, path
    await store.close()


async def test_a_healthy_database_can_be_written(store: Store, spec: DeploymentSpec) -> None:
    assert await store.write_problem() is None
    await store.register(spec, actor="ci")


async def test_a_deleted_file_refuses_writes_and_fails_the_health_check(
    sqlite_store: tuple[Store, Path], caplog: pytest.LogCaptureFixture, spec: DeploymentSpec
) -> None:
    store, path = sqlite_store
    kept, _ = await store.register(spec, actor="ci")
    path.unlink()
    for _ in range(2):
        with pytest.raises(StoreError, match=rf"database file {path} was deleted.*restart the monitor"):
            await store.register(spec, actor="ci", idempotency_key="after-delete")
    with pytest.raises(StoreError, match="was deleted"):
        await store.cancel(kept.id, actor="sre", reason="manual")
    with pytest.raises(StoreError, match="was deleted"):
        await store.add_telemetry(
            [TelemetryRow("logs", "checkout", "production", "v2", spec.started_at, "{}")]
        )
    problem = await store.write_problem()
    assert problem is not None and f"{path} was deleted" in problem
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "was deleted" in r.getMessage()]
    assert len(errors) == 1  # logged once, however many writes are refused


async def test_a_replaced_file_refuses_writes(
    sqlite_store: tuple[Store, Path], tmp_path: Path, spec: DeploymentSpec
) -> None:
    store, path = sqlite_store
    other = await Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    await other.close()
    os.replace(tmp_path / "other.db", path)
    with pytest.raises(StoreError, match=rf"{path} was replaced by another file"):
        await store.register(spec, actor="ci")
    assert "replaced by another file" in (await store.write_problem() or "")


async def test_a_read_only_file_fails_the_health_check(sqlite_store: tuple[Store, Path]) -> None:
    store, path = sqlite_store
    path.chmod(0o444)
    try:
        problem = await store.write_problem()
    finally:
        path.chmod(0o644)
    assert problem is not None and f"{path} is read-only (mode 0444)" in problem and "chmod u+w" in problem
    assert await store.write_problem() is None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_read_only_postgresql_fails_the_health_check_and_refuses_writes(
    store: Store, database_url: str, spec: DeploymentSpec
) -> None:
    name = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    finally:
        await admin.close()
    read_only = await Store.open(database_url)  # new connections take the setting
    try:
        problem = await read_only.write_problem()
        assert problem is not None and "read-only" in problem and "primary" in problem
        with pytest.raises(StoreError, match="read-only transaction"):
            await read_only.register(spec, actor="ci")
    finally:
        await read_only.close()


async def test_the_api_and_readyz_answer_503_naming_the_file(sqlite_store: tuple[Store, Path]) -> None:
    store, path = sqlite_store
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(store, None, None)))  # type: ignore[arg-type]
    await client.start_server()
    try:
        body = {
            "service": "checkout", "environment": "production", "version": "v2",
            "baseline_version": "v1", "started_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        }  # fmt: skip
        assert (await client.post("/api/v1/deployments", json=body)).status == 201
        path.unlink()
        answer = await client.post("/api/v1/deployments", json={**body, "version": "v3"})
        assert answer.status == 503
        assert f"database file {path} was deleted" in (await answer.json())["detail"]
        ready = await client.get("/readyz")  # taken out of the Service: it cannot write
        assert ready.status == 503 and f"database file {path} was deleted" in (await ready.json())["detail"]
    finally:
        await client.close()
