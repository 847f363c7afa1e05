"""The backtest page's power curves: for each calibrated check, the chance it catches a change of a
given size at the traffic the A/A runs saw, with its allowance marked.

A ratio for counts and distribution checks (no change at 1x), a shift in the check's unit for
samples checks (no change at 0). The curve passes 80 % at the check's detectable effect
(:mod:`monitor.stats.power_curve`); an allowance left of that point is one the check cannot be
relied on to enforce. Geometry only, in SVG units of a :data:`WIDTH` x :data:`HEIGHT` plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from monitor.backtest.calibration import last_look_level
from monitor.backtest.result import Backtest
from monitor.charts import Scale, Tick, linear_ticks, polyline
from monitor.judges.format import fmt_value
from monitor.models import ComparisonKind, Direction
from monitor.profiles import CheckSpec, Profile
from monitor.stats.power_curve import past_allowance, power_at, ratio_power_at

WIDTH, HEIGHT = 260, 110
SAMPLES = 48  # points along each curve
_POWER_TICKS = (Tick(round(HEIGHT * (1 - p), 1), f"{p:.0%}") for p in (0.0, 0.5, 0.8, 1.0))
POWER_TICKS = tuple(_POWER_TICKS)


@dataclass(frozen=True)
class Marker:
    """A vertical line across a curve's plot: the detectable effect or the allowance."""

    x: float
    label: str
    css: str


@dataclass(frozen=True)
class PowerCurve:
    """One check's curve: the polyline, its axis ticks, markers, and what it means in words."""

    check: str
    points: str
    x_ticks: tuple[Tick, ...]
    markers: tuple[Marker, ...]
    note: str


def _ratio(value: float) -> str:
    return f"{value:.3g}x"


def _allowance_ratio(spec: CheckSpec) -> float | None:
    """The allowance as a ratio away from 1x (a fall to 0.8x is 1.25x the other way)."""
    if spec.direction is Direction.DECREASE:
        return 1.0 / spec.lower_allowed if spec.lower_allowed > 0 else None
    return 1.0 + spec.allowed_effect if spec.allowed_effect > 0 else None


def _y(power: float) -> float:
    return round(HEIGHT * (1.0 - power), 1)


def _ratio_curve(spec: CheckSpec, detectable: float, alpha: float) -> PowerCurve | None:
    if not detectable > 1.0:
        return None
    allowance = _allowance_ratio(spec)
    if allowance is not None and allowance >= detectable:
        # An effect reckoned without the allowance (an older document): the check fails only past it.
        detectable = math.exp(past_allowance(math.log(detectable), alpha, math.log(allowance)))
    # The check fails only past its allowance too: the curve's standard error and threshold know it.
    floor = allowance if allowance is not None else 1.0
    high = max(detectable, allowance or 1.0) * 1.25
    xs = Scale(1.0, high, 0.0, WIDTH)
    ratios = [1.0 + (high - 1.0) * i / (SAMPLES - 1) for i in range(SAMPLES)]
    points = [(xs(r), _y(ratio_power_at(r, detectable, alpha, allowed_ratio=floor))) for r in ratios]
    markers = [Marker(xs(detectable), f"80 % at {_ratio(detectable)}", "detectable")]
    note = f"catches a change of {_ratio(detectable)} 8 times in 10"
    if allowance is not None:
        markers.append(Marker(xs(allowance), f"allowance {_ratio(allowance)}", "allowance"))
        chance = ratio_power_at(allowance, detectable, alpha, allowed_ratio=floor)
        note += f"; a change at its allowance ({_ratio(allowance)}) {chance:.0%} of the time"
        if chance < 0.49:  # below the 50 % an allowance that binds gives: the test is the limit
            note += ": the allowance is finer than the check can see at this traffic"
    ticks = tuple(linear_ticks(xs, _ratio, count=4))
    return PowerCurve(spec.name, polyline(points), ticks, tuple(markers), note)


def _shift_curve(spec: CheckSpec, detectable: float, alpha: float) -> PowerCurve | None:
    # The allowance is relative to each run's baseline value, unknown here: the curve is the test's
    # alone (steeper than the check's where the allowance binds; the 80 % point is the check's).
    if not detectable > 0.0:
        return None
    high = detectable * 2.0
    xs = Scale(0.0, high, 0.0, WIDTH)
    shifts = [high * i / (SAMPLES - 1) for i in range(SAMPLES)]
    points = [(xs(d), _y(power_at(d, detectable, alpha))) for d in shifts]
    shown = fmt_value(detectable, spec.unit)
    markers = (Marker(xs(detectable), f"80 % at +{shown}", "detectable"),)
    note = f"catches a shift of {shown} 8 times in 10 (its allowance is relative to the baseline's value)"
    ticks = tuple(linear_ticks(xs, lambda v: fmt_value(v, spec.unit), count=3))
    return PowerCurve(spec.name, polyline(points), ticks, markers, note)


def power_curves(backtest: Backtest, profile: Profile) -> tuple[PowerCurve, ...]:
    """A curve per check of ``profile`` with a detectable effect (its first baseline choice's), at the
    level the check's test gets at a run's last look (:func:`last_look_level`), not the run's alpha."""
    specs = {spec.name: spec for spec in profile.checks}
    detectable: dict[str, float] = {}
    for calibration in backtest.calibration:
        effect = calibration.detectable_effect
        if calibration.check in specs and effect is not None and math.isfinite(effect):
            detectable.setdefault(calibration.check, effect)
    curves = []
    for name, effect in detectable.items():
        spec = specs[name]
        draw = _shift_curve if spec.comparison is ComparisonKind.SAMPLES else _ratio_curve
        curve = draw(spec, effect, last_look_level(profile, spec))
        if curve is not None:
            curves.append(curve)
    return tuple(curves)
