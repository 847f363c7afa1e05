"""Numbers, durations and times as people read them on the report page.

``195,180`` rather than ``195180.0``, ``2 min`` rather than ``120 s``, ``26 Nov 10:04:00 UTC``
rather than an ISO timestamp: the JSON documents keep the exact values.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


def count(value: float | None) -> str:
    """A count with thousands separators; fractions (``increase()`` extrapolates) rounded."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if abs(value) < 10 and value != round(value):
        return f"{value:.1f}"
    return f"{round(value):,}"


def duration(seconds: float) -> str:
    """``45 s``, ``2 min``, ``1 min 30 s``, ``1 h``, ``2 h 5 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs and not hours:
        parts.append(f"{secs} s")
    return " ".join(parts)


def _parse(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(moment: datetime | str | None) -> str:
    """``2026-11-26 10:04:00 UTC`` from a datetime or an ISO 8601 text (empty for None)."""
    if moment is None or moment == "":
        return ""
    return _parse(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clock(moment: datetime | str | None) -> str:
    """``10:04:00``: the time of day in UTC, for events of one deployment."""
    if moment is None or moment == "":
        return ""
    return _parse(moment).astimezone(UTC).strftime("%H:%M:%S")


def span(start: datetime | str, end: datetime | str) -> str:
    """A window as ``2026-11-26 10:00:00 .. 10:20:00 UTC (20 min)``, the date once when it is one day."""
    first, last = _parse(start).astimezone(UTC), _parse(end).astimezone(UTC)
    length = duration((last - first).total_seconds())
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M:%S} .. {last:%H:%M:%S} UTC ({length})"
    return f"{when(first)} .. {when(last)} ({length})"


def parse_time(moment: str) -> datetime:
    """An ISO 8601 time of a verdict document (``Z`` or an offset) as an aware datetime."""
    return _parse(moment)
