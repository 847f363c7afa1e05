"""Delivering the outbox: signed webhooks, retried with backoff until a receiver acknowledges.

Notifications are written in the same transaction as the final verdict
(:meth:`monitor.store.Store.record_verdict`), so none is lost across a crash or a restart; this
worker sends them. A 2xx acknowledges; anything else (an error status, a refused connection, a
timeout) is retried after ``min(2**attempt, 300)`` seconds, indefinitely: a receiver down for ten
minutes gets the event when it is back. Retries may deliver twice; the ``Idempotency-Key``
header lets the receiver drop the duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import aiohttp

from monitor.actions.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from monitor.config import WebhookSpec
from monitor.errors import MonitorError
from monitor.models import Deployment
from monitor.store import Delivery, OutboxItem, Store

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 300.0
CLAIM_S = 60.0
KIND_PREFIX = "webhook:"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def backoff_s(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones."""
    return min(2.0 ** max(attempts, 0), MAX_BACKOFF_S)


def notifications(
    webhooks: Sequence[WebhookSpec], deployment: Deployment, verdict: str, document_json: str
) -> list[OutboxItem]:
    """The outbox items a final ``verdict`` of ``deployment`` triggers."""
    return [
        OutboxItem(f"{KIND_PREFIX}{hook.name}", f"{deployment.id}:{hook.name}:final", document_json)
        for hook in webhooks
        if verdict in hook.verdicts
        and (not hook.environments or deployment.spec.environment in hook.environments)
    ]


class Deliverer:
    """Sends claimed outbox items to their webhooks."""

    def __init__(
        self,
        store: Store,
        webhooks: Sequence[WebhookSpec],
        *,
        timeout_s: float = 10.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._hooks = {hook.name: hook for hook in webhooks}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock

    async def run_once(self) -> int:
        """Attempt every due item once; return how many were acknowledged."""
        items = await self._store.claim_deliveries(claim_s=CLAIM_S)
        if not items:
            return 0
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            results = await asyncio.gather(*(self._deliver(session, item) for item in items))
        return sum(results)

    async def run(self, stop: asyncio.Event, poll_s: float = 1.0) -> None:
        """Deliver until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.run_once()
            except MonitorError as exc:  # the database is down: keep polling, resume when it is back
                log.warning("outbox: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_s)

    async def _deliver(self, session: aiohttp.ClientSession, item: Delivery) -> bool:
        hook = self._hooks.get(item.kind.removeprefix(KIND_PREFIX))
        if hook is None:
            await self._fail(item, f"{item.kind} is no longer configured; kept for an operator")
            return False
        body = item.payload_json.encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": item.idempotency_key,
            "X-Monitor-Event": "verdict.final",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(hook.secret, timestamp, body),
        }
        try:
            async with session.post(hook.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    await self._store.finish_delivery(item.id, delivered=True)
                    log.info("delivered %s for deployment %s", item.kind, item.deployment_id)
                    return True
                problem = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        await self._fail(item, problem)
        return False

    async def _fail(self, item: Delivery, problem: str) -> None:
        retry_at = self._clock() + timedelta(seconds=backoff_s(item.attempts))
        log.warning(
            "%s for deployment %s failed (%s); retry at %s", item.kind, item.deployment_id, problem, retry_at
        )
        await self._store.finish_delivery(item.id, delivered=False, error=problem, retry_at=retry_at)
