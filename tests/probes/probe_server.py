"""A real local HTTP server that fails on command, for the probe runner's tests (fixture ``target``),
and a self-signed certificate for their HTTPS servers (:func:`self_signed_context`)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web


@dataclass
class Target:
    """The server's address and what ``/flaky`` answers next (one status per request, then 200)."""

    port: int
    statuses: list[int] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server context with a self-signed certificate for ``127.0.0.1`` (made with ``openssl``)."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    state = Target(port=0)

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": "1.4.2", "items": [{"id": 7}], "ready": True})

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="boom: database unavailable")

    async def slow(request: web.Request) -> web.Response:
        await state.release.wait()  # answers only at teardown: far beyond any probe's timeout
        return web.Response(text="late")

    async def session(request: web.Request) -> web.Response:
        # A health endpoint that echoes a session token of its own (not the probe's header).
        return web.json_response({"status": "ok", "session_token": "live-abc123"})

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=f"you sent {request.headers.get('Authorization', '')}")

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{state.port}/ok")

    async def binary(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", content_type="image/png")

    async def cookie(request: web.Request) -> web.Response:
        # Sets a session cookie and says which cookie it was sent: what a client jar would replay.
        answer = web.Response(text=f"cookie sent: {request.headers.get('Cookie', 'none')}")
        answer.set_cookie("session", "from-the-previous-attempt")
        return answer

    async def flaky(request: web.Request) -> web.Response:
        code = state.statuses.pop(0) if state.statuses else 200
        return web.Response(status=code, text=f"answer {code}")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    app.router.add_get("/echo", echo)
    app.router.add_get("/session", session)
    app.router.add_get("/away", away)
    app.router.add_get("/flaky", flaky)
    app.router.add_get("/binary", binary)
    app.router.add_get("/cookie", cookie)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = runner.addresses[0][1]
    yield state
    state.release.set()
    await runner.cleanup()
