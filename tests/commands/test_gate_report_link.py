"""The gate's last line is the report's address: a fresh signed link from the daemon, else the plain one.

An in-process daemon over a real SQLite store (no Prometheus is asked: the deployment is cancelled,
so its verdict is final at once); the gate runs in the same event loop.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.api.app import create_app
from monitor.api.keys import STORE
from monitor.channels.notify import Notifier
from monitor.commands.gate import _gate
from monitor.config import Settings, TokenSpec
from monitor.exitcodes import EXIT_UNDECIDED
from monitor.models import DeploymentSpec, Strategy
from monitor.reportlinks import LinkCheck, LinkKey, check_link
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

TOKEN = "t" * 32
KEY = LinkKey(b"g" * 64, lifetime_s=3600)
SPEC = DeploymentSpec(
    "checkout", "production", "v2", "v1", Strategy.CANARY, datetime(2026, 11, 26, 9, 59, tzinfo=UTC),
    "otel-http", 0, 60, 600, 1800,
)  # fmt: skip

Daemon = Callable[[Settings], Awaitable[tuple[str, str]]]


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    """Start a daemon with ``settings``; answer its URL and a cancelled deployment's id."""
    opened: list[tuple[TestServer, PrometheusSource, Store]] = []

    async def start(settings: Settings) -> tuple[str, str]:
        store = await Store.open(f"sqlite:///{tmp_path / f'monitor-{len(opened)}.db'}")
        source = PrometheusSource("http://127.0.0.1:9")
        app = create_app(store, source, [TokenSpec("ci", ("read",), TOKEN)], notifier=Notifier(settings))
        server = TestServer(app)
        await server.start_server()
        opened.append((server, source, store))
        deployment, _ = await app[STORE].register(SPEC, actor="test")
        await app[STORE].cancel(deployment.id, actor="test", reason="superseded")
        return str(server.make_url("")).rstrip("/"), deployment.id

    yield start
    for server, source, store in opened:
        await server.close()
        await source.close()
        await store.close()


def _args(tmp_path: Path, url: str, deployment_id: str) -> argparse.Namespace:
    (tmp_path / "token").write_text(TOKEN)
    return argparse.Namespace(
        url=url, deployment_id=deployment_id, token_file=str(tmp_path / "token"), timeout="30s"
    )


async def test_the_last_line_is_a_signed_link_to_the_report(
    daemon: Daemon, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, deployment_id = await daemon(Settings(public_url="https://monitor.example.com", report_links=KEY))
    assert await _gate(_args(tmp_path, url, deployment_id)) == EXIT_UNDECIDED
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith(f"report: https://monitor.example.com/api/v1/deployments/{deployment_id}/report?")
    link = urlsplit(last.split()[1])
    query = {name: values[0] for name, values in parse_qs(link.query).items()}
    assert (
        check_link(KEY, deployment_id, query["exp"], query["sig"], float(query["exp"]) - 1) is LinkCheck.VALID
    )
    expires_at = datetime.fromtimestamp(int(query["exp"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert last.endswith(f"(expires {expires_at})")


async def test_without_public_url_or_key_the_link_is_on_the_daemons_address(
    daemon: Daemon, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, deployment_id = await daemon(Settings())
    assert await _gate(_args(tmp_path, url, deployment_id)) == EXIT_UNDECIDED
    assert (
        capsys.readouterr().out.splitlines()[-1] == f"report: {url}/api/v1/deployments/{deployment_id}/report"
    )


async def test_a_daemon_without_the_route_still_gets_the_plain_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def verdict(_: web.Request) -> web.Response:
        return web.json_response({"verdict": "pass", "score": 100, "summary": "ok", "checks": []})

    app = web.Application()  # an older daemon: answers verdicts, 404 for the link route
    app.router.add_get("/api/v1/deployments/{id}/verdict", verdict)
    async with TestServer(app) as server:
        url = str(server.make_url("")).rstrip("/")
        assert await _gate(_args(tmp_path, url, "dep-1")) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"report: {url}/api/v1/deployments/dep-1/report"
