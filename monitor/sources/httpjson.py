"""GET a JSON document from a telemetry backend, with errors translated for the user.

Shared by the Loki, Tempo and Jaeger sources: a refused connection or a timeout is
:class:`BackendUnavailable` naming the URL (after a retry); a 4xx is :class:`QueryError` with the
backend's own reason (Loki and Tempo answer errors as plain text); a 5xx is retried once, then
reported like an unreachable backend. The session carries the endpoint's headers (see
:func:`session_for`); messages show the URL with its secrets masked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from monitor.errors import BackendUnavailable, QueryError
from monitor.sources.credentials import Endpoint

ATTEMPTS = 2


def session_for(endpoint: Endpoint, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
    """A session sending ``endpoint``'s credentials and headers with every request."""
    return aiohttp.ClientSession(timeout=timeout, headers=endpoint.headers())


async def get_json(
    session: aiohttp.ClientSession, endpoint: Endpoint, path: str, params: Mapping[str, str], what: str
) -> Any:
    """The decoded JSON answer of ``GET <endpoint><path>?params``; ``what`` names the request in errors."""
    url, shown = endpoint.url_for(path), endpoint.shown_url_for(path)
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            async with session.get(url, params=params) as response:
                text = endpoint.scrub(await response.text())
                if response.status in (401, 403):
                    raise QueryError(
                        f"{what}: {shown} refused the credentials ({response.status}): {text.strip()[:200]}; "
                        "check the source's bearer_token_file or basic_auth in the config"
                    )
                if 400 <= response.status < 500:
                    raise QueryError(f"{what} rejected by {shown} ({response.status}): {text.strip()[:300]}")
                if response.status >= 500:
                    last = f"{response.status}: {text.strip()[:200]}"
                else:
                    try:
                        return await response.json(content_type=None)
                    except ValueError:
                        raise QueryError(f"{what}: {shown} did not answer JSON ({text[:120]!r})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            last = f"{type(exc).__name__}: {endpoint.scrub(str(exc))}"
        if attempt + 1 < ATTEMPTS:
            await asyncio.sleep(0.2)
    raise BackendUnavailable(f"{what}: {shown} unavailable ({last}); is it running?")
