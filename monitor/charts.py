"""SVG geometry for charts (the deployment report, the backtest page): scales, ticks, lines and bands.

Pure functions of the data: the template draws what these return, so the placement is tested
without a browser. Coordinates are SVG user units inside a plot area whose origin is its top left
(y grows downwards); every value is rounded to 0.1 to keep the page small.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """Maps a domain ``[low, high]`` onto pixels ``[start, end]``, linearly or on a log scale."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        """The pixel of ``value``, clamped to the plot (a bound beyond the domain sits on its edge)."""
        low, high, value = self.low, self.high, min(max(value, self.low), self.high)
        if self.log:
            low, high, value = math.log(low), math.log(high), math.log(value)
        share = 0.5 if high == low else (value - low) / (high - low)
        return round(self.start + share * (self.end - self.start), 1)


@dataclass(frozen=True)
class Tick:
    """An axis tick: its pixel and its label."""

    at: float
    label: str


def linear_domain(values: Sequence[float], *, include_zero: bool = False) -> tuple[float, float]:
    """A padded ``[low, high]`` around the finite ``values`` (a unit range around a single value)."""
    finite = [v for v in values if math.isfinite(v)]
    if include_zero:
        finite.append(0.0)
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.08
    return (low if include_zero and low == 0 else low - pad), high + pad


def ratio_domain(values: Sequence[float], *, limit: float = 100.0) -> tuple[float, float]:
    """A log-scale domain around ratios ``values`` that always shows 1 (no change), within ``limit``x."""
    finite = [v for v in values if math.isfinite(v) and v > 0]
    low = max(min([1.0, *finite]) / 1.15, 1 / limit)
    high = min(max([1.0, *finite]) * 1.15, limit)
    return low, high


def nice_step(span: float, count: int) -> float:
    """A step of 1, 2 or 5 times a power of ten giving about ``count`` intervals over ``span``."""
    raw = span / max(count, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def linear_ticks(scale: Scale, label: Callable[[float], str], count: int = 4) -> list[Tick]:
    """Ticks at round values inside ``scale``'s domain, labelled by ``label(value)``."""
    step = nice_step(scale.high - scale.low, count)
    first = math.ceil(scale.low / step) * step
    ticks: list[Tick] = []
    value = first
    while value <= scale.high + step * 1e-9:
        tick_value = 0.0 if abs(value) < step * 1e-9 else value
        ticks.append(Tick(scale(tick_value), label(tick_value)))
        value += step
    return ticks


_RATIO_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def ratio_ticks(scale: Scale, count: int = 6, min_gap: float = 12.0) -> list[Tick]:
    """Ticks at familiar ratios inside a log ``scale``: about ``count``, at least ``min_gap`` pixels
    apart (so labels do not overlap), always with 1x."""
    inside = [r for r in _RATIO_TICKS if scale.low <= r <= scale.high]
    while len(inside) > count:
        inside = [r for i, r in enumerate(inside) if i % 2 == 0 or r == 1.0]
    kept = [1.0] if 1.0 in inside else []
    for ratio in sorted(inside, key=lambda r: abs(math.log(r))):  # outwards from 1x
        if all(abs(scale(ratio) - scale(k)) >= min_gap for k in kept):
            kept.append(ratio)
    return [Tick(scale(r), f"{r:g}x") for r in sorted(kept)]


def polyline(points: Sequence[tuple[float, float]]) -> str:
    """The ``points`` attribute of an SVG polyline."""
    return " ".join(f"{x:g},{y:g}" for x, y in points)


def band_path(xs: Sequence[float], lows: Sequence[float], highs: Sequence[float]) -> str:
    """A closed SVG path around a band: along ``highs`` left to right, back along ``lows``.

    One x draws a vertical bar four pixels wide, so a band of a single look is still visible.
    """
    if not xs:
        return ""
    if len(xs) == 1:
        x, low, high = xs[0], lows[0], highs[0]
        return f"M{x - 2:g},{high:g} H{x + 2:g} V{low:g} H{x - 2:g} Z"
    top = [f"{x:g},{y:g}" for x, y in zip(xs, highs, strict=True)]
    bottom = [f"{x:g},{y:g}" for x, y in zip(reversed(xs), reversed(lows), strict=True)]
    return "M" + " L".join(top + bottom) + " Z"


def look_scale(first: int, last: int, width: float) -> Scale:
    """Look numbers across ``width`` pixels (a single look in the middle)."""
    return Scale(float(first), float(last), 0.0, width)
