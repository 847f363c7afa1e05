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
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from monitor.channels.base import Attempt, Event, Final, Outcome, Resolved, Setup, post_json
from monitor.channels.registry import register
from monitor.models import Deployment
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


def _page_key(page: PageContext, resolved_by: str | None) -> str:
    """The idempotency key's stem of a trigger (``resolved_by`` None) or of one resolution."""
    action = "trigger" if resolved_by is None else f"resolve:{resolved_by}"
    return f"{page.deployment.id}:page:{action}"


class _Pager(ABC):
    """What both pagers share: which events page, and which resolve a page."""

    kind: str

    def __init__(self, setup: Setup) -> None:
        self._setup = setup

    def items(self, event: Event) -> list[OutboxItem]:
        if isinstance(event, Final):
            deployment = event.deployment
            if event.verdict != "fail" or not self._setup.pages(deployment.spec.environment):
                return []
            page = PageContext(deployment, event.at, event.summary, event.report_url)
            return [self._item(page, None)]
        if isinstance(event, Resolved):
            deployment = event.deployment
            if not self._setup.pages(deployment.spec.environment):
                return []
            page = PageContext(deployment, event.at, event.reason, event.report_url)
            return [self._item(page, event.resolved_by)]
        return []

    @abstractmethod
    def _item(self, page: PageContext, resolved_by: str | None) -> OutboxItem:
        """The pager's body for a trigger (``resolved_by`` None) or a resolution."""

    async def close(self) -> None:  # noqa: B027 - nothing to release: sessions belong to the outbox worker
        """Release nothing."""


class AlertmanagerChannel(_Pager):
    """POSTs stored alerts to ``<alertmanager>/api/v2/alerts``."""

    kind = ALERTMANAGER

    def __init__(self, setup: Setup, url: str, alert_ttl_s: float) -> None:
        super().__init__(setup)
        self._ttl_s = alert_ttl_s
        self._url = url.rstrip("/") + "/api/v2/alerts"

    def _item(self, page: PageContext, resolved_by: str | None) -> OutboxItem:
        body = [alertmanager_alert(page, self._ttl_s, resolved_by is not None)]
        return OutboxItem(ALERTMANAGER, f"{_page_key(page, resolved_by)}:{ALERTMANAGER}", json.dumps(body))

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt:
        return await post_json(session, self._url, item.payload_json.encode(), {}, retry_404=False)


class PagerDutyChannel(_Pager):
    """POSTs stored events to the Events v2 endpoint with the routing key."""

    kind = PAGERDUTY

    def __init__(self, setup: Setup, routing_key: str, url: str) -> None:
        super().__init__(setup)
        self._routing_key, self._url = routing_key, url

    def _item(self, page: PageContext, resolved_by: str | None) -> OutboxItem:
        body = json.dumps(pagerduty_event(page, resolved_by is not None))
        return OutboxItem(PAGERDUTY, f"{_page_key(page, resolved_by)}:{PAGERDUTY}", body)

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt:
        event = {"routing_key": self._routing_key, **json.loads(item.payload_json)}
        attempt = await post_json(session, self._url, json.dumps(event).encode(), {}, retry_404=False)
        if attempt.outcome is not Outcome.DELIVERED and self._routing_key in attempt.detail:
            # Never let an echoed secret reach the logs or the audit trail.
            return Attempt(attempt.outcome, attempt.detail.replace(self._routing_key, "<routing key>"))
        return attempt


def _alertmanager(setup: Setup) -> AlertmanagerChannel | None:
    pager = setup.settings.pager
    if pager is None or not pager.alertmanager_url:
        return None
    return AlertmanagerChannel(setup, pager.alertmanager_url, pager.alert_ttl_s)


def _pagerduty(setup: Setup) -> PagerDutyChannel | None:
    pager = setup.settings.pager
    if pager is None or not pager.pagerduty_routing_key:
        return None
    return PagerDutyChannel(setup, pager.pagerduty_routing_key, pager.pagerduty_url)


register(ALERTMANAGER, _alertmanager)
register(PAGERDUTY, _pagerduty)
