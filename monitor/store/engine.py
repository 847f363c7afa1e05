"""Database URLs and engines: SQLite (WAL) by default, PostgreSQL for several replicas."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from monitor.errors import ConfigError

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """``sqlite:///monitor.db`` -> ``sqlite+aiosqlite:///monitor.db``; ``postgresql://`` -> asyncpg."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"--database {url!r} is not a database URL; use sqlite:///monitor.db or postgresql://…"
        ) from exc
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigError(
            f"--database {parsed.render_as_string()}: unsupported {backend!r}; use sqlite or postgresql"
        )
    return parsed.set(drivername=_DRIVERS[backend]).render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the API) proceed while the engine writes; foreign keys are off by default.
    # synchronous=NORMAL is WAL's usual partner: a crashed or killed daemon loses nothing, a power
    # loss at most the last commits (looks, which are evaluated again), and no commit waits on fsync.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine for ``url`` with the settings each backend needs."""
    target = async_url(url)
    # A pre-ping finds connections a database server dropped; a SQLite file cannot drop them,
    # and the extra round trip would double the cost of the API's reads.
    sqlite = target.startswith("sqlite")
    engine = create_async_engine(target, pool_pre_ping=not sqlite, **options)
    if sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine
