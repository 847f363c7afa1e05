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

from monitor.actions.channels import Attempt, post_json
from monitor.models import DeploymentSpec
from monitor.outputs import GrafanaSpec
from monitor.store import Delivery, OutboxItem

KIND = "grafana:annotation"
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

    def __init__(self, grafana: GrafanaSpec) -> None:
        self._url = grafana.url.rstrip("/") + "/api/annotations"
        self._headers = {"Authorization": f"Bearer {grafana.token}"}
        if grafana.org_id is not None:
            self._headers["X-Grafana-Org-Id"] = str(grafana.org_id)

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt:
        return await post_json(session, self._url, item.payload_json.encode(), self._headers, retry_404=False)
