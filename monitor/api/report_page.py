"""The HTML report of one deployment (``GET /api/v1/deployments/{id}/report``): what an SRE reads.

Rendered on the server from every look's verdict document, the audit trail and the outbox, with
Jinja2's autoescaping (service names, messages and labels come from API callers). The page is
self-contained: no scripts, no external assets, inline SVG charts (geometry in
:mod:`monitor.charts` and the ``report_*`` modules beside this one).
Every value printed passes :func:`~monitor.redact.redact_text` (Jinja's ``finalize``): an audit
event or a stored document that quotes a URL shows it without password or token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from monitor.api import report_format
from monitor.api.documents import deployment_document
from monitor.api.report_actions import Action, banner
from monitor.api.report_checks import (
    PLOT_HEIGHT,
    PLOT_WIDTH,
    VALUES_HEIGHT,
    Cell,
    EffectChart,
    State,
    ValuesChart,
    effect_chart,
    findings_strip,
    series_of,
    state,
    values_chart,
)
from monitor.api.report_latency import HISTOGRAM_HEIGHT, HISTOGRAM_WIDTH, Histogram, histogram
from monitor.api.report_sources import check_queries, dashboard_url
from monitor.htmlpage import CONTENT_SECURITY_POLICY as CONTENT_SECURITY_POLICY  # served with the page
from monitor.htmlpage import page_environment
from monitor.judges.format import fmt_ratio, fmt_value
from monitor.models import Deployment
from monitor.profiles import Profile
from monitor.redact import redact_text
from monitor.store import AuditEvent, LookScore, Notification, StoredVerdict

CHART_WIDTH, CHART_HEIGHT = 640, 120
# The verdicts whose score weighs evidence; the page shows no number for the others.
SCORED_VERDICTS = frozenset({"pass", "marginal", "fail"})
# Links to traces leave the page; nothing else may be loaded from elsewhere.


@dataclass(frozen=True)
class ChartPoint:
    """One look on the score chart, in SVG coordinates."""

    x: float
    y: float
    look: int
    score: float
    status: str


@cache
def _environment() -> jinja2.Environment:
    environment = page_environment("monitor.api")
    environment.filters["value"] = fmt_value
    environment.filters["ratio"] = fmt_ratio
    environment.filters["time"] = report_format.when
    environment.filters["clock"] = report_format.clock
    environment.filters["count"] = report_format.count
    environment.filters["duration"] = report_format.duration
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


@dataclass(frozen=True)
class CheckView:
    """One check as the page shows it: the latest look's entry, its wording and its charts."""

    check: Mapping[str, Any]
    state: State
    effect_text: str
    interval_text: str
    effect: EffectChart | None
    values: ValuesChart | None
    findings: tuple[Cell, ...]
    histogram: Histogram | None
    queries: tuple[tuple[str, str], ...]


def _looks(stored: Sequence[StoredVerdict]) -> list[tuple[int, dict[str, Any]]]:
    return [(s.look, json.loads(s.document_json)) for s in stored]


def _decided_look(stored: Sequence[StoredVerdict]) -> int | None:
    return next((s.look for s in stored if s.final), None)


def _queries(
    profile: Profile | None, name: str, deployment: Mapping[str, Any], window_s: float
) -> tuple[tuple[str, str], ...]:
    spec = next((c for c in profile.checks if c.name == name), None) if profile else None
    if profile is None or spec is None:
        return ()
    versions = {"canary": deployment["version"], "baseline": deployment["baseline_version"]}
    return tuple(check_queries(spec, profile, deployment["service"], versions, window_s))


def _window_s(verdict: Mapping[str, Any]) -> float:
    start, end = (report_format.parse_time(verdict["canary"][k]) for k in ("start", "end"))
    return max((end - start).total_seconds(), 1.0)


def check_views(
    verdict: Mapping[str, Any],
    stored: Sequence[StoredVerdict],
    deployment: Mapping[str, Any],
    profile: Profile | None = None,
) -> list[CheckView]:
    """Each check of the current ``verdict`` with its looks (from ``stored``), wording and queries."""
    looks, decided = _looks(stored), _decided_look(stored)
    window_s = _window_s(verdict)
    views = []
    for check in verdict["checks"]:
        series = series_of(check["name"], looks)
        views.append(
            CheckView(
                check, state(check), _effect(check), _interval(check),
                effect_chart(series, decided, verdict["verdict"]) if series else None,
                values_chart(series) if series else None,
                findings_strip(series),
                histogram(check),
                _queries(profile, check["name"], deployment, window_s),
            )
        )  # fmt: skip
    return views


def render_report(
    deployment: Deployment,
    verdict: dict[str, Any],
    history: Sequence[LookScore],
    events: Sequence[AuditEvent],
    trace_url: str | None = None,
    *,
    looks: Sequence[StoredVerdict] = (),
    notifications: Sequence[Notification] = (),
    profile: Profile | None = None,
    grafana_url: str | None = None,
    monitor_url: str | None = None,
    link_query: str = "",
) -> str:
    """The report page of ``deployment`` with its current ``verdict`` document.

    ``looks`` are every look's stored verdict (the charts), ``notifications`` the deployment's
    outbox items (the banner of rollbacks and pages), ``profile`` its profile (each check's PromQL),
    ``grafana_url`` where the detail dashboard is linked, ``monitor_url`` the monitor's public
    address (for the dashboard's link back). ``link_query`` (``?exp=...&sig=...`` or empty, as
    :data:`monitor.api.auth.LINK_QUERY` holds it) is appended to the page's own links to the JSON
    documents, so a signed report link's documents open too.
    """
    document = deployment_document(deployment)
    # A deployment cancelled after some looks has a verdict without checks (a cancelled analysis
    # judged nothing); its last look still shows what had been seen until then.
    as_of_look = looks[-1].look if looks and not verdict["checks"] else None
    shown = {**verdict, "checks": json.loads(looks[-1].document_json)["checks"]} if as_of_look else verdict
    checks = check_views(shown, looks, document, profile)
    points = score_chart(history)
    actions: list[Action] = banner(events, notifications)
    grafana = dashboard_url(grafana_url, document, verdict, monitor_url, link_query) if grafana_url else None
    suffix = f"?{link_query.lstrip('?')}" if link_query else ""
    return (
        _environment()
        .get_template("report.html")
        .render(
            deployment=document,
            verdict=verdict,
            final=verdict["verdict"] != "running",
            # An inconclusive or cancelled run's score measures nothing: a 100 would read as healthy.
            scored=verdict["verdict"] in SCORED_VERDICTS,
            checks=checks,
            as_of_look=as_of_look,
            points=points,
            polyline=" ".join(f"{p.x},{p.y}" for p in points),
            chart_width=CHART_WIDTH,
            chart_height=CHART_HEIGHT,
            plot_width=PLOT_WIDTH,
            plot_height=PLOT_HEIGHT,
            values_height=VALUES_HEIGHT,
            histogram_width=HISTOGRAM_WIDTH,
            histogram_height=HISTOGRAM_HEIGHT,
            events=events,
            actions=actions,
            trace_url=trace_url,
            grafana_url=grafana,
            json_links={
                "verdict": document["links"]["verdict"] + suffix,
                "self": document["links"]["self"] + suffix,
            },
        )
    )
