"""A backtest as a terminal reads it: past deploys and their verdicts, each check's false-alarm
rate on the service's own noise, and the suggested settings.

Numbers for people (``2.0 %``, ``12 min``); the exact values are in the JSON and CSV outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from monitor.backtest.result import Backtest, CheckCalibration, Suggestion
from monitor.redact import redact_text
from monitor.timeparse import format_time


def percent(value: float) -> str:
    """``0 %``, ``0.42 %``, ``2.0 %``, ``37 %``: two significant figures below 10 %."""
    share = value * 100
    if share == 0:
        return "0 %"
    return f"{share:.2g} %" if share < 10 else f"{share:.0f} %"


def minutes(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``2 h 5 min``; empty for None."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min"


def number(value: float | None) -> str:
    """Three significant figures; empty for None or a value that is not finite."""
    return "" if value is None or not math.isfinite(value) else f"{value:.3g}"


def rate_with_interval(calibration: CheckCalibration) -> str:
    """``2.0 % [0.9 %, 3.9 %]``: the false-alarm rate and its 95 % interval."""
    low, high = calibration.rate_interval
    return f"{percent(calibration.rate)} [{percent(low)}, {percent(high)}]"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart, a rule under the header."""
    everything = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(row[i]) for row in everything) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in everything
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _deploys(backtest: Backtest) -> list[str]:
    if not backtest.deploys:
        return ["past deploys: none found in the range (no change of the version label)"]
    rows = [
        (
            format_time(d.deploy.start),
            d.deploy.version,
            d.deploy.baseline_version,
            d.mode.value,
            d.verdict.value,
            minutes(d.decided_after_s) or "undecided",
            str(len(d.looks)),
        )
        for d in backtest.deploys
    ]
    header = ("start", "version", "replaced", "mode", "verdict", "decided after", "looks")
    return [f"past deploys ({len(backtest.deploys)}):", *table(header, rows)]


def _calibration(backtest: Backtest) -> list[str]:
    if not backtest.calibration:
        return ["calibration: no A/A window (no stretch where one version ran alone long enough)"]
    rows = [
        (
            c.check,
            c.baseline,
            str(c.trials),
            str(c.false_alarms),
            rate_with_interval(c),
            number(c.detectable_effect) or "n/a",
        )
        for c in backtest.calibration
    ]
    header = ("check", "baseline", "trials", "false alarms", "rate [95% CI]", "detectable effect")
    target = percent(backtest.false_alarm_target)
    return [f"calibration, A/A on the service's own noise (target {target}):", *table(header, rows)]


def _suggestions(suggestions: Sequence[Suggestion]) -> list[str]:
    if not suggestions:
        return ["suggestions: none; the profile kept false alarms at or under the target"]
    rows = [
        (s.check, number(s.allowance), minutes(s.min_duration_s), s.baseline or "", redact_text(s.reason))
        for s in suggestions
    ]
    return ["suggestions:", *table(("check", "allowance", "min duration", "baseline", "why"), rows)]


def render_text(backtest: Backtest) -> str:
    """The backtest as tables: past deploys, calibration per check, suggestions, then warnings."""
    environment = f" ({backtest.environment})" if backtest.environment else ""
    lines = [
        f"backtest of {backtest.service}{environment} with profile {backtest.profile}, "
        f"{format_time(backtest.span.start)} .. {format_time(backtest.span.end)}",
        "",
        *_deploys(backtest),
        "",
        *_calibration(backtest),
        "",
        *_suggestions(backtest.suggestions),
    ]
    if backtest.warnings:
        lines += ["", *(f"warning: {redact_text(w)}" for w in backtest.warnings)]
    return "\n".join(lines)
