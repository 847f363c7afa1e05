"""Signed webhooks of final verdicts (see :mod:`monitor.signing` and docs/webhooks.md).

The body is the verdict document with ``report_url`` added: the report's address (signed and
expiring when a report-link key is configured, :mod:`monitor.reportlinks`), null without
``public_url``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import aiohttp

from monitor.channels.base import Attempt, Event, Final, Outcome, Setup, post_json
from monitor.channels.registry import register
from monitor.config import WebhookSpec
from monitor.models import Deployment
from monitor.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from monitor.store import Delivery, OutboxItem

KIND = "webhook"


def webhook_items(
    webhooks: Sequence[WebhookSpec],
    deployment: Deployment,
    verdict: str,
    document_json: str,
    report_url: str | None = None,
) -> list[OutboxItem]:
    """The webhook deliveries a final ``verdict`` of ``deployment`` triggers: the verdict document
    with its ``report_url``."""
    body = json.dumps({**json.loads(document_json), "report_url": report_url})
    return [
        OutboxItem(f"{KIND}:{hook.name}", f"{deployment.id}:{hook.name}:final", body)
        for hook in webhooks
        if verdict in hook.verdicts
        and (not hook.environments or deployment.spec.environment in hook.environments)
    ]


class WebhookChannel:
    """POSTs the verdict document, signed with the webhook's secret, to the webhook's URL."""

    kind = KIND

    def __init__(self, webhooks: Sequence[WebhookSpec]) -> None:
        self._webhooks = tuple(webhooks)
        self._hooks = {hook.name: hook for hook in webhooks}

    def items(self, event: Event) -> list[OutboxItem]:
        if not isinstance(event, Final):
            return []
        return webhook_items(
            self._webhooks, event.deployment, event.verdict, event.document_json, event.report_url
        )

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt:
        hook = self._hooks.get(item.kind.partition(":")[2])
        if hook is None:
            # Kept retrying: the webhook may come back with the next config rollout.
            return Attempt(Outcome.FAILED, f"{item.kind} is no longer configured; kept for an operator")
        body = item.payload_json.encode()
        timestamp = int(time.time())
        headers = {
            "Idempotency-Key": item.idempotency_key,
            "X-Monitor-Event": "verdict.final",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(hook.secret, timestamp, body),
        }
        return await post_json(session, hook.url, body, headers)

    async def close(self) -> None:
        """Nothing to release: sessions belong to the outbox worker."""


def _build(setup: Setup) -> WebhookChannel:
    # Always built, even without webhooks: an item of a webhook removed from the config is kept
    # (retried) rather than reported as an unknown channel.
    return WebhookChannel(setup.settings.webhooks)


register(KIND, _build)
