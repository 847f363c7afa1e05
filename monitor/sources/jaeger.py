"""Jaeger as a pull source of traces: the v3 API (OTLP JSON), else the legacy ``/api/traces``.

The v3 search (``/api/v3/traces``, Jaeger 1.x and 2.x) answers OTLP JSON, which goes as it is to
the receiver's decoder. Older query services only have the legacy search, whose Jaeger-model
traces (``operationName``, ``references``, ``startTime``/``duration`` in microseconds, tags,
``processes``) are converted to OTLP here. The search is by service; each span's version comes
from its process or resource attribute ``service.version``, so one search serves both versions.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp

from monitor.errors import QueryError
from monitor.models import Window
from monitor.sources.credentials import NO_CREDENTIALS, Credentials, Endpoint
from monitor.sources.httpjson import get_json, session_for

_KIND = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _attr(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": str(value)}}


def legacy_to_otlp(trace: dict[str, Any]) -> dict[str, Any]:
    """One Jaeger-model trace as an OTLP/JSON ``{"resourceSpans": [...]}`` document."""
    by_process: dict[str, list[dict[str, Any]]] = {}
    for span in trace.get("spans", []):
        tags = {t.get("key"): t.get("value") for t in span.get("tags", [])}
        start_ns = int(span["startTime"]) * 1000
        end_ns = start_ns + int(span.get("duration", 0)) * 1000
        parent = next(
            (r["spanID"] for r in span.get("references", []) if r.get("refType") == "CHILD_OF"), None
        )
        failed = tags.get("error") in (True, "true") or tags.get("otel.status_code") == "ERROR"
        events = []
        for entry in span.get("logs", []):
            fields = {f.get("key"): f.get("value") for f in entry.get("fields", [])}
            if fields.get("event") == "exception" or "exception.type" in fields:
                kind = _attr("exception.type", fields.get("exception.type", "unknown"))
                at_ns = int(entry.get("timestamp", 0)) * 1000
                events.append({"name": "exception", "timeUnixNano": str(at_ns), "attributes": [kind]})
        otlp_span: dict[str, Any] = {
            "traceId": span["traceID"].rjust(32, "0"), "spanId": span["spanID"].rjust(16, "0"),
            "name": span.get("operationName", ""), "kind": _KIND.get(str(tags.get("span.kind", "")), 0),
            "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(end_ns),
            "status": {"code": 2 if failed else 0}, "events": events,
        }  # fmt: skip
        if parent:
            otlp_span["parentSpanId"] = parent.rjust(16, "0")
        by_process.setdefault(span.get("processID", ""), []).append(otlp_span)
    resource_spans = []
    for process_id, spans in by_process.items():
        process = trace.get("processes", {}).get(process_id, {})
        attributes = [_attr("service.name", process.get("serviceName", ""))] + [
            _attr(t["key"], t.get("value"))
            for t in process.get("tags", [])
            if t.get("key") == "service.version"
        ]
        resource_spans.append({"resource": {"attributes": attributes}, "scopeSpans": [{"spans": spans}]})
    return {"resourceSpans": resource_spans}


class JaegerSource:
    """Reads a service's traces from Jaeger's query service."""

    def __init__(
        self, url: str, *, max_traces: int = 200, timeout_s: float = 30.0,
        credentials: Credentials = NO_CREDENTIALS,
    ) -> None:  # fmt: skip
        self._endpoint = Endpoint.parse(url, credentials, "the Jaeger URL")
        self.url = self._endpoint.display  # secrets masked: fit for messages
        self._max_traces = max_traces
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def traces(self, service: str, version: str, window: Window) -> list[dict[str, Any]]:
        """Up to ``max_traces`` traces of the service in the window (every version's spans), as OTLP/JSON."""
        async with session_for(self._endpoint, self._timeout) as session:
            try:
                documents = await self._v3(session, service, window)
            except QueryError as exc:
                if exc.status != 404:  # only a query service without the v3 API falls back
                    raise
                documents = await self._legacy(session, service, version, window)
        return documents

    async def _v3(self, session: aiohttp.ClientSession, service: str, window: Window) -> list[dict[str, Any]]:
        params = {
            "query.service_name": service, "query.start_time_min": _rfc3339(window.start),
            "query.start_time_max": _rfc3339(window.end), "query.search_depth": str(self._max_traces),
        }  # fmt: skip
        found = await get_json(
            session, self._endpoint, "/api/v3/traces", params, f"Jaeger v3 search {service}"
        )
        result = found.get("result", found) if isinstance(found, dict) else {}
        if not isinstance(result, dict) or not isinstance(result.get("resourceSpans", []), list):
            raise QueryError(f"Jaeger v3 search {service}: no resourceSpans in the answer", url=self.url)
        return [{"resourceSpans": result.get("resourceSpans", [])}]

    async def _legacy(
        self, session: aiohttp.ClientSession, service: str, version: str, window: Window
    ) -> list[dict[str, Any]]:
        params = {
            "service": service, "start": str(int(window.start.timestamp() * 1e6)),
            "end": str(int(window.end.timestamp() * 1e6)), "limit": str(self._max_traces),
            "tags": json.dumps({"service.version": version}),
        }  # fmt: skip
        found = await get_json(session, self._endpoint, "/api/traces", params, f"Jaeger search {service}")
        if not isinstance(found, dict) or found.get("errors"):
            raise QueryError(
                f"Jaeger search {service}: {found.get('errors') if isinstance(found, dict) else found}"
            )
        return [legacy_to_otlp(trace) for trace in found.get("data") or []]
