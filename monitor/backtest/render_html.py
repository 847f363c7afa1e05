"""A backtest as one self-contained HTML page: a verdict timeline of the past deploys, the
false-alarm rate of each check with its 95 % interval, and each check's power curve
(:mod:`monitor.backtest.render_power`).

The deployment report's approach (:mod:`monitor.api.report_page`): rendered with Jinja2's
autoescaping (service, version and check names come from the metrics' labels), every string
redacted, no script and no external asset, inline SVG whose geometry comes from
:mod:`monitor.charts` and is computed here, so it is tested without a browser. The page carries
its Content-Security-Policy in a ``<meta>`` element: it is a file, served by no one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import jinja2

from monitor.backtest.render_power import HEIGHT as CURVE_HEIGHT
from monitor.backtest.render_power import POWER_TICKS, power_curves
from monitor.backtest.render_power import WIDTH as CURVE_WIDTH
from monitor.backtest.render_text import minutes, number, percent, rate_with_interval
from monitor.backtest.result import Backtest, CheckCalibration
from monitor.charts import Scale, Tick, linear_ticks
from monitor.htmlpage import CONTENT_SECURITY_POLICY, page_environment
from monitor.profiles import Profile
from monitor.timeparse import format_time

PLOT_WIDTH = 640
TIMELINE_HEIGHT = 60
ROW_HEIGHT = 22  # one check per row in the false-alarm chart
_TIME_TICKS = 8
_TIME_STEPS_S = tuple(h * 3600 for h in (1, 2, 3, 6, 12, 24, 48, 7 * 24, 14 * 24, 28 * 24, 91 * 24))


@dataclass(frozen=True)
class TimelineMark:
    """A past deploy on the timeline: from its canary window's start to its decision (or end)."""

    x: float
    x_end: float
    verdict: str
    label: str


@dataclass(frozen=True)
class Timeline:
    """The verdict timeline: the range across, one mark per deploy."""

    marks: tuple[TimelineMark, ...]
    ticks: tuple[Tick, ...]


@dataclass(frozen=True)
class RateRow:
    """One check's false-alarm rate: the point, its interval's whisker, in pixels across."""

    y: float
    label: str
    x: float
    low: float
    high: float
    over_target: bool
    text: str


@dataclass(frozen=True)
class RateChart:
    """False-alarm rate by check, with the target as a line."""

    rows: tuple[RateRow, ...]
    ticks: tuple[Tick, ...]
    target_x: float
    height: float


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


def _time_ticks(scale: Scale) -> tuple[Tick, ...]:
    """Ticks at whole hours, days or weeks (UTC), at most :data:`_TIME_TICKS` of them; the date
    alone when they are days apart."""
    span_s = scale.high - scale.low
    step_s = next((s for s in _TIME_STEPS_S if span_s / s <= _TIME_TICKS), _TIME_STEPS_S[-1])
    form = "%m-%d" if step_s >= 86400 else "%m-%d %H:%M"
    at_s = math.ceil(scale.low / step_s) * step_s
    ticks = []
    while at_s <= scale.high:
        ticks.append(Tick(scale(at_s), datetime.fromtimestamp(at_s, UTC).strftime(form)))
        at_s += step_s
    return tuple(ticks)


def timeline(backtest: Backtest) -> Timeline:
    """Each past deploy placed over the backtest's range (at least three pixels wide)."""
    scale = Scale(_seconds(backtest.span.start), _seconds(backtest.span.end), 0.0, PLOT_WIDTH)
    marks = []
    for deploy in backtest.deploys:
        start = scale(_seconds(deploy.canary_window.start))
        end = scale(_seconds(deploy.decided_at or deploy.canary_window.end))
        after = minutes(deploy.decided_after_s)
        decided = f"decided after {after}" if after else "undecided"
        label = (
            f"{deploy.deploy.version} replacing {deploy.deploy.baseline_version}, "
            f"{format_time(deploy.deploy.start)}: {deploy.verdict.value}, {decided}"
        )
        marks.append(TimelineMark(start, max(end, start + 3.0), deploy.verdict.value, label))
    return Timeline(tuple(marks), _time_ticks(scale))


def _label(calibration: CheckCalibration, several_baselines: bool) -> str:
    return f"{calibration.check} ({calibration.baseline})" if several_baselines else calibration.check


def rate_chart(backtest: Backtest) -> RateChart | None:
    """False-alarm rate per check and baseline, whiskers over the 95 % interval; None without trials."""
    measured = [c for c in backtest.calibration if c.trials]
    if not measured:
        return None
    several = len({c.baseline for c in measured}) > 1
    top = max([backtest.false_alarm_target, *(c.rate_interval[1] for c in measured)])
    scale = Scale(0.0, min(max(top * 1.1, 0.01), 1.0), 0.0, PLOT_WIDTH)
    rows = tuple(
        RateRow(
            y=(i + 0.5) * ROW_HEIGHT,
            label=_label(c, several),
            x=scale(c.rate),
            low=scale(c.rate_interval[0]),
            high=scale(c.rate_interval[1]),
            over_target=c.rate > backtest.false_alarm_target,
            text=f"{rate_with_interval(c)}, {c.false_alarms} of {c.trials}",
        )
        for i, c in enumerate(measured)
    )
    ticks = tuple(linear_ticks(scale, percent))
    return RateChart(rows, ticks, scale(backtest.false_alarm_target), len(rows) * ROW_HEIGHT)


@cache
def _environment() -> jinja2.Environment:
    environment = page_environment("monitor.backtest")
    environment.filters["time"] = format_time
    environment.filters["minutes"] = minutes
    environment.filters["number"] = number
    environment.filters["percent"] = percent
    return environment


def render_html(backtest: Backtest, profile: Profile) -> str:
    """The page, as one string of HTML; ``profile`` is the one tested (its checks' kinds, units and
    allowances draw the power curves)."""
    return (
        _environment()
        .get_template("backtest.html")
        .render(
            backtest=backtest,
            csp=CONTENT_SECURITY_POLICY,
            plot_width=PLOT_WIDTH,
            timeline_height=TIMELINE_HEIGHT,
            timeline=timeline(backtest),
            rates=rate_chart(backtest),
            curves=power_curves(backtest, profile),
            curve_width=CURVE_WIDTH,
            curve_height=CURVE_HEIGHT,
            power_ticks=POWER_TICKS,
            decided_after=lambda d: minutes(d.decided_after_s),
            rate_text=rate_with_interval,
        )
    )
