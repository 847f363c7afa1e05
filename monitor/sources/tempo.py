"""Tempo as a pull source of traces: a TraceQL search per version, then each trace by id.

At most ``max_traces`` traces per version and window are read (Tempo returns the most recent
matches); their spans go through the receiver's aggregator (:mod:`monitor.otlp.pulled`), so the
trace judges see the same kind of data whether spans were pushed or pulled. Tempo's
``/api/traces/<id>`` answers OTLP-like JSON under ``batches`` with ids in base64 or hex; both are
accepted by the receiver's decoder.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp

from monitor.errors import QueryError
from monitor.models import Window
from monitor.sources.credentials import NO_CREDENTIALS, Credentials, Endpoint
from monitor.sources.httpjson import get_json, session_for


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class TempoSource:
    """Reads one version's traces from Tempo."""

    def __init__(
        self, url: str, *, max_traces: int = 200, concurrency: int = 8, timeout_s: float = 30.0,
        credentials: Credentials = NO_CREDENTIALS,
    ) -> None:  # fmt: skip
        self._endpoint = Endpoint.parse(url, credentials, "the Tempo URL")
        self.url = self._endpoint.display  # secrets masked: fit for messages
        self._max_traces, self._concurrency = max_traces, concurrency
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    @staticmethod
    def query(service: str, version: str) -> str:
        """The TraceQL selecting traces with spans of ``version`` of ``service``."""
        return (
            f'{{ resource.service.name = "{_quoted(service)}" && '
            f'resource.service.version = "{_quoted(version)}" }}'
        )

    async def traces(self, service: str, version: str, window: Window) -> list[dict[str, Any]]:
        """Every span of up to ``max_traces`` matching traces, one OTLP/JSON document per trace."""
        start, end = str(int(window.start.timestamp())), str(math.ceil(window.end.timestamp()))
        query = self.query(service, version)
        semaphore = asyncio.Semaphore(self._concurrency)
        async with session_for(self._endpoint, self._timeout) as session:
            params = {"q": query, "limit": str(self._max_traces), "start": start, "end": end}
            found = await get_json(session, self._endpoint, "/api/search", params, f"Tempo search {query}")
            ids = [t["traceID"] for t in found.get("traces", []) if isinstance(t, dict) and "traceID" in t]

            async def fetch(trace_id: str) -> dict[str, Any]:
                async with semaphore:
                    document = await get_json(
                        session, self._endpoint, f"/api/traces/{trace_id}", {"start": start, "end": end},
                        f"Tempo trace {trace_id}",
                    )  # fmt: skip
                batches = (
                    document.get("batches", document.get("resourceSpans", []))
                    if isinstance(document, dict)
                    else []
                )
                if not isinstance(batches, list):
                    raise QueryError(f"Tempo trace {trace_id}: 'batches' is not a list", url=self.url)
                return {"resourceSpans": batches}

            return list(await asyncio.gather(*(fetch(t) for t in ids[: self._max_traces])))
