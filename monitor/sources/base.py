"""The contract every metrics backend implements, and the values it returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from monitor.models import Window


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
