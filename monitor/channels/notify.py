"""Which outbox items an event triggers: each configured channel's, in registration order.

The API and the scheduler turn registrations and final verdicts into items here; the store
writes them in the event's own transaction. What a channel sends for which event (a webhook's
verdict filter, an environment's paging and rollback policy) is the channel's own decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from monitor.channels.base import Channel, Event, Final, Registered, Resolved, Setup
from monitor.channels.registry import build
from monitor.config import Settings
from monitor.environments import Environments
from monitor.models import Deployment, DeploymentSpec
from monitor.store import OutboxItem


class Notifier:
    """Builds the outbox items of registrations, final verdicts and resolutions."""

    def __init__(
        self,
        settings: Settings,
        environments: Environments | None = None,
        *,
        channels: Mapping[str, Channel] | None = None,
    ) -> None:
        self._settings = settings
        self._setup = Setup(settings, environments or Environments(settings.environments))
        self._channels = tuple((build(self._setup) if channels is None else channels).values())

    def report_url(self, deployment_id: str) -> str | None:
        """The verdict report's address, when ``public_url`` is configured."""
        base = self._settings.public_url
        return f"{base}/api/v1/deployments/{deployment_id}/report" if base else None

    def pages(self, environment: str) -> bool:
        """True when a final fail in ``environment`` pages (the environment's policy and a pager)."""
        return self._setup.pages(environment)

    def items(self, event: Event) -> list[OutboxItem]:
        """Every channel's items for ``event``."""
        return [item for channel in self._channels for item in channel.items(event)]

    def registered(self, deployment_id: str, spec: DeploymentSpec) -> list[OutboxItem]:
        """Items a new deployment triggers (the deploy annotation)."""
        return self.items(Registered(deployment_id, spec, self.report_url(deployment_id)))

    def final(
        self, deployment: Deployment, verdict: str, at: datetime, summary: str, document_json: str
    ) -> list[OutboxItem]:
        """Items a final ``verdict`` triggers: webhooks, the verdict annotation; on fail a page and
        the rollback actions the environment's policy allows."""
        report = self.report_url(deployment.id)
        return self.items(Final(deployment, verdict, at, summary, document_json, report))

    def resolutions(
        self, failed: Sequence[Deployment], resolved_by: str, at: datetime, reason: str
    ) -> list[OutboxItem]:
        """Items resolving the pages of ``failed`` deployments (a newer deploy passed, a rollback)."""
        events = (Resolved(d, resolved_by, at, reason, self.report_url(d.id)) for d in failed)
        return [item for event in events for item in self.items(event)]
