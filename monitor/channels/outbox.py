"""Delivering the outbox: webhooks, annotations and pages, retried with backoff until acknowledged.

Items are written in the same transaction as the event that triggers them (a registration, a
final verdict: :meth:`monitor.store.Store.record_verdict`), so none is lost across a crash or a
restart; this worker sends them through the channel of their kind (built by
:mod:`monitor.channels.registry`; it knows no channel itself). A 2xx acknowledges; a refused
connection, a timeout, a 5xx or a transient 4xx (408, 429, ...) is retried after
``min(2**attempt, 300)`` seconds, indefinitely: a receiver down for ten minutes gets the event
when it is back. Any other answer (400, 401, 403, ...) cannot succeed by retrying: the item is
abandoned and the deployment's audit trail records why. Retries may deliver twice; idempotency
keys (webhooks), labels (Alertmanager) and dedup keys (PagerDuty) let receivers drop the duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import aiohttp

from monitor.channels.base import Attempt, Channel, Outcome
from monitor.errors import MonitorError
from monitor.own_metrics import EngineMetrics
from monitor.store import Delivery, Store

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 300.0
CLAIM_S = 60.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def backoff_s(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones."""
    return min(2.0 ** max(attempts, 0), MAX_BACKOFF_S)


class Deliverer:
    """Sends claimed outbox items through the channels of their kinds
    (:func:`monitor.channels.registry.channels_for`)."""

    def __init__(
        self,
        store: Store,
        *,
        channels: Mapping[str, Channel],
        timeout_s: float = 10.0,
        clock: Callable[[], datetime] = _utcnow,
        metrics: EngineMetrics | None = None,
    ) -> None:
        self._store = store
        self._channels = dict(channels)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock
        self._metrics = metrics
        if metrics is not None:
            metrics.expect_channels(self._channels, [outcome.value for outcome in Outcome])

    async def close(self) -> None:
        """Release what channels hold open (the rollback channel's Kubernetes client)."""
        for channel in self._channels.values():
            await channel.close()

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
        name = item.kind.partition(":")[0]
        channel = self._channels.get(name)
        if channel is None:
            # Kept and retried: the channel may be configured again by the next rollout.
            attempt = Attempt(Outcome.FAILED, f"{item.kind} is not configured; kept for an operator")
        else:
            try:
                attempt = await channel.send(session, item)
            except MonitorError:
                raise  # the store is down: the run loop waits for it
            except Exception as exc:  # one channel's bug must not stop the others
                log.exception("%s for deployment %s: unexpected error", item.kind, item.deployment_id)
                attempt = Attempt(Outcome.FAILED, f"unexpected {type(exc).__name__}: {exc}")
        if self._metrics is not None:
            self._metrics.deliveries.labels(name, attempt.outcome.value).inc()
        if attempt.outcome is Outcome.DELIVERED:
            await self._store.finish_delivery(item.id, delivered=True)
            log.info("delivered %s for deployment %s", item.kind, item.deployment_id)
            return True
        if attempt.outcome is Outcome.ABANDONED:
            log.error(
                "%s for deployment %s abandoned (%s): retrying cannot help; fix the receiver or its "
                "configuration", item.kind, item.deployment_id, attempt.detail,
            )  # fmt: skip
            await self._store.finish_delivery(item.id, delivered=False, error=attempt.detail, abandon=True)
            return False
        retry_at = self._clock() + timedelta(seconds=backoff_s(item.attempts))
        log.warning(
            "%s for deployment %s failed (%s); retry at %s", item.kind, item.deployment_id, attempt.detail,
            retry_at,
        )  # fmt: skip
        await self._store.finish_delivery(item.id, delivered=False, error=attempt.detail, retry_at=retry_at)
        return False
