"""Stores on a real SQLite file and a real PostgreSQL (127.0.0.1:5432, trust auth).

Each PostgreSQL test gets its own database, created from the ``test`` database and dropped after,
so runs never see each other's rows. ``MONITOR_TEST_POSTGRES_URL`` overrides the server URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from monitor.models import DeploymentSpec, Strategy
from monitor.store import Store

POSTGRES = os.environ.get("MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
        return
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(POSTGRES)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def store(database_url: str, clock: Any) -> AsyncIterator[Store]:
    opened = await Store.open(database_url, clock=clock)
    yield opened
    await opened.close()


@pytest.fixture
def spec() -> DeploymentSpec:
    """A canary of checkout v2 against v1 in production, with a label."""
    return DeploymentSpec(
        service="checkout",
        environment="production",
        version="v2",
        baseline_version="v1",
        strategy=Strategy.CANARY,
        started_at=datetime(2026, 11, 26, 9, 58, tzinfo=UTC),
        profile="otel-http",
        warmup_s=60,
        interval_s=60,
        min_duration_s=600,
        max_duration_s=1800,
        labels=(("region", "eu-1"),),
    )
