"""Range queries for the baseline judges: prometheus-api-client in worker threads, pandas out.

``PrometheusConnect`` is synchronous (requests), so each query runs in a thread of a shared
pool; every thread has its own connection. Results become pandas Series indexed by timestamp
and are aligned on the expected one-minute grid, a missing point becoming NaN.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

STEP_S = 60


class BackendError(RuntimeError):
    """A baseline judge's query failed or returned something unexpected."""


class RangeClient:
    """Runs range queries for the baseline judges on a thread pool."""

    def __init__(self, url: str, executor: ThreadPoolExecutor, timeout_s: int = 30) -> None:
        self.url = url
        self._executor = executor
        self._timeout_s = timeout_s
        self._local = threading.local()

    def _connection(self) -> PrometheusConnect:
        connection: PrometheusConnect | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = PrometheusConnect(url=self.url, timeout=self._timeout_s)
            self._local.connection = connection
        return connection

    def _series(self, query: str, start: datetime, end: datetime) -> pd.Series:
        try:
            result = self._connection().custom_query_range(
                query, start_time=start, end_time=end, step=f"{STEP_S}s"
            )
        except Exception as exc:  # requests and prometheus-api-client raise various types
            raise BackendError(f"{type(exc).__name__}: {exc}; query: {query}") from exc
        if not result:
            return pd.Series(dtype=np.float64)
        if len(result) > 1:
            raise BackendError(f"expected one series, got {len(result)}; query: {query}")
        frame = MetricRangeDataFrame(result)
        return pd.Series(frame["value"].to_numpy(dtype=np.float64), index=frame.index)

    def _instant(self, query: str, at: datetime) -> list[tuple[dict[str, str], float]]:
        try:
            result = self._connection().custom_query(query, params={"time": at.timestamp()})
        except Exception as exc:  # requests and prometheus-api-client raise various types
            raise BackendError(f"{type(exc).__name__}: {exc}; query: {query}") from exc
        return [(dict(item["metric"]), float(item["value"][1])) for item in result]

    async def instant(self, query: str, at: datetime) -> list[tuple[dict[str, str], float]]:
        """Evaluate ``query`` at ``at``: each series' labels and value."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._instant, query, at)

    async def aligned(self, queries: Mapping[str, str], start: datetime, end: datetime) -> pd.DataFrame:
        """Evaluate ``queries`` (column name -> PromQL) every minute from ``start`` to ``end``.

        Returns one column per query on the grid ``start, start + 1m, ... end``; a point a
        query did not return is NaN.
        """
        loop = asyncio.get_running_loop()
        names = list(queries)
        series = await asyncio.gather(
            *(loop.run_in_executor(self._executor, self._series, queries[name], start, end) for name in names)
        )
        steps = int((end - start) / timedelta(seconds=STEP_S))
        grid = pd.to_datetime([start.timestamp() + STEP_S * i for i in range(steps + 1)], unit="s")
        return pd.DataFrame({name: s.reindex(grid) for name, s in zip(names, series, strict=True)})
