"""The OTLP/HTTP receiver fed by the real OpenTelemetry SDK exporters, and its bad-input answers.

A toy service runs in two versions with the SDK's OTLPSpanExporter and OTLPLogExporter pointed at
the daemon's app (SQLite store); v2 has an N+1 query loop, a new error log and an exception.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.trace import SpanKind, StatusCode

from monitor.api import otlp
from monitor.api.app import create_app
from monitor.api.keys import STORE
from monitor.api.otlp import RECEIVER
from monitor.config import TokenSpec
from monitor.otlp.decode import JSON, decode
from monitor.store import Store

REQUESTS = 40
Instrument = Callable[[str, str, str], AbstractContextManager[Any]]  # the conftest fixture


def _toy_service(instrument: Instrument, url: str, version: str, regression: bool) -> None:
    """Serve REQUESTS orders, instrumented with the SDK; v2 regresses when ``regression``."""
    with instrument(url, "shop", version) as toy:
        tracer, logger = toy.tracer, toy.logger
        for order in range(REQUESTS):
            with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER) as span:
                for _ in range(5 if regression else 1):  # the N+1 loop
                    with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT):
                        pass
                logger.info("served order %d in %d ms", order, 12 + order % 7)
                if regression and order % 4 == 0:
                    try:
                        raise TimeoutError("connection pool exhausted")
                    except TimeoutError as exc:
                        span.record_exception(exc)
                        span.set_status(StatusCode.ERROR)
                    logger.error("db pool exhausted after %d ms for user password=hunter2", 30 + order)


async def test_sdk_telemetry_of_two_versions_is_aggregated(
    client: TestClient[Any, Any], instrument: Instrument
) -> None:
    url = str(client.make_url("")).rstrip("/")
    await asyncio.gather(
        asyncio.to_thread(_toy_service, instrument, url, "v1", False),
        asyncio.to_thread(_toy_service, instrument, url, "v2", True),
    )
    app = client.server.app
    assert await app[RECEIVER].flush(app[STORE]) > 0
    now = datetime.now(UTC)
    logs = await app[STORE].telemetry(
        "logs", "shop", "testing", now - timedelta(hours=1), now + timedelta(hours=1)
    )
    spans = await app[STORE].telemetry(
        "spans", "shop", "testing", now - timedelta(hours=1), now + timedelta(hours=1)
    )

    def merged(rows: list[Any], version: str, field: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for row in rows:
            if row.version == version:
                for name, item in json.loads(row.payload_json)[field].items():
                    out.setdefault(name, []).append(item)
        return out

    v1_templates, v2_templates = merged(logs, "v1", "templates"), merged(logs, "v2", "templates")
    assert sum(i["count"] for items in v1_templates.values() for i in items) == REQUESTS
    new = [t for t in v2_templates if t not in v1_templates]
    assert len(new) == 1 and "db pool exhausted" in new[0]
    error_items = v2_templates[new[0]]
    assert sum(i["count"] for i in error_items) == REQUESTS // 4 and error_items[0]["level"] == "ERROR"
    assert all("hunter2" not in e for i in error_items for e in i["examples"])  # redacted before storage

    v1_ops, v2_ops = merged(spans, "v1", "operations"), merged(spans, "v2", "operations")
    get_v1, get_v2 = v1_ops["GET /orders (server)"], v2_ops["GET /orders (server)"]
    calls_v1 = sum(i["calls"].get("SELECT orders (client)", 0) for i in get_v1) / sum(
        i["count"] for i in get_v1
    )
    calls_v2 = sum(i["calls"].get("SELECT orders (client)", 0) for i in get_v2) / sum(
        i["count"] for i in get_v2
    )
    assert (calls_v1, calls_v2) == (1.0, 5.0)  # fan-out per request: the N+1 loop shows
    assert sum(i["errors"] for i in get_v2) == REQUESTS // 4
    assert sum(i["exceptions"].get("TimeoutError", 0) for i in get_v2) == REQUESTS // 4
    exemplars = [e for i in get_v2 for e in i["exemplars"]]
    assert exemplars and all(len(e) == 32 for e in exemplars)
    assert sum(i["count"] for i in v2_ops["SELECT orders (client)"]) == 5 * REQUESTS


def _logs_request(service: str | None, *, age: timedelta = timedelta(0)) -> ExportLogsServiceRequest:
    at = int((datetime.now(UTC) - age).timestamp() * 1e9)
    attributes = [{"key": "service.name", "value": {"stringValue": service}}] if service else []
    document = {
        "resourceLogs": [{
            "resource": {"attributes": attributes},
            "scopeLogs": [{"logRecords": [
                {"timeUnixNano": str(at), "severityNumber": 17, "body": {"stringValue": "disk full"},
                 "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"},
            ]}],
        }]
    }  # fmt: skip
    return decode(json.dumps(document).encode(), JSON, ExportLogsServiceRequest())


async def test_partial_success_names_what_was_rejected(client: TestClient[Any, Any]) -> None:
    request = _logs_request(None)
    request.resource_logs.append(_logs_request("shop").resource_logs[0])
    request.resource_logs.append(_logs_request("shop", age=timedelta(days=30)).resource_logs[0])
    answer = await client.post(
        "/v1/logs", data=request.SerializeToString(), headers={"Content-Type": "application/x-protobuf"}
    )
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("application/x-protobuf")
    response = ExportLogsServiceResponse.FromString(await answer.read())
    assert response.partial_success.rejected_log_records == 2
    assert "service.name" in response.partial_success.error_message
    assert "7 days" in response.partial_success.error_message
    metrics = await (await client.get("/metrics")).text()
    assert 'monitor_otlp_records_total{outcome="rejected",signal="logs"} 2.0' in metrics


async def test_json_with_hex_ids_and_gzip(client: TestClient[Any, Any]) -> None:
    at = int(datetime.now(UTC).timestamp() * 1e9)
    body = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "eee19b7ec3c1b174", "name": "GET /x",
            "kind": 2, "startTimeUnixNano": str(at), "endTimeUnixNano": str(at + 5_000_000),
            "unknownField": 1,
        }]}],
    }]}  # fmt: skip
    answer = await client.post(
        "/v1/traces", data=gzip.compress(json.dumps(body).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )  # fmt: skip
    assert answer.status == 200 and await answer.json() == {}  # full success: no partialSuccess


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (b"\x0a\xff\xff\xff", {"Content-Type": "application/x-protobuf"}, 400, "does not parse"),
        (b"{not json", {"Content-Type": "application/json"}, 400, "JSON body does not parse"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "must be an object"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "is not OTLP"),
        (
            b"\x1f\x8b\x08\x00garbage",
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            400,
            "gzip",
        ),
        (b"{}", {"Content-Type": "application/json", "Content-Encoding": "compress"}, 415, "gzip or none"),
    ],
)
async def test_bad_bodies_get_a_reason(
    client: TestClient[Any, Any], body: bytes, headers: dict[str, str], status: int, words: str
) -> None:
    answer = await client.post("/v1/traces", data=body, headers=headers)
    assert answer.status == status
    raw = await answer.read()
    if answer.headers["Content-Type"].startswith("application/x-protobuf"):
        message = Status.FromString(raw).message
    else:
        message = json.loads(raw)["message"]
    assert words in message


async def test_a_gzip_bomb_is_refused(client: TestClient[Any, Any]) -> None:
    bomb = gzip.compress(b"{" + b" " * (17 * 1024 * 1024) + b"}")
    answer = await client.post(
        "/v1/logs", data=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert answer.status == 413 and "MiB" in (await answer.json())["message"]


async def test_a_busy_receiver_pushes_back(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlp, "MAX_PENDING_BYTES", 10)
    answer = await client.post(
        "/v1/logs",
        data=_logs_request("shop").SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert answer.status == 429 and answer.headers["Retry-After"] == str(otlp.RETRY_AFTER_S)


async def test_ingest_needs_the_ingest_scope(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'scoped.db'}")
    tokens = [TokenSpec("collector", ("ingest",), "i" * 32), TokenSpec("grafana", ("read",), "r" * 32)]
    scoped: TestClient[Any, Any] = TestClient(TestServer(create_app(store, None, tokens)))  # type: ignore[arg-type]
    await scoped.start_server()
    try:
        body, kind = _logs_request("shop").SerializeToString(), {"Content-Type": "application/x-protobuf"}
        assert (await scoped.post("/v1/logs", data=body, headers=kind)).status == 401
        read_only = {**kind, "Authorization": "Bearer " + "r" * 32}
        assert (await scoped.post("/v1/logs", data=body, headers=read_only)).status == 403
        collector = {**kind, "Authorization": "Bearer " + "i" * 32}
        assert (await scoped.post("/v1/logs", data=body, headers=collector)).status == 200
        registering = await scoped.post("/api/v1/deployments", json={}, headers=collector)
        assert registering.status == 403  # ingest cannot register deployments
    finally:
        await scoped.close()
        await store.close()
