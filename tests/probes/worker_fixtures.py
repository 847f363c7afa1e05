"""A store on a clock the tests move by hand, for the probe worker's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.store import Store


@dataclass
class Clock:
    """The worker's and the store's clock, moved by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 12, 6, 10, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    """A manual clock at 2026-12-06T10:00:00Z."""
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    """A SQLite store on ``clock``."""
    opened = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}", clock=clock)
    yield opened
    await opened.close()
