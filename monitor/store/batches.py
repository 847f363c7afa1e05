"""Inserting a batch so that the rows the database refuses do not hold back the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

# SQLSTATE classes of a refused value: 22 data exception (NUL in text, too long, bad encoding),
# 23 integrity constraint violation.
_REFUSAL_CLASSES = ("22", "23")


def refused_as_data(exc: BaseException) -> bool:
    """Whether ``exc`` is the database or its driver refusing a value, not the database failing.

    Refusals: ``DataError`` and ``IntegrityError``, any database error whose SQLSTATE is of class
    22 or 23 (asyncpg's come as plain ``DBAPIError``), a value the driver cannot encode (sqlite3
    raises ``UnicodeEncodeError`` for a lone surrogate, ``OverflowError`` for a huge integer) and
    a ``StatementError`` raised before the statement reached the database. Sending them again
    cannot succeed. Anything else (a lost connection, a locked, full or read-only database) may
    pass and is not a refusal.
    """
    if isinstance(exc, DataError | IntegrityError | UnicodeError | OverflowError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        return isinstance(sqlstate, str) and sqlstate[:2] in _REFUSAL_CLASSES
    return isinstance(exc, StatementError)


def refusal_reason(exc: BaseException) -> str:
    """The database's (or driver's) own words for a refusal, on one line."""
    cause = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0][:300] if text else ''}"


async def insert_isolating(
    connection: AsyncConnection, table: Table, values: Sequence[Mapping[str, Any]]
) -> list[tuple[int, str]]:
    """Insert ``values`` in ``connection``'s transaction, leaving out the rows the database refuses.

    Bisection under savepoints: a refused slice is rolled back to its savepoint and split until
    each refused row stands alone, so ``k`` bad rows among ``n`` cost about ``2k log2 n``
    statements, and the good rows commit with the caller's transaction (or not at all, should the
    database fail before it commits). Returns the index and the reason of every row left out;
    anything that is not a refusal (see :func:`refused_as_data`) propagates.

    On SQLite the caller must have begun the transaction explicitly (``BEGIN``): the driver opens
    one only before DML, so a first SAVEPOINT would start one of its own, committed by its RELEASE.
    """
    refused: list[tuple[int, str]] = []
    # Iterative rather than recursive; the stack holds [start, end) slices still to insert.
    pending = [(0, len(values))]
    while pending:
        start, end = pending.pop()
        try:
            async with connection.begin_nested():
                await connection.execute(insert(table), [dict(v) for v in values[start:end]])
        except Exception as exc:
            if not refused_as_data(exc):
                raise
            if end - start == 1:
                refused.append((start, refusal_reason(exc)))
            else:
                middle = (start + end) // 2
                pending += [(middle, end), (start, middle)]
    return sorted(refused)
