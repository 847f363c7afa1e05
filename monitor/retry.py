"""One retry policy for the monitor's HTTP clients: Prometheus, Loki/Tempo/Jaeger, Grafana, the gate.

An attempt that failed in a way another attempt may not raises :class:`Retry`: a refused or
dropped connection, a timeout, an HTTP status of :func:`retryable_status` (408, 429, 499 and 5xx;
never another 4xx, which the same request would get again). Any other exception ends the call at
once. Waits grow exponentially from :attr:`RetryPolicy.backoff_s` with random jitter (so replicas
that failed together do not retry together), capped at :attr:`RetryPolicy.max_backoff_s`; a
``Retry-After`` the server sent is honoured up to :attr:`RetryPolicy.max_retry_after_s`. When the
attempts (or the time budget) are spent, the last :class:`Retry` is raised for the caller to turn
into its own error (:class:`~monitor.errors.BackendUnavailable`, say), naming the last problem.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    stop_never,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

if TYPE_CHECKING:
    from urllib3.util.retry import Retry as Urllib3Retry

T = TypeVar("T")
_RETRYABLE_4XX = frozenset({408, 429, 499})  # timeout, too many requests, client closed (proxies)


# What a write's receiver answers while another writer or its own start-up is in the way: a conflict,
# a lock, "too early". A retry of a read never meets these; deliveries and rollbacks add them.
WRITE_CONFLICTS = frozenset({409, 423, 425})


def retryable_status(status: int, also: frozenset[int] = frozenset()) -> bool:
    """Whether an HTTP answer with ``status`` may pass on a retry: 408, 429, 499, every 5xx, and
    the caller's own transient statuses ``also`` (e.g. :data:`WRITE_CONFLICTS`)."""
    return status in _RETRYABLE_4XX or status >= 500 or status in also


def retry_after_s(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date); None if none."""
    if not header:
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - (now or datetime.now(UTC))).total_seconds())


class Retry(Exception):  # a signal to the policy, like arq's Retry, not an error
    """Raised by an attempt that may succeed if tried again; ``problem`` says what happened."""

    def __init__(
        self, problem: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(problem)
        self.problem, self.status, self.retry_after_s = problem, status, retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a call is tried.

    ``attempts`` counts the first try (None: until ``budget_s`` runs out); ``budget_s`` bounds the
    time from the first attempt to the start of the last (None: no bound).
    """

    attempts: int | None = 3
    backoff_s: float = 0.25  # the first wait, doubled after each failure, plus jitter
    max_backoff_s: float = 10.0
    max_retry_after_s: float = 30.0  # a server's Retry-After is honoured up to this
    budget_s: float | None = None

    def _stop(self) -> stop_base:
        stop: stop_base = stop_after_attempt(self.attempts) if self.attempts is not None else stop_never
        if self.budget_s is not None:
            stop = stop | stop_before_delay(self.budget_s)
        return stop

    def wait_s(self, state: RetryCallState) -> float:
        """The wait before the next attempt: exponential with jitter, or longer if the server asked."""
        wait = wait_exponential_jitter(
            multiplier=self.backoff_s, max=self.max_backoff_s, jitter=self.backoff_s
        )(state)
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, Retry) and failure.retry_after_s is not None:
            wait = max(wait, min(failure.retry_after_s, self.max_retry_after_s))
        return wait


OnRetry = Callable[[Retry, float], None]  # the failure, and the seconds until the next attempt


def _before_sleep(on_retry: OnRetry | None) -> Callable[[RetryCallState], None] | None:
    if on_retry is None:
        return None

    def announce(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, Retry) and state.next_action is not None:
            on_retry(failure, state.next_action.sleep)

    return announce


async def retry_async(
    policy: RetryPolicy,
    attempt: Callable[[], Awaitable[T]],
    *,
    on_retry: OnRetry | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``await attempt()`` until it returns, raises something other than :class:`Retry`, or the
    policy gives up, which re-raises the last :class:`Retry`."""
    retrying = AsyncRetrying(
        stop=policy._stop(), wait=policy.wait_s, retry=retry_if_exception_type(Retry), reraise=True,
        sleep=sleep, before_sleep=_before_sleep(on_retry),
    )  # fmt: skip

    async def once() -> T:  # a coroutine function, which tenacity awaits (a lambda it would not)
        return await attempt()

    return await retrying(once)


def retry_sync(
    policy: RetryPolicy,
    attempt: Callable[[], T],
    *,
    on_retry: OnRetry | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """:func:`retry_async` for blocking calls (grafana-client)."""
    retrying = Retrying(
        stop=policy._stop(), wait=policy.wait_s, retry=retry_if_exception_type(Retry), reraise=True,
        sleep=sleep, before_sleep=_before_sleep(on_retry),
    )  # fmt: skip
    return retrying(attempt)


def urllib3_retry(policy: RetryPolicy) -> Urllib3Retry:
    """The policy for a client that retries inside urllib3 (prometheus-api-client): the same
    attempts, backoff, jitter, retryable statuses and ``Retry-After``; the last answer is returned."""
    import inspect

    from urllib3.util.retry import Retry as Urllib3Retry  # only the clients that need it pay for it

    options: dict[str, object] = {}
    # Retry-After's cap came with urllib3 2.7 (and urllib3-future); older releases wait as long as
    # the server asks, which the attempts still bound.
    if "retry_after_max" in inspect.signature(Urllib3Retry).parameters:
        options["retry_after_max"] = int(policy.max_retry_after_s)
    return Urllib3Retry(
        total=(policy.attempts or 1) - 1, status_forcelist=(*_RETRYABLE_4XX, *range(500, 600)),
        backoff_factor=policy.backoff_s, backoff_max=policy.max_backoff_s, backoff_jitter=policy.backoff_s,
        respect_retry_after_header=True, raise_on_status=False, **options,  # type: ignore[arg-type]
    )  # fmt: skip
