"""A metrics source that asks each distinct query once: a replay's looks repeat many of theirs.

Before/after, the old version's window is the same at every look (``previous`` baseline), so each
look would query it again; a replayed deploy or A/A run reads it once through this cache. Entries
are kept for the life of the cache (one run), so memory stays bounded by one run's queries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import TypeVar

from monitor.models import Window
from monitor.sources.base import InstantSample, MetricsSource, RangeSeries

T = TypeVar("T")


class CachedSource:
    """``source`` with its instant and range queries memoised by their arguments (errors are not kept)."""

    def __init__(self, source: MetricsSource) -> None:
        self._source = source
        self.url = source.url
        self._answers: dict[Hashable, asyncio.Future[object]] = {}
        self.hits = 0

    async def _once(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        known = self._answers.get(key)
        if known is not None:
            self.hits += 1
            return await known  # type: ignore[return-value]
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._answers[key] = future
        try:
            answer = await fetch()
        except BaseException as exc:
            del self._answers[key]  # a failure may pass: the next look asks again
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        future.set_result(answer)
        return answer

    async def instant(self, query: str, at: datetime) -> list[InstantSample]:
        """The source's answer, asked once per ``(query, at)``."""
        return await self._once(("instant", query, at), lambda: self._source.instant(query, at))

    async def range(self, query: str, window: Window, step_s: float) -> list[RangeSeries]:
        """The source's answer, asked once per ``(query, window, step_s)``."""
        return await self._once(
            ("range", query, window, step_s), lambda: self._source.range(query, window, step_s)
        )

    async def label_values(self, label: str, match: str, window: Window) -> list[str]:
        """Not cached: only the no-data path asks."""
        return await self._source.label_values(label, match, window)

    async def close(self) -> None:
        """Nothing to release: the wrapped source belongs to the caller."""
