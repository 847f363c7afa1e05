"""The range a backtest replays, from ``--since``/``--until`` (or the API's ``since``/``until``).

``since`` is a duration back from now (``30d``, ``12h``, ``2w``) or a TIME (RFC 3339, Unix seconds,
``now-30d``); ``until`` a TIME, ``now`` by default. The command and the API resolve both against
one ``now``, so ``--since 30d --until now`` is exactly thirty days.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from monitor.errors import InputError
from monitor.models import Window
from monitor.timeparse import format_time, parse_duration_s, parse_time

DAY_S = 86400.0
API_MAX_SPAN_S = 90 * DAY_S  # the daemon's bound: one request must not read a year of history
CLI_MAX_SPAN_S = 366 * DAY_S
MIN_SPAN_S = 3600.0  # shorter holds no deploy and no A/A window worth judging
_BACK = re.compile(r"^\s*\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*$")
_FUTURE_SLACK = timedelta(seconds=60)


def parse_since(value: str, name: str, now: datetime) -> datetime:
    """``30d`` as ``now`` minus thirty days; any other text as a TIME (see the module)."""
    if _BACK.match(value):
        return now - timedelta(seconds=parse_duration_s(value, name))
    return parse_time(value, name, now)


def backtest_span(
    since: str,
    until: str,
    now: datetime,
    *,
    max_span_s: float = CLI_MAX_SPAN_S,
    names: tuple[str, str] = ("--since", "--until"),
) -> Window:
    """The range ``[since, until)``; an :class:`InputError` naming the flag when it is empty, in the
    future, shorter than an hour or longer than ``max_span_s``."""
    since_name, until_name = names
    start = parse_since(since, since_name, now)
    end = parse_time(until, until_name, now)
    if end > now + _FUTURE_SLACK:
        raise InputError(f"{until_name} {format_time(end)} is in the future; a backtest replays the past")
    if end <= start:
        raise InputError(f"{until_name} {format_time(end)} is not after {since_name} {format_time(start)}")
    span_s = (end - start).total_seconds()
    if span_s < MIN_SPAN_S:
        raise InputError(
            f"{since_name}..{until_name} is shorter than an hour; backtest a longer range, e.g. 30d"
        )
    if span_s > max_span_s:
        raise InputError(
            f"{since_name}..{until_name} spans {span_s / DAY_S:.0f} days, "
            f"more than {max_span_s / DAY_S:.0f}; backtest a shorter range"
        )
    return Window(start, end)
