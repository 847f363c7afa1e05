"""What the report page needs beyond the current verdict, read for one request.

The score of every look, the audit trail, every look's document (the charts), the outbox items
(the banner), the profile (each check's PromQL; None when it is no longer available) and the
addresses the page links to.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from monitor.api.keys import NOTIFIER, PROFILES, STORE, TRACE_URL
from monitor.errors import ConfigError
from monitor.models import Deployment


async def report_context(app: web.Application, deployment: Deployment) -> dict[str, Any]:
    """Keyword arguments of :func:`monitor.api.report_page.render_report` for ``deployment``."""
    store, notifier = app[STORE], app[NOTIFIER]
    try:
        profile = app[PROFILES].get(deployment.spec.profile)
    except ConfigError:
        profile = None  # removed from the configuration since: the page shows no PromQL
    return {
        "history": await store.look_history(deployment.id),
        "events": await store.events(deployment.id),
        "trace_url": app[TRACE_URL],
        "looks": await store.look_documents(deployment.id),
        "notifications": await store.notifications(deployment.id),
        "profile": profile,
        "grafana_url": notifier.grafana_url,
        "monitor_url": notifier.public_url,
    }
