"""What every channel shares: the events it reacts to, the ``Channel`` interface, and how an answer is judged.

A channel is one kind of receiver (a webhook, Grafana's annotations, Alertmanager, PagerDuty, the
rollback actions). From an event (a registration, a final verdict, the resolution of a failure)
it builds the outbox items it wants delivered; the store writes them in the event's own
transaction. The outbox worker (:mod:`monitor.channels.outbox`) later hands each claimed item back
to the channel of its kind, which sends it and says whether it was delivered, should be
retried, or must be abandoned because retrying cannot help (a 400 for a malformed event, a 401
for a revoked token: an operator has to act).

An outbox item's ``kind`` is ``<channel>`` or ``<channel>:<name>`` (``webhook:deploys``,
``grafana:annotation``, ``alertmanager``, ``pagerduty``, ``rollback:<action>``): the part before
the colon names its channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import aiohttp

from monitor.config import Settings
from monitor.environments import Environments
from monitor.models import Deployment, DeploymentSpec
from monitor.own_metrics import EngineMetrics
from monitor.redact import redact_text
from monitor.retry import WRITE_CONFLICTS, retryable_status
from monitor.store import Delivery, OutboxItem, Store


class Outcome(StrEnum):
    """What became of one delivery attempt."""

    DELIVERED = "delivered"
    FAILED = "failed"  # retried with backoff
    ABANDONED = "abandoned"  # never retried; recorded in the deployment's audit trail


@dataclass(frozen=True)
class Attempt:
    """The outcome of one attempt and, unless delivered, why."""

    outcome: Outcome
    detail: str = ""


DELIVERED = Attempt(Outcome.DELIVERED)


@dataclass(frozen=True)
class Registered:
    """A deployment was registered."""

    deployment_id: str
    spec: DeploymentSpec
    report_url: str | None


@dataclass(frozen=True)
class Final:
    """A deployment reached its final ``verdict`` (``pass``, ``fail``, ...) at ``at``."""

    deployment: Deployment
    verdict: str
    at: datetime
    summary: str
    document_json: str
    report_url: str | None


@dataclass(frozen=True)
class Resolved:
    """A failed deployment no longer needs attention: a newer deploy passed, or a rollback completed.

    ``resolved_by`` names what resolved it (a passing deployment's id, a rollback), which keeps
    the idempotency keys of several resolutions distinct.
    """

    deployment: Deployment
    resolved_by: str
    at: datetime
    reason: str
    report_url: str | None


Event = Registered | Final | Resolved


@dataclass(frozen=True)
class Setup:
    """What a channel is built from: the settings and, where it sends, the store and metrics.

    Channels built only to turn events into items (the API's and the scheduler's
    :class:`~monitor.channels.notify.Notifier`) get no store; the outbox worker's do.
    """

    settings: Settings
    environments: Environments
    store: Store | None = None
    metrics: EngineMetrics | None = None

    def pages(self, environment: str) -> bool:
        """True when a final fail in ``environment`` pages (the environment's policy and a pager)."""
        env = self.environments.get(environment)
        pager = self.settings.pager
        return env is not None and env.page and pager is not None and pager.enabled


class Channel(Protocol):
    """One kind of receiver: the outbox items an event triggers, and the delivery of one of them."""

    @property
    def kind(self) -> str:
        """The first part of its items' ``kind`` (``webhook``, ``grafana``, ``rollback``...)."""
        ...

    def items(self, event: Event) -> list[OutboxItem]:
        """The outbox items ``event`` triggers (none when the channel ignores it)."""
        ...

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt:
        """Deliver one claimed item; never raises for a receiver's failure (returns the attempt)."""
        ...

    async def close(self) -> None:
        """Release what the channel holds open."""
        ...


ChannelFactory = Callable[[Setup], Channel | None]
"""Builds a channel from the setup, or None when the settings do not configure it."""


# Besides the shared policy's: the receiver is briefly inconsistent (a conflict, a lock, a route that
# appears after its deploy).
_ALSO_RETRYABLE = WRITE_CONFLICTS | {404}


def judge_status(status: int, body: str = "", *, retry_404: bool = True) -> Attempt:
    """Delivered on 2xx; retried on 5xx and transient 4xx; abandoned on the other 4xx (and 3xx).

    ``retry_404`` keeps a 404 retryable, for receivers whose routes appear after a deploy
    (webhooks); APIs with fixed paths (PagerDuty, Alertmanager) abandon it.
    """
    if 200 <= status < 300:
        return DELIVERED
    detail = f"HTTP {status}" + (f": {body[:300]}" if body else "")
    if retryable_status(status, _ALSO_RETRYABLE if retry_404 else WRITE_CONFLICTS):
        return Attempt(Outcome.FAILED, detail)
    return Attempt(Outcome.ABANDONED, detail)


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    retry_404: bool = True,
) -> Attempt:
    """POST ``body``; a refused connection or a timeout is retried, answers are judged by status."""
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json", **headers}) as r:
            text = "" if 200 <= r.status < 300 else (await r.text(errors="replace")).strip()
            return judge_status(r.status, text, retry_404=retry_404)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Attempt(Outcome.FAILED, f"{type(exc).__name__}: {redact_text(str(exc))}")
