"""Backends that demand credentials: Loki, Tempo and Jaeger fakes, and an authenticating reverse proxy.

No Loki, Tempo or Jaeger can run on this machine. :class:`GuardedTelemetry` answers their query APIs
in the documented shapes, with a fixed small content (one log line, one trace), on one port:

* Loki ``GET /loki/api/v1/query_range``: ``{"status": "success", "data": {"resultType": "streams",
  "result": [{"stream": {...}, "values": [["<unix ns>", "<line>"]]}]}}``;
* Tempo ``GET /api/search`` (``{"traces": [{"traceID": ...}]}``) and ``GET /api/traces/<id>``
  (OTLP-like JSON under ``batches``);
* Jaeger ``GET /api/v3/traces`` (``{"result": {"resourceSpans": [...]}}``).

:class:`AuthenticatingProxy` stands for the reverse proxy (oauth2-proxy, an ingress with
``auth_request``) that puts bearer-token authentication in front of a real server, here the test
suite's real Prometheus: it checks the headers, then forwards the request unchanged.

Both answer a request missing any of the ``required`` headers (compared exactly) with 401 and a
``WWW-Authenticate`` challenge, as such proxies do, and record every request's ``Authorization`` and
``X-Scope-OrgID`` headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from .server import FakeServer, RecordedRequest, pick_headers, split_target

_RECORDED_HEADERS = ("Authorization", "X-Scope-OrgID")
SERVICE, VERSION = "checkout", "v2"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
LOG_LINE = "level=error msg=payment declined"


class _Guarded(FakeServer[RecordedRequest]):
    def __init__(self, required: Mapping[str, str]) -> None:
        super().__init__()
        self.required = dict(required)

    def _admit(self, request: web.Request) -> web.Response | None:
        """Record the request; a 401 answer when a required header is missing or wrong."""
        path, query = split_target(request.raw_path)
        recorded = RecordedRequest(
            request.method, path, query, pick_headers(request.headers, _RECORDED_HEADERS), None
        )
        with self._lock:
            self._record(recorded)
        if all(request.headers.get(name) == value for name, value in self.required.items()):
            return None
        return web.Response(
            status=401, text="unauthorized\n", headers={"WWW-Authenticate": 'Bearer realm="telemetry"'}
        )


def _resource_spans(start_ns: int) -> list[dict[str, Any]]:
    attributes = [
        {"key": "service.name", "value": {"stringValue": SERVICE}},
        {"key": "service.version", "value": {"stringValue": VERSION}},
    ]
    span = {
        "traceId": TRACE_ID, "spanId": "b7ad6b7169203331", "name": "GET /pay", "kind": 2,
        "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + 25_000_000),
        "status": {"code": 2},
    }  # fmt: skip
    return [{"resource": {"attributes": attributes}, "scopeSpans": [{"spans": [span]}]}]


class GuardedTelemetry(_Guarded):
    """Loki, Tempo and Jaeger query APIs (one log line, one trace) that demand ``required`` headers."""

    _server_name = "guarded-telemetry"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        refused = self._admit(request)
        if refused is not None:
            return refused
        path, query = split_target(request.raw_path)
        if path == "/loki/api/v1/query_range":
            start = query["start"][0]
            stream = {"service_name": SERVICE, "level": "error"}
            result = [{"stream": stream, "values": [[start, LOG_LINE]]}]
            return web.json_response(
                {"status": "success", "data": {"resultType": "streams", "result": result}}
            )
        if path == "/api/search":
            return web.json_response({"traces": [{"traceID": TRACE_ID, "rootServiceName": SERVICE}]})
        if path == f"/api/traces/{TRACE_ID}":
            return web.json_response({"batches": _resource_spans(int(query["start"][0]) * 10**9)})
        if path == "/api/v3/traces":
            return web.json_response({"result": {"resourceSpans": _resource_spans(_v3_start_ns(query))}})
        return web.Response(status=404, text=f"404 page not found: {path}\n")


def _v3_start_ns(query: Mapping[str, list[str]]) -> int:
    """``query.start_time_min`` (RFC 3339) as Unix nanoseconds."""
    moment = datetime.fromisoformat(query["query.start_time_min"][0].replace("Z", "+00:00"))
    return int(moment.timestamp()) * 10**9


class AuthenticatingProxy(_Guarded):
    """Checks the ``required`` headers, then forwards each request to ``upstream`` (a real server)."""

    _server_name = "authenticating-proxy"

    def __init__(self, upstream: str, required: Mapping[str, str]) -> None:
        super().__init__(required)
        self.upstream = upstream.rstrip("/")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        refused = self._admit(request)
        if refused is not None:
            return refused
        body = await request.read()
        # The credentials were for the proxy: the upstream gets the rest of the request as it came.
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept")}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.upstream + request.raw_path, data=body, headers=headers
            ) as answer,
        ):
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                content_type=answer.content_type,
            )
