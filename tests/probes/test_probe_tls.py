"""HTTPS with a self-signed certificate (``openssl req -x509``): a TLS error, named."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from probe_server import self_signed_context

from monitor.probes.result import ErrorKind
from monitor.probes.runner import ProbeRunner
from monitor.probes.spec import ProbeSpec


@pytest.fixture
async def https_port(tmp_path: Path) -> AsyncIterator[int]:
    context = self_signed_context(tmp_path)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ok", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


async def test_a_self_signed_certificate_is_a_named_tls_error(https_port: int) -> None:
    spec = ProbeSpec(name="tls", url="https://127.0.0.1/", timeout_s=5.0)
    async with aiohttp.ClientSession() as session:
        result = await ProbeRunner(session).attempt(spec, f"https://127.0.0.1:{https_port}/ok")
    assert not result.ok and result.error is ErrorKind.TLS and result.status is None
    assert result.detail.startswith("TLS: certificate verify failed")
    assert "self-signed" in result.detail or "self signed" in result.detail
