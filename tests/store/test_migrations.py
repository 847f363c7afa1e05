"""Schema migrations at start-up (``monitor.store.migrate``), on a SQLite file and on PostgreSQL.

Alembic logs each revision it applies ("Running upgrade  -> 0001, ..."), which makes "how many migrations
ran" observable: opening an up-to-date database applies none, and replicas opening a fresh database at the
same moment apply the migrations once between them (an advisory lock on PostgreSQL, a file lock on SQLite).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select, text

from monitor.models import DeploymentSpec
from monitor.store import Store
from monitor.store.migrate import alembic_config
from monitor.store.tables import metadata

_SCRIPTS = ScriptDirectory.from_config(alembic_config())
HEAD = _SCRIPTS.get_current_head()
REVISIONS = [script.revision for script in reversed(list(_SCRIPTS.walk_revisions()))]  # oldest first


@pytest.fixture
def migrations_run(caplog: pytest.LogCaptureFixture) -> Any:
    """A callable listing the revisions Alembic applied since the test began, in order (from its log)."""
    caplog.set_level(logging.INFO, logger="alembic.runtime.migration")

    def applied() -> list[str]:
        # "Running upgrade 0001 -> 0002, <message>": the revision after the arrow is the one applied.
        return [
            record.getMessage().split(" -> ", 1)[1].split(",", 1)[0]
            for record in caplog.records
            if record.name == "alembic.runtime.migration"
            and record.getMessage().startswith("Running upgrade")
        ]

    return applied


def _describe(connection: Connection) -> dict[str, Any]:
    schema = inspect(connection)
    return {
        table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in schema.get_columns(table)],
            "indexes": sorted((i["name"] or "", tuple(i["column_names"])) for i in schema.get_indexes(table)),
        }
        for table in sorted(schema.get_table_names())
    }


async def _state(store: Store) -> tuple[list[str], dict[str, Any], dict[str, int]]:
    """The Alembic revisions recorded, the schema, and the row count of every table of the store."""
    async with store._engine.connect() as connection:
        versions = list((await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars())
        schema = await connection.run_sync(_describe)
        counts = {
            name: (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            for name, table in metadata.tables.items()
        }
    return versions, schema, counts


async def test_migrations_are_idempotent(
    database_url: str, migrations_run: Any, spec: DeploymentSpec
) -> None:
    first = await Store.open(database_url)
    try:
        await first.register(spec, actor="test")
        before = await _state(first)
    finally:
        await first.close()
    assert migrations_run() == REVISIONS  # a fresh database gets every revision, once, in order

    second = await Store.open(database_url)  # applied revisions are skipped
    try:
        after = await _state(second)
    finally:
        await second.close()

    assert migrations_run() == REVISIONS  # the second open applied nothing more
    versions, schema, counts = after
    assert versions == [HEAD]
    assert set(schema) >= {"alembic_version", *metadata.tables}
    assert counts["deployments"] == 1
    assert after == before  # the same revision, tables, columns, indexes and row counts


async def test_replicas_opening_together_migrate_once(
    database_url: str, migrations_run: Any, spec: DeploymentSpec
) -> None:
    replicas = 4
    stores = await asyncio.gather(*(Store.open(database_url) for _ in range(replicas)))
    try:
        # Every revision was applied once, by one replica; the others found the schema up to date.
        assert migrations_run() == REVISIONS
        # And every replica works on the one schema.
        for index, opened in enumerate(stores):
            await opened.register(replace(spec, version=f"v{index + 2}"), actor=f"replica-{index}")
        versions, _, counts = await _state(stores[0])
        assert versions == [HEAD]
        assert counts["deployments"] == replicas
    finally:
        for opened in stores:
            await opened.close()
