"""Bodies that are small on the wire but huge once decoded are refused before decoding.

An empty protobuf message takes 2 bytes on the wire and about 64 once decoded: 14 MB of 7 million
empty ``ResourceSpans`` used to cost 16 s of CPU and 440 MB of memory, and the receiver's budget
was checked only after the body had been read. The burst test runs ``monitor serve`` in its own
process, so the peak memory measured is the daemon's alone.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from monitor.api import otlp
from monitor.otlp.census import MAX_ITEMS, MAX_JSON_VALUES, MAX_MESSAGES
from monitor.otlp.decode import PROTOBUF
from monitor.simulate.prometheus import free_port, wait_for_http

PROTOBUF_HEADERS = {"Content-Type": PROTOBUF}
EMPTY_RESOURCES = b"\x0a\x00" * 7_000_000  # 7 M empty ResourceSpans: 14 MB, under the 16 MiB limit
TOKEN = "k" * 32
BURST = 40
MAX_PEAK_RSS_KIB = 300 * 1024


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field: its tag byte, the payload's length as a varint, the payload."""
    length, varint = len(payload), bytearray()
    while length > 0x7F:
        varint.append(length & 0x7F | 0x80)
        length >>= 7
    varint.append(length)
    return bytes([tag]) + bytes(varint) + payload


def _status(raw: bytes) -> str:
    return str(Status.FromString(raw).message)


async def test_millions_of_empty_resources_are_refused_naming_the_cap(client: TestClient[Any, Any]) -> None:
    answer = await client.post("/v1/traces", data=EMPTY_RESOURCES, headers=PROTOBUF_HEADERS)
    assert answer.status == 413
    message = _status(await answer.read())
    assert f"more than {MAX_ITEMS:,} items" in message and "spans" in message
    assert "smaller batches" in message


async def test_millions_of_empty_attributes_in_one_span_are_refused(client: TestClient[Any, Any]) -> None:
    span = b"\x4a\x00" * (MAX_MESSAGES + 1)  # field 9, attributes: an empty KeyValue each
    body = _field(0x0A, _field(0x12, _field(0x12, span)))  # resource_spans > scope_spans > spans
    answer = await client.post("/v1/traces", data=body, headers=PROTOBUF_HEADERS)
    assert answer.status == 413 and f"more than {MAX_MESSAGES:,} protobuf messages" in _status(
        await answer.read()
    )


async def test_a_group_cannot_hide_what_follows_from_the_count(client: TestClient[Any, Any]) -> None:
    body = b"\x0b\x0c" + EMPTY_RESOURCES  # an empty group, which the decoder skips as unknown
    answer = await client.post("/v1/traces", data=body, headers=PROTOBUF_HEADERS)
    assert answer.status == 400 and "wire type 3 at byte 1" in _status(await answer.read())


async def test_log_records_count_as_items(client: TestClient[Any, Any]) -> None:
    scope = b"\x12\x00" * (MAX_ITEMS + 1)  # field 2, log_records: empty ones
    body = _field(0x0A, _field(0x12, scope))
    answer = await client.post("/v1/logs", data=body, headers=PROTOBUF_HEADERS)
    assert answer.status == 413 and "log records together" in _status(await answer.read())
    under = _field(0x0A, _field(0x12, b"\x12\x00" * (MAX_ITEMS - 2)))  # with its resource and scope
    answer = await client.post("/v1/logs", data=under, headers=PROTOBUF_HEADERS)
    assert answer.status == 200  # at the cap: decoded, and each record judged on its own
    response = ExportLogsServiceResponse.FromString(await answer.read())
    assert response.partial_success.rejected_log_records == MAX_ITEMS - 2  # none names its service


@pytest.mark.parametrize(
    "document",
    [
        b'{"resourceSpans": [' + b"{}," * 2_000_000 + b"{}]}",
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": ['
        + b"{}," * MAX_JSON_VALUES
        + b"{}]}]}]}]}",
    ],
)
async def test_json_is_counted_before_it_is_parsed(client: TestClient[Any, Any], document: bytes) -> None:
    answer = await client.post("/v1/traces", data=document, headers={"Content-Type": "application/json"})
    assert answer.status == 413
    assert f"more than {MAX_JSON_VALUES:,} JSON objects and arrays" in (await answer.json())["message"]


async def test_braces_inside_strings_are_not_counted(client: TestClient[Any, Any]) -> None:
    attribute = {"key": "payload", "value": {"stringValue": "{[" * MAX_JSON_VALUES}}
    body = json.dumps({"resourceLogs": [{"resource": {"attributes": [attribute]}}]}).encode()
    answer = await client.post("/v1/logs", data=body, headers={"Content-Type": "application/json"})
    assert answer.status == 200


async def test_the_budget_is_reserved_before_the_body_is_read(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = ExportLogsServiceRequest().SerializeToString() + b"\x0a\x00" * 10
    monkeypatch.setattr(otlp, "MAX_PENDING_BYTES", len(body))
    for _ in range(2):  # each request gives its reservation back
        assert (await client.post("/v1/logs", data=body, headers=PROTOBUF_HEADERS)).status == 200

    async def chunked() -> AsyncIterator[bytes]:
        yield body

    # Without a Content-Length the whole body limit is reserved, which this budget cannot hold.
    answer = await client.post("/v1/logs", data=chunked(), headers=PROTOBUF_HEADERS)
    assert answer.status == 429
    assert "busy" in _status(await answer.read())


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """``monitor serve`` with an ``ingest`` token, the engine inline: one process to measure."""
    (tmp_path / "token").write_text(TOKEN)
    config = tmp_path / "monitor.yaml"
    config.write_text(
        f"tokens:\n  - {{name: collector, scopes: [ingest], token_file: {tmp_path / 'token'}}}\n"
    )
    port, nowhere = free_port(), free_port()  # Prometheus is never queried: no deployment is registered
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "serve", "--listen", f"127.0.0.1:{port}", "--engine", "inline",
         "--prometheus-url", f"http://127.0.0.1:{nowhere}", "--database", f"sqlite:///{tmp_path / 'm.db'}",
         "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_http(f"{url}/healthz"), "monitor serve did not come up"
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


async def test_a_burst_of_amplifying_bodies_keeps_the_daemon_small(daemon: tuple[str, int]) -> None:
    url, pid = daemon
    headers = {**PROTOBUF_HEADERS, "Authorization": f"Bearer {TOKEN}"}

    async def send(session: aiohttp.ClientSession) -> tuple[int, str]:
        async with session.post(f"{url}/v1/traces", data=EMPTY_RESOURCES, headers=headers) as answer:
            return answer.status, _status(await answer.read())

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        answers = await asyncio.gather(*(send(session) for _ in range(BURST)))
    peak_kib = _peak_rss_kib(pid)
    assert peak_kib < MAX_PEAK_RSS_KIB, f"the daemon peaked at {peak_kib / 1024:.0f} MiB"
    statuses = sorted({status for status, _ in answers})
    assert set(statuses) <= {413, 429}, statuses
    assert all(f"{MAX_ITEMS:,} items" in message for status, message in answers if status == 413)
    assert statuses[0] == 413  # the budget let some in, and the census refused them
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as health:
        assert health.status == 200
