"""A URL that does not lead to Prometheus: a load balancer's empty 502, a web server's HTML 404.

These servers stand in for what sits at a wrong ``--prometheus-url``; they are not fakes of
Prometheus (its behaviour is tested against the real server in ``test_prometheus.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.errors import BackendUnavailable
from monitor.sources.prometheus import PrometheusSource


async def _serve(status: int, body: str) -> TestServer:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (502, "", "failed after 2 attempts (HTTP 502 without a Prometheus API response)"),
        (404, "<html>Not Found</html>", "answered HTTP 404 without a Prometheus API response"),
        (200, "[]", "answered HTTP 200 without a Prometheus API response"),
    ],
)
async def test_non_prometheus_answers_are_backend_errors(status: int, body: str, message: str) -> None:
    server = await _serve(status, body)
    source = PrometheusSource(str(server.make_url("")), max_attempts=2, backoff_s=0.01)
    try:
        with pytest.raises(BackendUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
            await source.instant("up", datetime.now(UTC))
    finally:
        await source.close()
        await server.close()
