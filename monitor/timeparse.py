"""Parsing of the CLI's TIME and DURATION (``60s``, ``1m``) values.

A TIME is RFC 3339 (``2026-11-26T10:00:00Z``), Unix seconds, or -- where the caller passes ``now`` --
relative to it as kubectl and Grafana write it: ``now``, ``now-20m``, ``now-1h30m``, ``now+5m``. A
command takes ``now`` once, so ``--start now-20m --end now`` is exactly twenty minutes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from monitor.errors import InputError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_RELATIVE = re.compile(r"^now(?:([+-])((?:\d+(?:ms|s|m|h|d|w))+))?$")
_RELATIVE_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
ABSOLUTE_FORMS = "RFC 3339 (2026-11-26T10:00:00Z) or Unix seconds"
ALL_FORMS = "RFC 3339 (2026-11-26T10:00:00Z), Unix seconds, or now, now-20m, now-1h30m, now+5m"


def _relative(text: str, now: datetime) -> datetime | None:
    """``now``, ``now-20m``, ``now-1h30m``, ``now+5m`` from ``now``; None when ``text`` is not relative."""
    match = _RELATIVE.match(text)
    if match is None:
        return None
    sign, parts = match.groups()
    if sign is None:
        return now
    seconds = sum(int(n) * _UNIT_S[unit] for n, unit in _RELATIVE_PART.findall(parts))
    return now + timedelta(seconds=seconds if sign == "+" else -seconds)


def parse_time(value: str, name: str, now: datetime | None = None) -> datetime:
    """Parse RFC 3339 (``2026-11-26T10:00:00Z``) or Unix seconds into an aware UTC datetime; with
    ``now`` (one instant per command), also ``now``, ``now-20m``, ``now-1h30m`` or ``now+5m``.

    The error names ``name`` (the flag) and the accepted forms.
    """
    text = value.strip()
    forms = ALL_FORMS if now is not None else ABSOLUTE_FORMS
    if now is not None:
        relative = _relative(text.lower(), now.astimezone(UTC))
        if relative is not None:
            return relative
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InputError(f"{name} {value!r} is not a time; use {forms}") from None
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
