"""What the report page needs, read for one request.

Every look's stored verdict, read once: the latest is the current verdict, their scores the score
chart, their documents the check charts. Then the audit trail, the outbox items (the banner), the
profile (each check's PromQL; None when it is no longer available) and the addresses the page
links to.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from monitor.api.documents import deployment_verdict_document
from monitor.api.keys import NOTIFIER, PROFILES, STORE, TRACE_URL
from monitor.errors import ConfigError
from monitor.models import Deployment
from monitor.store import LookScore


async def report_context(app: web.Application, deployment: Deployment) -> dict[str, Any]:
    """Arguments of :func:`monitor.api.report_page.render_report` for ``deployment``."""
    store, notifier = app[STORE], app[NOTIFIER]
    try:
        profile = app[PROFILES].get(deployment.spec.profile)
    except ConfigError:
        profile = None  # removed from the configuration since: the page shows no PromQL
    looks = await store.look_documents(deployment.id)
    return {
        "verdict": deployment_verdict_document(deployment, looks[-1] if looks else None),
        "history": [LookScore(s.look, s.at, s.status, s.score) for s in looks],
        "events": await store.events(deployment.id),
        "trace_url": app[TRACE_URL],
        "looks": looks,
        "notifications": await store.notifications(deployment.id),
        "profile": profile,
        "grafana_url": notifier.grafana_url,
        "monitor_url": notifier.public_url,
    }
