"""Applying the Alembic migrations shipped in the package, at start-up, on the store's engine."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.errors import StoreError


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations, bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("monitor.store") / "migrations"))
    config.attributes["connection"] = connection
    return config


# Any fixed number: the advisory lock that serialises migrations of replicas starting together.
_MIGRATION_LOCK = 0x6D6F6E69746F72


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent: applied revisions are skipped).

    Replicas starting at the same moment take turns (a transaction-level advisory lock on
    PostgreSQL, a file lock beside a SQLite file); otherwise two would race to create the tables.
    """

    def run(connection: Connection) -> None:
        try:
            command.upgrade(alembic_config(connection), revision)
        except CommandError as exc:
            # Typically "Can't locate revision": a newer build migrated this database.
            raise StoreError(
                f"cannot migrate the database schema ({exc}): it was upgraded by a newer version of the "
                "monitor; run that version, or restore a backup taken before the upgrade"
            ) from None

    async with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        await connection.run_sync(run)


@asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """On a SQLite file, an exclusive lock on ``<file>.migrate-lock`` plays the advisory lock's part."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield
        return
    fd = os.open(f"{path}.migrate-lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (tests use it to leave a database clean)."""

    def run(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)
