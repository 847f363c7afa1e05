"""Which outbox items an event triggers: each configured channel's, in registration order.

The API and the scheduler turn registrations and final verdicts into items here; the store
writes them in the event's own transaction. What a channel sends for which event (a webhook's
verdict filter, an environment's paging and rollback policy) is the channel's own decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from monitor.channels.base import Channel, Event, Final, Registered, Resolved, Setup
from monitor.channels.registry import build
from monitor.config import Settings
from monitor.environments import Environments
from monitor.models import Deployment, DeploymentSpec
from monitor.reportlinks import LinkKey, signed_report_url
from monitor.store import OutboxItem


class Notifier:
    """Builds the outbox items of registrations, final verdicts and resolutions."""

    def __init__(
        self,
        settings: Settings,
        environments: Environments | None = None,
        *,
        channels: Mapping[str, Channel] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._setup = Setup(settings, environments or Environments(settings.environments))
        self._channels = tuple((build(self._setup) if channels is None else channels).values())

    @property
    def settings(self) -> Settings:
        """The daemon's settings (a backtest through the API judges with them, as the engine does)."""
        return self._settings

    @property
    def public_url(self) -> str | None:
        """The monitor as users reach it (``public_url``), or None."""
        return self._settings.public_url

    @property
    def report_links(self) -> LinkKey | None:
        """The key report links are signed with; None: links are plain URLs that need a token."""
        return self._settings.report_links

    def report_url(self, deployment_id: str) -> str | None:
        """The verdict report's address, when ``public_url`` is configured: signed, and valid for
        the key's lifetime from now, when a report-link key is configured."""
        base = self._settings.public_url
        if not base:
            return None
        return signed_report_url(base, deployment_id, self._settings.report_links, self._clock())

    def pages(self, environment: str) -> bool:
        """True when a final fail in ``environment`` pages (the environment's policy and a pager)."""
        return self._setup.pages(environment)

    @property
    def grafana_url(self) -> str | None:
        """The Grafana the dashboards are provisioned to (the report links its detail dashboard), or None."""
        return self._settings.grafana.url if self._settings.grafana else None

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
