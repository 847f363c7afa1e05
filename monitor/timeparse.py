"""Parsing of the CLI's TIME (RFC 3339 or Unix seconds) and DURATION (``60s``, ``1m``) values."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from monitor.errors import InputError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_time(value: str, name: str) -> datetime:
    """Parse RFC 3339 (``2026-11-26T10:00:00Z``) or Unix seconds into an aware UTC datetime."""
    text = value.strip()
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InputError(
            f"{name} {value!r} is not a time; use RFC 3339 (2026-11-26T10:00:00Z) or Unix seconds"
        ) from None
    if parsed.tzinfo is None:
        raise InputError(f"{name} {value!r} has no time zone; append Z or an offset such as +02:00")
    return parsed.astimezone(UTC)


def parse_duration_s(value: str, name: str) -> float:
    """Parse ``90``, ``90s``, ``1.5m``, ``2h`` into seconds (> 0)."""
    match = _DURATION.match(value)
    if not match:
        raise InputError(f"{name} {value!r} is not a duration; use e.g. 60s, 1m or 2h")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if seconds <= 0:
        raise InputError(f"{name} must be positive, got {value!r}")
    return seconds


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix, second precision."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
