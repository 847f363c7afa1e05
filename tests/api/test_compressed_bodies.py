"""Compressed request bodies: refused unread where no route takes them, never inflated on the event loop.

A gzip bomb (1 GiB of zeros in about 1 MiB) sent to a route that does not take compressed bodies,
to an unknown path, or to the OTLP receiver without a token used to be answered at once and then
inflated by the HTTP server while it discarded the body, stalling every other request.
"""

from __future__ import annotations

import asyncio
import gzip
import struct
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from monitor.api.app import create_app
from monitor.api.compression import BodyError, inflate
from monitor.config import TokenSpec
from monitor.store import Store

COLLECTOR, DEPLOYER = "c" * 32, "d" * 32
BOMB_MIB = 1024
# Nothing on the loop may take long while bombs are refused: a refused request costs parsing its
# headers and writing a short answer, well under a millisecond. A second is room for a loaded
# machine; inflating the three bombs below (3 GiB) on the loop takes several seconds.
MAX_LAG_S = 1.0


def gzip_of_zeros(size_mib: int) -> bytes:
    """A valid gzip stream of ``size_mib`` MiB of zeros, built without holding them.

    After a full flush deflate starts afresh, so the block that encodes one MiB of zeros is the
    same every time: it is computed once and repeated.
    """
    zeros = bytes(2**20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    again = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size_mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    last_block = b"\x01\x00\x00\xff\xff"  # an empty final stored block
    trailer = struct.pack("<II", crc, (size_mib * 2**20) & 0xFFFFFFFF)
    return header + first + again * (size_mib - 1) + last_block + trailer


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_of_zeros(BOMB_MIB)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestServer]:
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    tokens = [TokenSpec("collector", ("ingest",), COLLECTOR), TokenSpec("ci", ("read", "deploy"), DEPLOYER)]
    app = create_app(store, None, tokens)  # type: ignore[arg-type]  # no Prometheus: never queried
    test_server = TestServer(app)
    await test_server.start_server()
    yield test_server
    await test_server.close()
    await store.close()


def test_the_bomb_is_what_it_claims(bomb: bytes) -> None:
    assert gzip.decompress(gzip_of_zeros(3)) == bytes(3 * 2**20)
    assert len(bomb) < 1.1 * 2**20
    inflated = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert len(inflated.decompress(bomb[: 2**16], 2**30)) > 60 * 2**20  # its first 64 KiB: over 60 MiB


async def test_bombs_are_refused_unread_while_other_requests_are_served(
    server: TestServer, bomb: bytes
) -> None:
    lag_s = 0.0
    done = asyncio.Event()

    async def tick() -> None:
        # The server runs on this loop: how late a 10 ms sleep wakes is how long the loop was held.
        nonlocal lag_s
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            lag_s = max(lag_s, time.perf_counter() - start - 0.01)

    async def health_checks(session: aiohttp.ClientSession) -> int:
        answered = 0
        while not done.is_set():
            async with session.get(server.make_url("/healthz")) as response:
                assert response.status == 200
                answered += 1
            await asyncio.sleep(0.01)
        return answered

    async def send_bomb(session: aiohttp.ClientSession, path: str) -> tuple[int, dict[str, Any], str]:
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/x-protobuf"}
        async with session.post(server.make_url(path), data=bomb, headers=headers) as response:
            return response.status, await response.json(content_type=None), response.headers["Connection"]

    ticker = asyncio.create_task(tick())
    async with aiohttp.ClientSession() as bombs, aiohttp.ClientSession() as checks:
        checking = asyncio.create_task(health_checks(checks))
        answers = await asyncio.gather(*(send_bomb(bombs, p) for p in ("/healthz", "/nowhere", "/v1/logs")))
        await asyncio.sleep(1.0)  # what the server does with the bodies after answering counts too
        done.set()
        answered = await checking
    await ticker

    (health, health_body, health_connection), (unknown, unknown_body, _), (otlp, _, otlp_connection) = answers
    assert (health, unknown, otlp) == (415, 415, 401)
    assert "Content-Encoding 'gzip' is not accepted by POST /healthz" in health_body["detail"]
    assert health_body["field"] == "Content-Encoding" and "uncompressed" in health_body["detail"]
    assert "/nowhere" in unknown_body["detail"]
    assert health_connection == otlp_connection == "close"  # the unread body ends the connection
    assert answered > 0
    assert lag_s < MAX_LAG_S, f"the event loop stalled for {lag_s:.2f} s"


async def test_a_json_route_refuses_gzip_and_says_what_it_takes(server: TestServer) -> None:
    body = gzip.compress(b'{"service": "checkout"}')
    headers = {
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {DEPLOYER}",
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/api/v1/deployments"), data=body, headers=headers) as answer:
            assert answer.status == 415 and answer.headers["Accept-Encoding"] == "identity"
            assert "/v1/logs, /v1/traces take gzip" in (await answer.json())["detail"]
        # identity is no encoding at all: the request reaches the route (and its own checks)
        plain = {**headers, "Content-Encoding": "identity"}
        async with session.post(server.make_url("/api/v1/deployments"), json={}, headers=plain) as answer:
            assert answer.status == 400


async def test_the_receiver_takes_gzip_with_a_token(server: TestServer) -> None:
    headers = {
        "Content-Encoding": "GZIP",  # codings are case-insensitive
        "Content-Type": "application/json",
        "Authorization": f"Bearer {COLLECTOR}",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/v1/logs"), data=gzip.compress(b"{}"), headers=headers) as answer,
    ):
        assert answer.status == 200 and await answer.json() == {}
        assert answer.headers.get("Connection") != "close"


def test_inflate_stops_at_the_cap(bomb: bytes) -> None:
    with pytest.raises(BodyError, match="over 1 MiB") as refused:
        inflate(bomb, "gzip", 2**20)
    assert refused.value.status == 413
    assert inflate(gzip.compress(b"x" * 100), "gzip", 100) == b"x" * 100  # exactly the cap is fine


@pytest.mark.parametrize(
    ("raw", "coding", "expected"),
    [
        (gzip.compress(b"one ") + gzip.compress(b"two"), "gzip", b"one two"),  # concatenated members
        (zlib.compress(b"zlib-wrapped"), "deflate", b"zlib-wrapped"),
        (zlib.compress(b"raw deflate")[2:-4], "deflate", b"raw deflate"),  # as some clients send it
        (gzip.compress(b""), "gzip", b""),
    ],
)
def test_inflate_reads_what_clients_send(raw: bytes, coding: str, expected: bytes) -> None:
    assert inflate(raw, coding, 2**20) == expected


@pytest.mark.parametrize(
    ("raw", "coding", "status", "words"),
    [
        (gzip.compress(b"x" * 1000)[:-12], "gzip", 400, "truncated"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + b"\xff" * 20, "gzip", 400, "does not inflate"),
        (gzip.compress(b"x") + b"trailing junk", "gzip", 400, "does not inflate"),
        (b"anything", "br", 415, "use gzip or none"),
    ],
)
def test_inflate_says_what_is_wrong(raw: bytes, coding: str, status: int, words: str) -> None:
    with pytest.raises(BodyError, match=words) as refused:
        inflate(raw, coding, 2**20)
    assert refused.value.status == status
