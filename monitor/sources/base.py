"""The contracts of telemetry backends, and the values they return.

:class:`MetricsSource` speaks PromQL. A look reads logs through a :class:`LogSource` and spans
through a :class:`TraceSource`, as aggregates: the OTLP receiver's store is one, and a pulled
backend (:class:`LogBackend` such as Loki, :class:`TraceBackend` such as Tempo or Jaeger) becomes
one once its lines or spans are aggregated as the receiver would (:mod:`monitor.otlp.pulled`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from monitor.models import Window

if TYPE_CHECKING:  # only annotations use it: the metrics path need not import the log miner
    from monitor.logs.counts import Level


@dataclass(frozen=True)
class Labels:
    """An immutable label set of one series."""

    pairs: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str = "") -> str:
        """The value of label ``name``, or ``default`` when the series lacks it."""
        for key, value in self.pairs:
            if key == name:
                return value
        return default


@dataclass(frozen=True)
class InstantSample:
    """One series' value at one instant."""

    labels: Labels
    value: float


@dataclass(frozen=True)
class RangeSeries:
    """One series' points over a window: ``(unix_s, value)`` pairs in time order."""

    labels: Labels
    points: tuple[tuple[float, float], ...]


# The most points a range query may return: Prometheus refuses more than 11,000 per series, so
# callers widen the step (or the period) until a window fits.
MAX_POINTS = 11_000


class MetricsSource(Protocol):
    """A PromQL-speaking backend. Implementations own their connections and retries."""

    url: str

    async def instant(self, query: str, at: datetime) -> list[InstantSample]:
        """Evaluate ``query`` at ``at``; raise ``QueryError`` or ``BackendUnavailable`` on failure."""
        ...

    async def range(self, query: str, window: Window, step_s: float) -> list[RangeSeries]:
        """Evaluate ``query`` over ``window`` every ``step_s`` seconds."""
        ...

    async def label_values(self, label: str, match: str, window: Window) -> list[str]:
        """Values of ``label`` on the series matching ``match`` (a ``{...}`` selector) in ``window``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True)
class Versions:
    """What a look reads logs and traces of: a service, and each version with its window."""

    service: str
    environment: str
    canary: str
    canary_window: Window
    baseline: str
    baseline_window: Window


class Aggregate(Protocol):
    """One minute of a version's logs or spans, aggregated as the OTLP receiver does (JSON payload)."""

    @property
    def version(self) -> str:
        """The service version the aggregate counts."""
        ...

    @property
    def minute(self) -> datetime:
        """The start of its minute (UTC)."""
        ...

    @property
    def payload_json(self) -> str:
        """The receiver's aggregate: templates for logs, operations and callers for spans."""
        ...


class LogSource(Protocol):
    """Where a look reads its logs: the OTLP receiver's store, or a pulled backend such as Loki."""

    async def log_aggregates(self, versions: Versions) -> Sequence[Aggregate]:
        """Both versions' log aggregates over (at least) their windows; ``SourceError`` on failure."""
        ...


class TraceSource(Protocol):
    """Where a look reads its spans: the OTLP receiver's store, or a pulled backend (Tempo, Jaeger)."""

    async def span_aggregates(self, versions: Versions) -> Sequence[Aggregate]:
        """Both versions' span aggregates over (at least) their windows; ``SourceError`` on failure."""
        ...


class LogBackend(Protocol):
    """A backend that answers one version's log lines (Loki); :class:`LogSource` once aggregated."""

    url: str

    async def lines(self, service: str, version: str, window: Window) -> list[tuple[int, str, Level]]:
        """``(unix ns, line, level)`` of the version in the window, oldest first."""
        ...


class TraceBackend(Protocol):
    """A backend that answers one service's traces (Tempo, Jaeger); :class:`TraceSource` once aggregated."""

    url: str

    async def traces(self, service: str, version: str, window: Window) -> list[dict[str, Any]]:
        """Traces with spans of the version in the window, as OTLP/JSON ``{"resourceSpans": [...]}``
        documents; they may hold other versions' and services' spans too."""
        ...
