"""The deployments index page (``GET /api/v1/deployments/index``): every recent deployment, newest
first, filtered by service, environment and verdict, each row linking to its report.

Rendered on the server like the report (:mod:`monitor.api.report_page`): Jinja2 with autoescaping,
every printed value passed through :func:`~monitor.redact.redact_text`, no scripts, served with
the report's Content-Security-Policy. It opens with a read token or a signed index link
(:mod:`monitor.reportlinks`, subject ``index``); when a report-link key is configured every row's
link is signed (valid for the key's lifetime from when the page is rendered), so the reports open
from the page in a browser. The filter form carries the index link's own ``exp`` and ``sig`` along.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import parse_qsl

from aiohttp import web
from markupsafe import escape

from monitor.api.auth import LINK_QUERY
from monitor.api.keys import NOTIFIER, STORE
from monitor.api.queries import IndexQuery
from monitor.api.report_page import CONTENT_SECURITY_POLICY, _environment
from monitor.api.validation import validated
from monitor.models import Deployment, DeploymentStatus
from monitor.reportlinks import EXPIRES_PARAMETER, LinkKey, signed_report_url
from monitor.timeparse import format_time


def render_index(
    deployments: Sequence[Deployment],
    query: IndexQuery,
    links: LinkKey | None,
    link_query: str,
    now_s: float,
) -> str:
    """The page listing ``deployments`` (already filtered and ordered) as ``query`` asked.

    ``links`` signs each row's report link; ``link_query`` is the signed index link the page was
    opened with (``""`` with a token), kept by the filter form. A row's link expires with that
    index link at the latest: a link may not mint links that outlive it.
    """
    lifetime_s = None  # the key's
    came_with = dict(parse_qsl(link_query.lstrip("?")))
    if came_with.get(EXPIRES_PARAMETER, "").isdigit():
        lifetime_s = min(float(links.lifetime_s if links else 0), int(came_with[EXPIRES_PARAMETER]) - now_s)
    rows = [
        {
            "id": d.id,
            "service": d.spec.service,
            "environment": d.spec.environment,
            "version": d.spec.version,
            "baseline_version": d.spec.baseline_version,
            "status": d.status.value,
            "status_reason": d.status_reason,
            "started_at": format_time(d.spec.started_at),
            "updated_at": format_time(d.updated_at),
            "report": escape(signed_report_url("", d.id, links, now_s, lifetime_s)),
        }
        for d in deployments
    ]
    # The report's Jinja environment: autoescaped, every printed string redacted (Markup, such as
    # the signed hrefs, is already escaped and keeps its signature).
    return (
        _environment()
        .get_template("deployments.html")
        .render(
            rows=rows,
            query=query,
            verdicts=[status.value for status in DeploymentStatus],
            hidden=[(name, escape(value)) for name, value in parse_qsl(link_query.lstrip("?"))],
        )
    )


async def deployments_index(request: web.Request) -> web.Response:
    """``GET /api/v1/deployments/index``: the HTML index of deployments."""
    query = validated(IndexQuery, dict(request.query))
    found = await request.app[STORE].list_deployments(
        service=query.service, environment=query.environment, status=query.verdict, limit=query.limit
    )
    page = render_index(
        found, query, request.app[NOTIFIER].report_links, request.get(LINK_QUERY, ""), time.time()
    )
    response = web.Response(text=page, content_type="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
