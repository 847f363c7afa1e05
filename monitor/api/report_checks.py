"""One check on the report page: how its result reads, and its charts over the looks.

Built from the check's entry in every look's verdict document (oldest first). The wording is
honest about uncertainty: a check whose estimate is beyond its allowance but not yet conclusive
reads "not yet conclusive (2.59x, allowed 1.25x)", never a pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.api import report_format
from monitor.charts import (
    Scale,
    Tick,
    band_path,
    linear_domain,
    linear_ticks,
    look_scale,
    polyline,
    ratio_domain,
    ratio_ticks,
)
from monitor.judges.format import fmt_ratio, fmt_value

PLOT_WIDTH, PLOT_HEIGHT, VALUES_HEIGHT = 520, 120, 90
Document = Mapping[str, Any]


@dataclass(frozen=True)
class State:
    """How a check's result reads: a CSS class (its colour) and the words."""

    css: str
    text: str


@dataclass(frozen=True)
class Marker:
    """A point of a chart: where, its CSS class, and its tooltip."""

    x: float
    y: float
    css: str
    title: str


@dataclass(frozen=True)
class Line:
    """A horizontal or vertical reference line with its label (an allowance, the decision)."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str


@dataclass(frozen=True)
class EffectChart:
    """The effect of each look with its interval band, the allowance and where the verdict fell."""

    band: str
    line: str
    markers: tuple[Marker, ...]
    allowances: tuple[Line, ...]
    decision: Line | None
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    axis: str


@dataclass(frozen=True)
class ValuesChart:
    """Each version's value of the check, look by look."""

    baseline: str
    canary: str
    markers: tuple[Marker, ...]
    y_ticks: tuple[Tick, ...]


@dataclass(frozen=True)
class LookOf:
    """One look's entry of a check."""

    look: int
    check: Document


def _ratio(check: Document) -> bool:
    return bool(check["comparison"] != "samples")


def allowed(check: Document) -> tuple[float | None, float | None]:
    """The tolerated ratio below and above; older documents only say the upper one in the message."""
    published = check.get("allowed")
    if published:
        return published[0], published[1]
    found = re.search(r"allowed ([0-9.]+)x", str(check.get("message", "")))
    return None, float(found.group(1)) if found else None


def _relative(check: Document) -> float | None:
    """The estimate as a ratio to compare with the allowance (a samples shift relative to the baseline)."""
    effect = check.get("effect")
    if _ratio(check):
        if effect is None and (check["canary"]["value"] or 0) > 0 and not check["baseline"]["value"]:
            return math.inf  # only the canary has any: the document writes the infinite ratio as null
        return None if effect is None else float(effect)
    base = check["baseline"]["value"]
    if effect is None or not base:
        return None
    return 1.0 + float(effect) / abs(float(base))


def _estimate_text(check: Document, relative: float) -> str:
    if _ratio(check):
        return "∞" if math.isinf(relative) else fmt_ratio(relative)
    return f"{relative - 1:+.0%}"


def _allowed_text(check: Document, side: float) -> str:
    return fmt_ratio(side) if _ratio(check) else f"{side - 1:+.0%}"


def state(check: Document) -> State:
    """The check's result in words: regressed, not yet conclusive, ok so far, pass, no data, error."""
    classification = check["classification"]
    if classification in ("high", "low"):
        return State("fail", f"regressed ({'higher' if classification == 'high' else 'lower'})")
    if classification == "nodata":
        return State("nodata", "no data yet")
    if classification == "error":
        return State("error", "could not be judged")
    relative = _relative(check)
    lower, upper = allowed(check)
    if relative is None:  # e.g. log templates: nothing new, so no ratio to size
        return State("pass", "pass") if check.get("conclusive", True) else State("sofar", "ok so far")
    if upper is not None and relative > upper:
        if check.get("conclusive", True) and (check.get("bound") or {}).get("negligible"):
            # Settled the other way: the canary's own rate is bounded under the check's floor.
            return State("pass", f"pass: negligible rate ({_estimate_text(check, relative)})")
        words = f"{_estimate_text(check, relative)}, allowed {_allowed_text(check, upper)}"
        return State("unsettled", f"not yet conclusive ({words})")
    if lower is not None and relative < lower:
        words = f"{_estimate_text(check, relative)}, allowed down to {_allowed_text(check, lower)}"
        return State("unsettled", f"not yet conclusive ({words})")
    side = upper if upper is not None else lower
    limit = f", allowed {_allowed_text(check, side)}" if side is not None else ""
    words = f"{_estimate_text(check, relative)}{limit}"
    if check.get("conclusive", True):
        return State("pass", f"pass ({words})")
    return State("sofar", f"ok so far ({words})")


def _look_tick(looks: Sequence[int], scale: Scale) -> tuple[Tick, ...]:
    if not looks:
        return ()
    first, last = looks[0], looks[-1]
    chosen = [first] if first == last else [first, last]
    step = max(1, (last - first) // 5)
    chosen += [n for n in range(first + step, last, step) if last - n >= step / 2]
    return tuple(Tick(scale(n), f"look {n}" if n == first else str(n)) for n in sorted(set(chosen)))


def _marker_css(check: Document) -> str:
    classification = str(check["classification"])
    conclusive = "" if check.get("conclusive", True) else " open"
    return ("fail" if classification in ("high", "low") else classification) + conclusive


def effect_chart(series: Sequence[LookOf], decided_look: int | None, verdict: str) -> EffectChart | None:
    """The effect and its interval per look, the allowance lines, and the final look's marker."""
    rows = [s for s in series if s.check.get("effect") is not None]
    if not rows:
        return None
    latest = series[-1].check
    lower, upper = allowed(latest)
    looks = [s.look for s in series]
    xs = look_scale(looks[0], looks[-1], PLOT_WIDTH)
    ratio = _ratio(latest)
    base = abs(latest["baseline"]["value"] or 0.0)

    def side(limit: float | None) -> float | None:
        if limit is None:
            return None
        return limit if ratio else (limit - 1.0) * base if base else None

    limits = [v for v in (side(lower), side(upper)) if v is not None]
    values = [float(s.check["effect"]) for s in rows] + limits
    for s in rows:
        values += [float(v) for v in (s.check.get("interval") or []) if v is not None]
    if ratio:
        ys = Scale(*ratio_domain(values), PLOT_HEIGHT, 0.0, log=True)
        y_ticks = ratio_ticks(ys)
    else:
        ys = Scale(*linear_domain([*values, 0.0]), PLOT_HEIGHT, 0.0)
        y_ticks = linear_ticks(ys, lambda v: fmt_value(v, latest.get("unit", "")))
    with_band = [s for s in rows if s.check.get("interval")]
    band = band_path(
        [xs(s.look) for s in with_band],
        [ys(_bound(s.check["interval"][0], ys.low)) for s in with_band],
        [ys(_bound(s.check["interval"][1], ys.high)) for s in with_band],
    )
    points = [(xs(s.look), ys(float(s.check["effect"]))) for s in rows]
    markers = tuple(
        Marker(x, y, _marker_css(s.check), f"look {s.look}: {_effect_words(s.check)}")
        for (x, y), s in zip(points, rows, strict=True)
    )
    allowances = tuple(
        Line(0.0, ys(v), float(PLOT_WIDTH), ys(v), f"allowed {_allowed_text(latest, limit)}")
        for v, limit in ((side(lower), lower), (side(upper), upper))
        if v is not None and limit is not None
    )
    decision = None
    if decided_look is not None and decided_look in looks:
        x = xs(decided_look)
        decision = Line(x, 0.0, x, float(PLOT_HEIGHT), f"{verdict} at look {decided_look}")
    axis = "canary / baseline" if ratio else f"canary − baseline ({latest.get('unit') or 'value'})"
    return EffectChart(band, polyline(points), markers, allowances, decision, tuple(y_ticks),
                       _look_tick(looks, xs), axis)  # fmt: skip


def _bound(value: float | None, edge: float) -> float:
    # An unbounded side (null) reaches the plot's edge; the scale clamps values beyond it.
    return edge if value is None else float(value)


def _effect_words(check: Document) -> str:
    effect = check.get("effect")
    text = fmt_ratio(effect) if _ratio(check) else fmt_value(effect, check.get("unit", ""))
    interval = check.get("interval")
    if interval:
        unit = "" if _ratio(check) else check.get("unit", "")
        low, high = (("∞" if v is None else fmt_ratio(v) if _ratio(check) else fmt_value(v, unit))
                     for v in interval)  # fmt: skip
        text += f" [{low}, {high}]"
    return f"{text}, {check['classification']}{'' if check.get('conclusive', True) else ', not conclusive'}"


def values_chart(series: Sequence[LookOf]) -> ValuesChart | None:
    """Baseline and canary value per look (e.g. the error ratio of each version over time)."""
    rows = [
        s
        for s in series
        if s.check["baseline"]["value"] is not None or s.check["canary"]["value"] is not None
    ]
    if not rows:
        return None
    unit = str(series[-1].check.get("unit", ""))
    looks = [s.look for s in series]
    xs = look_scale(looks[0], looks[-1], PLOT_WIDTH)
    values = [float(s.check[v]["value"]) for s in rows for v in ("baseline", "canary")
              if s.check[v]["value"] is not None]  # fmt: skip
    ys = Scale(*linear_domain(values, include_zero=True), VALUES_HEIGHT, 0.0)
    lines: dict[str, list[tuple[float, float]]] = {"baseline": [], "canary": []}
    markers = []
    for s in rows:
        for version, points in lines.items():
            value = s.check[version]["value"]
            if value is None:
                continue
            points.append((xs(s.look), ys(float(value))))
            n = report_format.count(s.check[version]["n"])
            markers.append(
                Marker(*points[-1], version, f"look {s.look}: {version} {fmt_value(value, unit)}, n={n}")
            )
    ticks = linear_ticks(ys, lambda v: fmt_value(v, unit), count=3)
    return ValuesChart(polyline(lines["baseline"]), polyline(lines["canary"]), tuple(markers), tuple(ticks))


def series_of(name: str, looks: Sequence[tuple[int, Document]]) -> list[LookOf]:
    """The check ``name``'s entry in each look's document that has it, oldest first."""
    found = []
    for look, document in looks:
        for check in document.get("checks", ()):
            if check.get("name") == name:
                found.append(LookOf(look, check))
                break
    return found


@dataclass(frozen=True)
class Cell:
    """One look of a findings strip: where, its CSS class (the look's result), the findings' count."""

    look: int
    x: float
    width: float
    css: str
    count: int
    title: str


def findings_strip(series: Sequence[LookOf]) -> tuple[Cell, ...]:
    """A log or trace check's findings look by look (new templates, changed operations): how many,
    and each look's result, so a finding's first appearance shows."""
    if not series or series[-1].check["signal"] == "metrics":
        return ()
    slot = PLOT_WIDTH / len(series)
    cells = []
    for i, s in enumerate(series):
        count = len(s.check.get("evidence") or ())
        labels = "; ".join(str(e["label"]) for e in (s.check.get("evidence") or ())[:3])
        title = f"look {s.look}: {count} finding{'s' if count != 1 else ''}{': ' + labels if labels else ''}"
        width = round(max(slot - 2, 1.0), 1)
        cells.append(Cell(s.look, round(i * slot, 1), width, _marker_css(s.check), count, title))
    return tuple(cells)
