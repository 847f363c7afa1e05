"""A metrics source that asks each distinct query once: a replay's looks repeat many of theirs.

Before/after, the old version's window is the same at every look (``previous`` baseline), so each
look would query it again; a replayed deploy or A/A run reads it once through this cache. And each
look's range queries (a samples check's points, canary mode's periods) cover the window from its
fixed start to the look: in history, the points up to the window's longest end already exist, so
the first look reads them all and every later look gets the prefix up to its own end, the very
points Prometheus would have answered (a range query's points are at ``start + i * step``, whatever
its end). Entries are kept for the life of the cache (one run, or the runs of one window), so memory
stays bounded by their queries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import TypeVar

from monitor.models import Window
from monitor.sources.base import InstantSample, MetricsSource, RangeSeries
from monitor.sources.prometheus import choose_step_s

T = TypeVar("T")


class CachedSource:
    """``source`` with its instant and range queries memoised by their arguments (errors are not kept).

    A range query whose window is at most ``longest_s`` long is read to ``start + longest_s`` once and
    answered by its points up to the window's end.
    """

    def __init__(self, source: MetricsSource, longest_s: float | None = None) -> None:
        self._source = source
        self._longest_s = longest_s
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
        """The source's answer, asked once per ``(query, window start, step_s)`` within ``longest_s``."""
        longest_s = self._longest_s
        if longest_s is not None and window.duration_s <= longest_s:
            full = Window(window.start, window.start + timedelta(seconds=longest_s))
            # A longer read with a coarser step (the point limit) would not have this window's points.
            if choose_step_s(full.duration_s, step_s) == choose_step_s(window.duration_s, step_s):
                series = await self._once(
                    ("prefix", query, window.start, step_s), lambda: self._source.range(query, full, step_s)
                )
                end_s = window.end.timestamp() + 1e-6
                prefixes = [
                    RangeSeries(s.labels, tuple(p for p in s.points if p[0] <= end_s)) for s in series
                ]
                return [s for s in prefixes if s.points]  # as Prometheus: no series without a point
        return await self._once(
            ("range", query, window, step_s), lambda: self._source.range(query, window, step_s)
        )

    async def label_values(self, label: str, match: str, window: Window) -> list[str]:
        """Not cached: only the no-data path asks."""
        return await self._source.label_values(label, match, window)

    async def close(self) -> None:
        """Nothing to release: the wrapped source belongs to the caller."""
