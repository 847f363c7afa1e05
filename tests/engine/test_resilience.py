"""The engine loop survives its database going away and resumes by itself when it is back.

Real PostgreSQL: the test drops the loop's database under it (terminating its connections),
then recreates it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.models import DeploymentSpec, DeploymentStatus, Strategy
from monitor.profiles import load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

pytestmark = pytest.mark.prometheus

POSTGRES = os.environ.get("MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def test_the_engine_loop_rides_out_a_lost_database(prometheus: SimulatedPrometheus) -> None:
    name = f"monitor_resilience_{uuid.uuid4().hex[:10]}"
    url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    await _admin(f'CREATE DATABASE "{name}"')
    store = await Store.open(url)
    source = PrometheusSource(prometheus.url)
    scheduler = Scheduler(store, source, load_profile, SchedulerSettings(owner="a", poll_s=0.1))
    stop = asyncio.Event()
    loop = asyncio.create_task(scheduler.run(stop))
    try:
        await asyncio.sleep(0.3)
        await _admin(f'DROP DATABASE "{name}" WITH (FORCE)')
        await asyncio.sleep(0.5)
        assert not loop.done()  # still polling, not crashed
        await _admin(f'CREATE DATABASE "{name}"')
        reopened = await Store.open(url)  # migrations, as a restarted replica would apply them
        await reopened.close()
        spec = DeploymentSpec(
            "ghost", "testing", "v2", "v1", Strategy.CANARY, datetime.now(UTC) - timedelta(minutes=2),
            "otel-http", 0, 10, 0, 30,
        )  # fmt: skip
        deployment, _ = await store.register(spec, actor="test")
        for _ in range(100):
            if (await store.get(deployment.id)).status is not DeploymentStatus.PENDING:
                break
            await asyncio.sleep(0.1)
        assert (await store.get(deployment.id)).status is not DeploymentStatus.PENDING  # resumed by itself
    finally:
        stop.set()
        await asyncio.wait_for(loop, 10)
        await source.close()
        await store.close()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
