"""Loki and Tempo as pull sources, and ``monitor analyze --loki-url/--tempo-url`` end to end.

No Loki or Tempo can run here: both are aiohttp fakes that follow the documented responses in
the shared reference contracts (Loki ``query_range`` streams with nanosecond timestamps as
strings, plain-text 400 errors; Tempo ``/api/search`` and ``/api/traces/<id>`` with ``batches``
and base64 ids). Metrics come from the session's real Prometheus (scenario ``aa``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.errors import BackendUnavailable, QueryError
from monitor.logs.counts import Level
from monitor.models import Window
from monitor.simulate import SimulatedPrometheus
from monitor.sources.jaeger import legacy_to_otlp
from monitor.sources.loki import LokiSource
from monitor.timeparse import format_time

pytestmark = pytest.mark.prometheus


@dataclass
class Backends:
    """What the fakes hold: log lines and traces per (service, version)."""

    lines: list[tuple[str, str, int, str, str]] = field(
        default_factory=list
    )  # service, version, ns, line, level
    traces: dict[str, tuple[str, str, list[dict[str, Any]]]] = field(
        default_factory=dict
    )  # id -> svc, ver, spans


def _ns(raw: str) -> int:
    # Loki's rule: a '.' means float seconds; <= 10 digits seconds; longer integers nanoseconds.
    if "." in raw:
        return int(float(raw) * 1e9)
    return int(raw) * 10**9 if len(raw) <= 10 else int(raw)


def _loki(backends: Backends) -> web.Application:
    async def query_range(request: web.Request) -> web.Response:
        query = request.query["query"]
        metric = re.fullmatch(
            r"sum by \(level\) \(count_over_time\("
            r'\{service_name="([^"]+)"\} \| service_version="([^"]+)" \[1m\]\)\)',
            query,
        )
        if metric is not None:  # a matrix: lines per level, one point per series here
            start, end = _ns(request.query["start"]), _ns(request.query["end"])
            per_level: dict[str, int] = {}
            for service, version, ns, _, level in backends.lines:
                if (service, version) == metric.groups() and start <= ns < end:
                    per_level[level] = per_level.get(level, 0) + 1
            result = [
                {"metric": {"level": level}, "values": [[start / 1e9, str(n)]]}
                for level, n in per_level.items()
            ]
            return web.json_response(
                {"status": "success", "data": {"resultType": "matrix", "result": result}}
            )
        match = re.fullmatch(r'\{service_name="([^"]+)"\} \| service_version="([^"]+)"', query)
        if match is None:
            return web.Response(status=400, text=f"parse error : syntax error in {query}")
        start, end = _ns(request.query["start"]), _ns(request.query["end"])
        limit = int(request.query.get("limit", "100"))
        chosen = sorted(
            (ns, line, level) for service, version, ns, line, level in backends.lines
            if (service, version) == match.groups() and start <= ns < end
        )[:limit]  # fmt: skip
        streams: dict[str, list[list[str]]] = {}
        for ns, line, level in chosen:
            streams.setdefault(level, []).append([str(ns), line])
        result = [{"stream": {"service_name": match[1], "level": level}, "values": values}
                  for level, values in streams.items()]  # fmt: skip
        return web.json_response({"status": "success", "data": {"resultType": "streams", "result": result}})

    app = web.Application()
    app.router.add_get("/loki/api/v1/query_range", query_range)
    return app


def _tempo(backends: Backends) -> web.Application:
    async def search(request: web.Request) -> web.Response:
        match = re.search(
            r'resource.service.name = "([^"]+)" && resource.service.version = "([^"]+)"', request.query["q"]
        )
        if match is None:
            return web.Response(status=400, text="invalid TraceQL query: parse error at line 1, col 1")
        limit = int(request.query.get("limit", "20"))
        ids = [
            tid
            for tid, (service, version, _) in backends.traces.items()
            if (service, version) == match.groups()
        ]
        return web.json_response({"traces": [{"traceID": tid} for tid in ids[:limit]], "metrics": {}})

    async def trace(request: web.Request) -> web.Response:
        found = backends.traces.get(request.match_info["id"])
        if found is None:
            return web.Response(status=404, text="trace not found")
        service, version, spans = found
        resource = {"attributes": [
            {"key": "service.name", "value": {"stringValue": service}},
            {"key": "service.version", "value": {"stringValue": version}},
        ]}  # fmt: skip
        return web.json_response({"batches": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]})

    app = web.Application()
    app.router.add_get("/api/search", search)
    app.router.add_get("/api/traces/{id}", trace)
    return app


@pytest.fixture
async def servers() -> AsyncIterator[tuple[Backends, str, str]]:
    backends = Backends()
    loki, tempo = TestServer(_loki(backends)), TestServer(_tempo(backends))
    await loki.start_server()
    await tempo.start_server()
    yield backends, str(loki.make_url("")).rstrip("/"), str(tempo.make_url("")).rstrip("/")
    await loki.close()
    await tempo.close()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _fill(backends: Backends, window: Window, version: str, regression: bool) -> None:
    start_ns = int(window.start.timestamp() * 1e9)
    for i in range(600):
        at = start_ns + i * 10**9
        backends.lines.append(("aa", version, at, f"served order {i} in {12 + i % 7} ms", "info"))
        if regression and i % 6 == 0:
            backends.lines.append(
                ("aa", version, at + 1, f"db pool exhausted after {30 + i % 50} ms", "error")
            )
    for t in range(100):
        trace_id = f"{version}-{t}".encode().ljust(16, b"\0")
        parent = trace_id[:8]
        at = start_ns + t * 5 * 10**9
        spans = [{"traceId": _b64(trace_id), "spanId": _b64(parent), "name": "GET /orders", "kind": 2,
                  "startTimeUnixNano": str(at), "endTimeUnixNano": str(at + 20_000_000)}]  # fmt: skip
        for q in range(5 if regression else 1):
            spans.append({
                "traceId": _b64(trace_id), "spanId": _b64(bytes([q + 1]) * 8), "parentSpanId": _b64(parent),
                "name": "SELECT orders", "kind": 3, "startTimeUnixNano": str(at + q),
                "endTimeUnixNano": str(at + 10**6),
            })  # fmt: skip
        backends.traces[trace_id.hex()] = ("aa", version, spans)


async def test_loki_pages_forward_and_reads_levels(
    servers: tuple[Backends, str, str], prometheus: SimulatedPrometheus
) -> None:
    backends, loki_url, _ = servers
    window = prometheus.runs["aa"].canary_window
    _fill(backends, window, "v2", regression=True)
    lines = await LokiSource(loki_url, page=250).lines("aa", "v2", window)
    assert len(lines) == 700 and [ns for ns, _, _ in lines] == sorted(ns for ns, _, _ in lines)
    assert sum(1 for _, _, level in lines if level is Level.ERROR) == 100


async def test_loki_metric_queries_count_lines_per_series(
    servers: tuple[Backends, str, str], prometheus: SimulatedPrometheus
) -> None:
    backends, loki_url, _ = servers
    window = prometheus.runs["aa"].canary_window
    _fill(backends, window, "v2", regression=True)
    selector = 'sum by (level) (count_over_time({service_name="$service"} | service_version="$version" [1m]))'
    lines = await LokiSource(loki_url, selector=selector).lines("aa", "v2", window)
    levels = [level for _, _, level in lines]
    assert (levels.count(Level.INFO), levels.count(Level.ERROR)) == (600, 100)
    assert {text for _, text, _ in lines} == {"level=info", "level=error"}


async def test_loki_errors_are_clear(
    servers: tuple[Backends, str, str], prometheus: SimulatedPrometheus
) -> None:
    _, loki_url, _ = servers
    window = prometheus.runs["aa"].canary_window
    with pytest.raises(QueryError, match="parse error"):
        await LokiSource(loki_url, selector='{app="$service"').lines("aa", "v2", window)
    with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:9"):
        await LokiSource("http://127.0.0.1:9", timeout_s=2).lines("aa", "v2", window)


async def _analyze(
    prometheus: SimulatedPrometheus, loki_url: str, tempo_url: str, jaeger: str = ""
) -> tuple[int, dict[str, Any]]:
    run = prometheus.runs["aa"]
    urls = (("--loki-url", loki_url), ("--tempo-url", tempo_url), ("--jaeger-url", jaeger))
    pulled = [part for flag, url in urls if url for part in (flag, url)]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor.cli", "analyze", "--prometheus-url", prometheus.url, "--service", "aa",
        "--canary-version", run.scenario.canary_version, "--baseline-version", run.scenario.baseline_version,
        "--start", format_time(run.canary_window.start), "--end", format_time(run.canary_window.end),
        *pulled, "--output", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None and out, err.decode()
    return process.returncode, json.loads(out)


async def test_analyze_judges_pulled_logs_and_traces(
    servers: tuple[Backends, str, str], prometheus: SimulatedPrometheus
) -> None:
    backends, loki_url, tempo_url = servers
    run = prometheus.runs["aa"]
    _fill(backends, run.canary_window, run.scenario.baseline_version, regression=False)
    _fill(backends, run.canary_window, run.scenario.canary_version, regression=True)
    code, verdict = await _analyze(prometheus, loki_url, tempo_url)
    checks = {c["name"]: c for c in verdict["checks"]}
    assert code == 1 and verdict["verdict"] == "fail", verdict["summary"]
    assert (
        checks["log_templates"]["classification"] == "high"
        and "db pool exhausted" in checks["log_templates"]["message"]
    )
    assert (
        checks["trace_fanout"]["classification"] == "high"
        and "SELECT orders" in checks["trace_fanout"]["message"]
    )


async def test_analyze_passes_a_clean_pair_with_pulled_telemetry(
    servers: tuple[Backends, str, str], prometheus: SimulatedPrometheus
) -> None:
    backends, loki_url, tempo_url = servers
    run = prometheus.runs["aa"]
    for version in (run.scenario.baseline_version, run.scenario.canary_version):
        _fill(backends, run.canary_window, version, regression=False)
    code, verdict = await _analyze(prometheus, loki_url, tempo_url)
    assert code == 0 and verdict["verdict"] == "pass", verdict["summary"]
    assert {"log_templates", "trace_fanout"} <= {c["name"] for c in verdict["checks"]}


def _hex(b64: str) -> str:
    return base64.b64decode(b64).hex()


def _jaeger(backends: Backends, v3: bool) -> web.Application:
    """Jaeger's query service: the v3 search (OTLP JSON, hex ids) or only the legacy search."""

    def matching(service: str) -> list[tuple[str, str, list[dict[str, Any]]]]:
        return [found for found in backends.traces.values() if found[0] == service]

    def hex_ids(span: dict[str, Any]) -> dict[str, Any]:
        ids = {key: _hex(span[key]) for key in ("traceId", "spanId", "parentSpanId") if key in span}
        return {**span, **ids}

    def resource(service: str, version: str) -> dict[str, Any]:
        return {"attributes": [{"key": "service.name", "value": {"stringValue": service}},
                               {"key": "service.version", "value": {"stringValue": version}}]}  # fmt: skip

    async def search_v3(request: web.Request) -> web.Response:
        if not v3:
            return web.Response(status=404, text="404 page not found")
        resource_spans = [
            {"resource": resource(service, version), "scopeSpans": [{"spans": [hex_ids(s) for s in spans]}]}
            for service, version, spans in matching(request.query["query.service_name"])
        ]
        return web.json_response({"result": {"resourceSpans": resource_spans}})

    def jaeger_span(s: dict[str, Any]) -> dict[str, Any]:
        parent = [
            {"refType": "CHILD_OF", "traceID": _hex(s["traceId"]), "spanID": _hex(s.get("parentSpanId", ""))}
        ]
        kind = "server" if s["kind"] == 2 else "client"
        return {
            "traceID": _hex(s["traceId"]), "spanID": _hex(s["spanId"]), "operationName": s["name"],
            "references": parent if "parentSpanId" in s else [],
            "startTime": int(s["startTimeUnixNano"]) // 1000,
            "duration": (int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) // 1000,
            "tags": [{"key": "span.kind", "type": "string", "value": kind}], "logs": [], "processID": "p1",
        }  # fmt: skip

    async def search_legacy(request: web.Request) -> web.Response:
        if "service" not in request.query:
            errors = [{"code": 400, "msg": "parameter 'service' is required"}]
            return web.json_response({"data": None, "errors": errors})
        data = []
        for _, version, spans in matching(request.query["service"]):
            tags = [{"key": "service.version", "type": "string", "value": version}]
            data.append({"traceID": _hex(spans[0]["traceId"]), "spans": [jaeger_span(s) for s in spans],
                         "processes": {"p1": {"serviceName": "aa", "tags": tags}}})  # fmt: skip
        return web.json_response({"data": data, "total": 0, "limit": 0, "offset": 0, "errors": None})

    app = web.Application()
    app.router.add_get("/api/v3/traces", search_v3)
    app.router.add_get("/api/traces", search_legacy)
    return app


@pytest.mark.parametrize("v3", [True, False], ids=["v3", "legacy"])
async def test_analyze_reads_traces_from_jaeger(
    servers: tuple[Backends, str, str], prometheus: SimulatedPrometheus, v3: bool
) -> None:
    backends, _, _ = servers
    run = prometheus.runs["aa"]
    _fill(backends, run.canary_window, run.scenario.baseline_version, regression=False)
    _fill(backends, run.canary_window, run.scenario.canary_version, regression=True)
    jaeger = TestServer(_jaeger(backends, v3))
    await jaeger.start_server()
    try:
        code, verdict = await _analyze(prometheus, "", "", jaeger=str(jaeger.make_url("")).rstrip("/"))
    finally:
        await jaeger.close()
    checks = {c["name"]: c for c in verdict["checks"]}
    assert checks["trace_fanout"]["classification"] == "high", verdict["summary"]
    assert "SELECT orders (client)" in checks["trace_fanout"]["message"]
    # Fan-out is critical by default (an N+1 loop fails a deploy): exit 1.
    assert (code, verdict["verdict"]) == (1, "fail")
    assert "log_templates" not in checks  # no Loki given: the log checks do not take part


def test_jaeger_model_errors_and_exceptions_become_otlp() -> None:
    trace = {
        "traceID": "abc", "processes": {"p1": {"serviceName": "shop", "tags": [
            {"key": "service.version", "type": "string", "value": "v2"}, {"key": "host", "value": "x"}]}},
        "spans": [{
            "traceID": "abc", "spanID": "1", "operationName": "GET /pay", "references": [],
            "startTime": 1_700_000_000_000_000, "duration": 1500, "processID": "p1",
            "tags": [{"key": "span.kind", "value": "server"}, {"key": "error", "value": True}],
            "logs": [{"timestamp": 1_700_000_000_000_100, "fields": [
                {"key": "event", "value": "exception"}, {"key": "exception.type", "value": "KeyError"}]}],
        }],
    }  # fmt: skip
    [resource] = legacy_to_otlp(trace)["resourceSpans"]
    assert {a["key"]: a["value"]["stringValue"] for a in resource["resource"]["attributes"]} == {
        "service.name": "shop", "service.version": "v2",
    }  # fmt: skip
    [span] = resource["scopeSpans"][0]["spans"]
    assert (span["kind"], span["status"]["code"], span["traceId"]) == (2, 2, "abc".rjust(32, "0"))
    assert int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"]) == 1_500_000
    assert span["events"][0]["attributes"][0]["value"]["stringValue"] == "KeyError"
