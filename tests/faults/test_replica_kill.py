"""SIGKILL of a replica while it holds a lease and has a look in flight, made deterministic.

Two real ``monitor serve`` replicas share a real PostgreSQL; Prometheus (real) sits behind the
fault proxy in "hold" mode, so the first query of the replica that claimed the deployment is held
open: that replica is killed *then*, with its look provably in flight. The other must take the
deployment over after the lease, and the run must end with each look recorded once, one final
verdict, and one webhook delivery of it.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fakes.faults import SECRET, FaultProxy, Hooks

from monitor.config import WebhookSpec
from monitor.simulate import SimulatedPrometheus
from monitor.timeparse import format_time

pytestmark = pytest.mark.prometheus

LEASE_S = 3.0


@pytest.fixture
def replicas(
    proxy: tuple[FaultProxy, str],
    hooks: tuple[Hooks, WebhookSpec],
    postgres_database: str,
    tmp_path: Path,
    replicas_of: Any,
) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    _, webhook = hooks
    (tmp_path / "hook-secret").write_text(SECRET)
    config = tmp_path / "monitor.yaml"
    config.write_text(
        f"webhooks:\n  - {{name: pager, url: '{webhook.url}', secret_file: hook-secret}}\nsettle_s: 0\n"
    )
    args = ("--prometheus-url", proxy[1], "--database", postgres_database, "--insecure-no-auth")
    with replicas_of(2, *args, "--lease", f"{LEASE_S:g}s", "--config", str(config)) as started:
        yield started


async def test_a_replica_killed_mid_look_is_replaced_and_the_verdict_goes_out_once(
    prometheus: SimulatedPrometheus,
    proxy: tuple[FaultProxy, str],
    hooks: tuple[Hooks, WebhookSpec],
    replicas: list[tuple[str, subprocess.Popen[bytes]]],
    postgres_database: str,
    post_json: Callable[[str, dict[str, Any]], dict[str, Any]],
) -> None:
    fault, _ = proxy
    receiver, _ = hooks
    fault.mode = "hold"
    run = prometheus.runs["errors_3x"]
    body = {
        "service": "errors_3x", "environment": "staging", "version": run.scenario.canary_version,
        "baseline_version": run.scenario.baseline_version,
        "started_at": format_time(run.canary_window.start), "warmup_s": 0, "interval_s": 60,
        "min_duration_s": 60, "max_duration_s": 300,
    }  # fmt: skip
    deployment_id = (await asyncio.to_thread(post_json, f"{replicas[0][0]}/api/v1/deployments", body))["id"]
    await asyncio.wait_for(fault.held.wait(), timeout=30)  # a look is in flight, its query held
    db = await asyncpg.connect(postgres_database)
    try:
        owner = await db.fetchval("SELECT lease_owner FROM deployments WHERE id = $1", deployment_id)
        assert owner is not None, "the look in flight has no lease"
        victim = {p.pid: p for _, p in replicas}[int(owner.rsplit("-", 1)[1])]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        fault.mode = "ok"
        fault.release.set()  # the dead replica's query is answered into the void
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not receiver.finals(deployment_id):
            await asyncio.sleep(0.2)
        row = await db.fetchrow(
            "SELECT status, looks_done, lease_owner FROM deployments WHERE id = $1", deployment_id
        )
        assert row["status"] == "fail"  # the bad canary, judged by the survivor
        looks = [r["look"] for r in await db.fetch(
            "SELECT look FROM verdicts WHERE deployment_id = $1 ORDER BY look", deployment_id
        )]  # fmt: skip
        assert looks == list(range(1, row["looks_done"] + 1))  # each look once
        writers = await db.fetch(
            "SELECT actor FROM events WHERE deployment_id = $1 AND kind = 'verdict'", deployment_id
        )
        assert len(writers) == 1 and writers[0]["actor"] != owner
    finally:
        await db.close()
    await asyncio.sleep(2)  # a duplicate delivery would arrive within the deliverer's next polls
    finals = receiver.finals(deployment_id)
    assert len(finals) == 1 and finals[0]["verdict"] == "fail"
