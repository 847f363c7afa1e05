"""Reads while the database is away: the last known verdict, marked stale; writes get 503.

Real PostgreSQL behind a TCP proxy that the test stops and starts again, which is what a
database restart or a network partition looks like from the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.api.app import create_app
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.profiles import load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.simulate.prometheus import free_port
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

pytestmark = pytest.mark.prometheus

POSTGRES = os.environ.get("MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class TcpProxy:
    """Forwards a loopback port to PostgreSQL; ``stop`` drops the listener and every connection."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port("127.0.0.1")
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.fixture
async def proxied_database() -> AsyncIterator[tuple[str, TcpProxy]]:
    name = f"monitor_outage_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    host_port = POSTGRES.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    proxy = TcpProxy(host, int(port or 5432))
    await proxy.start()
    yield f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}", proxy
    with contextlib.suppress(AssertionError):
        await proxy.stop()
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def test_reads_serve_the_last_known_verdict_while_the_database_is_down(
    proxied_database: tuple[str, TcpProxy], prometheus: SimulatedPrometheus
) -> None:
    url, proxy = proxied_database
    store = await Store.open(url)
    source = PrometheusSource(prometheus.url)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(store, source, None)))
    await client.start_server()
    try:
        body = {
            "service": "ghost", "environment": "testing", "version": "v2", "baseline_version": "v1",
            "started_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(), "warmup_s": 0,
            "interval_s": 10, "min_duration_s": 0, "max_duration_s": 3600,
        }  # fmt: skip
        read_before = (await (await client.post("/api/v1/deployments", json=body)).json())["id"]
        other = {**body, "service": "ghost-2"}
        never_read = (await (await client.post("/api/v1/deployments", json=other)).json())["id"]
        await Scheduler(store, source, load_profile, SchedulerSettings(owner="a")).run_once()
        fresh = await client.get(f"/api/v1/deployments/{read_before}/verdict")
        assert fresh.status == 200 and "Monitor-Stale" not in fresh.headers
        known = await fresh.json()
        assert known["verdict"] == "running" and known["checks"]  # looks were recorded

        await proxy.stop()
        # The change feed vouches for the cached verdict for three polls (1.5 s); then reads go
        # to the store, fail, and answer with the last known verdict, marked stale.
        for _ in range(50):
            stale = await client.get(f"/api/v1/deployments/{read_before}/verdict")
            if "Monitor-Stale" in stale.headers:
                break
            await asyncio.sleep(0.1)
        assert stale.status == 200 and await stale.json() == known
        assert "database unavailable" in stale.headers["Monitor-Stale"] and int(stale.headers["Age"]) >= 0
        argo = await client.get(
            "/api/v1/integrations/argo-rollouts/verdict", params={"deployment_id": read_before}
        )
        assert argo.status == 200 and (await argo.json())["verdict"] == "running"
        # A long-poll keeps waiting for the database (no busy loop) and answers at its deadline.
        started = time.monotonic()
        waited = await client.get(f"/api/v1/deployments/{read_before}/verdict", params={"wait_s": "1.5"})
        assert waited.status == 200 and "Monitor-Stale" in waited.headers
        assert time.monotonic() - started >= 1.4
        unknown = await client.get(f"/api/v1/deployments/{never_read}/verdict")
        assert unknown.status == 503 and "retry" in (await unknown.json())["detail"]
        write = await client.post("/api/v1/deployments", json={**body, "service": "ghost-3"})
        assert write.status == 503
        metrics = await client.get("/metrics")  # still scrapeable, saying what is wrong
        assert metrics.status == 200 and "monitor_store_up 0.0" in await metrics.text()

        await proxy.start()
        back = await client.get(f"/api/v1/deployments/{read_before}/verdict")
        assert back.status == 200 and "Monitor-Stale" not in back.headers
        assert (await client.post("/api/v1/deployments", json={**body, "service": "ghost-3"})).status == 201
        assert "monitor_store_up 1.0" in await (await client.get("/metrics")).text()
    finally:
        await client.close()
        await source.close()
        await store.close()
