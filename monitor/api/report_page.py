"""The HTML report of one deployment (``GET /api/v1/deployments/{id}/report``): what an SRE reads.

Rendered on the server from the stored verdict document, the score of every look and the audit
trail, with Jinja2's autoescaping (service names, messages and labels come from API callers).
The page is self-contained: no scripts, no external assets, an inline SVG for the score history.
Every value printed passes :func:`~monitor.redact.redact_text` (Jinja's ``finalize``): an audit
event or a stored document that quotes a URL shows it without password or token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from monitor.api.documents import deployment_document
from monitor.judges.format import fmt_ratio, fmt_value
from monitor.models import Deployment
from monitor.redact import redact_text
from monitor.store import AuditEvent, LookScore
from monitor.timeparse import format_time

CHART_WIDTH, CHART_HEIGHT = 640, 120
# Served with the page: nothing but inline styles may load, so injected markup could do nothing.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
# Links to traces leave the page; nothing else may be loaded from elsewhere.


@dataclass(frozen=True)
class ChartPoint:
    """One look on the score chart, in SVG coordinates."""

    x: float
    y: float
    look: int
    score: float
    status: str


def _finalize(value: object) -> object:
    # Markup is already escaped (and its text redacted by the filter that made it).
    if isinstance(value, str) and not isinstance(value, Markup):
        return redact_text(value)
    return value


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor.api", "templates"),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["value"] = fmt_value
    environment.filters["ratio"] = fmt_ratio
    environment.filters["time"] = format_time
    environment.filters["trace_links"] = trace_links
    return environment


def score_chart(history: Sequence[LookScore]) -> list[ChartPoint]:
    """Looks placed on a ``CHART_WIDTH`` x ``CHART_HEIGHT`` chart: look number across, score 0-100 up."""
    if not history:
        return []
    last = max(h.look for h in history)
    span = max(last - 1, 1)
    return [
        ChartPoint(
            x=round((h.look - 1) / span * CHART_WIDTH, 1),
            y=round(CHART_HEIGHT - h.score / 100 * CHART_HEIGHT, 1),
            look=h.look,
            score=h.score,
            status=h.status,
        )
        for h in history
    ]


_TRACE_ID = re.compile(r"\b[0-9a-f]{32}\b")


def trace_links(detail: str, template: str | None) -> Markup:
    """``detail`` escaped and redacted, each trace id a link to ``template`` (``{trace_id}`` filled in)."""
    detail = redact_text(detail)
    if not template:
        return escape(detail)
    parts, last = [], 0
    for match in _TRACE_ID.finditer(detail):
        href = template.replace("{trace_id}", match.group())
        parts.append(escape(detail[last : match.start()]))
        parts.append(Markup('<a href="{}">{}</a>').format(href, match.group()))
        last = match.end()
    parts.append(escape(detail[last:]))
    return Markup("").join(parts)


def _effect(check: dict[str, Any]) -> str:
    effect = check.get("effect")
    if effect is None:
        return ""
    if check["comparison"] == "samples":
        return fmt_value(effect, check.get("unit", ""))
    return fmt_ratio(effect)


def _interval(check: dict[str, Any]) -> str:
    interval = check.get("interval")
    if not interval:
        return ""
    unit = check.get("unit", "") if check["comparison"] == "samples" else ""

    def bound(value: float | None) -> str:
        return "∞" if value is None else fmt_value(value, unit)

    return f"[{bound(interval[0])}, {bound(interval[1])}]"


def render_report(
    deployment: Deployment,
    verdict: dict[str, Any],
    history: Sequence[LookScore],
    events: Sequence[AuditEvent],
    trace_url: str | None = None,
) -> str:
    """The report page of ``deployment`` with its current ``verdict`` document."""
    checks = [{**c, "effect_text": _effect(c), "interval_text": _interval(c)} for c in verdict["checks"]]
    points = score_chart(history)
    return (
        _environment()
        .get_template("report.html")
        .render(
            deployment=deployment_document(deployment),
            verdict=verdict,
            checks=checks,
            points=points,
            polyline=" ".join(f"{p.x},{p.y}" for p in points),
            chart_width=CHART_WIDTH,
            chart_height=CHART_HEIGHT,
            events=events,
            trace_url=trace_url,
        )
    )
