"""The database restarted, read-only, or deleted in the middle of a run.

The engine and the outbox are driven through a bad canary's run (``errors_3x``, real Prometheus)
while the database misbehaves: PostgreSQL (the machine's real server) refusing connections for a
while, as during a restart, or turned read-only, as after a failover to a standby; a SQLite file
deleted under the daemon. Each asserts: no false pass, the final verdict delivered once (or not
at all when it cannot be stored), nothing acknowledged lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from fakes.faults import Hooks, run_to_the_end, spec_of

from monitor.config import WebhookSpec
from monitor.errors import StoreError
from monitor.models import DeploymentStatus
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

pytestmark = pytest.mark.prometheus


@pytest.fixture
async def source(prometheus: SimulatedPrometheus) -> AsyncIterator[PrometheusSource]:
    client = PrometheusSource(prometheus.url)
    yield client
    await client.close()


async def _admin(url: str, *statements: str) -> None:
    admin = await asyncpg.connect(url.rsplit("/", 1)[0] + "/test")
    try:
        for statement in statements:
            await admin.execute(statement)
    finally:
        await admin.close()


def _kick(name: str) -> str:
    return f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"


async def _looks_once_and_one_final(store: Store, hooks: Hooks) -> None:
    [deployment] = await store.list_deployments()
    looks = [v.look for v in await store.look_documents(deployment.id)]
    assert looks == list(range(1, deployment.looks_done + 1))  # each look recorded once
    [final] = hooks.finals(deployment.id)
    assert final["verdict"] == deployment.status.value


@pytest.mark.parametrize("fault", ["restarted", "read-only"])
async def test_postgresql_away_mid_run(
    postgres_database: str,
    source: PrometheusSource,
    hooks: tuple[Hooks, WebhookSpec],
    prometheus: SimulatedPrometheus,
    fault: str,
) -> None:
    """Down (or read-only) from the third step to the sixth: writes fail meanwhile, the run resumes."""
    receiver, webhook = hooks
    name = postgres_database.rsplit("/", 1)[1]
    store = await Store.open(postgres_database)
    problems: list[str | None] = []
    setting = (
        f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {{}}'
        if fault == "restarted"
        else f'ALTER DATABASE "{name}" SET default_transaction_read_only = {{}}'
    )
    away, back = ("false", "true") if fault == "restarted" else ("on", "off")

    async def between(step: int) -> None:
        if step == 3:
            await _admin(postgres_database, setting.format(away), _kick(name))
            problems.append(await store.write_problem())
        elif step == 6:
            await _admin(postgres_database, setting.format(back))

    try:
        spec = spec_of(prometheus, "errors_3x")
        status = await run_to_the_end(store, source, webhook, spec, between=between)
        assert status is DeploymentStatus.FAIL
        [problem] = problems
        assert problem is not None  # /readyz said not ready while it lasted
        assert ("read-only" in problem) if fault == "read-only" else True
        assert await store.write_problem() is None
        await _looks_once_and_one_final(store, receiver)
    finally:
        await store.close()


async def test_a_sqlite_file_deleted_mid_run_stores_and_sends_nothing_more(
    tmp_path: Path,
    source: PrometheusSource,
    hooks: tuple[Hooks, WebhookSpec],
    prometheus: SimulatedPrometheus,
) -> None:
    receiver, webhook = hooks
    path = tmp_path / "monitor.db"
    store = await Store.open(f"sqlite:///{path}")
    refused: list[Callable[[], Awaitable[object]]] = []

    async def between(step: int) -> None:
        if step == 3:
            path.unlink()
            refused.append(lambda: store.register(spec_of(prometheus, "aa"), actor="pipeline"))

    try:
        spec = spec_of(prometheus, "errors_3x")
        status = await run_to_the_end(store, source, webhook, spec, between=between)
        assert status is not DeploymentStatus.PASS
        assert not status.final  # its final verdict could not be stored, so nothing said it was
        assert receiver.received == []  # and nothing was sent
        with pytest.raises(StoreError, match="deleted"):
            await refused[0]()  # a registration is refused, never acknowledged into a lost file
        problem = await store.write_problem()
        assert problem is not None and str(path) in problem
    finally:
        await store.close()
