"""A fake Tempo query API for tests.

No Tempo can run on this machine, so this fake follows the documented contract (Tempo's
``docs/sources/tempo/api_docs/_index.md``, ``pkg/api/http.go``):

* ``GET /api/search?q=<TraceQL>&limit=20&start=<unix s>&end=<unix s>`` answers
  ``{"traces": [{"traceID", "rootServiceName", "rootTraceName", "startTimeUnixNano", "durationMs"}],
  "metrics": {"inspectedTraces": N}}`` (uint64s as strings); only the query the monitor sends is
  understood, ``{ resource.service.name = "S" && resource.service.version = "V" }``, anything else is
  400 ``invalid TraceQL query: parse error at line 1, col 1``;
* ``GET /api/traces/<hex id>`` answers OTLP-like JSON under ``"batches"`` with base64 ids (Tempo
  marshals with gogo jsonpb), or 404 ``trace not found``;
* errors are ``text/plain``.

Traces are added with :meth:`TempoFake.add_trace`; :meth:`TempoFake.fail_next` scripts failures (503).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .server import PlainTextFake

_QUERY = re.compile(
    r'\{ resource\.service\.name = "((?:[^"\\]|\\.)*)" && resource\.service\.version = "((?:[^"\\]|\\.)*)" \}'
)


@dataclass(frozen=True)
class StoredTrace:
    """One trace: the spans of one service version (OTLP JSON spans with base64 ids)."""

    trace_id: bytes
    service: str
    version: str
    spans: tuple[dict[str, Any], ...]

    @property
    def start_ns(self) -> int:
        return min(int(s["startTimeUnixNano"]) for s in self.spans)

    @property
    def end_ns(self) -> int:
        return max(int(s["endTimeUnixNano"]) for s in self.spans)


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


class TempoFake(PlainTextFake):
    """Tempo's query API on ``127.0.0.1`` and a free port, served from a background thread."""

    _server_name = "tempo-fake"

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(host=host, port=port)
        self._traces: dict[str, StoredTrace] = {}

    def add_trace(self, trace: StoredTrace) -> None:
        with self._lock:
            self._traces[trace.trace_id.hex()] = trace

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path, query, failure = self._admit(request)
        if failure is not None:
            return failure
        with self._lock:
            traces = dict(self._traces)
        params = {key: values[-1] for key, values in query.items()}
        if request.method == "GET" and path == "/api/search":
            return self._search(params, traces)
        found = re.fullmatch(r"/api/traces/([0-9a-fA-F]+)", path)
        if request.method == "GET" and found is not None:
            trace = traces.get(found[1].lower())
            if trace is None:
                return web.Response(status=404, text="trace not found")
            resource = {"attributes": [
                {"key": "service.name", "value": {"stringValue": trace.service}},
                {"key": "service.version", "value": {"stringValue": trace.version}},
            ]}  # fmt: skip
            batch = {"resource": resource, "scopeSpans": [{"scope": {}, "spans": list(trace.spans)}]}
            return web.Response(text=json.dumps({"batches": [batch]}), content_type="application/json")
        return web.Response(status=404, text="404 page not found\n")

    @staticmethod
    def _search(params: dict[str, str], traces: dict[str, StoredTrace]) -> web.Response:
        query = _QUERY.fullmatch(params.get("q", ""))
        if query is None:
            return web.Response(status=400, text="invalid TraceQL query: parse error at line 1, col 1")
        service, version = _unquote(query[1]), _unquote(query[2])
        start_ns = int(params.get("start", "0")) * 10**9
        end_ns = int(params["end"]) * 10**9 if "end" in params else 2**63 - 1
        matching = sorted(
            (t for t in traces.values() if (t.service, t.version) == (service, version)
             and start_ns <= t.start_ns <= end_ns),
            key=lambda t: t.start_ns, reverse=True,
        )  # fmt: skip
        limit = int(params.get("limit", "20"))
        found = [
            {"traceID": t.trace_id.hex(), "rootServiceName": t.service, "rootTraceName": t.spans[0]["name"],
             "startTimeUnixNano": str(t.start_ns), "durationMs": (t.end_ns - t.start_ns) // 10**6}
            for t in matching[:limit]
        ]  # fmt: skip
        body = {"traces": found, "metrics": {"inspectedTraces": len(traces)}}
        return web.Response(text=json.dumps(body), content_type="application/json")
