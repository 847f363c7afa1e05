"""Which outbox items an event triggers: webhooks, Grafana annotations, pages and their resolution.

One place decides, from the settings and the environment's policy, what a registration or a
final verdict sends; the store writes the items in the event's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.actions.pager import PageContext, page_items
from monitor.actions.webhook import webhook_items
from monitor.config import Settings
from monitor.environments import Environments
from monitor.grafana.annotations import deploy_started, verdict_final
from monitor.models import Deployment, DeploymentSpec
from monitor.rollback.plan import rollback_items
from monitor.store import OutboxItem


class Notifier:
    """Builds the outbox items of registrations and final verdicts."""

    def __init__(self, settings: Settings, environments: Environments | None = None) -> None:
        self._settings = settings
        self._environments = environments or Environments(settings.environments)

    def report_url(self, deployment_id: str) -> str | None:
        """The verdict report's address, when ``public_url`` is configured."""
        base = self._settings.public_url
        return f"{base}/api/v1/deployments/{deployment_id}/report" if base else None

    def pages(self, environment: str) -> bool:
        """True when a final fail in ``environment`` pages (the environment's policy and a pager)."""
        env = self._environments.get(environment)
        pager = self._settings.pager
        return env is not None and env.page and pager is not None and pager.enabled

    @property
    def _annotates(self) -> bool:
        grafana = self._settings.grafana
        return grafana is not None and grafana.annotations

    def registered(self, deployment_id: str, spec: DeploymentSpec) -> list[OutboxItem]:
        """Items a new deployment triggers: the deploy annotation."""
        if not self._annotates:
            return []
        return [deploy_started(deployment_id, spec, self.report_url(deployment_id))]

    def final(
        self, deployment: Deployment, verdict: str, at: datetime, summary: str, document_json: str
    ) -> list[OutboxItem]:
        """Items a final ``verdict`` triggers: webhooks, the verdict annotation; on fail a page and
        the rollback actions the environment's policy allows."""
        spec = deployment.spec
        items = webhook_items(self._settings.webhooks, deployment, verdict, document_json)
        report = self.report_url(deployment.id)
        if self._annotates:
            items.append(verdict_final(deployment.id, spec, verdict, at, summary, report))
        if verdict == "fail" and self._settings.pager is not None and self.pages(spec.environment):
            items.extend(page_items(self._settings.pager, PageContext(deployment, at, summary, report)))
        env = self._environments.get(spec.environment)
        if verdict == "fail" and env is not None:
            items.extend(rollback_items(self._settings.rollback, env.rollback, deployment))
        return items

    def resolutions(
        self, failed: Sequence[Deployment], resolved_by: str, at: datetime, reason: str
    ) -> list[OutboxItem]:
        """Items resolving the pages of ``failed`` deployments (a newer deploy passed, a rollback)."""
        pager = self._settings.pager
        if pager is None:
            return []
        items: list[OutboxItem] = []
        for deployment in failed:
            if self.pages(deployment.spec.environment):
                page = PageContext(deployment, at, reason, self.report_url(deployment.id))
                items.extend(page_items(pager, page, resolved_by=resolved_by))
        return items
