"""Grafana annotations of deploys and verdicts, delivered through the outbox.

A deploy's start and its final verdict each become an organisation-wide annotation (``POST
/api/annotations``, epoch milliseconds) tagged ``deploy-monitor``, ``event:<deploy|verdict>``,
``service:<name>``, ``environment:<name>``, ``version:<v>`` and ``verdict:<verdict>``; the
dashboards filter them by these tags. The body is built when the event happens and stored in
the outbox, so none is lost while Grafana is down.
"""

from __future__ import annotations

import html
import json
from datetime import datetime

import aiohttp

from monitor.channels.base import Attempt, Event, Final, Registered, Setup, post_json
from monitor.channels.registry import register
from monitor.models import DeploymentSpec
from monitor.store import Delivery, OutboxItem

CHANNEL = "grafana"
KIND = f"{CHANNEL}:annotation"
TAG = "deploy-monitor"


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def annotation_tags(spec: DeploymentSpec, event: str, verdict: str) -> list[str]:
    """The tags the dashboards filter on."""
    return [
        TAG,
        f"event:{event}",
        f"service:{spec.service}",
        f"environment:{spec.environment}",
        f"version:{spec.version}",
        f"verdict:{verdict}",
    ]


def deploy_started(deployment_id: str, spec: DeploymentSpec, report_url: str | None) -> OutboxItem:
    """The annotation of a deploy's start (at its ``started_at``)."""
    text = (
        f"Deploy {spec.service} {spec.version} in {spec.environment} started "
        f"({spec.strategy.value}, baseline {spec.baseline_version})"
    )
    body = {
        "time": _ms(spec.started_at),
        "tags": annotation_tags(spec, "deploy", "running"),
        "text": _with_link(text, report_url),
    }
    return OutboxItem(KIND, f"{deployment_id}:annotation:deploy", json.dumps(body))


def verdict_final(
    deployment_id: str, spec: DeploymentSpec, verdict: str, at: datetime, summary: str, report_url: str | None
) -> OutboxItem:
    """The annotation of a final verdict: a region from the deploy's start to the verdict."""
    text = f"{spec.service} {spec.version} in {spec.environment}: {verdict.upper()}. {summary}"
    body = {
        "time": _ms(spec.started_at),
        "timeEnd": _ms(max(at, spec.started_at)),
        "tags": annotation_tags(spec, "verdict", verdict),
        "text": _with_link(text, report_url),
    }
    return OutboxItem(KIND, f"{deployment_id}:annotation:verdict", json.dumps(body))


def _with_link(text: str, report_url: str | None) -> str:
    # Grafana renders annotation text as HTML; the link opens the verdict report.
    # Escaped: service names and summaries must not inject markup into Grafana's page.
    escaped = html.escape(text)
    return f'{escaped} <a href="{html.escape(report_url)}">Report</a>' if report_url else escaped


class AnnotationChannel:
    """POSTs stored annotations to Grafana with the service-account token."""

    kind = CHANNEL

    def __init__(self, url: str, token: str, org_id: int | None = None, *, annotates: bool = True) -> None:
        self._annotates = annotates
        self._url = url.rstrip("/") + "/api/annotations"
        self._headers = {"Authorization": f"Bearer {token}"}
        if org_id is not None:
            self._headers["X-Grafana-Org-Id"] = str(org_id)

    def items(self, event: Event) -> list[OutboxItem]:
        if not self._annotates:
            return []
        if isinstance(event, Registered):
            return [deploy_started(event.deployment_id, event.spec, event.report_url)]
        if isinstance(event, Final):
            deployment = event.deployment
            return [
                verdict_final(
                    deployment.id, deployment.spec, event.verdict, event.at, event.summary, event.report_url
                )
            ]
        return []

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt:
        return await post_json(session, self._url, item.payload_json.encode(), self._headers, retry_404=False)

    async def close(self) -> None:
        """Nothing to release: sessions belong to the outbox worker."""


def _build(setup: Setup) -> AnnotationChannel | None:
    grafana = setup.settings.grafana
    if grafana is None:
        return None
    return AnnotationChannel(grafana.url, grafana.token, grafana.org_id, annotates=grafana.annotations)


register(CHANNEL, _build)
