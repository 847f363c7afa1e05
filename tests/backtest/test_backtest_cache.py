"""The replay's query cache against the session's real Prometheus: a look's range query answered from
the window's longest read is exactly what Prometheus answers for it, and repeated queries are asked once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from monitor.backtest.cache import CachedSource
from monitor.models import Window
from monitor.simulate import SimulatedPrometheus
from monitor.sources.base import InstantSample, RangeSeries
from monitor.sources.prometheus import PrometheusSource

QUERY = 'sum by (service_version) (rate(http_server_request_duration_seconds_count{service_name="aa"}[1m]))'


class CountingSource(PrometheusSource):
    """The real source, counting the queries that reach Prometheus."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.asked: list[str] = []

    async def instant(self, query: str, at: datetime) -> list[InstantSample]:
        self.asked.append("instant")
        return await super().instant(query, at)

    async def range(self, query: str, window: Window, step_s: float) -> list[RangeSeries]:
        self.asked.append("range")
        return await super().range(query, window, step_s)


def test_growing_windows_are_answered_from_one_read_as_prometheus_would(
    prometheus: SimulatedPrometheus,
) -> None:
    window = prometheus.runs["aa"].canary_window
    ends = [window.start + timedelta(minutes=m) for m in (2, 7, 13, 20)]

    async def run() -> tuple[list[list[RangeSeries]], list[list[RangeSeries]], list[str]]:
        direct, counting = PrometheusSource(prometheus.url), CountingSource(prometheus.url)
        cached = CachedSource(counting, longest_s=window.duration_s)
        try:
            expected = [await direct.range(QUERY, Window(window.start, end), 15.0) for end in ends]
            got = [await cached.range(QUERY, Window(window.start, end), 15.0) for end in ends]
            for _ in range(3):
                await cached.instant(QUERY.replace("[1m]", "[20m]"), window.end)
            return expected, got, counting.asked
        finally:
            await direct.close()
            await counting.close()

    expected, got, asked = asyncio.run(run())
    assert got == expected and all(series and series[0].points for series in got)
    assert asked == ["range", "instant"]


def test_a_window_longer_than_the_longest_is_read_as_it_is(prometheus: SimulatedPrometheus) -> None:
    window = prometheus.runs["aa"].canary_window

    async def run() -> list[str]:
        counting = CountingSource(prometheus.url)
        cached = CachedSource(counting, longest_s=60.0)
        try:
            first = await cached.range(QUERY, window, 15.0)
            again = await cached.range(QUERY, window, 15.0)
            assert first == again and first[0].points[-1][0] == window.end.timestamp()
            return counting.asked
        finally:
            await counting.close()

    assert asyncio.run(run()) == ["range"]
