"""What the outbox delivers to: one channel per kind of receiver, and how an answer is judged.

An outbox item's ``kind`` is ``<channel>`` or ``<channel>:<name>`` (``webhook:deploys``,
``grafana:annotation``, ``alertmanager``, ``pagerduty``). A channel sends one claimed item and
says whether it was delivered, should be retried, or must be abandoned because retrying cannot
help (a 400 for a malformed event, a 401 for a revoked token: an operator has to act).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import aiohttp

from monitor.redact import redact_text
from monitor.store import Delivery


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

# Statuses worth retrying: the receiver is busy, rate-limiting or briefly inconsistent.
_RETRYABLE_4XX = frozenset({404, 408, 409, 423, 425, 429})


def judge_status(status: int, body: str = "", *, retry_404: bool = True) -> Attempt:
    """Delivered on 2xx; retried on 5xx and transient 4xx; abandoned on the other 4xx (and 3xx).

    ``retry_404`` keeps a 404 retryable, for receivers whose routes appear after a deploy
    (webhooks); APIs with fixed paths (PagerDuty, Alertmanager) abandon it.
    """
    if 200 <= status < 300:
        return DELIVERED
    detail = f"HTTP {status}" + (f": {body[:300]}" if body else "")
    if status >= 500 or (status in _RETRYABLE_4XX and (status != 404 or retry_404)):
        return Attempt(Outcome.FAILED, detail)
    return Attempt(Outcome.ABANDONED, detail)


class Channel(Protocol):
    """Sends one outbox item."""

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt: ...


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
