"""GET a JSON document from a telemetry backend, with errors translated for the user.

Shared by the Loki and Tempo sources: a refused connection or a timeout is
:class:`BackendUnavailable` naming the URL (after a retry); a 4xx is :class:`QueryError` with the
backend's own reason (Loki and Tempo answer errors as plain text); a 5xx is retried once, then
reported like an unreachable backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from monitor.errors import BackendUnavailable, QueryError

ATTEMPTS = 2


async def get_json(session: aiohttp.ClientSession, url: str, params: Mapping[str, str], what: str) -> Any:
    """The decoded JSON answer of ``GET url?params``; ``what`` names the request in errors."""
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            async with session.get(url, params=params) as response:
                text = await response.text()
                if 400 <= response.status < 500:
                    raise QueryError(f"{what} rejected by {url} ({response.status}): {text.strip()[:300]}")
                if response.status >= 500:
                    last = f"{response.status}: {text.strip()[:200]}"
                else:
                    try:
                        return await response.json(content_type=None)
                    except ValueError:
                        raise QueryError(f"{what}: {url} did not answer JSON ({text[:120]!r})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        if attempt + 1 < ATTEMPTS:
            await asyncio.sleep(0.2)
    raise BackendUnavailable(f"{what}: {url} unavailable ({last}); is it running?")
