"""Paging on a failed deploy: Alertmanager's v2 API and PagerDuty Events v2, one alert per deployment.

A final ``fail`` in an environment whose policy pages (production by default) triggers an alert
keyed by the deployment (Alertmanager: its labels; PagerDuty: ``dedup_key``); a later deploy of
the same service and environment that passes, or a completed rollback, resolves it. Payloads
are built when the event happens and stored in the outbox, so a pager that is down gets them
when it is back; the PagerDuty routing key is added at send time and never stored.

Alertmanager forgets a firing alert after its ``endsAt`` and keeps none across its own restarts;
an explicit ``endsAt`` of ``alert_ttl_s`` after the verdict keeps it firing without re-sending,
and the Prometheus rule ``DeployFailedProduction`` on ``monitor_deployment_verdict`` pages
through the same Alertmanager independently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from monitor.actions.channels import Attempt, Outcome, post_json
from monitor.models import Deployment
from monitor.outputs import PagerSpec
from monitor.store import Delivery, OutboxItem

ALERTMANAGER = "alertmanager"
PAGERDUTY = "pagerduty"
ALERT_NAME = "DeployVerdictFail"
_SUMMARY_MAX = 1024  # PagerDuty's limit on payload.summary


def _rfc3339(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def dedup_key(deployment_id: str) -> str:
    """The pager's identity of a deployment's failure: one incident per deployment."""
    return f"deploy-monitor/{deployment_id}"


@dataclass(frozen=True)
class PageContext:
    """What a page says about a failed deployment."""

    deployment: Deployment
    at: datetime
    summary: str
    report_url: str | None


def _labels(deployment: Deployment) -> dict[str, str]:
    spec = deployment.spec
    return {
        "alertname": ALERT_NAME,
        "service": spec.service,
        "environment": spec.environment,
        "version": spec.version,
        "deployment_id": deployment.id,
        "severity": "critical",
        "source": "deploy-monitor",
    }


def alertmanager_alert(page: PageContext, ttl_s: float, resolved: bool = False) -> dict[str, object]:
    """The ``postableAlert``: firing until ``at + ttl_s``, or resolved at ``at``."""
    spec = page.deployment.spec
    alert: dict[str, object] = {
        "labels": _labels(page.deployment),
        "annotations": {
            "summary": f"{spec.service} {spec.version} failed its analysis in {spec.environment}",
            "description": page.summary,
            "runbook_url": "docs/runbooks.md#deployverdictfail",
            **({"report_url": page.report_url} if page.report_url else {}),
        },
        "startsAt": _rfc3339(page.at),
        "endsAt": _rfc3339(page.at if resolved else page.at + timedelta(seconds=ttl_s)),
    }
    if page.report_url:
        alert["generatorURL"] = page.report_url
    return alert


def pagerduty_event(page: PageContext, resolved: bool = False) -> dict[str, object]:
    """The Events v2 body without ``routing_key`` (added when sent, never stored)."""
    deployment = page.deployment
    if resolved:
        return {"event_action": "resolve", "dedup_key": dedup_key(deployment.id)}
    spec = deployment.spec
    summary = f"{spec.service} {spec.version} failed its analysis in {spec.environment}: {page.summary}"
    event: dict[str, object] = {
        "event_action": "trigger",
        "dedup_key": dedup_key(deployment.id),
        "payload": {
            "summary": summary[:_SUMMARY_MAX],
            "source": f"{spec.service}/{spec.environment}",
            "severity": "critical",
            "timestamp": _rfc3339(page.at),
            "component": spec.service,
            "group": spec.environment,
            "class": "deploy-verdict",
            "custom_details": {
                "deployment_id": deployment.id,
                "version": spec.version,
                "baseline_version": spec.baseline_version,
                "strategy": spec.strategy.value,
            },
        },
        "client": "deploy-monitor",
    }
    if page.report_url:
        event["client_url"] = page.report_url
        event["links"] = [{"href": page.report_url, "text": "Verdict report"}]
    return event


def page_items(pager: PagerSpec, page: PageContext, *, resolved_by: str | None = None) -> list[OutboxItem]:
    """Outbox items that trigger (``resolved_by`` None) or resolve the page of ``page.deployment``.

    ``resolved_by`` names what resolved it (a passing deployment's id, a rollback), which keeps
    the idempotency keys of several resolutions distinct.
    """
    action = "trigger" if resolved_by is None else f"resolve:{resolved_by}"
    resolved = resolved_by is not None
    items: list[OutboxItem] = []
    key = f"{page.deployment.id}:page:{action}"
    if pager.alertmanager_url:
        body = [alertmanager_alert(page, pager.alert_ttl_s, resolved)]
        items.append(OutboxItem(ALERTMANAGER, f"{key}:{ALERTMANAGER}", json.dumps(body)))
    if pager.pagerduty_routing_key:
        items.append(OutboxItem(PAGERDUTY, f"{key}:{PAGERDUTY}", json.dumps(pagerduty_event(page, resolved))))
    return items


class AlertmanagerChannel:
    """POSTs stored alerts to ``<alertmanager>/api/v2/alerts``."""

    def __init__(self, url: str) -> None:
        self._url = url.rstrip("/") + "/api/v2/alerts"

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt:
        return await post_json(session, self._url, item.payload_json.encode(), {}, retry_404=False)


class PagerDutyChannel:
    """POSTs stored events to the Events v2 endpoint with the routing key."""

    def __init__(self, routing_key: str, url: str) -> None:
        self._routing_key, self._url = routing_key, url

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt:
        event = {"routing_key": self._routing_key, **json.loads(item.payload_json)}
        attempt = await post_json(session, self._url, json.dumps(event).encode(), {}, retry_404=False)
        if attempt.outcome is not Outcome.DELIVERED and self._routing_key in attempt.detail:
            # Never let an echoed secret reach the logs or the audit trail.
            return Attempt(attempt.outcome, attempt.detail.replace(self._routing_key, "<routing key>"))
        return attempt
