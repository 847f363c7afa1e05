"""The OTLP receiver's store as the :class:`~monitor.sources.base.LogSource` and
:class:`~monitor.sources.base.TraceSource` of the daemon's looks (``logs_from``/``traces_from: receiver``).

Telemetry without ``deployment.environment.name`` is stored under the environment ``""`` and read
for every environment, since many services do not set it.
"""

from __future__ import annotations

from datetime import timedelta

from monitor.otlp.views import TelemetryReader
from monitor.sources.base import Versions
from monitor.store import Store, TelemetryRow


class StoredTelemetry:
    """Reads the receiver's flushed aggregates of two versions from the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def _rows(self, kind: str, versions: Versions) -> list[TelemetryRow]:
        start = min(versions.canary_window.start, versions.baseline_window.start) - timedelta(minutes=1)
        end = max(versions.canary_window.end, versions.baseline_window.end)
        rows: list[TelemetryRow] = []
        for environment in {versions.environment, ""}:
            rows += await self._store.telemetry(kind, versions.service, environment, start, end)
        return rows

    async def log_aggregates(self, versions: Versions) -> list[TelemetryRow]:
        """The versions' log aggregates as the receiver stored them."""
        return await self._rows("logs", versions)

    async def span_aggregates(self, versions: Versions) -> list[TelemetryRow]:
        """The versions' span aggregates as the receiver stored them."""
        return await self._rows("spans", versions)


def receiver_telemetry(store: Store) -> TelemetryReader:
    """Logs and traces both from the receiver's store: what the daemon reads by default."""
    stored = StoredTelemetry(store)
    return TelemetryReader(stored, stored)
