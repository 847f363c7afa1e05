"""Every replayed look of a backtest as one CSV row, for a spreadsheet or pandas.

Columns: ``deploy`` (1-based, in the order of the deploys), ``version``, ``baseline``, ``mode``,
``look``, ``at`` (RFC 3339), ``status``, ``score``, then four per check, named after it:
``<check>.classification``, ``<check>.effect``, ``<check>.interval_low``, ``<check>.interval_high``.
A check a look did not judge leaves its cells empty; so does a number that is not finite.
"""

from __future__ import annotations

import csv
import io
import math

from monitor.backtest.result import Backtest
from monitor.timeparse import format_time

LOOK_COLUMNS = ("deploy", "version", "baseline", "mode", "look", "at", "status", "score")
CHECK_COLUMNS = ("classification", "effect", "interval_low", "interval_high")


def _cell(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return value


def check_names(backtest: Backtest) -> list[str]:
    """Every check any look judged, in the order they first appear."""
    names: dict[str, None] = {}
    for deploy in backtest.deploys:
        for look in deploy.looks:
            for check in look.checks:
                names.setdefault(check[0], None)
    return list(names)


def render_csv(backtest: Backtest) -> str:
    """A header and one row per replayed look (RFC 4180, ``\\r\\n`` line ends)."""
    checks = check_names(backtest)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*LOOK_COLUMNS, *(f"{name}.{column}" for name in checks for column in CHECK_COLUMNS)])
    for number, replayed in enumerate(backtest.deploys, start=1):
        deploy = replayed.deploy
        for look in replayed.looks:
            judged = {name: rest for name, *rest in look.checks}
            row = [
                str(number),
                deploy.version,
                deploy.baseline_version,
                replayed.mode.value,
                str(look.look),
                format_time(look.at),
                look.status.value,
                _cell(float(look.score)),
            ]
            for name in checks:
                row += [_cell(value) for value in judged.get(name, (None,) * len(CHECK_COLUMNS))]
            writer.writerow(row)
    return out.getvalue()
