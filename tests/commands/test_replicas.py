"""Three real ``monitor serve`` replicas on one PostgreSQL; one is killed with SIGKILL mid-work.

The deployments are registered an hour in the past with ten-second looks, so catching up keeps a
replica busy for many seconds while it holds (and renews) the lease. Killing it must hand its
deployment to another replica within two lease periods, and no look or final verdict may be
recorded twice.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from monitor.simulate import SimulatedPrometheus

pytestmark = pytest.mark.prometheus

LEASE_S = 4.0
PostJson = Callable[[str, dict[str, Any]], dict[str, Any]]


@pytest.fixture
def database(postgres_database: str) -> str:
    return postgres_database


@pytest.fixture
def replicas(
    prometheus: SimulatedPrometheus, database: str, replicas_of: Any
) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    args = ("--prometheus-url", prometheus.url, "--database", database, "--insecure-no-auth")
    with replicas_of(3, *args, "--lease", f"{LEASE_S:g}s") as started:
        yield started


def _register(post_json: PostJson, url: str, service: str) -> str:
    body = {
        "service": service, "environment": "testing", "version": "v2", "baseline_version": "v1",
        "started_at": (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "warmup_s": 0, "interval_s": 10, "min_duration_s": 0, "max_duration_s": 3000,
    }  # fmt: skip
    deployment_id: str = post_json(f"{url}/api/v1/deployments", body)["id"]
    return deployment_id


async def test_a_killed_replica_is_replaced_and_nothing_is_recorded_twice(
    replicas: list[tuple[str, subprocess.Popen[bytes]]], database: str, post_json: PostJson
) -> None:
    # No series exist for these services: every look is quick "no data", 300 looks each.
    ids = [_register(post_json, replicas[0][0], f"ghost-{i}") for i in range(3)]
    db = await asyncpg.connect(database)
    try:
        by_pid = {process.pid: process for _, process in replicas}
        victim_deployment, victim_pid = None, None
        deadline = time.monotonic() + 30
        while victim_pid is None and time.monotonic() < deadline:
            for row in await db.fetch(
                "SELECT id, lease_owner, looks_done FROM deployments WHERE lease_owner IS NOT NULL"
            ):
                pid = int(row["lease_owner"].rsplit("-", 1)[1])
                if pid in by_pid and row["looks_done"] > 0:
                    victim_deployment, victim_pid = row["id"], pid
                    break
            await asyncio.sleep(0.05)
        assert victim_pid is not None, "no replica was seen holding a lease"
        by_pid[victim_pid].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        looks_at_kill = await db.fetchval(
            "SELECT looks_done FROM deployments WHERE id = $1", victim_deployment
        )
        # Another replica must carry on within two lease periods (plus a poll).
        taken_over_after = None
        while time.monotonic() - killed_at < 2 * LEASE_S + 5:
            row = await db.fetchrow(
                "SELECT lease_owner, looks_done, status FROM deployments WHERE id = $1", victim_deployment
            )
            moved_on = row["looks_done"] > looks_at_kill or row["status"] not in ("pending", "running")
            if moved_on and (row["lease_owner"] is None or not row["lease_owner"].endswith(f"-{victim_pid}")):
                taken_over_after = time.monotonic() - killed_at
                break
            await asyncio.sleep(0.1)
        assert taken_over_after is not None and taken_over_after <= 2 * LEASE_S + 1.5
        # Every deployment reaches its final verdict, each look and each final verdict once.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pending = await db.fetchval(
                "SELECT count(*) FROM deployments WHERE status IN ('pending', 'running')"
            )
            if pending == 0:
                break
            await asyncio.sleep(0.5)
        for deployment_id in ids:
            looks_done = await db.fetchval("SELECT looks_done FROM deployments WHERE id = $1", deployment_id)
            looks = await db.fetch(
                "SELECT look FROM verdicts WHERE deployment_id = $1 ORDER BY look", deployment_id
            )
            assert [r["look"] for r in looks] == list(range(1, looks_done + 1))
            finals = await db.fetchval(
                "SELECT count(*) FROM events WHERE deployment_id = $1 AND kind = 'verdict'", deployment_id
            )
            assert finals == 1
            status = await db.fetchval("SELECT status FROM deployments WHERE id = $1", deployment_id)
            assert status == "inconclusive"  # no data at all: never pass
        writers = await db.fetch(
            "SELECT DISTINCT actor FROM events WHERE deployment_id = $1 AND kind = 'verdict'",
            victim_deployment,
        )
        assert all(not r["actor"].endswith(f"-{victim_pid}") for r in writers)
    finally:
        await db.close()
