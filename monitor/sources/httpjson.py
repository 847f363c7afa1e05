"""GET a JSON document from a telemetry backend, with errors translated for the user.

Shared by the Loki, Tempo and Jaeger sources: a refused connection, a timeout or a retryable
status (429, 5xx; :mod:`monitor.retry`) is retried once, then reported as
:class:`BackendUnavailable` naming the URL; another 4xx is :class:`QueryError` with the backend's
own reason (Loki and Tempo answer errors as plain text). Both carry the URL, the status and an
excerpt of the answer as fields. The session carries the endpoint's headers (see
:func:`session_for`); messages show the URL with its secrets masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from monitor.errors import BackendUnavailable, QueryError
from monitor.retry import Retry, RetryPolicy, retry_after_s, retry_async, retryable_status
from monitor.sources.credentials import Endpoint

POLICY = RetryPolicy(attempts=2, backoff_s=0.2)


def session_for(endpoint: Endpoint, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
    """A session sending ``endpoint``'s credentials and headers with every request."""
    return aiohttp.ClientSession(timeout=timeout, headers=endpoint.headers())


async def get_json(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    path: str,
    params: Mapping[str, str],
    what: str,
    policy: RetryPolicy = POLICY,
) -> Any:
    """The decoded JSON answer of ``GET <endpoint><path>?params``; ``what`` names the request in errors."""
    url, shown = endpoint.url_for(path), endpoint.shown_url_for(path)

    async def attempt() -> Any:
        try:
            async with session.get(url, params=params) as response:
                text = endpoint.scrub(await response.text())
                status, excerpt = response.status, text.strip()
                if retryable_status(status):
                    after_s = retry_after_s(response.headers.get("Retry-After"))
                    raise Retry(f"{status}: {excerpt[:200]}", status=status, retry_after_s=after_s)
                if status in (401, 403):
                    raise QueryError(
                        f"{what}: {shown} refused the credentials ({status}): {excerpt[:200]}; "
                        "check the source's bearer_token_file or basic_auth in the config",
                        url=shown, status=status, body=excerpt,
                    )  # fmt: skip
                if status >= 400:
                    raise QueryError(
                        f"{what} rejected by {shown} ({status}): {excerpt[:300]}",
                        url=shown, status=status, body=excerpt,
                    )  # fmt: skip
                try:
                    return await response.json(content_type=None)
                except ValueError:
                    raise QueryError(
                        f"{what}: {shown} did not answer JSON ({text[:120]!r})",
                        url=shown,
                        status=status,
                        body=text,
                    ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Retry(f"{type(exc).__name__}: {endpoint.scrub(str(exc))}") from None

    try:
        return await retry_async(policy, attempt)
    except Retry as last:
        raise BackendUnavailable(
            f"{what}: {shown} unavailable ({last.problem}); is it running?", url=shown, status=last.status
        ) from None
