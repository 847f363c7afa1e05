"""Prometheus HTTP API source: concurrent queries with timeouts and bounded retries.

Errors are translated here: an unreachable server or one still failing after the retries
is :class:`BackendUnavailable` naming the URL; a rejected query (``bad_data``, ``execution``)
is :class:`QueryError` with Prometheus' own reason. Only failures that may pass on a retry
(connection errors, timeouts, 429, 5xx other than the query's own fault) are retried, by the
shared policy of :mod:`monitor.retry` (``max_attempts``, exponential backoff with jitter,
``Retry-After`` honoured).

Credentials (:class:`~monitor.sources.credentials.Credentials`, or user info in the URL) go with
every request; messages name the URL as :attr:`PrometheusSource.url` shows it, secrets masked.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp

from monitor.errors import BackendUnavailable, QueryError
from monitor.models import Window
from monitor.retry import Retry, RetryPolicy, retry_after_s, retry_async, retryable_status, urllib3_retry
from monitor.sources.base import MAX_POINTS, InstantSample, Labels, RangeSeries
from monitor.sources.credentials import NO_CREDENTIALS, Credentials, Endpoint
from monitor.tracing import tracer

if TYPE_CHECKING:  # imported lazily: only label listings and backtests use the client
    from prometheus_api_client import PrometheusConnect

T = TypeVar("T")


def choose_step_s(window_s: float, wanted_step_s: float) -> float:
    """The smallest step >= ``wanted_step_s`` that keeps a range query under 11,000 points."""
    return max(wanted_step_s, math.ceil(window_s / MAX_POINTS))


def _parse_value(raw: str) -> float:
    # Prometheus sends values as strings, including "NaN" and "+Inf".
    return float(raw)


def _labels(metric: dict[str, str]) -> Labels:
    return Labels(tuple(sorted(metric.items())))


class PrometheusSource:
    """Async client of one Prometheus server.

    ``url`` is the base URL as it may be shown (password and secret parameters masked); requests
    go to the real one, with ``credentials`` or the URL's user info as their ``Authorization``.
    """

    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials = NO_CREDENTIALS,
        timeout_s: float = 10.0,
        max_attempts: int = 3,
        backoff_s: float = 0.25,
        concurrency: int = 8,
    ) -> None:
        self._endpoint = Endpoint.parse(url, credentials, "the Prometheus URL")
        self.url = self._endpoint.display
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._concurrency = concurrency
        self._semaphore = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None

    def twin(self) -> PrometheusSource:
        """The same Prometheus, credentials and limits, not yet connected: for another event loop
        (an HTTP session and a semaphore belong to the loop that first used them)."""
        twin = copy.copy(self)
        twin._session, twin._semaphore = None, asyncio.Semaphore(self._concurrency)
        return twin

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s), headers=self._endpoint.headers()
            )
        return self._session

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def instant(self, query: str, at: datetime) -> list[InstantSample]:
        """Evaluate an instant query at ``at``."""
        data = await self._get("/api/v1/query", {"query": query, "time": f"{at.timestamp():.3f}"}, query)
        kind = data.get("resultType")
        try:
            if kind == "scalar":
                return [InstantSample(Labels(()), _parse_value(data["result"][1]))]
            if kind != "vector":
                raise QueryError(
                    f"the query returned a {kind}, not an instant vector; drop the range selector or wrap "
                    f"it in a function such as increase(): {query}",
                    url=self.url,
                )
            return [
                InstantSample(_labels(item.get("metric", {})), _parse_value(item["value"][1]))
                for item in data.get("result", [])
            ]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise QueryError(
                f"Prometheus at {self.url} sent a malformed result ({exc!r}) for: {query}", url=self.url
            ) from exc

    async def range(self, query: str, window: Window, step_s: float) -> list[RangeSeries]:
        """Evaluate a range query; ``step_s`` is raised if needed to respect the 11,000-point limit."""
        step = choose_step_s(window.duration_s, step_s)
        params = {
            "query": query,
            "start": f"{window.start.timestamp():.3f}",
            "end": f"{window.end.timestamp():.3f}",
            "step": f"{step:g}",
        }
        data = await self._get("/api/v1/query_range", params, query)
        if data.get("resultType") != "matrix":
            raise QueryError(
                f"the query returned a {data.get('resultType')}, not a range result: {query}", url=self.url
            )
        try:
            return [
                RangeSeries(
                    _labels(item.get("metric", {})),
                    tuple((float(ts), _parse_value(v)) for ts, v in item.get("values", [])),
                )
                for item in data.get("result", [])
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise QueryError(
                f"Prometheus at {self.url} sent a malformed result ({exc!r}) for: {query}", url=self.url
            ) from exc

    async def label_values(self, label: str, match: str, window: Window) -> list[str]:
        """Values of ``label`` among series matching ``match``, through prometheus-api-client.

        Used only on the no-data path (to name the versions that do have data), where an extra
        import and round trip cost nothing that matters.
        """
        params = {
            "match[]": match,
            "start": f"{window.start.timestamp():.3f}",
            "end": f"{window.end.timestamp():.3f}",
        }

        def fetch(client: PrometheusConnect, extra: dict[str, str]) -> list[str]:
            return [str(v) for v in client.get_label_values(label, params={**extra, **params})]

        return await self.with_client(f"listing {label} values", fetch)

    async def with_client(self, what: str, call: Callable[[PrometheusConnect, dict[str, str]], T]) -> T:
        """``call(client, params)`` in a worker thread, with a prometheus-api-client on this source.

        The client is synchronous, so it runs off the event loop, bounded by the same concurrency as
        the source's own queries; it sends this source's credentials and headers, its URL's query
        parameters are ``params`` (to merge into each request's), and its urllib3 retries follow the
        shared policy. Any failure becomes :class:`BackendUnavailable` naming ``what``, secrets masked.
        """
        policy = RetryPolicy(attempts=self._max_attempts, backoff_s=self._backoff_s)
        endpoint = self._endpoint

        def run() -> T:
            from prometheus_api_client import PrometheusConnect as Client

            client = Client(
                url=endpoint.root, headers=endpoint.headers(), timeout=self._timeout_s,
                retry=urllib3_retry(policy),
            )  # fmt: skip
            return call(client, endpoint.query_params())

        try:
            async with self._semaphore:
                return await asyncio.to_thread(run)
        except Exception as exc:  # requests' and the client's errors alike: translate at the boundary
            problem = self._endpoint.scrub(str(exc))
            raise BackendUnavailable(
                f"Prometheus at {self.url}: {what} failed ({problem})", url=self.url
            ) from None

    def _auth_hint(self) -> str:
        credentials = self._endpoint.credentials
        if credentials.authenticates:
            return credentials.origin or "the credentials"
        return "prometheus.bearer_token_file or prometheus.basic_auth in --config (none is set)"

    async def _get(self, path: str, params: dict[str, str], query: str) -> dict[str, Any]:
        attributes = {"db.system.name": "prometheus", "db.query.text": query, "url.path": path}
        with tracer().start_as_current_span("prometheus query", attributes=attributes):
            return await self._get_with_retries(path, params, query)

    async def _get_with_retries(self, path: str, params: dict[str, str], query: str) -> dict[str, Any]:
        shown_url = self._endpoint.shown_url_for(path)

        async def attempt() -> dict[str, Any]:
            try:
                async with (
                    self._semaphore,
                    self._client().post(self._endpoint.url_for(path), data=params) as response,
                ):
                    status = response.status
                    after_s = retry_after_s(response.headers.get("Retry-After"))
                    try:
                        body: Any = await response.json(content_type=None)
                    except ValueError:
                        body = None
            except (aiohttp.ClientError, TimeoutError) as exc:
                shown = self._endpoint.scrub(str(exc))
                raise Retry(f"{type(exc).__name__}: {shown}" if shown else type(exc).__name__) from None
            return self._answer(status, body, after_s, shown_url, query)

        policy = RetryPolicy(attempts=self._max_attempts, backoff_s=self._backoff_s)
        try:
            return await retry_async(policy, attempt)
        except Retry as last:
            raise BackendUnavailable(
                f"Prometheus at {self.url} failed after {self._max_attempts} attempts ({last.problem}); "
                "check --prometheus-url and that the server is up",
                url=self.url, status=last.status,
            ) from None  # fmt: skip

    def _answer(
        self, status: int, body: Any, after_s: float | None, shown_url: str, query: str
    ) -> dict[str, Any]:
        """The ``data`` of a successful answer; :class:`Retry` for a failure that may pass, else the error."""
        if isinstance(body, dict) and body.get("status") == "success" and isinstance(body.get("data"), dict):
            result: dict[str, Any] = body["data"]
            return result
        if status in (401, 403):
            raise BackendUnavailable(
                f"Prometheus at {self.url} refused the credentials (HTTP {status}); "
                f"check {self._auth_hint()}",
                url=self.url, status=status,
            )  # fmt: skip
        if not isinstance(body, dict):
            # A proxy's error page or a wrong path: no Prometheus API answered.
            problem = f"HTTP {status} without a Prometheus API response"
            if retryable_status(status):
                raise Retry(problem, status=status, retry_after_s=after_s)
            raise BackendUnavailable(
                f"{shown_url} answered {problem}; check "
                "--prometheus-url (the server's base URL, e.g. http://prometheus:9090)",
                url=shown_url, status=status,
            )  # fmt: skip
        error_type = str(body.get("errorType", ""))
        message = self._endpoint.scrub(str(body.get("error", f"HTTP {status}")))
        if not retryable_status(status) or error_type in ("bad_data", "execution"):
            reason = f"({error_type or status}): {message}"
            raise QueryError(
                f"Prometheus rejected the query {reason}; query: {query}",
                url=shown_url, status=status, body=message,
            )  # fmt: skip
        raise Retry(f"HTTP {status} {error_type}: {message}", status=status, retry_after_s=after_s)
