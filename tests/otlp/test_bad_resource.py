"""Resource attributes the store cannot keep are rejected at the OTLP route, with a reason.

Over the daemon's real OTLP/HTTP route and a real store (SQLite file and PostgreSQL): a NUL in
``service.name`` (which PostgreSQL refuses in text) or an absurdly long attribute gets its
records rejected in the partial success; the other resources of the request, and later
requests, are stored.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from monitor.api.app import create_app
from monitor.api.keys import METRICS, STORE
from monitor.api.otlp import RECEIVER
from monitor.store import Store

POSTGRES = os.environ.get("MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture(params=["sqlite", "postgresql"])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    """The daemon's app (no Prometheus: OTLP only) on a fresh database of each backend."""
    name = f"monitor_otlp_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'monitor.db'}"
    else:
        admin = await asyncpg.connect(POSTGRES)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    store = await Store.open(url)
    test_client: TestClient[Any, Any] = TestClient(TestServer(create_app(store, None, None)))  # type: ignore[arg-type]
    await test_client.start_server()
    yield test_client
    await test_client.close()
    await store.close()
    if request.param == "postgresql":
        admin = await asyncpg.connect(POSTGRES)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _resource_logs(request: ExportLogsServiceRequest, attributes: dict[str, str], records: int) -> None:
    resource = request.resource_logs.add()
    for key, value in attributes.items():
        attribute = resource.resource.attributes.add()
        attribute.key, attribute.value.string_value = key, value
    at = int(datetime.now(UTC).timestamp() * 1e9)
    scope = resource.scope_logs.add()
    for index in range(records):
        record = scope.log_records.add()
        record.time_unix_nano, record.severity_number = at, 17
        record.body.string_value = f"disk full on volume {index}"


async def _post_logs(client: TestClient[Any, Any], request: ExportLogsServiceRequest) -> Any:
    answer = await client.post("/v1/logs", data=request.SerializeToString(), headers=PROTOBUF)
    assert answer.status == 200
    return ExportLogsServiceResponse.FromString(await answer.read()).partial_success


async def _stored_count(client: TestClient[Any, Any], service: str) -> int:
    app = client.server.app
    now = datetime.now(UTC)
    rows = await app[STORE].telemetry(
        "logs", service, "testing", now - timedelta(hours=1), now + timedelta(hours=1)
    )
    return len(rows)


async def test_a_nul_in_service_name_is_rejected_and_the_rest_lands(client: TestClient[Any, Any]) -> None:
    request = ExportLogsServiceRequest()
    _resource_logs(request, {"service.name": "shop\x00evil", "deployment.environment.name": "testing"}, 3)
    _resource_logs(request, {"service.name": "shop", "deployment.environment.name": "testing"}, 2)
    partial = await _post_logs(client, request)
    assert partial.rejected_log_records == 3
    assert partial.error_message == (
        "3 log records whose resource attribute service.name 'shop\\x00evil' contains a NUL character"
    )
    app = client.server.app
    assert await app[RECEIVER].flush(app[STORE], app[METRICS]) == 1
    assert await _stored_count(client, "shop") == 1

    later = ExportLogsServiceRequest()
    _resource_logs(later, {"service.name": "shop", "deployment.environment.name": "testing"}, 4)
    assert (await _post_logs(client, later)).rejected_log_records == 0
    assert await app[RECEIVER].flush(app[STORE], app[METRICS]) == 1
    assert await _stored_count(client, "shop") == 2
    metrics = await (await client.get("/metrics")).text()
    assert 'monitor_otlp_dropped_aggregates_total{reason="refused"} 0.0' in metrics


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"service.name": "s" * 201}, "resource attribute service.name is over 200 characters"),
        (
            {"service.name": "shop", "deployment.environment.name": "e" * 101},
            "resource attribute deployment.environment.name is over 100 characters",
        ),
        (
            {"service.name": "shop", "deployment.environment": "testing", "service.version": "v\x00"},
            "resource attribute service.version 'v\\x00' contains a NUL character",
        ),
    ],
)
async def test_spans_of_an_unfit_resource_are_rejected_with_the_reason(
    client: TestClient[Any, Any], attributes: dict[str, str], reason: str
) -> None:
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    for key, value in attributes.items():
        attribute = resource.resource.attributes.add()
        attribute.key, attribute.value.string_value = key, value
    at = int(datetime.now(UTC).timestamp() * 1e9)
    span = resource.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 16, b"\x02" * 8, "GET /x"
    span.start_time_unix_nano, span.end_time_unix_nano = at, at + 5_000_000
    answer = await client.post("/v1/traces", data=request.SerializeToString(), headers=PROTOBUF)
    assert answer.status == 200
    partial = ExportTraceServiceResponse.FromString(await answer.read()).partial_success
    assert partial.rejected_spans == 1 and partial.error_message == f"1 spans whose {reason}"
    app = client.server.app
    assert await app[RECEIVER].flush(app[STORE], app[METRICS]) == 0
