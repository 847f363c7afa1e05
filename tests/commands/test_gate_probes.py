"""``monitor gate --probe/--preview``: what the registration body carries, and the flags it refuses.

First against a small recording HTTP server (it keeps the body POSTed and answers a final verdict at
once), then against the daemon's API over a real store: what it registers, and what it refuses.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.api.app import create_app
from monitor.channels.notify import Notifier
from monitor.cli import build_parser
from monitor.commands.gate import _gate, run_gate
from monitor.config import Settings, TokenSpec
from monitor.errors import InputError
from monitor.exitcodes import EXIT_ERROR, EXIT_FAIL, EXIT_UNDECIDED
from monitor.models import ProbeSpec
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store


@pytest.fixture
async def daemon() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []

    async def register(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response({"id": "d-1"}, status=201)

    async def verdict(request: web.Request) -> web.Response:
        return web.json_response(
            {"verdict": "fail", "score": 100, "summary": "fail: probe_health", "checks": []}
        )

    app = web.Application()
    app.router.add_post("/api/v1/deployments", register)
    app.router.add_get("/api/v1/deployments/{id}/verdict", verdict)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), bodies
    await server.close()


def _args(url: str, *extra: str) -> argparse.Namespace:
    fixed = [
        "gate", "--url", url, "--service", "checkout", "--environment", "production",
        "--version", "v2", "--baseline-version", "v1", "--timeout", "30s",
    ]  # fmt: skip
    return build_parser().parse_args([*fixed, *extra])


async def test_probes_and_preview_go_into_the_registration(
    daemon: tuple[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, bodies = daemon
    args = _args(
        url, "--strategy", "bluegreen", "--preview", "https://checkout-green.preview.example.com",
        "--probe", "health", "--probe", "https://checkout-green.preview.example.com/healthz?v={version}",
        "--probe", "login", "--probe", "http://127.0.0.1:8080/ready",
    )  # fmt: skip
    assert await _gate(args) == EXIT_FAIL
    (body,) = bodies
    assert body["strategy"] == "bluegreen"
    assert body["preview_url"] == "https://checkout-green.preview.example.com"
    assert body["probes"] == [
        "health",
        {"name": "smoke-1", "url": "https://checkout-green.preview.example.com/healthz?v={version}"},
        "login",
        {"name": "smoke-2", "url": "http://127.0.0.1:8080/ready"},
    ]
    assert "verdict: FAIL" in capsys.readouterr().out


async def test_without_probe_flags_the_body_leaves_them_to_the_daemon(
    daemon: tuple[str, list[dict[str, Any]]],
) -> None:
    url, bodies = daemon
    assert await _gate(_args(url)) == EXIT_FAIL
    assert "probes" not in bodies[0] and "preview_url" not in bodies[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ("--preview", "https://green.example.com"),
            "--preview is the green side of a blue/green deployment; add --strategy bluegreen (not canary)",
        ),
        (
            ("--strategy", "bluegreen", "--preview", "green.example.com"),
            "--preview green.example.com: use an http:// or https:// URL with a host",
        ),
        (
            ("--probe", "https://{service}.example.com/healthz"),
            "--probe https://{service}.example.com/healthz: the URL's host is templated; write the host "
            "itself, or configure the probe with its hosts: in --config",
        ),
        (
            ("--probe", "https://a.example.com/{build}"),
            "unknown placeholder {build}; use {service}, {version} or {environment}",
        ),
        (("--probe", "all"), "--probe all: leave --probe out and the daemon runs every configured probe"),
        (
            ("--strategy", "bluegreen", "--preview", "http://[oops/?token=typed-token-88"),
            "monitor: error: --preview http://[oops/?token=***: it cannot be parsed as a URL; write "
            "scheme://host[:port]/path, the host in [] only when an IPv6 address\n",
        ),
        (
            ("--strategy", "bluegreen", "--preview", "https://green.example.com:99999/"),
            "--preview https://green.example.com:99999/: it cannot be parsed as a URL",
        ),
        (
            ("--probe", "http://[oops/x?token=typed-token-88"),
            "--probe http://[oops/x?token=***: 'http://[oops/x?token=***' cannot be parsed as a URL",
        ),
        (
            ("--probe", "https://{service}.example.com/healthz?token=typed-token-88"),
            "--probe https://{service}.example.com/healthz?token=***: the URL's host is templated",
        ),
    ],
)
def test_a_wrong_probe_or_preview_is_refused_before_registering(
    extra: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on the discard port: a refusal must come before any request.
    assert run_gate(_args("http://127.0.0.1:9", *extra)) == EXIT_ERROR
    err = capsys.readouterr().err
    assert message in err and "typed-token-88" not in err
    assert len(err.splitlines()) == 1, err  # one line, never a traceback


HEALTH = ProbeSpec(name="health", url="https://checkout.example.com/health", headers=(("X-Key", "s3cret"),))
TOKEN = "t" * 32


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[str, Store]]:
    """The daemon's API over a real SQLite store, offering the probe health and preview hosts (no engine:
    a registration stays pending)."""
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    source = PrometheusSource("http://127.0.0.1:9")
    settings = Settings(probes=(HEALTH,), probe_hosts=("*.preview.example.com",))
    app = create_app(store, source, [TokenSpec("ci", ("read", "deploy"), TOKEN)], notifier=Notifier(settings))
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), store
    await server.close()
    await source.close()
    await store.close()


async def test_the_daemon_registers_the_gates_probes_and_preview(
    api: tuple[str, Store], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, store = api
    (tmp_path / "token").write_text(TOKEN)
    args = _args(
        url, "--token-file", str(tmp_path / "token"), "--timeout", "1s", "--strategy", "bluegreen",
        "--preview", "https://green.preview.example.com", "--probe", "health",
        "--probe", "https://green.preview.example.com/ready",
    )  # fmt: skip
    assert await _gate(args) == EXIT_UNDECIDED  # no engine here: no verdict within --timeout
    deployment_id = capsys.readouterr().out.split()[2].rstrip(":")
    spec = (await store.get(deployment_id)).spec
    assert spec.preview_url == "https://green.preview.example.com"
    health, smoke = spec.probes
    assert (health.name, health.url) == ("health", HEALTH.url)
    assert all(value != "s3cret" for _, value in health.headers)  # a header value is never stored
    assert (smoke.name, smoke.url, smoke.count, smoke.fail_after) == (
        "smoke-1", "https://green.preview.example.com/ready", 5, 3,
    )  # fmt: skip


async def test_the_daemon_refuses_a_probe_host_it_does_not_allow(
    api: tuple[str, Store], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = api
    (tmp_path / "token").write_text(TOKEN)
    args = _args(url, "--token-file", str(tmp_path / "token"), "--probe", "http://169.254.169.254/latest")
    with pytest.raises(InputError) as caught:
        await _gate(args)
    assert str(caught.value).endswith(
        "HTTP 400: probes[0].url: host '169.254.169.254' is not one probes may target; "
        "add the host to probe_hosts: in the config"
    )
