"""The latency section of the report: both versions' distributions from a check's buckets.

Drawn as overlaid histograms: for each bucket, the share of each version's observations that fell
in it (shares, not counts: the canary usually gets a fraction of the traffic). Buckets are evenly
spaced whatever their bounds, labelled by their upper bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.charts import Scale, Tick, linear_ticks
from monitor.judges.format import fmt_value

HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT = 520, 130


@dataclass(frozen=True)
class Bar:
    """One version's bar of one bucket."""

    x: float
    y: float
    width: float
    height: float
    version: str
    title: str


@dataclass(frozen=True)
class Histogram:
    """Both versions' bars, the bucket labels and the share axis."""

    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    baseline_n: float
    canary_n: float


def _label(bound: float | None, unit: str) -> str:
    return "+Inf" if bound is None else fmt_value(bound, unit)


def histogram(check: Mapping[str, Any]) -> Histogram | None:
    """The overlaid histogram of a distribution check's ``histogram`` field, or None without one."""
    data = check.get("histogram")
    if not data or not data["le"]:
        return None
    unit = str(check.get("unit", ""))
    totals = {v: float(sum(data[v])) for v in ("baseline", "canary")}
    shares = {v: [c / totals[v] if totals[v] else 0.0 for c in data[v]] for v in totals}
    top = max(max(shares["baseline"]), max(shares["canary"]), 0.01)
    ys = Scale(0.0, top * 1.05, HISTOGRAM_HEIGHT, 0.0)
    slot = HISTOGRAM_WIDTH / len(data["le"])
    bar = max(slot * 0.4, 1.0)
    bars = []
    for i, bound in enumerate(data["le"]):
        lower = "0" if i == 0 else _label(data["le"][i - 1], unit)
        for offset, version in ((0.1, "baseline"), (0.5, "canary")):
            share = shares[version][i]
            y = ys(share)
            bucket = f"({lower}, {_label(bound, unit)}]"
            title = f"{version}: {share:.1%} in {bucket}, {data[version][i]:,.0f} observations"
            x, height = round(i * slot + offset * slot, 1), round(HISTOGRAM_HEIGHT - y, 1)
            bars.append(Bar(x, y, round(bar, 1), height, version, title))
    every = max(1, round(len(data["le"]) / 8))
    x_ticks = tuple(
        Tick(round((i + 0.5) * slot, 1), _label(bound, unit))
        for i, bound in enumerate(data["le"])
        if i % every == 0 or i == len(data["le"]) - 1
    )
    y_ticks = tuple(linear_ticks(ys, lambda v: f"{v:.0%}", count=3))
    return Histogram(tuple(bars), x_ticks, y_ticks, totals["baseline"], totals["canary"])
